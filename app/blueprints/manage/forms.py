from wtforms import EmailField, HiddenField, SelectField, StringField, TelField
from wtforms.validators import Length

from app.forms import Form


class IssueAccountForm(Form):
    full_name = StringField("ФИО собственника", validators=[Length(max=200, message="Не больше 200 символов")])
    share = StringField("Доля в праве", validators=[Length(max=20)])
    login = StringField("Логин", validators=[Length(max=64, message="Не больше 64 символов")])
    phone = TelField("Телефон", validators=[Length(max=40)])
    email = EmailField("Электронная почта", validators=[Length(max=254)])


class LetterForm(Form):
    password = HiddenField()


class LinkAccountForm(Form):
    existing_login = StringField("Логин собственника", validators=[Length(max=64)])
    existing_share = StringField("Доля в праве", validators=[Length(max=20)])


class AuditFilterForm(Form):
    """GET filter of the account-authority log (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    action = SelectField("Действие", validate_choice=False)
    date_from = StringField("С даты", validators=[Length(max=10, message="Введите дату в виде ДД.ММ.ГГГГ")])
    date_to = StringField("По дату", validators=[Length(max=10, message="Введите дату в виде ДД.ММ.ГГГГ")])
