from wtforms import BooleanField, EmailField, StringField, TelField
from wtforms.validators import Length

from app.forms import Form


class ContactsForm(Form):
    phone = TelField("Телефон", validators=[Length(max=40, message="Слишком длинный номер")])
    email = EmailField("Электронная почта", validators=[Length(max=254, message="Слишком длинный адрес")])


class NameForm(Form):
    full_name = StringField("ФИО", validators=[Length(max=200, message="Не больше 200 символов")])


class PreferencesForm(Form):
    notify_new_notice = BooleanField("Присылать письмо, когда появляется новое оповещение")
    consent_email = BooleanField("Согласен(на) получать информационные рассылки по электронной почте")
    consent_sms = BooleanField("Согласен(на) получать информационные рассылки по SMS")
