"""Onboarding a house from a file: premises, the register of owners (owner_records) and apartment meters.

The УК's staff (or the portal operator) upload an XLSX or CSV for ONE building; files are read by the one
tabular module (app/services/tabular.py) and stored as a preview (tabular_imports, kind "house").

One row is one premises, optionally with one owner and/or one meter; several owners or meters of a premises are
several rows with the same «Номер помещения» (the premises' own columns may be left empty in the extra rows; if
filled they must agree). The shares of a premises' owners must add up to 1. Nothing creates portal accounts:
owner records are the register; accounts and credential letters are issued from it elsewhere.

Idempotent: premises are matched by number within the building, owner records by (premises, full name), meters
by serial number and resource within the building. Changed values update, equal ones are "unchanged", nothing is
duplicated; premises and owner records absent from the file are listed in the preview, never deleted.

A meter's reading from the file is its initial reading (Meter.initial_value, as when a meter is added by hand in
app/services/meters.py meter_add); the date of the reading is checked (not in the future) and kept with the
import's rows and audit record. An existing meter's initial reading changes only while it has no readings.

Confirmation (`house_import_apply`): once, under a lock on the building row, every row checked again; if the
result differs from the preview the user saw, the refreshed preview is stored and Conflict is raised; any row
error → Invalid; otherwise everything is written in one transaction, or nothing.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, insert, select, update

from app.access import access_for, row_get
from app.extensions import db
from app.formatting import number
from app.models import Building, Meter, OwnerRecord, Premises, Reading, TabularImport, User
from app.models.base import utcnow
from app.models.housing import PremisesKind
from app.models.imports import ImportKind
from app.models.metering import RESOURCE_LABELS, Resource
from app.services import tabular
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.periods import local_today

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
AREA_LIMIT = Decimal("1000000")  # premises.total_area is Numeric(8, 2)

F = tabular.Field
FIELDS: tuple[tabular.Field, ...] = (
    F("number", "Номер помещения", ("№ помещения", "Номер квартиры", "Квартира", "№ квартиры", "Помещение",
                                    "Номер помещения (квартиры)"), required=True),
    F("kind", "Вид помещения", ("Тип помещения", "Характеристика помещения", "Назначение помещения")),
    F("entrance", "Подъезд", ("Номер подъезда", "№ подъезда")),
    F("floor", "Этаж"),
    F("rooms", "Количество комнат", ("Комнат", "Число комнат", "Кол-во комнат")),
    F("total_area", "Общая площадь, м²", ("Общая площадь, кв.м", "Общая площадь, кв. м", "Общая площадь",
                                         "Общая площадь помещения, кв.м", "Площадь, кв.м", "Площадь")),
    F("living_area", "Жилая площадь, м²", ("Жилая площадь, кв.м", "Жилая площадь, кв. м", "Жилая площадь",
                                          "Жилая площадь помещения, кв.м")),
    F("cadastral", "Кадастровый номер", ("Кадастровый номер помещения", "Кадастровый (условный) номер")),
    F("account", "Лицевой счёт", ("Номер ЛС", "Номер ЛС (или иной идентификатор потребителя)", "Номер лицевого счёта",
                                  "ЛС", "Л/с", "Единый лицевой счёт"), required=True),
    F("owner", "ФИО собственника", ("ФИО", "Собственник", "ФИО владельца", "Ф.И.О. собственника")),
    F("last_name", "Фамилия", ("Фамилия собственника",)),
    F("first_name", "Имя", ("Имя собственника",)),
    F("middle_name", "Отчество", ("Отчество собственника",)),
    F("share", "Доля", ("Доля собственности", "Доля в праве", "Доля в праве собственности", "Размер доли")),
    F("phone", "Телефон", ("Контактный телефон", "Номер телефона", "Телефон собственника")),
    F("email", "Эл. почта", ("Электронная почта", "Email", "E-mail", "Адрес электронной почты")),
    F("residents", "Зарегистрировано", ("Количество проживающих", "Количество зарегистрированных",
                                         "Зарегистрировано человек", "Количество зарегистрированных граждан")),
    F("resource", "Ресурс", ("Вид коммунального ресурса", "Коммунальный ресурс", "Вид ресурса")),
    F("serial", "Заводской номер", ("Заводской (серийный) номер", "Заводской (серийный) номер ПУ",
                                    "Номер прибора учёта", "Номер счётчика", "Серийный номер")),
    F("verification", "Дата поверки", ("Дата следующей поверки", "Поверка до", "Дата очередной поверки",
                                       "Дата окончания поверки")),
    F("reading", "Показание", ("Последнее показание", "Текущее показание", "Показание прибора учёта")),
    F("reading_date", "Дата показания", ("Дата снятия показания", "Дата последнего показания")),
)
TITLE = {f.key: f.title for f in FIELDS}
# The template's columns, in order (Фамилия/Имя/Отчество are accepted instead of «ФИО собственника»).
TEMPLATE_KEYS = ("number", "kind", "entrance", "floor", "rooms", "total_area", "living_area", "cadastral", "account",
                 "owner", "share", "phone", "email", "residents", "resource", "serial", "verification", "reading",
                 "reading_date")
TEMPLATE_EXAMPLES = (
    ("1", "квартира", "1", "1", "2", "48,6", "30,2", "75:32:040000:1001", "1000101", "Иванова Анна Петровна", "1/2",
     "8 (914) 123-45-67", "anna@example.ru", "2", "Холодная вода", "ХВ-100001", "01.06.2030", "123,456", "20.11.2026"),
    ("1", "", "", "", "", "", "", "", "", "Иванов Пётр Сергеевич", "1/2", "", "", "", "Горячая вода", "ГВ-100001",
     "01.06.2030", "98,1", "20.11.2026"),
    ("2", "нежилое", "1", "1", "", "25", "", "", "1000102", "ООО «Ромашка»", "1", "", "", "0", "", "", "", "", ""),
)

NEW, CHANGED, UNCHANGED, ERROR = "new", "changed", "unchanged", "error"
STATUS_LABELS = {NEW: "новое", CHANGED: "изменится", UNCHANGED: "без изменений", ERROR: "ошибка"}

_KINDS = {"квартира": PremisesKind.APARTMENT, "жилое": PremisesKind.APARTMENT,
          "жилоепомещение": PremisesKind.APARTMENT, "жилоепомещениеквартира": PremisesKind.APARTMENT,
          "кв": PremisesKind.APARTMENT, "комната": PremisesKind.APARTMENT, "apartment": PremisesKind.APARTMENT,
          "нежилое": PremisesKind.NON_RESIDENTIAL, "нежилоепомещение": PremisesKind.NON_RESIDENTIAL,
          "нежил": PremisesKind.NON_RESIDENTIAL, "пом": PremisesKind.NON_RESIDENTIAL,
          "nonresidential": PremisesKind.NON_RESIDENTIAL}
_RESOURCES = {**{tabular.header_key(label): r for r, label in RESOURCE_LABELS.items()},
              **{tabular.header_key(r.value): r for r in Resource},
              "хвс": Resource.COLD_WATER, "хв": Resource.COLD_WATER, "гвс": Resource.HOT_WATER,
              "гв": Resource.HOT_WATER,
              "электричество": Resource.ELECTRICITY, "электроснабжение": Resource.ELECTRICITY,
              "эл": Resource.ELECTRICITY, "тепло": Resource.HEAT, "теплоснабжение": Resource.HEAT,
              "тепловаяэнергия": Resource.HEAT, "газоснабжение": Resource.GAS,
              "холодноеводоснабжение": Resource.COLD_WATER, "горячееводоснабжение": Resource.HOT_WATER}
_LOOKALIKES = str.maketrans("АВЕКМНОРСТХУ", "ABEKMHOPCTXY")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _serial_key(value: str) -> str:
    return re.sub(r"[\s-]+", "", value).upper().translate(_LOOKALIKES)


def _number_key(value: str) -> str:
    return re.sub(r"\s+", "", value).casefold()


def _name_key(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip().casefold().replace("ё", "е")


# ---------------------------------------------------------------------------------------------------------
# Who may import into which building
# ---------------------------------------------------------------------------------------------------------


def house_import_building_get(*, actor: User, id) -> Building:  # noqa: A002
    """A building the actor may onboard from a file: staff of its УК, or the portal operator. Else NotFound."""
    building = row_get(Building, id)
    access = access_for(actor)
    if not (access.uk_manages(building) or access.operator):
        raise NotFound("Не найдено")
    return building


def house_import_building_or_none(*, actor: User, id) -> Building | None:  # noqa: A002
    """As house_import_building_get, None instead of NotFound (for an error page that must not fail itself)."""
    try:
        return house_import_building_get(actor=actor, id=id)
    except NotFound:
        return None


def house_import_get(*, actor: User, building: Building, import_id) -> TabularImport:
    """A stored onboarding preview of this building, else NotFound."""
    imp = tabular.import_get(actor=actor, id=import_id, kind=ImportKind.HOUSE, operator=True)
    if imp.building_id != building.id:
        raise NotFound("Нет такой загрузки")
    return imp


def _require(actor: User, building: Building) -> None:
    access = access_for(actor)
    if not (access.uk_manages(building) or access.operator):
        raise NotAllowed("Загружать помещения дома может управляющая организация дома или оператор портала")


# ---------------------------------------------------------------------------------------------------------
# Cells → values
# ---------------------------------------------------------------------------------------------------------


def _store_cell(value) -> str:
    """A raw cell as the preview stores it (re-checked at confirmation): floats without binary noise."""
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return format(Decimal(repr(round(value, 9))).normalize(), "f")
    return tabular.text(value)


def parse_share(raw: str) -> Fraction | None:
    """'1', '1/2', '0,5', '50%' → a fraction in (0, 1]; '' → None; else CellError."""
    title = TITLE["share"]
    text = re.sub(r"\s+", "", raw)
    if not text:
        return None
    try:
        if match := re.fullmatch(r"(\d{1,6})/(\d{1,6})", text):
            num, den = int(match[1]), int(match[2])
            if den == 0:
                raise ValueError
            share = Fraction(num, den)
        elif text.endswith("%"):
            share = Fraction(tabular.decimal_value(text[:-1])) / 100
        else:
            value = tabular.decimal_value(text)
            if value is None:
                return None
            share = Fraction(value)
    except (ValueError, tabular.NotNumber, TypeError, ZeroDivisionError):
        raise tabular.CellError(f"«{title}»: «{raw[:30]}» — не доля. Пишите 1, 1/2 или 0,5") from None
    if share <= 0:
        raise tabular.CellError(f"«{title}» должна быть больше нуля")
    if share > 1:
        raise tabular.CellError(f"«{title}»: {raw[:30]} — больше 1")
    if share.denominator > 1_000_000:  # pragma: no cover - limited by the digits admitted
        raise tabular.CellError(f"«{title}»: слишком мелкая доля ({raw[:30]})")
    return share


def share_label(share: Fraction) -> str:
    return "1" if share == 1 else f"{share.numerator}/{share.denominator}"


def _phone(raw: str) -> str | None:
    if not raw:
        return None
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10:
        raise tabular.CellError(f"«{TITLE['phone']}»: «{raw[:30]}» — не номер телефона. Пишите +7 и 10 цифр")
    return "+7" + digits


def _email(raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) > 254 or not _EMAIL.fullmatch(raw):
        raise tabular.CellError(f"«{TITLE['email']}»: «{raw[:40]}» — не адрес электронной почты")
    return raw.lower()


def _text_cell(cells: dict, key: str, max_len: int) -> str:
    value = cells.get(key, "")
    if len(value) > max_len:
        raise tabular.CellError(f"«{TITLE[key]}» длиннее {max_len} символов")
    return value


@dataclass
class _Row:
    line: int
    cells: dict[str, str]
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)  # converted, only for cells that were filled
    owner: str = ""
    share: Fraction | None = None
    resource: Resource | None = None
    serial: str = ""
    status: str = UNCHANGED
    what: list[str] = field(default_factory=list)
    premises_title: str = ""
    read_errors: list[str] = field(default_factory=list)

    def convert(self, key: str, convert) -> None:
        try:
            value = convert()
        except tabular.CellError as error:
            self.errors.append(error.message)
            return
        if value is not None and value != "":
            self.values[key] = value


def _convert(row: _Row, today: date) -> None:
    c = row.cells
    row.convert("number", lambda: _text_cell(c, "number", 10))
    if not c.get("number"):
        row.errors.append(f"Не заполнено «{TITLE['number']}»")

    def kind():
        raw = c.get("kind", "")
        if not raw:
            return None
        found = _KINDS.get(tabular.header_key(raw))
        if found is None:
            raise tabular.CellError(f"«{TITLE['kind']}»: «{raw[:30]}» — укажите «квартира» или «нежилое»")
        return found

    row.convert("kind", kind)
    row.convert("entrance", lambda: tabular.integer_cell(c.get("entrance"), title=TITLE["entrance"], minimum=1,
                                                         maximum=100))
    row.convert("floor", lambda: tabular.integer_cell(c.get("floor"), title=TITLE["floor"], minimum=-5,
                                                      maximum=200))
    row.convert("rooms", lambda: tabular.integer_cell(c.get("rooms"), title=TITLE["rooms"], maximum=50))
    for key in ("total_area", "living_area"):
        row.convert(key, lambda key=key: _area(c.get(key), TITLE[key]))
    row.convert("cadastral", lambda: _text_cell(c, "cadastral", 40))
    row.convert("account", lambda: _text_cell(c, "account", 20))
    row.convert("residents", lambda: tabular.integer_cell(c.get("residents"), title=TITLE["residents"],
                                                          maximum=1000))
    if "living_area" in row.values and "total_area" in row.values \
            and row.values["living_area"] > row.values["total_area"]:
        row.errors.append(f"«{TITLE['living_area']}» больше общей")
    # the owner
    name = c.get("owner", "") or " ".join(p for p in (c.get("last_name", ""), c.get("first_name", ""),
                                                       c.get("middle_name", "")) if p)
    name = re.sub(r"\s+", " ", name).strip()
    if len(name) > 200:
        row.errors.append(f"«{TITLE['owner']}» длиннее 200 символов")
    row.owner = name[:200]
    try:
        row.share = parse_share(c.get("share", ""))
    except tabular.CellError as error:
        row.errors.append(error.message)
    row.convert("phone", lambda: _phone(c.get("phone", "")))
    row.convert("email", lambda: _email(c.get("email", "")))
    if not name and any(c.get(k) for k in ("share", "phone", "email")):
        row.errors.append(f"Доля, телефон или почта указаны без собственника: заполните «{TITLE['owner']}»")
    # the meter
    raw_resource, row.serial = c.get("resource", ""), c.get("serial", "")
    if raw_resource:
        row.resource = _RESOURCES.get(tabular.header_key(raw_resource))
        if row.resource is None:
            names = ", ".join(f"«{label}»" for label in RESOURCE_LABELS.values())
            row.errors.append(f"«{TITLE['resource']}»: «{raw_resource[:30]}» не распознан: укажите один из: {names}")
    if len(row.serial) > 40:
        row.errors.append(f"«{TITLE['serial']}» длиннее 40 символов")
    meter_cells = [k for k in ("resource", "serial", "verification", "reading", "reading_date") if c.get(k)]
    if meter_cells and not (raw_resource and row.serial):
        missing = " и ".join(f"«{TITLE[k]}»" for k in ("resource", "serial") if not c.get(k))
        row.errors.append(f"Для счётчика заполните {missing}")
    row.convert("verification", lambda: tabular.date_cell(c.get("verification"), title=TITLE["verification"]))
    row.convert("reading", lambda: tabular.decimal_cell(c.get("reading"), title=TITLE["reading"], places=3,
                                                        limit=Decimal("1000000000")))
    row.convert("reading_date", lambda: tabular.date_cell(c.get("reading_date"), title=TITLE["reading_date"]))
    if row.values.get("reading_date") and row.values["reading_date"] > today:
        row.errors.append(f"«{TITLE['reading_date']}» в будущем ({row.values['reading_date']:%d.%m.%Y})")
    if "reading_date" in row.values and "reading" not in row.values:
        row.errors.append(f"Дата показания указана без «{TITLE['reading']}»")


def _area(value, title: str) -> Decimal | None:
    area = tabular.decimal_cell(value, title=title, places=2, limit=AREA_LIMIT)
    if area is not None and area == 0:
        raise tabular.CellError(f"«{title}» должна быть больше нуля")
    return area


# ---------------------------------------------------------------------------------------------------------
# Checking the file against itself and the database
# ---------------------------------------------------------------------------------------------------------

PREMISES_KEYS = ("kind", "entrance", "floor", "rooms", "total_area", "living_area", "cadastral", "account",
                 "residents")
_PREMISES_ATTR = {"kind": "kind", "entrance": "entrance", "floor": "floor", "rooms": "rooms",
                  "total_area": "total_area", "living_area": "living_area", "cadastral": "cadastral_number",
                  "account": "account_number", "residents": "registered_residents"}


def _shown(key: str, value) -> str:
    if isinstance(value, PremisesKind):
        return "нежилое" if value == PremisesKind.NON_RESIDENTIAL else "квартира"
    if isinstance(value, Decimal):
        return number(value, "#,##0.###")
    if isinstance(value, date):
        return f"{value:%d.%m.%Y}"
    return str(value)


@dataclass
class Checked:
    rows: list[dict]
    summary: dict
    plan: dict  # what to write (objects and values), only valid when no row has an error


def _check(building: Building, stored: list[dict], now: datetime) -> Checked:
    """Check every row on its own, across the file and against the database; no writes.

    Six queries whatever the size of the file: premises, owner records and meters of the building, the meters
    that have readings, accounts taken elsewhere, the building's premises count is among the first.
    """
    today = local_today(now)
    rows = []
    for item in stored:
        read_errors = list(item.get("read_errors") or [])
        row = _Row(line=item["line"], cells=dict(item["cells"]), errors=list(read_errors), read_errors=read_errors)
        _convert(row, today)
        rows.append(row)

    existing = {_number_key(p.number): p for p in db.session.scalars(
        select(Premises).where(Premises.building_id == building.id))}
    by_id = {p.id: p for p in existing.values()}
    records: dict[int, dict[str, OwnerRecord]] = defaultdict(dict)
    if by_id:
        for record in db.session.scalars(select(OwnerRecord).where(OwnerRecord.premises_id.in_(list(by_id)))):
            records[record.premises_id][_name_key(record.full_name)] = record
    meters: dict[tuple[Resource, str], list[Meter]] = defaultdict(list)
    for meter in db.session.scalars(select(Meter).where(Meter.building_id == building.id,
                                                        Meter.premises_id.is_not(None), Meter.archived.is_(False))
                                    .order_by(Meter.id)):
        meters[(meter.resource, _serial_key(meter.serial_number))].append(meter)
    meter_ids = [m.id for ms in meters.values() for m in ms]
    with_readings = set(db.session.scalars(select(Reading.meter_id).where(Reading.meter_id.in_(meter_ids))
                                           .group_by(Reading.meter_id))) if meter_ids else set()

    # premises groups: the first row with a value wins, a different value later is an error
    groups: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        if row.values.get("number"):
            groups[_number_key(row.values["number"])].append(row)
    merged: dict[str, dict] = {}
    for key, group in groups.items():
        values: dict[str, tuple[object, int]] = {}
        for row in group:
            for k in PREMISES_KEYS:
                if k not in row.values:
                    continue
                if k in values and values[k][0] != row.values[k]:
                    first_value, first_line = values[k]
                    row.errors.append(f"Помещение {row.values['number']} уже описано в строке {first_line}: "
                                      f"«{TITLE[k]}» там {_shown(k, first_value)}, здесь {_shown(k, row.values[k])}")
                else:
                    values.setdefault(k, (row.values[k], row.line))
        merged[key] = {k: v for k, (v, _line) in values.items()}

    # accounts: one premises each, in the file and in the database
    account_lines: dict[str, tuple[str, int]] = {}
    for key, group in groups.items():
        account = merged[key].get("account")
        if account is None:
            if key not in existing:
                group[0].errors.append(f"Не заполнено «{TITLE['account']}» для нового помещения")
            continue
        if account in account_lines and account_lines[account][0] != key:
            group[0].errors.append(f"Лицевой счёт {account} уже указан в строке {account_lines[account][1]} для "
                                   "другого помещения")
        account_lines.setdefault(account, (key, group[0].line))
    wanted = [a for a, (key, _line) in account_lines.items()
              if key not in existing or existing[key].account_number != a]
    taken = {p.account_number: p for p in db.session.scalars(
        select(Premises).where(Premises.account_number.in_(wanted)))} if wanted else {}
    for account, (key, line) in account_lines.items():
        holder = taken.get(account)
        if holder is not None and (key not in existing or holder.id != existing[key].id):
            where = (f"помещения {holder.title} этого дома" if holder.building_id == building.id
                     else "помещения в другом доме")
            row = next(r for r in groups[key] if r.line == line)
            row.errors.append(f"Лицевой счёт {account} уже принадлежит {where}")

    # owners and meters, per premises
    plan_premises, plan_owners, plan_meters = [], [], []
    absent_owners = []
    counts = Counter()
    meter_lines: dict[tuple[Resource, str], tuple[str, int]] = {}
    for key, group in groups.items():
        premises = existing.get(key)
        values = merged[key]
        title = ("пом. " if values.get("kind", premises.kind if premises else None) ==
                 PremisesKind.NON_RESIDENTIAL else "кв. ") + group[0].values["number"]
        changes = {}
        if premises is None:
            changes = {k: values[k] for k in PREMISES_KEYS if k in values}
        else:
            for k in PREMISES_KEYS:
                if k in values and getattr(premises, _PREMISES_ATTR[k]) != values[k]:
                    changes[k] = values[k]
        # owners of this premises
        owners: dict[str, tuple[_Row, str, Fraction | None, dict]] = {}
        for row in group:
            row.premises_title = title
            if not row.owner:
                continue
            name_key = _name_key(row.owner)
            details = {k: row.values[k] for k in ("phone", "email") if k in row.values}
            if name_key in owners:
                first, _name, share, first_details = owners[name_key]
                if row.share is not None and share is not None and row.share != share:
                    row.errors.append(f"{row.owner}: в строке {first.line} доля {share_label(share)}, здесь "
                                      f"{share_label(row.share)}")
                for k, v in details.items():
                    if k in first_details and first_details[k] != v:
                        row.errors.append(f"{row.owner}: в строке {first.line} «{TITLE[k]}» другой")
                    first_details.setdefault(k, v)
                if share is None and row.share is not None:
                    owners[name_key] = (first, _name, row.share, first_details)
                continue
            owners[name_key] = (row, row.owner, row.share, details)
        if owners:
            shares = [s for (_r, _n, s, _d) in owners.values()]
            if len(owners) == 1 and shares[0] is None:
                shares = [Fraction(1)]
                only = next(iter(owners))
                owners[only] = (*owners[only][:2], Fraction(1), owners[only][3])
            if any(s is None for s in shares):
                group[0].errors.append(f"У помещения {group[0].values['number']} несколько собственников: укажите "
                                       f"«{TITLE['share']}» каждого")
            elif sum(shares) != 1:
                group[0].errors.append(f"Доли собственников помещения {group[0].values['number']} в сумме "
                                       f"{share_label(sum(shares))}, а должны составлять 1")
        known = records.get(premises.id, {}) if premises else {}
        for name_key, (row, name, share, details) in owners.items():
            record = known.get(name_key)
            share = share or Fraction(1)
            if record is None:
                plan_owners.append(("new", key, None, name, share, details))
                row.what.append(f"собственник {name} ({share_label(share)}) — новый")
                _bump(row, NEW)
                counts["owners_new"] += 1
            else:
                changed = {}
                if Fraction(record.share_num, record.share_den) != share:
                    changed["share"] = share
                for k, attr in (("phone", "phone"), ("email", "email")):
                    if k in details and getattr(record, attr) != details[k]:
                        changed[k] = details[k]
                if changed:
                    plan_owners.append(("changed", key, record.id, name, share, details))
                    row.what.append(f"собственник {name}: изменится " + ", ".join(
                        TITLE[k].lower() if k != "share" else "доля" for k in changed))
                    _bump(row, CHANGED)
                    counts["owners_changed"] += 1
                else:
                    row.what.append(f"собственник {name} без изменений")
        if premises is not None and owners:
            for name_key, record in known.items():
                if name_key not in owners:
                    absent_owners.append(f"{title}: {record.full_name}")
        # meters
        for row in group:
            if not (row.resource and row.serial) or row.errors:
                continue
            mkey = (row.resource, _serial_key(row.serial))
            if mkey in meter_lines:
                row.errors.append(f"Счётчик № {row.serial} ({RESOURCE_LABELS[row.resource].lower()}) уже есть в строке "
                                  f"{meter_lines[mkey][1]}")
                continue
            meter_lines[mkey] = (key, row.line)
            found = meters.get(mkey, [])
            label = f"{RESOURCE_LABELS[row.resource]} № {row.serial}"
            if not found:
                if "verification" not in row.values:
                    row.errors.append(f"Для нового счётчика № {row.serial} заполните «{TITLE['verification']}» "
                                      "(дата следующей поверки из паспорта)")
                    continue
                value = row.values.get("reading", Decimal("0"))
                digits = min(9, max(5, len(str(int(value)))))
                plan_meters.append(("new", key, None, row.resource, row.serial, row.values["verification"], value,
                                    digits))
                row.what.append(f"счётчик {label} — новый" + (f", показание {_shown('reading', value)}"
                                                             if "reading" in row.values else ""))
                _bump(row, NEW)
                counts["meters_new"] += 1
                continue
            if found[0].premises_id != (premises.id if premises else None):
                other = found[0].premises
                where = other.title if other else "другом помещении"
                row.errors.append(f"Счётчик № {row.serial} уже числится: {where}")
                continue
            changed = {}
            if "verification" in row.values and any(m.next_verification_on != row.values["verification"]
                                                    for m in found):
                changed["verification"] = row.values["verification"]
            if "reading" in row.values and any(m.initial_value != row.values["reading"] for m in found):
                if len(found) > 1 or found[0].id in with_readings:
                    row.notes.append(f"Показание счётчика № {row.serial} не перенесено: по нему уже есть показания в "
                                     "портале")
                elif row.values["reading"] >= Decimal(10) ** found[0].digits:
                    row.errors.append(f"Показание {_shown('reading', row.values['reading'])} не помещается на "
                                      f"счётчике № {row.serial} ({found[0].digits} цифр до запятой)")
                    continue
                else:
                    changed["reading"] = row.values["reading"]
            if changed:
                plan_meters.append(("changed", key, [m.id for m in found], row.resource, row.serial,
                                    changed.get("verification"), changed.get("reading"), None))
                row.what.append(f"счётчик {label}: изменится " + ", ".join(
                    "дата поверки" if k == "verification" else "начальное показание" for k in changed))
                _bump(row, CHANGED)
                counts["meters_changed"] += 1
            else:
                row.what.append(f"счётчик {label} без изменений")
        # the premises itself, shown on its first row
        first = group[0]
        if premises is None:
            plan_premises.append(("new", key, None, group[0].values["number"], changes))
            first.what.insert(0, f"{title} — новое помещение")
            _bump(first, NEW)
            counts["premises_new"] += 1
        elif changes:
            plan_premises.append(("changed", key, premises.id, None, changes))
            first.what.insert(0, f"{title}: изменится " + ", ".join(TITLE[k] for k in changes))
            _bump(first, CHANGED)
            counts["premises_changed"] += 1
        else:
            counts["premises_unchanged"] += 1

    in_file = set(groups)
    absent = sorted((p for k, p in existing.items() if k not in in_file), key=lambda p: p.sort_key)
    result = []
    for row in rows:
        if row.errors:
            row.status = ERROR
        result.append({"line": row.line, "cells": row.cells, "read_errors": row.read_errors,
                       "status": row.status, "premises": row.premises_title, "what": "; ".join(row.what),
                       "message": "; ".join(row.errors or row.notes)})
    summary = {
        "premises_in_file": len(groups), **{k: counts[k] for k in (
            "premises_new", "premises_changed", "premises_unchanged", "owners_new", "owners_changed", "meters_new",
            "meters_changed")},
        "errors": sum(1 for r in result if r["status"] == ERROR),
        "absent_premises": [p.title for p in absent][:500], "absent_premises_count": len(absent),
        "absent_owners": absent_owners[:500], "absent_owners_count": len(absent_owners),
    }
    return Checked(result, summary, {"premises": plan_premises, "owners": plan_owners, "meters": plan_meters,
                                     "existing": existing})


def _bump(row: _Row, status: str) -> None:
    order = {UNCHANGED: 0, CHANGED: 1, NEW: 2}
    if order[status] > order[row.status]:
        row.status = status


# ---------------------------------------------------------------------------------------------------------
# Public calls
# ---------------------------------------------------------------------------------------------------------


def read_rows(filename: str, content: bytes) -> list[dict]:
    table = tabular.read_table(filename=filename, content=content, fields=FIELDS, what="помещениями",
                               limits=tabular.Limits(max_bytes=MAX_FILE_BYTES, max_rows=MAX_ROWS))
    return [{"line": r.line, "cells": {k: _store_cell(v) for k, v in r.cells.items()},
             "read_errors": list(r.errors.values())} for r in table.rows]


def house_import_preview(*, actor: User, building: Building, filename: str, content: bytes,
                         now: datetime | None = None) -> TabularImport:
    """Read and check a file for this building; store the checked rows as the preview (nothing else written).
    File-level problems raise Invalid("file") and store nothing."""
    now = now or utcnow()
    _require(actor, building)
    stored = read_rows(filename, content)
    checked = _check(building, stored, now)
    return tabular.preview_store(kind=ImportKind.HOUSE, organisation_id=building.organisation_id,
                                 building_id=building.id, actor=actor, filename=filename, content=content,
                                 rows=checked.rows, summary=checked.summary, now=now)


@dataclass(frozen=True)
class HouseImportResult:
    premises_new: int
    premises_changed: int
    owners_new: int
    owners_changed: int
    meters_new: int
    meters_changed: int


_SIGNATURE = ("status", "what", "message")


def house_import_apply(*, actor: User, building: Building, imp: TabularImport, now: datetime | None = None,
                       origin: Origin = NO_ORIGIN) -> HouseImportResult:
    """Apply a previewed file, all or nothing (see the module docstring)."""
    now = now or utcnow()
    _require(actor, building)
    if imp.kind != ImportKind.HOUSE or imp.building_id != building.id:
        raise NotFound("Нет такой загрузки")
    tabular.refuse_if_applied(imp)
    tabular.refuse_if_expired(imp, now)
    import_id, shown, filename = imp.id, imp.rows, imp.filename
    tabular.claim(imp, now)
    tabular.lock_buildings([building.id])
    checked = _check(building, shown, now)
    if [tuple(r.get(k) for k in _SIGNATURE) for r in shown] != [tuple(r.get(k) for k in _SIGNATURE)
                                                                 for r in checked.rows]:
        db.session.rollback()
        tabular.store_rows(import_id, checked.rows, checked.summary)
        raise Conflict("Пока вы смотрели предпросмотр, данные дома изменились. Ничего не загружено: проверьте "
                       "обновлённый список и подтвердите загрузку ещё раз.")
    errors = checked.summary["errors"]
    if errors:
        db.session.rollback()
        raise Invalid("form", f"Ничего не загружено: строк с ошибками — {errors}. Исправьте их и загрузите файл "
                              "заново.")
    try:
        result = _write(building, checked, now)
        audit_record(actor=actor, action="house_imported", entity_type="building", entity_id=building.id,
                     changes={"file": filename, "import": import_id, **result.__dict__,
                              # the readings as the file dates them (a meter keeps only the value)
                              "readings": [[r["line"], r["cells"].get("serial"),
                                            str(tabular.decimal_value(r["cells"]["reading"])),
                                            r["cells"].get("reading_date")] for r in checked.rows
                                           if r["cells"].get("reading")][:2000]},
                     origin=origin, role="operator" if not access_for(actor).uk_manages(building) else "staff")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _write(building: Building, checked: Checked, now: datetime) -> HouseImportResult:
    """The planned writes as bulk statements: one INSERT (executemany) per table, UPDATEs by primary key grouped
    by the columns they change — the number of statements does not grow with the rows."""
    plan = checked.plan
    all_attrs = [_PREMISES_ATTR[k] for k in PREMISES_KEYS]
    new_premises, premises_updates = [], []
    for status, _key, premises_id, number_, changes in plan["premises"]:
        values = {_PREMISES_ATTR[k]: v for k, v in changes.items()}
        if status == "new":
            row = dict.fromkeys(all_attrs)
            row.update(kind=PremisesKind.APARTMENT, registered_residents=0)
            row.update(values)
            new_premises.append({"building_id": building.id, "number": number_, **row})
        else:
            premises_updates.append({"id": premises_id, **values})
    if new_premises:
        db.session.execute(insert(Premises), new_premises)
    _bulk_update(Premises, premises_updates)
    ids = {_number_key(n): i for i, n in db.session.execute(
        select(Premises.id, Premises.number).where(Premises.building_id == building.id))} if plan["owners"] or \
        plan["meters"] else {}
    new_owners, owner_updates = [], []
    for status, key, record_id, name, share, details in plan["owners"]:
        if status == "new":
            new_owners.append({"premises_id": ids[key], "full_name": name, "share_num": share.numerator,
                               "share_den": share.denominator, "phone": details.get("phone"),
                               "email": details.get("email"), "source": "import", "created_at": now,
                               "updated_at": now, "user_id": None})
        else:
            owner_updates.append({"id": record_id, "share_num": share.numerator, "share_den": share.denominator,
                                  "updated_at": now, **details})
    if new_owners:
        db.session.execute(insert(OwnerRecord), new_owners)
    _bulk_update(OwnerRecord, owner_updates)
    new_meters, meter_updates = [], []
    for status, key, meter_ids, resource, serial, verification, reading, digits in plan["meters"]:
        if status == "new":
            new_meters.append({"premises_id": ids[key], "building_id": building.id, "resource": resource,
                               "zone": None, "serial_number": serial, "place": None, "installed_on": None,
                               "next_verification_on": verification, "digits": digits, "initial_value": reading,
                               "archived": False, "archived_at": None, "replaces_id": None})
        else:
            changes = {k: v for k, v in (("next_verification_on", verification), ("initial_value", reading))
                       if v is not None}
            meter_updates.extend({"id": meter_id, **changes} for meter_id in meter_ids)
    if new_meters:
        db.session.execute(insert(Meter), new_meters)
    _bulk_update(Meter, meter_updates)
    db.session.expire_all()
    s = checked.summary
    return HouseImportResult(premises_new=s["premises_new"], premises_changed=s["premises_changed"],
                             owners_new=s["owners_new"], owners_changed=s["owners_changed"],
                             meters_new=s["meters_new"], meters_changed=s["meters_changed"])


def _bulk_update(model, rows: list[dict]) -> None:
    """UPDATE by primary key, one executemany per set of changed columns."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    for group in groups.values():
        db.session.execute(update(model), group)


def building_premises_count(building: Building) -> int:
    return db.session.scalar(select(func.count(Premises.id)).where(Premises.building_id == building.id)) or 0


# ---------------------------------------------------------------------------------------------------------
# The template
# ---------------------------------------------------------------------------------------------------------


def template_csv() -> bytes:
    return tabular.write_csv([[TITLE[k] for k in TEMPLATE_KEYS], *TEMPLATE_EXAMPLES])


def template_xlsx() -> bytes:
    """The template as a workbook built on the fly: headers in bold, text columns typed as text (leading zeros of
    accounts survive), two example flats and a non-residential premises, and a sheet with the help."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Помещения"
    sheet.append([TITLE[k] for k in TEMPLATE_KEYS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for example in TEMPLATE_EXAMPLES:
        sheet.append(list(example))
    for index, key in enumerate(TEMPLATE_KEYS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(TITLE[key]) + 2)
        for row in range(2, 2 + len(TEMPLATE_EXAMPLES)):
            cell = sheet.cell(row=row, column=index)
            cell.data_type = "s"
            cell.number_format = "@"
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet("Справка")
    for line in HELP_LINES:
        help_sheet.append([line])
    help_sheet.column_dimensions["A"].width = 120
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HELP_LINES = (
    "Одна строка — одно помещение; несколько собственников или счётчиков — несколько строк с тем же номером помещения.",
    "Обязательные столбцы: «Номер помещения» и «Лицевой счёт» (для нового помещения).",
    "Доли собственников одного помещения в сумме — 1 (1, 1/2, 0,5). Одному собственнику долю можно не писать.",
    "Вид помещения: «квартира» или «нежилое». Площади — в м², дробная часть через запятую.",
    "Счётчик: «Ресурс» (Холодная вода, Горячая вода, Электроэнергия, Отопление, Газ) и «Заводской номер»; "
    "для нового — «Дата поверки» (следующей). «Показание» — начальное показание счётчика.",
    "Даты — ДД.ММ.ГГГГ. Повторная загрузка файла обновляет данные, ничего не удваивая; помещения, которых нет "
    "в файле, не удаляются.",
)
