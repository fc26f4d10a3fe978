from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, TelField
from wtforms.validators import Length


class ContactsForm(FlaskForm):
    phone = TelField("Телефон", validators=[Length(max=40, message="Слишком длинный номер")])
    email = EmailField("Электронная почта", validators=[Length(max=254, message="Слишком длинный адрес")])


class NameForm(FlaskForm):
    full_name = StringField("ФИО", validators=[Length(max=200, message="Не больше 200 символов")])


class PreferencesForm(FlaskForm):
    notify_new_notice = BooleanField("Присылать письмо, когда появляется новое оповещение")
    consent_email = BooleanField("Согласен(на) получать информационные рассылки по электронной почте")
    consent_sms = BooleanField("Согласен(на) получать информационные рассылки по SMS")
