from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length


class LoginForm(FlaskForm):
    login = StringField("Логин", validators=[InputRequired("Введите логин"), Length(max=64)])
    password = PasswordField("Пароль", validators=[InputRequired("Введите пароль"), Length(max=256)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Текущий пароль", validators=[InputRequired("Введите текущий пароль"), Length(max=256)]
    )
    new_password = PasswordField("Новый пароль", validators=[InputRequired("Придумайте новый пароль")])
    confirm_password = PasswordField(
        "Новый пароль ещё раз", validators=[InputRequired("Повторите новый пароль")]
    )


class TwoFactorLoginForm(FlaskForm):
    code = StringField("Код", validators=[InputRequired("Введите код из приложения или код восстановления"),
                                          Length(max=40)])


class TwoFactorStartForm(FlaskForm):
    """Only the CSRF token: starting an enrolment is a POST."""


class TwoFactorConfirmForm(FlaskForm):
    code = StringField("Код из приложения", validators=[InputRequired("Введите шесть цифр из приложения"),
                                                        Length(max=40)])


class TwoFactorDisableForm(FlaskForm):
    password = PasswordField("Пароль", validators=[InputRequired("Введите пароль"), Length(max=256)])
    code = StringField("Код из приложения или код восстановления",
                       validators=[InputRequired("Введите код из приложения или код восстановления"),
                                   Length(max=40)])


class RecoveryCodesForm(FlaskForm):
    code = StringField("Код из приложения", validators=[InputRequired("Введите код из приложения"),
                                                        Length(max=40)])
