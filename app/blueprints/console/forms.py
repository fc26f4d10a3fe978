"""Forms of the console. Values are checked by the services (one Russian message next to each field);
the forms only bound the lengths and keep what was typed."""

from wtforms import BooleanField, EmailField, SelectField, SelectMultipleField, StringField, TelField
from wtforms.validators import Length

from app.forms import Form
from app.models.metering import RESOURCE_LABELS, Resource
from app.services.organisations import ORG_TYPE_LABELS
from app.services.staff import ROLE_LABELS


def _len(n: int):
    return [Length(max=n, message=f"Не больше {n} символов")]


class OrganisationForm(Form):
    org_type = SelectField("Вид организации", validate_choice=False,
                           choices=list(ORG_TYPE_LABELS.items()), default="uk")
    name = StringField("Полное наименование", validators=_len(300))
    short_name = StringField("Краткое наименование", validators=_len(160))
    inn = StringField("ИНН", validators=_len(20))
    kpp = StringField("КПП", validators=_len(20))
    ogrn = StringField("ОГРН или ОГРНИП", validators=_len(20))
    address = StringField("Адрес", validators=_len(300))
    phones = StringField("Телефоны", validators=_len(200))
    ads_phone = TelField("Телефон аварийно-диспетчерской службы (АДС)", validators=_len(40))
    office_hours = StringField("Часы приёма", validators=_len(300))
    email = EmailField("Электронная почта", validators=_len(254))
    site = StringField("Сайт", validators=_len(200))
    bank_name = StringField("Наименование банка", validators=_len(45))
    bank_bic = StringField("БИК банка", validators=_len(20))
    bank_account = StringField("Расчётный счёт", validators=_len(30))
    bank_corr_account = StringField("Корреспондентский счёт", validators=_len(30))
    reading_start_day = StringField("Первый день приёма показаний", default="20", validators=_len(2))
    reading_end_day = StringField("Последний день приёма показаний", default="25", validators=_len(2))
    resources = SelectMultipleField("Ресурсы, которые поставляет организация", validate_choice=False,
                                    choices=[(r.value, RESOURCE_LABELS[r]) for r in Resource])


class OrganisationFilterForm(Form):
    """GET filter of the organisations list (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Название или ИНН", validators=_len(60))
    kind = SelectField("Вид", validate_choice=False,
                       choices=[("", "Все"), ("uk", "УК, ТСЖ, ЖСК"), ("rso", "РСО")])
    active = SelectField("Состояние", validate_choice=False,
                         choices=[("", "Все"), ("1", "Работают"), ("0", "Отключены")])


class ActiveForm(Form):
    active = StringField()


SUPPLIER_FIELDS = [(r, f"supplier_{r.value}") for r in Resource]


class BuildingForm(Form):
    organisation_id = SelectField("Управляющая организация", validate_choice=False)
    city = StringField("Город или населённый пункт", default="Чита", validators=_len(100))
    street = StringField("Улица", validators=_len(200))
    house = StringField("Дом, корпус, строение", validators=_len(20))
    postcode = StringField("Почтовый индекс", validators=_len(10))
    fias_guid = StringField("Код дома в ФИАС (ГАР)", validators=_len(40))
    gis_house_code = StringField("Код дома в ГИС ЖКХ", validators=_len(40))
    year_built = StringField("Год постройки", validators=_len(4))
    floors = StringField("Этажей", validators=_len(3))
    entrances = StringField("Подъездов", validators=_len(3))
    reading_start_day = StringField("Первый день приёма показаний", validators=_len(2))
    reading_end_day = StringField("Последний день приёма показаний", validators=_len(2))


for _resource, _name in SUPPLIER_FIELDS:
    setattr(BuildingForm, _name, SelectField(RESOURCE_LABELS[_resource], validate_choice=False))


class StaffForm(Form):
    full_name = StringField("ФИО сотрудника", validators=_len(200))
    login = StringField("Логин", validators=_len(64))
    role = SelectField("Роль", validate_choice=False, choices=[(r.value, label) for r, label in ROLE_LABELS.items()],
                       default="staff")
    phone = TelField("Телефон", validators=_len(40))
    email = EmailField("Электронная почта", validators=_len(254))


class RoleForm(Form):
    role = SelectField("Роль", validate_choice=False, choices=[(r.value, label) for r, label in ROLE_LABELS.items()])


class CouncilForm(Form):
    user_id = SelectField("Собственник", validate_choice=False)
    is_chair = BooleanField("Председатель совета")
    protocol_number = StringField("Номер протокола ОСС", validators=_len(40))
    protocol_date = StringField("Дата протокола", validators=_len(10))
    term_from = StringField("Полномочия с", validators=_len(10))
    term_to = StringField("Полномочия по", validators=_len(10))


class ModerationFilterForm(Form):
    class Meta:
        csrf = False

    view = SelectField("Показать", validate_choice=False,
                       choices=[("reported", "С жалобами"), ("hidden", "Скрытые")])
