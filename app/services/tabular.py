"""One module for every tabular import (readings, charges, house onboarding): reading CSV and XLSX files,
matching headers, converting cells, and the stored preview → confirm mechanism.

Reading (`read_table`):
- the type is decided by the content, not the name: a ZIP (XLSX) renamed .csv is read as XLSX; a text file
  named .xlsx is read as CSV when its header row is found, else refused as "not an XLSX"; XLS (Excel 97–2003)
  is refused with a hint.
- CSV: UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1251 (what Russian Excel writes); the
  delimiter (; , or tab) is the one that finds the most known headers in the first lines.
- XLSX: openpyxl read-only and data_only, first sheet only: a formula comes as the value Excel saved with it.
  A formula cell without a saved value (a file written by a program, never opened in Excel) and an error
  value (#DIV/0!, #Н/Д…) are per-row errors. **Merged cells below the title lines are refused** (the whole
  file, listing the ranges): a merged cell keeps its value in the top-left cell only, and guessing which rows
  it meant is worse than asking the user to unmerge. Merged title lines above the header row are fine.
- the header row may follow a few title lines (HEADER_SEARCH_ROWS); headers match by a normalised name
  (case, ё/е, spaces and punctuation ignored, ² = 2) against each field's title and aliases.
- empty rows are skipped; row numbers are the ones Excel shows (a CSV record counts as one row); more than
  `max_rows` data rows → refusal as soon as the limit is passed (the rest is never read); a file above
  `max_bytes` is refused before anything is parsed; an XLSX that unpacks above MAX_XLSX_UNPACKED too.

Cells (`text`, `decimal_cell`, `integer_cell`, `date_cell`, `bool_cell`): typed conversion with Russian
messages that name the column (CellError).

Preview → confirm (`preview_store`, `import_get`, `claim`, `lock_buildings`): the checked rows are stored in
`tabular_imports` (app/models/imports.py) with their kind; confirming claims the row (a second confirmation
finds it applied and is refused politely), locks the building rows (SELECT … FOR UPDATE on PostgreSQL; SQLite
serialises writers anyway), re-checks every row against the database and applies all or nothing in one
transaction — that part is each import's own.

Exports neutralise formula cells: `safe_text` for CSV, string-typed cells for XLSX (see readings_exchange).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select, update

from app.access import access_for, valid_id
from app.extensions import db
from app.formatting import datetime_ru, number
from app.models import TabularImport, User
from app.models.base import utcnow
from app.services.errors import Conflict, Invalid, NotFound

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_XLSX_UNPACKED = 50 * 1024 * 1024  # a few MB of zip must not unpack into gigabytes
HEADER_SEARCH_ROWS = 10  # the header row may follow a title line or two
MAX_BLANK_ROWS = 1000  # so many empty rows in a row end the table (formatted but empty sheets)
PREVIEW_MAX_AGE = timedelta(hours=12)  # an old preview is not applied: upload the file again

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_BROKEN_XLSX = "Не удалось прочитать файл XLSX: он повреждён или это не таблица Excel"
_EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                           "#ПУСТО!", "#ДЕЛ/0!", "#ЗНАЧ!", "#ССЫЛКА!", "#ИМЯ?", "#ЧИСЛО!", "#Н/Д"})


# ---------------------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A column an import reads: its key, the title of the template and the names accepted for it."""

    key: str
    title: str
    aliases: tuple[str, ...] = ()
    required: bool = False


def header_key(value) -> str:
    """A header (or a code) as compared: case, ё/е, spaces and punctuation ignored; ² and ³ as 2 and 3."""
    text = str(value or "").casefold().replace("ё", "е").replace("²", "2").replace("³", "3")
    return re.sub(r"[\W_]+", "", text)


def header_lookup(fields: Iterable[Field]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for f in fields:
        for name in (f.title, *f.aliases):
            key = header_key(name)
            if lookup.setdefault(key, f.key) != f.key:  # pragma: no cover - a programming error
                raise ValueError(f"header {name!r} names two fields")
    return lookup


# ---------------------------------------------------------------------------------------------------------
# Reading a file
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SourceRow:
    """One data row: raw cells by field key (str from CSV; int, float, datetime, bool or str from XLSX)."""

    line: int  # the row number Excel shows
    cells: dict[str, object]
    extra: bool = False  # more values than header columns (a "," file with unquoted decimal commas)
    errors: dict[str, str] = field(default_factory=dict)  # field key -> a problem of the cell itself


@dataclass
class Table:
    rows: list[SourceRow]
    columns: dict[str, int]  # field key -> column index
    format: str  # "csv" | "xlsx"


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_FILE_BYTES
    max_rows: int = MAX_ROWS


def _mb(size: int) -> str:
    value = size / (1024 * 1024)
    return str(int(value)) if value.is_integer() else f"{value:.1f}".replace(".", ",")


def read_table(*, filename: str, content: bytes, fields: Iterable[Field], what: str,
               limits: Limits = Limits()) -> Table:  # noqa: B008 - a frozen default
    """The data rows of a CSV or XLSX file; Invalid("file", ...) for a file that cannot be used at all.

    `what` ends the messages: "Выберите файл с {what}", "нет строк с {what}" (e.g. "показаниями").
    """
    fields = tuple(fields)
    if not content:
        raise Invalid("file", f"Файл пустой. Выберите файл с {what}")
    if len(content) > limits.max_bytes:
        raise Invalid("file", f"Файл больше {_mb(limits.max_bytes)} МБ. Разделите его на части (например, по "
                              "подъездам) и загрузите по очереди")
    name = (filename or "").lower()
    if name.endswith(".xls") or content.startswith(_XLS_MAGIC):
        raise Invalid("file", "Формат XLS (Excel 97–2003) не поддерживается. Сохраните файл как XLSX или CSV")
    if content.startswith(_ZIP_MAGIC):  # XLSX whatever the name says (an XLSX renamed .csv works)
        if "." in name and not name.endswith((".xlsx", ".xlsm", ".csv", ".txt")):  # .docx, .zip, .ods...
            raise Invalid("file", "Загрузите файл CSV или XLSX")
        return _rows(_xlsx_cells(content), fields, what, limits, "xlsx")
    if name.endswith((".xlsx", ".xlsm")):
        try:  # a CSV renamed .xlsx: fine if it reads as one
            return _rows(_csv_cells(content, fields), fields, what, limits, "csv")
        except Invalid:
            raise Invalid("file", "Файл не похож на XLSX. Сохраните его в Excel как «Книга Excel (.xlsx)»") from None
    if name.endswith((".csv", ".txt")):
        return _rows(_csv_cells(content, fields), fields, what, limits, "csv")
    raise Invalid("file", "Загрузите файл CSV или XLSX")


def decode_text(content: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1251."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        attempts = ("utf-16",)
    elif content.startswith(codecs.BOM_UTF8):
        content, attempts = content[len(codecs.BOM_UTF8):], ("utf-8",)
    else:
        attempts = ("utf-8", "cp1251")  # Russian Excel saves "CSV" in Windows-1251
    for encoding in attempts:
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Invalid("file", "Не удалось прочитать текст файла. Сохраните его в кодировке UTF-8 или Windows-1251")
    if "\x00" in text:
        raise Invalid("file", "Файл не похож на CSV. Загрузите файл CSV или XLSX (если это CSV в кодировке "
                              "UTF-16, сохраните его как «CSV UTF-8»)")
    return text


def _csv_cells(content: bytes, fields: tuple[Field, ...]) -> Iterator[tuple[int, list]]:
    """(row number, cells) of a CSV file; the delimiter is the one that finds the most known headers."""
    text = decode_text(content)
    lookup = header_lookup(fields)
    head_lines = []
    for index, line in enumerate(io.StringIO(text)):
        if index >= HEADER_SEARCH_ROWS * 3:
            break
        head_lines.append(line)
    head = "".join(head_lines)

    def recognised(delimiter: str) -> int:
        try:
            rows = list(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter))
        except csv.Error:
            return -1
        return max((sum(header_key(c) in lookup for c in row) for row in rows[:HEADER_SEARCH_ROWS]), default=0)

    delimiter = max((";", ",", "\t"), key=lambda d: (recognised(d), head.count(d)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    index = 0
    try:
        for index, cells in enumerate(reader, start=1):  # noqa: B007 - index is used in the message
            yield index, cells
    except csv.Error as error:
        raise Invalid("file", f"Не удалось прочитать CSV в строке {index + 1}: проверьте кавычки") from error


_BROKEN = (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError, TypeError, EOFError, AttributeError)
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*ref=\"([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?\"")
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


@dataclass
class _SheetFacts:
    merged: list[tuple[str, int, int]]  # (ref, first row, last row)
    formulas: bool


def _sheet_facts(workbook, sheet) -> _SheetFacts:
    """Merged ranges and whether any formula is present, from one streaming pass over the sheet XML."""
    merged, formulas, tail = [], False, b""
    with workbook._archive.open(sheet._worksheet_path) as stream:
        while chunk := stream.read(1 << 20):
            data = tail + chunk
            formulas = formulas or bool(_FORMULA.search(data))
            cut = max(0, len(data) - 200)  # a tag cut by the chunk boundary is seen again with the next chunk
            for match in _MERGE.finditer(data):
                if match.end() <= cut:
                    merged.append(match)
            tail = data[cut:]
        for match in _MERGE.finditer(tail):
            merged.append(match)
    result = []
    for m in merged:
        first = int(m.group(2))
        last = int(m.group(4) or first)
        ref = m.group(0).split(b'ref="')[1].rstrip(b'"').decode()
        result.append((ref, first, last))
    return _SheetFacts(sorted(set(result), key=lambda r: r[1]), formulas)


class _Formula:
    """A formula cell whose saved value is missing."""

    def __init__(self, text: str):
        self.text = text


def _xlsx_cells(content: bytes) -> Iterator[tuple[int, list]]:
    """(row number, cells) of the first sheet; a formula without a saved value comes as _Formula."""
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNPACKED:
                raise Invalid("file", "Файл XLSX слишком большой после распаковки. Разделите его на части")
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        facts = _sheet_facts(workbook, sheet)
    except _BROKEN as error:
        raise Invalid("file", _BROKEN_XLSX) from error
    formulas_book = None
    try:
        values = sheet.iter_rows(values_only=True)
        if facts.formulas:  # the same sheet with formulas as written, to tell "no saved value" from "empty"
            formulas_book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
            formula_rows = formulas_book.worksheets[0].iter_rows(values_only=True)
        else:
            formula_rows = None
        for index, cells in enumerate(values, start=1):
            cells = list(cells)
            if formula_rows is not None:
                written = next(formula_rows, ())
                for i, value in enumerate(cells):
                    if value is None and i < len(written) and isinstance(written[i], str) \
                            and written[i].startswith("="):
                        cells[i] = _Formula(written[i])
            yield index, cells, facts
    except _BROKEN as error:
        raise Invalid("file", _BROKEN_XLSX) from error
    finally:
        workbook.close()
        if formulas_book is not None:
            formulas_book.close()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rows(table, fields: tuple[Field, ...], what: str, limits: Limits, fmt: str) -> Table:
    lookup = header_lookup(fields)
    titles = {f.key: f.title for f in fields}
    required = [f for f in fields if f.required]
    columns: dict[str, int] | None = None
    header_line = 0
    best: dict[str, int] = {}  # the header-like row with the most known columns, for the message
    rows: list[SourceRow] = []
    seen_lines = blank_run = width = 0
    facts: _SheetFacts | None = None
    for item in table:
        line, cells = item[0], item[1]
        if len(item) > 2:
            facts = item[2]
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
                key = lookup.get(header_key(value)) if isinstance(value, str) else None
                if key is None:
                    continue
                if key in found:
                    raise Invalid("file", f"Столбец «{titles[key]}» встречается в заголовке дважды. Оставьте один")
                found[key] = index
            if all(f.key in found for f in required):
                columns, header_line = found, line
                width = len(cells)
                while width and _blank(cells[width - 1]):
                    width -= 1
                if facts is not None:
                    _refuse_merged(facts, header_line)
            elif seen_lines >= HEADER_SEARCH_ROWS:
                break
            elif len(found) > len(best):
                best = found
            continue
        if len(rows) >= limits.max_rows:
            raise Invalid("file", f"В файле больше {number(limits.max_rows, '#,##0')} строк. Разделите его на части "
                                  "(например, по подъездам) и загрузите по очереди")
        values: dict[str, object] = {}
        errors: dict[str, str] = {}
        for key, index in columns.items():
            value = cells[index] if index < len(cells) else None
            if isinstance(value, _Formula):
                errors[key] = (f"«{titles[key]}»: формула {value.text[:40]} без сохранённого значения. Откройте файл "
                               "в Excel и сохраните его ещё раз или вставьте значения вместо формул")
                value = None
            elif isinstance(value, str) and value.strip() in _EXCEL_ERRORS and fmt == "xlsx":
                errors[key] = f"«{titles[key]}»: в ячейке ошибка формулы {value.strip()}"
                value = None
            values[key] = value
        rows.append(SourceRow(line, values, extra=any(not _blank(v) for v in cells[width:]), errors=errors))
    if columns is None:
        missing = ", ".join(f"«{f.title}»" for f in required if f.key not in best)
        if best:
            raise Invalid("file", f"В файле нет обязательных столбцов: {missing}. Названия столбцов — в одной "
                                  "строке над данными, как в образце")
        hint = (" Если вместо русских букв в файле непонятные знаки, сохраните его в кодировке UTF-8."
                if fmt == "csv" else "")
        raise Invalid("file", "Не найдена строка заголовков. Первая строка таблицы должна содержать названия "
                              f"столбцов, обязательные: {', '.join(f'«{f.title}»' for f in required)}. Скачайте "
                              f"образец файла.{hint}")
    if not rows:
        raise Invalid("file", f"В файле нет строк с {what} — только заголовки")
    return Table(rows, columns, fmt)


def _refuse_merged(facts: _SheetFacts, header_line: int) -> None:
    below = [ref for ref, _first, last in facts.merged if last >= header_line]
    if below:
        shown = ", ".join(below[:5]) + (f" и ещё {len(below) - 5}" if len(below) > 5 else "")
        raise Invalid("file", f"В таблице есть объединённые ячейки ({shown}). Разъедините их (Excel: «Объединить "
                              "и поместить в центре» → «Отменить объединение») и заполните значение в каждой строке")


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------------------


class CellError(Exception):
    """A cell that cannot be converted; the message names the column and is shown on the preview."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def text(value) -> str:
    """A cell as text: whole numbers from XLSX lose a spurious '.0', dates become ДД.ММ.ГГГГ, a leading
    apostrophe (Excel's "keep as text") goes, runs of spaces become one."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return f"{value:%d.%m.%Y}"
    result = re.sub(r"\s+", " ", str(value)).strip()
    return result[1:].strip() if result.startswith("'") else result


def blank(value) -> bool:
    return _blank(value)


_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")


class NotNumber(Exception):
    pass


def decimal_value(value) -> Decimal | None:
    """A number: text with a decimal comma or point (spaces between thousands allowed) or an XLSX number.
    '48.6.1', '1,465.29', '1e3', 'NaN' are not numbers."""
    if value is None:
        return None
    if isinstance(value, bool | date | datetime):
        raise NotNumber
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotNumber
        # Excel keeps binary floats: 243.6 may come as 243.60000000000002 after a formula.
        return Decimal(repr(round(value, 9)))
    if isinstance(value, Decimal):
        return value
    raw = _SPACES.sub("", str(value)).replace("\u2212", "-").replace("\u2013", "-")
    if not raw:
        return None
    if len(raw) > 30 or not _NUMBER.fullmatch(raw):
        raise NotNumber
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits numbers only
        raise NotNumber from None


def _places_text(places: int) -> str:
    return {0: "целое число", 1: "одного знака", 2: "двух знаков", 3: "трёх знаков"}.get(places, f"{places} знаков")


def decimal_cell(value, *, title: str, places: int, negative: bool = False, limit: Decimal | None = None,
                 required: bool = False) -> Decimal | None:
    """A Decimal with at most `places` decimals (None for an empty cell unless required)."""
    try:
        result = decimal_value(value)
    except NotNumber:
        raise CellError(f"«{title}»: «{text(value)[:30]}» — не число. Пишите цифры, дробную часть — через запятую "
                        "или точку") from None
    if result is None:
        if required:
            raise CellError(f"Не заполнено «{title}»")
        return None
    if limit is not None and abs(result) >= limit:
        raise CellError(f"«{title}»: слишком большое число ({text(value)[:30]})")
    if result != result.quantize(Decimal(1).scaleb(-places)):
        raise CellError(f"«{title}»: больше {_places_text(places)} после запятой ({text(value)[:30]})")
    if result < 0 and not negative:
        raise CellError(f"«{title}» не может быть отрицательным")
    return result.quantize(Decimal(1).scaleb(-places))


def integer_cell(value, *, title: str, minimum: int = 0, maximum: int = 10**6, required: bool = False) -> int | None:
    try:
        result = decimal_value(value)
    except NotNumber:
        raise CellError(f"«{title}»: «{text(value)[:30]}» — не целое число") from None
    if result is None:
        if required:
            raise CellError(f"Не заполнено «{title}»")
        return None
    if result != result.to_integral_value():
        raise CellError(f"«{title}»: «{text(value)[:30]}» — не целое число")
    if result < minimum:
        raise CellError(f"«{title}» не может быть меньше {minimum}" if minimum else
                        f"«{title}» не может быть отрицательным")
    if result > maximum:
        raise CellError(f"«{title}»: слишком большое число ({text(value)[:30]})")
    return int(result)


_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d.%m.%y")


def date_cell(value, *, title: str, required: bool = False) -> date | None:
    """A date: an XLSX date, an Excel serial number (a date cell that lost its format), ДД.ММ.ГГГГ (also
    ДД.ММ.ГГ and ДД/ММ/ГГГГ) or ISO ГГГГ-ММ-ДД; a time after the date is ignored."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 110_000 and float(value).is_integer():  # 1900…2200
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise CellError(f"«{title}»: «{text(value)}» — не дата. Пишите ДД.ММ.ГГГГ")
    raw = text(value)
    if not raw:
        if required:
            raise CellError(f"Не заполнено «{title}»")
        return None
    if re.fullmatch(r"\d{5}", raw):
        return _EXCEL_EPOCH + timedelta(days=int(raw))
    raw = re.split(r"[ T]", raw, maxsplit=1)[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise CellError(f"«{title}»: «{text(value)[:30]}» — не дата. Пишите ДД.ММ.ГГГГ, например 24.11.2026")


_TRUE = frozenset({"да", "д", "yes", "y", "true", "истина", "1", "+", "x", "х", "v", "✓"})
_FALSE = frozenset({"нет", "н", "no", "n", "false", "ложь", "0", "-"})


def bool_cell(value, *, title: str) -> bool | None:
    """да/нет (also yes/no, 1/0, +/−, истина/ложь, an XLSX boolean); None for an empty cell."""
    if isinstance(value, bool):
        return value
    raw = text(value).casefold()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise CellError(f"«{title}»: «{text(value)[:30]}» — напишите «да» или «нет»")


def safe_text(value: str) -> str:
    """Keep a spreadsheet from reading an exported text cell as a formula (CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(rows: Iterable[Iterable[str]]) -> bytes:
    """CSV as Russian Excel opens it: UTF-8 with BOM, «;», CRLF."""
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------------------
# The stored preview and its confirmation
# ---------------------------------------------------------------------------------------------------------


def clean_filename(filename: str | None) -> str:
    return re.split(r"[\\/]", filename or "")[-1][-200:] or "файл"


def preview_store(*, kind: str, organisation_id: int, actor: User, filename: str, content: bytes, rows: list,
                  summary: dict | None = None, building_id: int | None = None, period: date | None = None,
                  now: datetime) -> TabularImport:
    """Store a checked file as a preview (commits). The same file uploaded again by the same person for the same
    place and period refreshes their pending preview rather than adding one."""
    digest = sha256(content)
    pending = db.session.scalars(select(TabularImport).where(
        TabularImport.kind == kind, TabularImport.organisation_id == organisation_id,
        TabularImport.building_id.is_(None) if building_id is None else TabularImport.building_id == building_id,
        TabularImport.period.is_(None) if period is None else TabularImport.period == period,
        TabularImport.actor_id == actor.id, TabularImport.content_sha256 == digest,
        TabularImport.applied_at.is_(None)).order_by(TabularImport.id.desc()).limit(1)).first()
    imp = pending or TabularImport(kind=kind, organisation_id=organisation_id, building_id=building_id,
                                   actor_id=actor.id, period=period, content_sha256=digest)
    imp.filename, imp.rows, imp.summary, imp.created_at = clean_filename(filename), rows, summary, now
    if pending is None:
        db.session.add(imp)
    db.session.commit()
    return imp


def import_get(*, actor: User, id: int, kind: str, operator: bool = False) -> TabularImport:  # noqa: A002
    """An import of this kind the actor may see: staff of its organisation (and of its building's УК), or the
    portal operator where the kind allows it. Else NotFound (a 404)."""
    key = valid_id(id)
    imp = db.session.get(TabularImport, key) if key else None
    access = access_for(actor)
    if imp is None or imp.kind != kind or not (access.staff_of(imp.organisation_id) or (operator and access.operator)):
        raise NotFound("Нет такой загрузки")
    return imp


def refuse_if_applied(imp: TabularImport) -> None:
    if imp.applied_at is not None:
        raise Conflict(f"Этот файл уже загружен {datetime_ru(imp.applied_at)}. Повторно применить его нельзя; "
                       "если нужно что-то исправить, загрузите исправленный файл заново.")


def refuse_if_expired(imp: TabularImport, now: datetime) -> None:
    created = imp.created_at
    if created.tzinfo is None:  # SQLite returns naive UTC
        from datetime import UTC

        created = created.replace(tzinfo=UTC)
    if now - created > PREVIEW_MAX_AGE:
        raise Invalid("form", "Проверка файла устарела. Загрузите файл заново.")


def claim(imp: TabularImport, now: datetime) -> None:
    """Mark the import applied inside the applying transaction; a concurrent confirmation waits on this row and
    then finds it applied (Conflict). The caller commits with its writes or rolls back."""
    result = db.session.execute(
        update(TabularImport).where(TabularImport.id == imp.id, TabularImport.applied_at.is_(None))
        .values(applied_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("Этот файл уже загружен. Повторно применить его нельзя.")


def store_rows(imp_id: int, rows: list, summary: dict | None = None) -> None:
    """Replace the stored rows of a pending import (a refreshed preview) and commit."""
    values = {"rows": rows} if summary is None else {"rows": rows, "summary": summary}
    db.session.execute(update(TabularImport).where(TabularImport.id == imp_id, TabularImport.applied_at.is_(None))
                       .values(**values).execution_options(synchronize_session=False))
    db.session.commit()


def lock_buildings(ids: Iterable[int]) -> None:
    """Row locks on the buildings until the transaction ends, shared with period close (app/services/locks.py):
    a close or import of the same building holding it too long → Conflict (409), never a 500."""
    from app.services.locks import buildings_lock

    buildings_lock(ids)


def now_or_utc(now: datetime | None) -> datetime:
    return now or utcnow()
