from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from app.forms import Form


class LoginForm(Form):
    login = StringField("Логин", validators=[InputRequired("Введите логин"), Length(max=64)])
    password = PasswordField("Пароль", validators=[InputRequired("Введите пароль"), Length(max=256)])
    remember = BooleanField("Запомнить меня на этом телефоне")


class ChangePasswordForm(Form):
    current_password = PasswordField(
        "Текущий пароль", validators=[InputRequired("Введите текущий пароль"), Length(max=256)]
    )
    new_password = PasswordField("Новый пароль", validators=[InputRequired("Придумайте новый пароль")])
    confirm_password = PasswordField(
        "Новый пароль ещё раз", validators=[InputRequired("Повторите новый пароль")]
    )


class TwoFactorLoginForm(Form):
    code = StringField("Код", validators=[InputRequired("Введите код из приложения или код восстановления"),
                                          Length(max=40)])


class TwoFactorStartForm(Form):
    """Only the CSRF token: starting an enrolment is a POST."""


class TwoFactorConfirmForm(Form):
    code = StringField("Код из приложения", validators=[InputRequired("Введите шесть цифр из приложения"),
                                                        Length(max=40)])


class TwoFactorDisableForm(Form):
    password = PasswordField("Пароль", validators=[InputRequired("Введите пароль"), Length(max=256)])
    code = StringField("Код из приложения или код восстановления",
                       validators=[InputRequired("Введите код из приложения или код восстановления"),
                                   Length(max=40)])


class RecoveryCodesForm(Form):
    code = StringField("Код из приложения", validators=[InputRequired("Введите код из приложения"),
                                                        Length(max=40)])
