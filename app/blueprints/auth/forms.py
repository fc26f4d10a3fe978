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
