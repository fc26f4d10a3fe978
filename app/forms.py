"""The base of every form of the portal: Flask-WTF's FlaskForm plus the one rule for characters in typed text.

Every form subclasses `Form` (`from app.forms import Form`), so every text value a browser sends — StringField,
TextAreaField, PasswordField, HiddenField, and the raw strings of select, radio and number fields — is checked
with app/services/validation.py's rule; a refused value gets «Поле содержит недопустимые символы» next to its
field (status 422 from the route, as for any other field error), and never reaches a service or the database.
Multi-line fields (TextAreaField) may hold line breaks and tabs; the others may not hold line breaks.
"""

from flask_wtf import FlaskForm
from wtforms import TextAreaField

from app.services.validation import BAD_CHARACTERS, has_bad_characters


class Form(FlaskForm):
    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            multiline = isinstance(field, TextAreaField)
            # raw_data: what the request sent for the field (files are not strings and are skipped).
            typed = [value for value in (field.raw_data or ()) if isinstance(value, str)]
            if any(has_bad_characters(value, multiline=multiline) for value in typed):
                field.errors = [BAD_CHARACTERS, *(e for e in field.errors if e != BAD_CHARACTERS)]
                valid = False
        return valid
