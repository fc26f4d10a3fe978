from wtforms import StringField, TelField
from wtforms.validators import Length

from app.forms import Form


class OwnerFieldsForm(Form):
    actual_residents = StringField("Сколько человек фактически проживает", validators=[Length(max=10)])
    emergency_phone = TelField("Телефон для экстренной связи", validators=[Length(max=40)])
