from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length

from app.forms import Form
from app.models.messaging import NOTICE_CATEGORY_LABELS
from app.models.metering import RESOURCE_LABELS


class NoticeForm(Form):
    category = SelectField(
        "Вид", validate_choice=False, choices=[(c.value, label) for c, label in NOTICE_CATEGORY_LABELS.items()]
    )
    resource = SelectField(
        "Что отключают",
        validate_choice=False,
        choices=[("", "—")] + [(r.value, label) for r, label in RESOURCE_LABELS.items()],
    )
    title = StringField("Заголовок", validators=[Length(max=160, message="Не больше 160 символов")])
    body = TextAreaField("Текст", validators=[Length(max=5000, message="Не больше 5000 символов")])
    starts_at = StringField("Начало", render_kw={"type": "datetime-local"})
    ends_at = StringField("Окончание", render_kw={"type": "datetime-local"})
    valid_until = StringField("Показывать до", render_kw={"type": "datetime-local"})
    urgent = BooleanField("Срочное: выделить и отправить письмо сразу")
    building_ids = SelectMultipleField("Дома", coerce=int, validate_choice=False)
    entrances = StringField("Только подъезды", validators=[Length(max=60)])


class WithdrawForm(Form):
    reason = StringField("Причина отмены", validators=[Length(max=300)])
