"""Export and import of meter readings as CSV (Russian Excel: UTF-8 with BOM, `;`) and XLSX.

Export: УК staff export the buildings of their organisation, the council its own building, a РСО the resources
it supplies in the buildings it serves. One row per apartment meter register (active ones, plus archived ones
that have a reading in the period), with the period's reading if there is one.

Import (УК staff only): a file with at least «Лицевой счёт», «Заводской номер», «Показание» is checked row by
row and stored as a ReadingImport (preview); confirming applies every row or none. Rows are checked with the
same rules as entry in the grid (app/services/readings.py) and written by its `_write`, so each change keeps a
revision. A row equal to the stored reading is "unchanged" and writes nothing: uploading the same file again
changes nothing. Building meters (ОДПУ) have no personal account and are not part of the exchange.
"""

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.access import access_for
from app.extensions import db
from app.formatting import datetime_ru, local, number, period_ru
from app.models import Building, Meter, Premises, Reading, ReadingImport, User
from app.models.base import utcnow
from app.models.imports import ImportKind
from app.models.metering import RESOURCE_LABELS, SOURCE_LABELS, ReadingSource, Resource
from app.models.people import Role
from app.services import tabular
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.periods import current_month, local_today
from app.services.readings import MeterLine, _write, meter_lines, parse_value, verification_expired

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
HEADER_SEARCH_ROWS = 10  # the header may follow a title line or two

# Column headers, in the order of the export (and of the import template).
COL_ADDRESS = "Адрес дома"
COL_PREMISES = "Помещение"
COL_ACCOUNT = "Лицевой счёт"
COL_RESOURCE = "Ресурс"
COL_ZONE = "Тариф-зона"
COL_SERIAL = "Заводской номер"
COL_PERIOD = "Период"
COL_VALUE = "Показание"
COL_CONSUMPTION = "Расход"
COL_SOURCE = "Кто внёс"
COL_ENTERED = "Дата внесения"
COL_NOT_FOR_BILLING = "Не для расчёта"
COLUMNS = (COL_ADDRESS, COL_PREMISES, COL_ACCOUNT, COL_RESOURCE, COL_ZONE, COL_SERIAL, COL_PERIOD, COL_VALUE,
           COL_CONSUMPTION, COL_SOURCE, COL_ENTERED, COL_NOT_FOR_BILLING)
REQUIRED_COLUMNS = (COL_ACCOUNT, COL_SERIAL, COL_VALUE)
# Columns the import reads; the others are there for people and are ignored.
_IMPORT_KEYS = {COL_ACCOUNT: "account", COL_SERIAL: "serial", COL_ZONE: "zone", COL_RESOURCE: "resource",
                COL_VALUE: "value", COL_PERIOD: "period"}

CSV_MIMETYPE = tabular.CSV_MIMETYPE
XLSX_MIMETYPE = tabular.XLSX_MIMETYPE
FORMATS = ("csv", "xlsx")


# ---------------------------------------------------------------------------------------------------------
# Who may exchange what
# ---------------------------------------------------------------------------------------------------------


def export_scope(actor: User) -> dict[int, frozenset[Resource] | None]:
    """Buildings whose readings the actor may export: building id -> resources (None = every resource).

    УК staff: the buildings of their organisations; council: its buildings; РСО: the buildings it supplies,
    limited to the resources of the supplier (as on the board, app/access.py Access.supplier_resources).
    """
    access = access_for(actor)
    scope: dict[int, frozenset[Resource] | None] = {b: r for b, r in access.supplied.items() if r}
    scope.update(dict.fromkeys(access.managed_buildings))
    return scope


def export_buildings(actor: User) -> list[Building]:
    """The buildings offered in the export form, by address."""
    ids = export_scope(actor)
    if not ids:
        return []
    return list(db.session.scalars(select(Building).where(Building.id.in_(ids))
                                   .order_by(Building.street, Building.house)))


def can_import(actor: User) -> bool:
    return access_for(actor).is_staff


# ---------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    address: str
    premises: str
    account: str
    resource: str
    zone: str
    serial: str
    period: date
    value: Decimal | None
    consumption: Decimal | None
    source: str
    entered_at: datetime | None
    not_for_billing: bool


@dataclass(frozen=True)
class ExportFile:
    filename: str
    mimetype: str
    content: bytes
    rows: int


def readings_export_rows(*, actor: User, period: date, building: Building | None = None) -> list[ExportRow]:
    """Rows for one building, or for every building the actor may export when `building` is None.

    Three queries whatever the size: meters with their premises and building, then the period's readings
    and the previous readings (app.services.readings.meter_lines).
    """
    if not actor.has_role(Role.STAFF, Role.COUNCIL, Role.RSO):
        raise NotAllowed("Выгружать показания могут управляющая организация, совет дома и поставщики ресурсов")
    scope = export_scope(actor)
    if building is not None:
        if building.id not in scope:
            raise NotFound("Нет такого дома")
        scope = {building.id: scope[building.id]}
    has_reading = exists().where(Reading.meter_id == Meter.id, Reading.period == period)
    conditions = []
    for resources, building_ids in _group_by_resources(scope).items():
        condition = Meter.building_id.in_(building_ids)
        if resources is not None:
            condition = and_(condition, Meter.resource.in_(sorted(resources)))
        conditions.append(condition)
    if not conditions:
        return []
    pairs = list(db.session.execute(
        select(Meter, Premises)
        .join(Premises, Premises.id == Meter.premises_id)
        .where(or_(*conditions), or_(Meter.archived.is_(False), has_reading))
    ))
    pairs.sort(key=lambda mp: (mp.Premises.building.street, mp.Premises.building.house, mp.Premises.sort_key,
                               list(Resource).index(mp.Meter.resource), mp.Meter.serial_number, mp.Meter.zone or ""))
    lines = meter_lines([mp.Meter for mp in pairs], period)
    rows = []
    for (_, premises), line in zip(pairs, lines, strict=True):
        reading, meter = line.reading, line.meter
        rows.append(ExportRow(
            address=premises.building.address, premises=premises.title, account=premises.account_number,
            resource=RESOURCE_LABELS[meter.resource], zone=meter.zone or "", serial=meter.serial_number,
            period=period, value=reading.value if reading else None, consumption=line.consumption,
            source=SOURCE_LABELS[reading.source] if reading else "", entered_at=reading.entered_at if reading else None,
            not_for_billing=bool(reading and reading.not_for_billing),
        ))
    return rows


def _group_by_resources(scope: dict[int, frozenset[Resource] | None]) -> dict[frozenset[Resource] | None, list[int]]:
    groups: dict[frozenset[Resource] | None, list[int]] = defaultdict(list)
    for building_id, resources in scope.items():
        groups[resources].append(building_id)
    return groups


def readings_export(*, actor: User, period: date, building: Building | None = None, fmt: str) -> ExportFile:
    """The export as a file: `fmt` is "csv" (UTF-8 with BOM, `;`, decimal comma) or "xlsx"."""
    if fmt not in FORMATS:
        raise Invalid("format", "Выберите формат: CSV или XLSX")
    rows = readings_export_rows(actor=actor, period=period, building=building)
    place = building.short_address if building is not None else "все дома"
    filename = f"Показания {period:%m.%Y} {place}.{fmt}".replace("/", "-")
    if fmt == "csv":
        return ExportFile(filename, CSV_MIMETYPE, export_csv(rows), len(rows))
    return ExportFile(filename, XLSX_MIMETYPE, export_xlsx(rows, period), len(rows))


_safe_text = tabular.safe_text


def _csv_number(value: Decimal | None) -> str:
    return "" if value is None else number(value, "0.000")


def export_csv(rows: list[ExportRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([
            _safe_text(r.address), _safe_text(r.premises), _safe_text(r.account), r.resource, r.zone,
            _safe_text(r.serial), f"{r.period:%m.%Y}", _csv_number(r.value), _csv_number(r.consumption), r.source,
            datetime_ru(r.entered_at), "да" if r.not_for_billing else "",
        ])
    return out.getvalue().encode("utf-8-sig")


def template_csv() -> bytes:
    """An empty import file: the header line only."""
    return export_csv([])


def export_xlsx(rows: list[ExportRow], period: date) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(f"Показания {period:%m.%Y}")
    for index, width in enumerate((40, 11, 14, 16, 10, 18, 9, 14, 12, 24, 17, 9), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def text(value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, whatever the text starts with
        return cell

    def decimal(value: Decimal | None) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "0.000"
        return cell

    def header(value: str) -> WriteOnlyCell:
        cell = text(value)
        cell.font = bold
        return cell

    sheet.append([header(c) for c in COLUMNS])
    for r in rows:
        entered = WriteOnlyCell(sheet, value=local(r.entered_at).replace(tzinfo=None) if r.entered_at else None)
        entered.number_format = "DD.MM.YYYY HH:MM"
        sheet.append([text(r.address), text(r.premises), text(r.account), text(r.resource), text(r.zone),
                      text(r.serial), text(f"{r.period:%m.%Y}"), decimal(r.value), decimal(r.consumption),
                      text(r.source), entered, text("да" if r.not_for_billing else "")])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Reading a file (app/services/tabular.py)
# ---------------------------------------------------------------------------------------------------------

IMPORT_FIELDS = (
    tabular.Field("account", COL_ACCOUNT, ("Номер ЛС", "Лицевой счет", "ЛС", "Л/с"), required=True),
    tabular.Field("serial", COL_SERIAL, ("Номер счётчика", "Серийный номер", "Номер прибора учёта"), required=True),
    tabular.Field("value", COL_VALUE, ("Текущее показание", "Показания"), required=True),
    tabular.Field("zone", COL_ZONE, ("Зона", "Тарифная зона")),
    tabular.Field("resource", COL_RESOURCE, ("Вид ресурса", "Коммунальный ресурс")),
    tabular.Field("period", COL_PERIOD, ("Расчётный период",)),
)


def read_table(filename: str, content: bytes) -> list[dict]:
    """The data rows of a CSV or XLSX file as [{"line", "account", "serial", "zone", "value", "period"}].

    Raises Invalid("file", ...) for a file that cannot be used at all (nothing is stored then). A cell that
    cannot be read (a formula without a saved value) makes its row an error ("read_error").
    """
    table = tabular.read_table(filename=filename, content=content, fields=IMPORT_FIELDS, what="показаниями",
                               limits=tabular.Limits(max_bytes=MAX_FILE_BYTES, max_rows=MAX_ROWS))
    rows = []
    for source in table.rows:
        row = {"line": source.line}
        for f in IMPORT_FIELDS:
            row[f.key] = tabular.text(source.cells.get(f.key))
        if source.errors:
            row["read_error"] = "; ".join(source.errors.values())
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------------------
# Checking rows
# ---------------------------------------------------------------------------------------------------------

NEW, CHANGED, UNCHANGED, SKIPPED, ERROR = "new", "changed", "unchanged", "skipped", "error"
STATUS_LABELS = {NEW: "новое", CHANGED: "изменится", UNCHANGED: "без изменений", SKIPPED: "пропущена",
                 ERROR: "ошибка"}
# Cyrillic letters that look like Latin ones: serial numbers are typed both ways.
_LOOKALIKES = str.maketrans("АВЕКМНОРСТХУ", "ABEKMHOPCTXY")


def _serial_key(value: str) -> str:
    return re.sub(r"\s+", "", value).upper().translate(_LOOKALIKES)


def _zone(value: str) -> str | None:
    """'' -> None; 'T1', 'т1', 'день (T1)' -> 'T1'; anything else -> '?'."""
    if not value.strip():
        return None
    found = re.findall(r"T[123]", value.upper().translate(_LOOKALIKES))
    return found[0] if len(set(found)) == 1 else "?"


_RESOURCE_NAMES = {**{tabular.header_key(label): r for r, label in RESOURCE_LABELS.items()},
                   **{tabular.header_key(r.value): r for r in Resource}}


def _resource(value: str) -> Resource | str | None:
    """'' -> None; 'Холодная вода' or 'cold_water' -> the resource; anything else -> '?'."""
    if not value.strip():
        return None
    return _RESOURCE_NAMES.get(tabular.header_key(value), "?")


def _period_matches(raw: str, period: date) -> bool:
    match = re.fullmatch(r"(?:\d{1,2}\.)?(\d{1,2})\.(\d{4})", raw.strip())
    return bool(match) and (int(match.group(1)), int(match.group(2))) == (period.month, period.year)


@dataclass
class _Checked:
    rows: list[dict]
    lines: dict[int, MeterLine]


def _check(actor: User, period: date, raw_rows: list[dict], now: datetime) -> _Checked:
    """Check every row against the database; no writes. Six queries, whatever the number of rows."""
    orgs = access_for(actor).uk_orgs
    accounts = {r["account"] for r in raw_rows if r["account"]}
    premises_by_account = {p.account_number: p for p in db.session.scalars(
        select(Premises).where(Premises.account_number.in_(accounts)))} if accounts else {}
    premises_ids = [p.id for p in premises_by_account.values() if p.building.organisation_id in orgs]
    meters_by_premises: dict[int, list[Meter]] = defaultdict(list)
    if premises_ids:
        for meter in db.session.scalars(select(Meter).where(Meter.premises_id.in_(premises_ids))
                                        .order_by(Meter.archived, Meter.id)):
            meters_by_premises[meter.premises_id].append(meter)
    all_meters = [m for ms in meters_by_premises.values() for m in ms]
    lines = {line.meter.id: line for line in meter_lines(all_meters, period)}
    following = _following(list(lines), period)
    today = local_today(now)
    seen: dict[int, int] = {}
    checked = []
    for raw in raw_rows:
        row = {k: raw.get(k, "") for k in _RAW_KEYS}
        try:
            _check_row(row, period, orgs, premises_by_account, meters_by_premises, lines, following, seen, today)
        except _RowError as error:
            row.update(status=ERROR, message=str(error))
        checked.append(row)
    return _Checked(checked, lines)


_RAW_KEYS = ("line", "account", "serial", "zone", "resource", "value", "period", "read_error")


class _RowError(Exception):
    pass


def _check_row(row, period, orgs, premises_by_account, meters_by_premises, lines, following, seen, today) -> None:
    """Fill in what the row is about (place, meter, old and new value) and its status, or raise _RowError."""
    if row.get("read_error"):
        raise _RowError(row["read_error"])
    if not row["value"]:
        row.update(status=SKIPPED, message="Показание не указано — строка пропущена")
        return
    if not row["account"]:
        raise _RowError("Не указан лицевой счёт")
    premises = premises_by_account.get(row["account"])
    if premises is None:
        raise _RowError(f"Лицевой счёт {row['account']} не найден")
    if premises.building.organisation_id not in orgs:
        raise _RowError(f"Лицевой счёт {row['account']} относится к дому, который не обслуживает ваша организация")
    row.update(premises_id=premises.id, place=f"{premises.building.short_address}, {premises.title}")
    if not row["serial"]:
        raise _RowError("Не указан заводской номер счётчика")
    zone, resource = _zone(row["zone"]), _resource(row.get("resource", ""))
    if zone == "?":
        raise _RowError(f"Тариф-зона «{row['zone']}» не распознана: укажите T1, T2 или T3")
    if resource == "?":
        names = ", ".join(f"«{label}»" for label in RESOURCE_LABELS.values())
        raise _RowError(f"Ресурс «{row['resource']}» не распознан: укажите один из: {names}")
    key = _serial_key(row["serial"])
    candidates = [m for m in meters_by_premises.get(premises.id, []) if _serial_key(m.serial_number) == key
                  and (zone is None or m.zone == zone) and (resource is None or m.resource == resource)]
    if not candidates:
        details = ", ".join(filter(None, [RESOURCE_LABELS[resource].lower() if resource else "",
                                          f"зона {zone}" if zone else ""]))
        raise _RowError(f"Счётчик № {row['serial']}{f' ({details})' if details else ''} не найден "
                        f"в помещении {premises.title}")
    if len({m.resource for m in candidates}) > 1:  # two meters of different makers may share a number
        names = ", ".join(sorted({RESOURCE_LABELS[m.resource].lower() for m in candidates}))
        raise _RowError(f"В помещении несколько счётчиков № {row['serial']} ({names}): заполните «{COL_RESOURCE}»")
    if len({m.zone for m in candidates}) > 1:
        zones = ", ".join(sorted({m.zone or "—" for m in candidates}))
        raise _RowError(f"У счётчика № {row['serial']} несколько тарифных зон ({zones}): заполните «{COL_ZONE}»")
    meter = candidates[0]  # an active register first (ordered by archived)
    row.update(meter_id=meter.id, meter=f"{meter.title}, № {meter.serial_number}")
    if meter.id in seen:
        raise _RowError(f"Этот счётчик уже есть в строке {seen[meter.id]}: оставьте одну строку")
    seen[meter.id] = row["line"]
    if row["period"] and not _period_matches(row["period"], period):
        raise _RowError(f"Период в строке ({row['period']}) не совпадает с выбранным ({period:%m.%Y})")
    try:
        value = parse_value(row["value"], meter, "value")
    except Invalid as error:
        raise _RowError(f"Показание «{row['value']}»: {error.message}") from None
    line = lines[meter.id]
    current = line.reading
    row.update(new=str(value), old=str(current.value) if current else None,
               version=current.version if current else None)
    if current is not None and current.value == value:
        row["status"] = UNCHANGED
        return
    if meter.archived:
        raise _RowError(f"Счётчик № {meter.serial_number} снят с учёта: показания по нему не принимаются")
    if value < line.previous_value:
        raise _RowError(f"Меньше предыдущего показания ({number(line.previous_value, '#,##0.###')}). "
                        "Если счётчик заменён, оформите замену в карточке помещения")
    after = following.get(meter.id)
    if after is not None and value > after.value:
        raise _RowError(f"Больше показания за {period_ru(after.period)} ({number(after.value, '#,##0.###')})")
    row["status"] = NEW if current is None else CHANGED
    if verification_expired(meter, today):
        row["message"] = "Срок поверки истёк: показание будет с отметкой «не для расчёта»"


def _following(meter_ids: list[int], period: date) -> dict[int, Reading]:
    """The first reading after the period, per meter, in one query."""
    if not meter_ids:
        return {}
    first = (
        select(Reading.meter_id, func.min(Reading.period).label("period"))
        .where(Reading.meter_id.in_(meter_ids), Reading.period > period)
        .group_by(Reading.meter_id)
        .subquery()
    )
    rows = db.session.scalars(
        select(Reading).join(first, (Reading.meter_id == first.c.meter_id) & (Reading.period == first.c.period)))
    return {r.meter_id: r for r in rows}


# ---------------------------------------------------------------------------------------------------------
# Preview and apply
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportTotals:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0

    @property
    def rows(self) -> int:
        return self.new + self.changed + self.unchanged + self.skipped + self.errors


def import_totals(reading_import: ReadingImport) -> ImportTotals:
    counts = defaultdict(int)
    for row in reading_import.rows:
        counts[row["status"]] += 1
    return ImportTotals(new=counts[NEW], changed=counts[CHANGED], unchanged=counts[UNCHANGED],
                        skipped=counts[SKIPPED], errors=counts[ERROR])


def _require_importer(actor: User) -> set[int]:
    orgs = set(access_for(actor).uk_orgs)
    if not orgs:
        raise NotAllowed("Загружать показания из файла может только управляющая организация")
    return orgs


def reading_import_preview(*, actor: User, period: date, filename: str, content: bytes,
                           now: datetime | None = None) -> ReadingImport:
    """Read and check an uploaded file; store the checked rows (nothing is applied yet).

    File-level problems (type, size, too many rows, no header) raise Invalid("file") and store nothing;
    row-level problems are stored with the row and shown on the preview.
    """
    now = now or utcnow()
    orgs = _require_importer(actor)
    if period > current_month(now):
        raise Invalid("period", "Нельзя загружать показания за будущий месяц")
    raw_rows = read_table(filename, content)
    checked = _check(actor, period, raw_rows, now)
    return tabular.preview_store(kind=ImportKind.READINGS, organisation_id=_import_organisation(orgs, checked.rows),
                                 actor=actor, period=period, filename=filename, content=content, rows=checked.rows,
                                 now=now)


def _import_organisation(orgs: set[int], rows: list[dict]) -> int:
    """The actor's organisation the file is about (the one most rows belong to, for staff of several)."""
    if len(orgs) > 1:
        premises_ids = {r["premises_id"] for r in rows if r.get("premises_id")}
        if premises_ids:
            counts = defaultdict(int)
            for org_id in db.session.scalars(
                    select(Building.organisation_id).join(Premises).where(Premises.id.in_(premises_ids))):
                counts[org_id] += 1
            return max(counts, key=counts.get)
    return min(orgs)


def reading_import_get(*, actor: User, import_id: int) -> ReadingImport:
    """An import the actor may see: one of their organisation's (else NotFound, a 404)."""
    return tabular.import_get(actor=actor, id=import_id, kind=ImportKind.READINGS)


@dataclass(frozen=True)
class ApplyResult:
    new: int
    changed: int
    unchanged: int
    skipped: int


_SIGNATURE = ("status", "meter_id", "new", "old", "version", "message")


def reading_import_apply(*, actor: User, reading_import: ReadingImport, now: datetime | None = None,
                         origin: Origin = NO_ORIGIN) -> ApplyResult:
    """Apply a previewed import, all or nothing, with source «загрузка УК».

    The rows are checked again: if anything differs from the preview the user saw (someone entered a reading
    meanwhile), the refreshed preview is stored and Conflict is raised; if any row has an error, Invalid is
    raised; nothing is written in either case. An import is applied once (a second call: Conflict).
    """
    now = now or utcnow()
    orgs = _require_importer(actor)
    if reading_import.organisation_id not in orgs:
        raise NotAllowed("Эта загрузка другой организации")
    tabular.refuse_if_applied(reading_import)
    tabular.refuse_if_expired(reading_import, now)
    import_id, shown = reading_import.id, reading_import.rows
    # Claim the import first: a concurrent confirmation waits on this row and then finds it applied.
    tabular.claim(reading_import, now)
    premises_ids = {r["premises_id"] for r in shown if r.get("premises_id")}
    if premises_ids:  # one import per building at a time
        tabular.lock_buildings(db.session.scalars(select(Premises.building_id).where(Premises.id.in_(premises_ids))))
    checked = _check(actor, reading_import.period, shown, now)
    if [tuple(r.get(k) for k in _SIGNATURE) for r in shown] != [tuple(r.get(k) for k in _SIGNATURE)
                                                                 for r in checked.rows]:
        db.session.rollback()
        tabular.store_rows(import_id, checked.rows)
        raise Conflict("Пока вы смотрели предпросмотр, показания в базе изменились. Ничего не загружено: "
                       "проверьте обновлённый список и подтвердите загрузку ещё раз.")
    errors = sum(1 for r in checked.rows if r["status"] == ERROR)
    if errors:
        db.session.rollback()
        raise Invalid("form", f"Ничего не загружено: ошибок в файле — {errors}. Исправьте строки с ошибками "
                              "и загрузите файл заново.")
    counts = defaultdict(int)
    today = local_today(now)
    try:
        for row in checked.rows:
            counts[row["status"]] += 1
            if row["status"] not in (NEW, CHANGED):
                continue
            line = checked.lines[row["meter_id"]]
            _write(line, reading_import.period, Decimal(row["new"]), ReadingSource.IMPORT, actor, "staff", now,
                   origin, expected_version=row["version"], not_for_billing=verification_expired(line.meter, today))
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Пока файл загружался, по некоторым счётчикам внесли показания. Ничего не загружено: "
                       "откройте предпросмотр и подтвердите загрузку ещё раз.") from None
    result = ApplyResult(new=counts[NEW], changed=counts[CHANGED], unchanged=counts[UNCHANGED],
                         skipped=counts[SKIPPED])
    audit_record(actor=actor, action="readings_import", entity_type="reading_import", entity_id=import_id,
                 changes={"period": f"{reading_import.period:%Y-%m}", "file": reading_import.filename,
                          "new": result.new, "changed": result.changed, "unchanged": result.unchanged},
                 origin=origin, role="staff")
    db.session.commit()
    db.session.refresh(reading_import)
    return result
