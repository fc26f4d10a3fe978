"""Import of a period's charges exported by the УК's billing system (CSV or XLSX).

One row per premises (by «Лицевой счёт») and service (by «Код услуги»); the columns are described once, in
COLUMNS, which also drives the help page and the downloadable template. Two steps:

1. `charges_import_preview` reads the file and checks every row (numbers, decimals, Итого = Начислено +
   Перерасчёт − Льгота, duplicates, Пени agreeing within an account, accounts of this building, active
   services of the organisation). Nothing is stored: when no row has an error, the preview carries the
   normalised rows in a signed, zlib-compressed token (itsdangerous, SECRET_KEY, salt "charges-import") that
   also names the actor, the building and the period, and expires after TOKEN_MAX_AGE.
2. `charges_import_apply` takes the token back, checks the actor, building and period against it, checks
   every row again against the database as it is now, and applies all rows or none, in one transaction:
   the period's charges of the premises in the file are replaced (imported and computed ones alike; premises
   not in the file keep theirs), statements are re-issued for those premises, the file's Пени replaces the
   computed penalty, and an audit record is written. Applying the same file again gives the same charges and
   statements. `billing.period_close` refuses a period with imported charges.
"""

import codecs
import csv
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.access import access_for, uk_buildings
from app.extensions import db
from app.formatting import number
from app.models import Building, Premises, Statement, User
from app.models.base import utcnow
from app.models.billing import Charge, ChargeSource, Service
from app.models.orgs import Organisation
from app.services import billing
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed
from app.services.periods import current_month

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_XLSX_UNPACKED = 50 * 1024 * 1024  # a 2 MB zip must not unpack into gigabytes
HEADER_SEARCH_ROWS = 10  # the header row may follow a title line or two of the billing system's report
MAX_BLANK_ROWS = 1000  # so many empty rows in a row end the table (formatted but empty sheets)
TOKEN_SALT = "charges-import"
TOKEN_MAX_AGE = 12 * 60 * 60  # seconds; an old preview must not overwrite newer charges
TOKEN_VERSION = 1

CSV_MIMETYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    required: bool
    meaning: str
    format: str
    example: str
    places: int | None = None  # decimal places of a number column; None for text
    negative: bool = False  # may a number be negative
    limit: Decimal | None = None  # absolute value must stay below
    max_length: int | None = None  # of a text column


MONEY_LIMIT = Decimal("100000000")  # 100 million ₽ for one line is a typo, and the columns hold less

COLUMNS: tuple[Column, ...] = (
    Column("account", "Лицевой счёт", True, "Лицевой счёт помещения, как в квитанции. Помещение должно быть в "
           "выбранном доме.", "текст до 20 символов; в Excel задайте столбцу формат «Текстовый», чтобы не "
           "потерялись нули в начале", "12345678", max_length=20),
    Column("code", "Код услуги", True, "Код услуги из справочника услуг вашей организации (список ниже). "
           "Услуга должна быть включена.", "текст до 30 символов, как в справочнике", "MAINT", max_length=30),
    Column("volume", "Объём", False, "Объём услуги за месяц: площадь, расход по счётчику, число проживающих.",
           "число ≥ 0, до 4 знаков после запятой; пусто — 0", "48,6", places=4, limit=Decimal("1000000000")),
    Column("tariff", "Тариф", False, "Тариф за единицу объёма, ₽.", "число ≥ 0, до 4 знаков после запятой; "
           "пусто — 0", "30,15", places=4, limit=Decimal("10000000")),
    Column("charged", "Начислено", True, "Начислено за месяц по тарифу, ₽.", "сумма ≥ 0, до 2 знаков после "
           "запятой", "1465,29", places=2, limit=MONEY_LIMIT),
    Column("recalculation", "Перерасчёт", False, "Перерасчёт, ₽: плюс — доначисление, минус — уменьшение.",
           "сумма, может быть отрицательной; пусто — 0", "-48,72", places=2, negative=True, limit=MONEY_LIMIT),
    Column("reason", "Причина перерасчёта", False, "Основание перерасчёта — печатается в квитанции.",
           "текст до 200 символов", "Показания за сентябрь переданы после расчёта", max_length=200),
    Column("benefit", "Льгота", False, "Льгота или субсидия, ₽, вычитается из начисленного.",
           "сумма ≥ 0; пусто — 0", "0", places=2, limit=MONEY_LIMIT),
    Column("total", "Итого", False, "Итого к оплате по услуге, ₽.", "сумма; должна равняться Начислено + "
           "Перерасчёт − Льгота; пусто — посчитаем сами", "1416,57", places=2, negative=True, limit=MONEY_LIMIT),
    Column("penalty", "Пени", False, "Пени по лицевому счёту за месяц, ₽ — одна сумма на счёт, не на услугу. "
           "Можно указать в одной строке счёта или повторить одинаковую во всех.", "сумма ≥ 0; пусто — пени "
           "посчитает портал", "12,34", places=2, limit=MONEY_LIMIT),
)
COLUMN = {c.key: c for c in COLUMNS}
REQUIRED = tuple(c for c in COLUMNS if c.required)
ROW_KEYS = ("line",) + tuple(c.key for c in COLUMNS)  # the order of values of a row in the token

NEW, CHANGED, UNCHANGED, ERROR = "new", "changed", "unchanged", "error"
STATUS_LABELS = {NEW: "новая", CHANGED: "изменится", UNCHANGED: "без изменений", ERROR: "ошибка"}

ZERO = Decimal("0")


def _header_key(value) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().casefold().replace("ё", "е")


_HEADERS = {_header_key(c.title): c.key for c in COLUMNS}


def _money_text(value: Decimal) -> str:
    return number(value, "#,##0.00")


# ---------------------------------------------------------------------------------------------------------
# Reading the file into rows of raw cells
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RawRow:
    line: int  # line of a CSV file / row of the sheet (the header is usually 1)
    cells: dict[str, object]
    extra: bool = False  # more values than header columns (a "," file with unquoted decimal commas)


def read_table(*, filename: str, content: bytes) -> list[RawRow]:
    """The data rows of a CSV or XLSX file; Invalid("file", ...) for a file that cannot be used at all."""
    if not content:
        raise Invalid("file", "Файл пустой. Выберите файл с начислениями")
    if len(content) > MAX_FILE_BYTES:
        raise Invalid("file", f"Файл больше {MAX_FILE_BYTES // (1024 * 1024)} МБ. Разделите его на части "
                              "(например, по подъездам) и загрузите по очереди")
    name = (filename or "").lower()
    is_zip = content[:4] == b"PK\x03\x04"
    if name.endswith(".xls") or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise Invalid("file", "Формат XLS (Excel 97–2003) не поддерживается. Сохраните файл как XLSX или CSV")
    if name.endswith(".xlsx") or (is_zip and not name.endswith((".csv", ".txt"))):
        if not is_zip:
            raise Invalid("file", "Файл не похож на XLSX. Сохраните его в Excel как «Книга Excel (.xlsx)»")
        return _table_rows(_xlsx_rows(content))
    if name.endswith((".csv", ".txt")):
        return _table_rows(_csv_rows(content))
    raise Invalid("file", "Загрузите файл CSV или XLSX")


def _decode(content: bytes) -> str:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Invalid("file", "Файл в кодировке UTF-16. Сохраните его как «CSV UTF-8» или «CSV (разделители — "
                              "точка с запятой)»")
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8):]
        encodings = ("utf-8",)
    else:
        encodings = ("utf-8", "cp1251")  # Russian Excel saves "CSV" in Windows-1251
    for encoding in encodings:
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Invalid("file", "Не удалось прочитать текст файла. Сохраните его в кодировке UTF-8 или Windows-1251")
    if "\x00" in text:
        raise Invalid("file", "Файл не похож на CSV. Загрузите файл CSV или XLSX")
    return text


def _csv_rows(content: bytes):
    """Rows of a CSV file as (line, cells); the separator (; , or tab) is the one that finds the headers."""
    text = _decode(content)
    head = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS * 3])

    def recognised(delimiter: str) -> int:
        try:
            rows = list(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter))
        except csv.Error:
            return -1
        return max((sum(_header_key(c) in _HEADERS for c in row) for row in rows[:HEADER_SEARCH_ROWS]), default=0)

    delimiter = max((";", ",", "\t"), key=lambda d: (recognised(d), head.count(d)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as error:
        raise Invalid("file", f"Не удалось прочитать CSV в строке {reader.line_num}: проверьте кавычки") from error


_BROKEN_XLSX = "Не удалось прочитать файл XLSX: он повреждён или это не таблица Excel"


def _xlsx_rows(content: bytes):
    """Rows of the first sheet as (row number, cells)."""
    from openpyxl import load_workbook

    broken = (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError, TypeError, EOFError)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNPACKED:
                raise Invalid("file", "Файл XLSX слишком большой после распаковки. Разделите его на части")
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except broken as error:
        raise Invalid("file", _BROKEN_XLSX) from error
    try:
        for index, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield index, list(cells)
    except broken as error:
        raise Invalid("file", _BROKEN_XLSX) from error
    finally:
        workbook.close()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table_rows(table) -> list[RawRow]:
    columns: dict[str, int] | None = None
    best: dict[str, int] = {}  # the header-like row with the most known columns, for the message
    rows: list[RawRow] = []
    seen_lines = blank_run = 0
    for line, cells in table:
        if all(_blank(v) for v in cells):
            blank_run += 1
            if rows and blank_run > MAX_BLANK_ROWS:
                break
            continue
        blank_run = 0
        if columns is None:
            seen_lines += 1
            found: dict[str, int] = {}
            for index, value in enumerate(cells):
                key = _HEADERS.get(_header_key(value)) if isinstance(value, str) else None
                if key is None:
                    continue
                if key in found:
                    raise Invalid("file", f"Столбец «{COLUMN[key].title}» встречается в заголовке дважды. "
                                          "Оставьте один")
                found[key] = index
            if all(c.key in found for c in REQUIRED):
                columns = found
                width = len(cells)
                while width and _blank(cells[width - 1]):
                    width -= 1
            elif seen_lines >= HEADER_SEARCH_ROWS:
                break
            elif len(found) > len(best):
                best = found
            continue
        if len(rows) >= MAX_ROWS:
            raise Invalid("file", f"В файле больше {number(MAX_ROWS, '#,##0')} строк. Разделите его на части "
                                  "(например, по подъездам) и загрузите по очереди")
        values = {key: (cells[index] if index < len(cells) else None) for key, index in columns.items()}
        rows.append(RawRow(line, values, extra=any(not _blank(v) for v in cells[width:])))
    if columns is None:
        missing = ", ".join(f"«{c.title}»" for c in REQUIRED if c.key not in best)
        if best:
            raise Invalid("file", f"В файле нет обязательных столбцов: {missing}. Названия столбцов — в первой "
                                  "строке, как в образце")
        raise Invalid("file", "Не найдена строка заголовков. Первая строка таблицы должна содержать названия "
                              f"столбцов, обязательные: {', '.join(f'«{c.title}»' for c in REQUIRED)}. Скачайте "
                              "образец файла")
    if not rows:
        raise Invalid("file", "В файле нет строк с начислениями — только заголовки")
    return rows


# ---------------------------------------------------------------------------------------------------------
# Checking rows: each row on its own, then across the file, then against the database
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    account: str = ""
    code: str = ""
    volume: Decimal | None = None
    tariff: Decimal | None = None
    charged: Decimal | None = None
    recalculation: Decimal | None = None
    reason: str = ""
    benefit: Decimal | None = None
    total: Decimal | None = None
    penalty: Decimal | None = None
    errors: list[str] = field(default_factory=list)
    # found in the database
    premises: Premises | None = None
    service: Service | None = None
    old: Charge | None = None

    @property
    def status(self) -> str:
        if self.errors:
            return ERROR
        if self.old is None:
            return NEW
        old = self.old
        same = (old.volume, old.tariff, old.amount, old.recalculation, old.recalculation_reason or "", old.benefit,
                old.total) == (self.volume, self.tariff, self.charged, self.recalculation, self.reason,
                               self.benefit, self.total)
        return UNCHANGED if same else CHANGED

    @property
    def message(self) -> str:
        return "; ".join(self.errors)

    def to_token(self) -> list:
        return [self.line] + [_token_value(getattr(self, c.key)) for c in COLUMNS]


def _token_value(value):
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 48.6000 -> "48.6": a shorter token
    return value


def _text(value) -> str:
    """A cell as text: whole numbers from XLSX lose a spurious '.0', dates become ДД.ММ.ГГГГ."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (date, datetime)):
        return f"{value:%d.%m.%Y}"
    text = re.sub(r"\s+", " ", str(value)).strip()
    return text[1:].strip() if text.startswith("'") else text


_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")


class _NotNumber(Exception):
    pass


def _decimal(value) -> Decimal | None:
    """A number cell: text with a decimal comma or point (spaces between thousands allowed) or an XLSX number."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (date, datetime)):
        raise _NotNumber
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _NotNumber
        # Excel keeps binary floats: 243.6 may come as 243.60000000000002 after a formula.
        return Decimal(repr(round(value, 9)))
    if isinstance(value, Decimal):
        return value
    text = _SPACES.sub("", str(value)).replace("\u2212", "-").replace("\u2013", "-")
    if not text:
        return None
    if len(text) > 30 or not _NUMBER.fullmatch(text):
        raise _NotNumber
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
        raise _NotNumber from None


def _number_cell(column: Column, value, errors: list[str]) -> Decimal | None:
    try:
        result = _decimal(value)
    except _NotNumber:
        errors.append(f"«{column.title}»: «{_text(value)[:30]}» — не число. Пишите цифры, дробную часть — через "
                      "запятую или точку")
        return None
    if result is None:
        return None
    if abs(result) >= column.limit:
        errors.append(f"«{column.title}»: слишком большое число ({_text(value)[:30]})")
        return None
    if result != result.quantize(Decimal(1).scaleb(-column.places)):
        what = "двух знаков" if column.places == 2 else f"{column.places} знаков"
        errors.append(f"«{column.title}»: больше {what} после запятой ({_text(value)[:30]})")
        return None
    if result < 0 and not column.negative:
        errors.append(f"«{column.title}» не может быть отрицательным")
        return None
    return result.quantize(Decimal(1).scaleb(-column.places))


def parse_row(line: int, cells: dict[str, object], *, extra: bool = False) -> ImportRow:
    """One row on its own: every value and Итого = Начислено + Перерасчёт − Льгота."""
    row = ImportRow(line=line)
    errors = row.errors
    if extra:
        errors.append("В строке больше значений, чем столбцов в заголовке. Если разделитель — запятая, пишите "
                      "дробные числа через точку или в кавычках")
    for column in COLUMNS:
        value = cells.get(column.key)
        if column.places is None:
            text = _text(value)
            if column.required and not text:
                errors.append(f"Не заполнено «{column.title}»")
            elif len(text) > column.max_length:
                errors.append(f"«{column.title}» длиннее {column.max_length} символов")
            setattr(row, column.key, text)
            continue
        parsed = _number_cell(column, value, errors)
        if parsed is None and column.required and _blank(value):
            errors.append(f"Не заполнено «{column.title}»")
        setattr(row, column.key, parsed)
    for key in ("volume", "tariff", "recalculation", "benefit"):
        if getattr(row, key) is None and _blank(cells.get(key)):
            setattr(row, key, ZERO.quantize(Decimal(1).scaleb(-COLUMN[key].places)))
    if row.charged is not None and row.recalculation is not None and row.benefit is not None:
        expected = row.charged + row.recalculation - row.benefit
        if row.total is None and _blank(cells.get("total")):
            row.total = expected
        elif row.total is not None and row.total != expected:
            errors.append(f"«Итого» {_money_text(row.total)} не равно «Начислено» + «Перерасчёт» − «Льгота» = "
                          f"{_money_text(expected)}")
    return row


def _check_file(rows: list[ImportRow]) -> None:
    """Across rows: one row per account and service; Пени of an account agree wherever given."""
    first_line: dict[tuple[str, str], int] = {}
    penalties: dict[str, tuple[int, Decimal]] = {}
    for row in rows:
        if row.account and row.code:
            key = (row.account, row.code.casefold())
            if key in first_line:
                row.errors.append(f"Повтор: лицевой счёт {row.account} и услуга «{row.code}» уже есть в строке "
                                  f"{first_line[key]}")
            else:
                first_line[key] = row.line
        if row.account and row.penalty is not None:
            if row.account not in penalties:
                penalties[row.account] = (row.line, row.penalty)
            elif penalties[row.account][1] != row.penalty:
                line, value = penalties[row.account]
                row.errors.append(f"«Пени» по лицевому счёту {row.account} уже указаны в строке {line}: "
                                  f"{_money_text(value)} ₽. Пени — одна сумма на счёт: значения должны совпадать")


@dataclass
class ServiceTotal:
    code: str
    name: str
    rows: int = 0
    charged: Decimal = ZERO
    recalculation: Decimal = ZERO
    benefit: Decimal = ZERO
    total: Decimal = ZERO

    def add(self, row: ImportRow) -> None:
        self.rows += 1
        self.charged += row.charged
        self.recalculation += row.recalculation
        self.benefit += row.benefit
        self.total += row.total


@dataclass
class ChargesPreview:
    building: Building
    period: date
    filename: str
    rows: list[ImportRow]
    removed: list[Charge]  # charges of premises in the file for services the file does not have
    services: list[ServiceTotal]
    overall: ServiceTotal
    penalty: Decimal  # sum of Пени given in the file (one per account)
    penalty_accounts: int
    premises_count: int  # premises found in the file
    building_premises: int  # premises of the building
    token: str | None = None  # only when no row has an error

    @property
    def errors(self) -> list[ImportRow]:
        return [r for r in self.rows if r.errors]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUS_LABELS, 0)
        for row in self.rows:
            counts[row.status] += 1
        return counts

    @property
    def can_apply(self) -> bool:
        return self.token is not None


def _check_database(rows: list[ImportRow], *, building: Building, period: date, orgs: set[int]) -> None:
    premises = {p.account_number: p for p in db.session.scalars(
        select(Premises).where(Premises.building_id == building.id))}
    services = list(db.session.scalars(select(Service).where(Service.organisation_id == building.organisation_id)))
    by_code = {s.code: s for s in services}
    by_folded: dict[str, list[Service]] = defaultdict(list)
    for s in services:
        by_folded[s.code.casefold()].append(s)
    existing = {(c.premises_id, c.service_id): c for c in db.session.scalars(
        select(Charge).join(Premises, Premises.id == Charge.premises_id)
        .where(Premises.building_id == building.id, Charge.period == period))}
    unknown = {r.account for r in rows if r.account and r.account not in premises}
    elsewhere: dict[str, str] = {}
    if unknown and orgs:
        for p in db.session.scalars(select(Premises).join(Building, Building.id == Premises.building_id).where(
                Building.organisation_id.in_(orgs), Premises.account_number.in_(sorted(unknown)[:500]))):
            elsewhere[p.account_number] = p.building.short_address
    where = building.short_address
    for row in rows:
        if row.account:
            row.premises = premises.get(row.account)
            if row.premises is None:
                hint = f" — он относится к дому {elsewhere[row.account]}" if row.account in elsewhere else ""
                row.errors.append(f"Лицевой счёт {row.account} не найден в доме {where}{hint}")
        if row.code:
            candidates = by_folded.get(row.code.casefold(), [])
            service = by_code.get(row.code) or (candidates[0] if len(candidates) == 1 else None)
            if service is None:
                row.errors.append(f"Неизвестный код услуги «{row.code}»")
            elif not service.active:
                row.errors.append(f"Услуга «{service.code}» ({service.name}) отключена в справочнике услуг")
            else:
                row.service = service
        if row.premises is not None and row.service is not None:
            row.old = existing.get((row.premises.id, row.service.id))


def _preview(rows: list[ImportRow], *, actor: User, building: Building, period: date, filename: str,
             orgs: set[int], sign: bool = True) -> ChargesPreview:
    _check_file(rows)
    _check_database(rows, building=building, period=period, orgs=orgs)
    valid = [r for r in rows if not r.errors]
    totals: dict[str, ServiceTotal] = {}
    for row in valid:
        totals.setdefault(row.service.code, ServiceTotal(row.service.code, row.service.name)).add(row)
    order = {s.code: (s.sort_order, s.id) for s in (r.service for r in valid)}
    overall = ServiceTotal("", "Всего")
    for row in valid:
        overall.add(row)
    penalties: dict[str, Decimal] = {}
    for row in valid:
        if row.penalty is not None:
            penalties.setdefault(row.account, row.penalty)
    in_file = {(r.premises.id, r.service.id) for r in rows if r.premises is not None and r.service is not None}
    premises_ids = {r.premises.id for r in rows if r.premises is not None}
    removed = []
    if premises_ids:
        sort_keys = {r.premises.id: r.premises.sort_key for r in rows if r.premises is not None}
        removed = sorted((c for c in db.session.scalars(select(Charge).where(
            Charge.premises_id.in_(premises_ids), Charge.period == period))
            if (c.premises_id, c.service_id) not in in_file),
            key=lambda c: (sort_keys[c.premises_id], c.service.sort_order, c.service_id))
    preview = ChargesPreview(
        building=building, period=period, filename=filename, rows=rows, removed=removed,
        services=sorted(totals.values(), key=lambda t: order[t.code]), overall=overall,
        penalty=sum(penalties.values(), ZERO), penalty_accounts=len(penalties), premises_count=len(premises_ids),
        building_premises=db.session.scalar(select(func.count(Premises.id)).where(
            Premises.building_id == building.id)) or 0,
    )
    if sign and not preview.errors:
        preview.token = _serializer().dumps({
            "v": TOKEN_VERSION, "actor": actor.id, "building": building.id, "period": f"{period:%Y-%m}",
            "file": filename, "rows": [r.to_token() for r in rows]})
    return preview


# ---------------------------------------------------------------------------------------------------------
# Public calls
# ---------------------------------------------------------------------------------------------------------


def _require(actor: User, building: Building, period: date, now: datetime) -> set[int]:
    orgs = set(access_for(actor).uk_orgs)
    if building.organisation_id not in orgs:
        raise NotAllowed("Загружать начисления может только управляющая организация дома")
    if period > current_month(now):
        raise Invalid("period", "Месяц ещё не наступил: начисления загружают за текущий или прошедший месяц")
    return orgs


def charges_import_preview(*, actor: User, building: Building, period: date, filename: str, content: bytes,
                           now: datetime | None = None) -> ChargesPreview:
    """Read and check a file; nothing is stored. The preview's token (when no row has an error) confirms it."""
    orgs = _require(actor, building, period, now or utcnow())
    rows = [parse_row(r.line, r.cells, extra=r.extra) for r in read_table(filename=filename, content=content)]
    return _preview(rows, actor=actor, building=building, period=period, filename=filename, orgs=orgs)


class ImportRejected(Conflict):
    """Rows that were fine at the preview fail now (the building's premises or services changed meanwhile)."""

    def __init__(self, preview: ChargesPreview):
        super().__init__("После проверки файла данные дома или справочник услуг изменились, и в файле появились "
                         "ошибки. Ничего не загружено: исправьте строки с ошибками и загрузите файл заново.")
        self.preview = preview


_BAD_TOKEN = "Данные проверенного файла повреждены. Загрузите файл заново."


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def _read_token(token: str, *, actor: User, building: Building, period: date) -> tuple[str, list[ImportRow]]:
    try:
        payload = _serializer().loads(token or "", max_age=TOKEN_MAX_AGE)
    except SignatureExpired as error:
        raise Invalid("token", "Проверка файла устарела. Загрузите файл заново.") from error
    except BadSignature as error:
        raise Invalid("token", _BAD_TOKEN) from error
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION or not isinstance(payload.get("rows"), list):
        raise Invalid("token", _BAD_TOKEN)
    if payload.get("actor") != actor.id:
        raise NotAllowed("Файл проверял другой пользователь. Загрузите файл заново.")
    if payload.get("building") != building.id or payload.get("period") != f"{period:%Y-%m}":
        raise Invalid("token", "Проверенный файл относится к другому дому или месяцу. Загрузите файл заново.")
    rows = []
    for values in payload["rows"]:
        if not isinstance(values, list) or len(values) != len(ROW_KEYS) or not isinstance(values[0], int):
            raise Invalid("token", _BAD_TOKEN)
        rows.append(parse_row(values[0], dict(zip(ROW_KEYS[1:], values[1:], strict=True))))
    if not rows:
        raise Invalid("token", _BAD_TOKEN)
    return str(payload.get("file") or ""), rows


def charges_import_review(*, actor: User, building: Building, period: date, token: str,
                          now: datetime | None = None) -> ChargesPreview:
    """The preview of a token, checked against the database as it is now."""
    orgs = _require(actor, building, period, now or utcnow())
    filename, rows = _read_token(token, actor=actor, building=building, period=period)
    return _preview(rows, actor=actor, building=building, period=period, filename=filename, orgs=orgs)


@dataclass
class ImportResult:
    rows: int
    premises: int
    total: Decimal
    penalty: Decimal
    replaced_import: int
    replaced_computed: int
    statements: list[Statement]


def statement_set_penalty(*, statement: Statement, penalty: Decimal) -> Statement:
    """Put the billing system's Пени on a statement and keep amount due = opening + charged + penalty − paid."""
    statement.penalty = billing.money(penalty)
    statement.amount_due = billing.money(statement.opening_balance + statement.charged + statement.penalty
                                         - statement.paid)
    return statement


def charges_import_apply(*, actor: User, building: Building, period: date, token: str, now: datetime | None = None,
                         origin: Origin = NO_ORIGIN) -> ImportResult:
    """Apply a checked file: every row or none (ImportRejected when a row fails now). See the module docstring."""
    now = now or utcnow()
    orgs = _require(actor, building, period, now)
    filename, rows = _read_token(token, actor=actor, building=building, period=period)
    # One import per building at a time: a second one waits, then replaces what the first one wrote.
    db.session.execute(select(Building.id).where(Building.id == building.id).with_for_update())
    preview = _preview(rows, actor=actor, building=building, period=period, filename=filename, orgs=orgs,
                       sign=False)
    if preview.errors:
        raise ImportRejected(preview)
    premises = sorted({r.premises.id: r.premises for r in rows}.values(), key=lambda p: p.sort_key)
    ids = [p.id for p in premises]
    replaced = dict(db.session.execute(select(Charge.source, func.count(Charge.id)).where(
        Charge.premises_id.in_(ids), Charge.period == period).group_by(Charge.source)).all())
    try:
        db.session.execute(delete(Charge).where(Charge.premises_id.in_(ids), Charge.period == period))
        for r in rows:
            db.session.add(Charge(
                premises_id=r.premises.id, period=period, service_id=r.service.id, volume=r.volume, tariff=r.tariff,
                amount=r.charged, recalculation=r.recalculation, recalculation_reason=r.reason or None,
                benefit=r.benefit, total=r.total, note="", source=ChargeSource.IMPORT, created_at=now))
        db.session.flush()
        statements = billing.statements_issue(premises=premises, period=period, now=now)
        penalties = {r.premises.id: r.penalty for r in rows if r.penalty is not None}
        for statement in statements:
            if statement.premises_id in penalties:
                statement_set_penalty(statement=statement, penalty=penalties[statement.premises_id])
        result = ImportResult(
            rows=len(rows), premises=len(premises), total=preview.overall.total, penalty=preview.penalty,
            replaced_import=replaced.get(ChargeSource.IMPORT, 0), replaced_computed=replaced.get(
                ChargeSource.COMPUTED, 0), statements=statements)
        audit_record(actor=actor, action="charges_imported", entity_type="building", entity_id=building.id,
                     changes={
                         "period": period.isoformat(), "file": filename[:200], "rows": result.rows,
                         "premises": result.premises, "total": str(result.total),
                         "totals": {t.code: str(t.total) for t in preview.services},
                         "penalty": str(result.penalty), "penalty_accounts": preview.penalty_accounts,
                         "replaced": {"import": result.replaced_import, "computed": result.replaced_computed},
                         "removed": len(preview.removed),
                     }, origin=origin)
        db.session.commit()
    except IntegrityError as error:  # e.g. the period was closed at the same moment
        db.session.rollback()
        raise Conflict("Начисления этого дома за этот месяц только что изменились. Ничего не загружено: загрузите "
                       "файл ещё раз.") from error
    except Exception:
        db.session.rollback()
        raise
    return result


def import_buildings(actor: User) -> list[Building]:
    """Buildings whose charges the actor may import: those of the actor's management organisations."""
    return uk_buildings(actor)


def organisation_services(actor: User) -> list[tuple[Organisation, list[Service]]]:
    """Services of each of the actor's management organisations, for the help page (active first)."""
    orgs = access_for(actor).uk_orgs
    if not orgs:
        return []
    services = list(db.session.scalars(select(Service).where(Service.organisation_id.in_(orgs)).order_by(
        Service.active.desc(), Service.sort_order, Service.id)))
    organisations = db.session.scalars(select(Organisation).where(Organisation.id.in_(orgs))
                                       .order_by(Organisation.short_name))
    return [(o, [s for s in services if s.organisation_id == o.id]) for o in organisations]


def template_csv(*, actor: User) -> bytes:
    """The template: UTF-8 with BOM (Excel opens it right), «;», the headers and two example rows.

    The examples use the first two active service codes of the actor's organisation when it has them.
    """
    codes = [s.code for _, services in organisation_services(actor)[:1] for s in services if s.active][:2]
    first, second = (codes + ["MAINT", "CW"][len(codes):])[:2]
    rows = [
        [c.title for c in COLUMNS],
        ["12345678", first, "48,6", "30,15", "1465,29", "", "", "", "1465,29", "12,34"],
        ["12345678", second, "5", "48,72", "243,60", "-48,72", "Показания за сентябрь переданы после расчёта",
         "0", "194,88", "12,34"],
    ]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


