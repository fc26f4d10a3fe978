"""Payments from the bank: import of a bank payment registry, and the unmatched payments staff resolve by hand.

Two layouts are read (see docs/imports.md, «Реестр платежей банка»):

- **the bank registry** as Sberbank and most banks send it to a УК every day: text (Windows-1251 as a rule, UTF-8
  also read), no header row, one payment a line, fields separated by «;»::

      дата;время;отделение;ВСП/кассир;[номер операции;]лицевой счёт;ФИО;адрес;период;сумма;сумма перевода;комиссия

  (12 fields with the operation number, 11 without), and a closing line starting with «=»:
  «=количество;сумма;сумма перевода;комиссия[;номер и дата платёжного поручения]». Lines starting with «#» are
  comments. The closing line must agree with the lines (count and every total given), else the whole file is
  refused: a cut or edited registry must never be booked in part.
- **a table** (CSV or XLSX) with named columns, read by the shared tabular module (app/services/tabular.py):
  «Дата платежа», «Лицевой счёт», «Сумма», «Номер операции» (required), «Период», «Комиссия», «ФИО», «Адрес»,
  «Сумма перевода».

Preview → confirm, like every import (tabular_imports, kind "payments"): `payments_import_preview` checks each line
(dates, amounts in kopecks > 0, commission ≥ 0, period ММГГГГ / ММ.ГГГГ, duplicates inside the file) and matches
it to premises of the organisation by «Лицевой счёт» (Premises.account_number, or the ГИС ЖКХ ЕЛС). Each line
gets a key, `external_id` = organisation + date + operation number + account + amount (hashed), that makes a second
import of the same registry book nothing twice («уже загружено»). `payments_import_apply` claims the preview,
locks the organisation and the buildings concerned, checks every line again and writes all or nothing: Payment
rows for matched lines, UnmatchedPayment rows for the others, statements of closed periods re-issued so that
their «оплачено» and the debt follow, one audit record.

Unmatched payments (`unmatched_*`) are seen only by staff of their organisation (else NotFound); staff book one to
premises of that organisation or dismiss it with a note, once (a second resolution is a Conflict).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.access import access_for, valid_id
from app.extensions import db
from app.formatting import date_ru, money
from app.models import Building, Premises, Statement, User
from app.models.base import utcnow
from app.models.billing import Payment, UnmatchedPayment
from app.models.imports import ImportKind, TabularImport
from app.models.orgs import Organisation
from app.services import billing, tabular
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.periods import local_today, month_start

KIND = ImportKind.PAYMENTS
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
AMOUNT_LIMIT = Decimal("10000000")  # 10 million ₽ for one payment of a flat is a typo
ZERO = Decimal("0.00")
SOURCE = "bank"

BANKS: dict[str, str] = {
    "sber": "ПАО Сбербанк",
    "vtb": "Банк ВТБ (ПАО)",
    "post": "Почта России / Почта Банк",
    "gpb": "Газпромбанк",
    "other": "Другой банк или платёжный агент",
}

BOOK, UNMATCHED, LOADED, ERROR = "book", "unmatched", "loaded", "error"
STATUS_LABELS = {BOOK: "будет зачислен", UNMATCHED: "счёт не найден", LOADED: "уже загружено", ERROR: "ошибка"}

BANK_LAYOUT, TABLE_LAYOUT = "bank", "table"

# The table layout's columns (the bank layout has none: its fields go by position)
FIELDS = (
    tabular.Field("date", "Дата платежа", ("Дата", "Дата оплаты", "Дата операции"), required=True),
    tabular.Field("account", "Лицевой счёт", ("ЛС", "Л/с", "Номер ЛС", "Номер лицевого счёта",
                                              "Лицевой счёт плательщика", "ЕЛС"), required=True),
    tabular.Field("amount", "Сумма", ("Сумма платежа", "Сумма операции", "Оплачено"), required=True),
    tabular.Field("operation", "Номер операции", ("Номер платежа", "Уникальный номер операции", "СУИП",
                                                  "Идентификатор операции", "Номер документа"), required=True),
    tabular.Field("period", "Период", ("Период оплаты", "Месяц", "За период")),
    tabular.Field("commission", "Комиссия", ("Сумма комиссии", "Комиссия банка")),
    tabular.Field("transfer", "Сумма перевода", ("К перечислению", "Перечислено")),
    tabular.Field("payer", "ФИО", ("Плательщик", "ФИО плательщика")),
    tabular.Field("address", "Адрес", ("Адрес плательщика",)),
)
TITLES = {f.key: f.title for f in FIELDS} | {"time": "Время", "branch": "Отделение", "cashier": "ВСП/кассир"}
CELL_KEYS = ("date", "time", "branch", "cashier", "operation", "account", "payer", "address", "period", "amount",
             "transfer", "commission")
_BANK_FIELDS_12 = ("date", "time", "branch", "cashier", "operation", "account", "payer", "address", "period",
                   "amount", "transfer", "commission")
_BANK_FIELDS_11 = tuple(k for k in _BANK_FIELDS_12 if k != "operation")
_DATE_START = re.compile(r"\s*\d{1,2}[.\-/]\d{1,2}[.\-/]\d{2,4}")


# ---------------------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------------------


def _raw(value) -> str:
    """A cell as the preview stores it: text; numbers without float noise, dates as ДД.ММ.ГГГГ."""
    if isinstance(value, float | int | Decimal) and not isinstance(value, bool):
        try:
            number = tabular.decimal_value(value)
        except tabular.NotNumber:
            return tabular.text(value)
        return format(number.normalize(), "f") if number is not None else ""
    return tabular.text(value)


def parse_period(raw: str) -> date | None:
    """ММГГГГ (112026), ММ.ГГГГ (11.2026, also 1.2027 and 11/2026), ГГГГ-ММ, or a date (its month); None if empty.
    CellError for anything else."""
    text = (raw or "").strip()
    if not text:
        return None
    month = year = None
    if match := re.fullmatch(r"(\d{2})(\d{4})", text):
        month, year = int(match[1]), int(match[2])
    elif match := re.fullmatch(r"(\d{1,2})[./\-](\d{4})", text):
        month, year = int(match[1]), int(match[2])
    elif match := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, month = int(match[1]), int(match[2])
    elif match := re.fullmatch(r"\d{1,2}\.(\d{1,2})\.(\d{4})", text):
        month, year = int(match[1]), int(match[2])
    if month is None or not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise tabular.CellError(f"«Период»: «{text[:20]}» — не месяц. Пишите ММГГГГ или ММ.ГГГГ, например 112026 "
                                "или 11.2026")
    return date(year, month, 1)


def _date(raw: str) -> date | None:
    text = (raw or "").strip()
    if re.fullmatch(r"\d{1,2}-\d{1,2}-\d{4}", text):  # Sberbank writes ДД-ММ-ГГГГ
        text = text.replace("-", ".")
    return tabular.date_cell(text, title=TITLES["date"], required=True)


def _money(raw: str, key: str, *, required: bool = False) -> Decimal | None:
    return tabular.decimal_cell(raw, title=TITLES[key], places=2, limit=AMOUNT_LIMIT, required=required)


def _key(paid_on: date, operation: str, cells: dict, account: str, amount: Decimal) -> str:
    """The line's identity across files: date, operation number (or, without one, the branch, cashier and time),
    account and amount — not the bank chosen on the form (the same file under another bank would book twice).
    The organisation is added by `_match` (one УК's file can never mark another УК's line as loaded)."""
    operation = operation or f"{cells.get('branch', '')}/{cells.get('cashier', '')}/{cells.get('time', '')}"
    parts = "|".join([paid_on.isoformat(), operation.casefold(), account.upper(), f"{amount:.2f}"])
    return hashlib.sha256(parts.encode()).hexdigest()[:40]


# ---------------------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------------------


@dataclass
class PaymentRow:
    line: int
    cells: dict[str, str]
    read_errors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    paid_on: date | None = None
    account: str = ""
    amount: Decimal | None = None
    commission: Decimal | None = None
    transfer: Decimal | None = None
    period: date | None = None
    operation: str = ""
    payer: str = ""
    address: str = ""
    key: str = ""  # the organisation + line_key: Payment/UnmatchedPayment.external_id
    line_key: str = ""
    # found in the database
    premises: Premises | None = None
    loaded: bool = False

    @property
    def status(self) -> str:
        if self.errors:
            return ERROR
        if self.loaded:
            return LOADED
        return BOOK if self.premises is not None else UNMATCHED

    @property
    def message(self) -> str:
        return "; ".join(self.errors)

    @property
    def reference(self) -> str:
        if self.operation:
            return self.operation[:60]
        c = self.cells
        return f"ВСП {c.get('branch', '')}/{c.get('cashier', '')} {c.get('time', '')}".strip()[:60]

    def stored(self) -> dict:
        return {"line": self.line, "cells": self.cells, "read_errors": self.read_errors}


def parse_row(line: int, cells: dict[str, str], *, bank: str, today: date,
              read_errors: list[str] | None = None) -> PaymentRow:
    """One line on its own: date, account, amounts, period."""
    row = PaymentRow(line=line, cells={k: str(cells[k]) for k in CELL_KEYS if k in cells},
                     read_errors=list(read_errors or []))
    errors = row.errors
    errors.extend(row.read_errors)
    if not cells:  # a line that could not be split into fields: its one message says why
        return row
    try:
        row.paid_on = _date(cells.get("date", ""))
        if row.paid_on > today:
            errors.append(f"«Дата платежа» {date_ru(row.paid_on)} ещё не наступила")
            row.paid_on = None
        elif row.paid_on.year < 2000:
            errors.append(f"«Дата платежа» {date_ru(row.paid_on)} — слишком давно, проверьте год")
            row.paid_on = None
    except tabular.CellError as error:
        errors.append(error.message)
    row.account = tabular.text(cells.get("account", "")).replace(" ", "")
    if not row.account:
        errors.append("Не заполнен «Лицевой счёт»")
    elif len(row.account) > 40:
        errors.append("«Лицевой счёт» длиннее 40 символов")
    for key, required in (("amount", True), ("commission", False), ("transfer", False)):
        try:
            setattr(row, key, _money(cells.get(key, ""), key, required=required))
        except tabular.CellError as error:
            errors.append(error.message)
    if row.amount is not None and row.amount <= 0:
        errors.append("«Сумма» должна быть больше нуля")
        row.amount = None
    if row.commission is None and tabular.blank(cells.get("commission")):
        row.commission = ZERO
    if row.amount is not None and row.commission is not None and row.transfer is not None \
            and row.transfer not in (row.amount - row.commission, row.amount):
        errors.append(f"«Сумма перевода» {money(row.transfer)} не равна «Сумме» {money(row.amount)} за вычетом "
                      f"«Комиссии» {money(row.commission)}")
    try:
        row.period = parse_period(cells.get("period", ""))
    except tabular.CellError as error:
        errors.append(error.message)
    row.operation = tabular.text(cells.get("operation", ""))
    if "operation" in cells and not row.operation:  # the 11-field bank layout has no such field
        errors.append("Не заполнен «Номер операции»")
    elif len(row.operation) > 60:
        errors.append("«Номер операции» длиннее 60 символов")
    row.payer = tabular.text(cells.get("payer", ""))[:200]
    row.address = tabular.text(cells.get("address", ""))[:300]
    if not errors:
        row.line_key = _key(row.paid_on, row.operation, row.cells, row.account, row.amount)
    return row


@dataclass(frozen=True)
class Footer:
    line: int
    count: int
    amount: Decimal
    transfer: Decimal | None
    commission: Decimal | None


def _count_word(n: int) -> str:
    tail, tail2 = n % 10, n % 100
    if tail == 1 and tail2 != 11:
        return f"{n} платёж"
    if 2 <= tail <= 4 and not 12 <= tail2 <= 14:
        return f"{n} платежа"
    return f"{n} платежей"


def _footer(line: int, text: str) -> Footer:
    cells = [c.strip() for c in next(csv.reader([text[1:]], delimiter=";"), [])]
    try:
        count = tabular.integer_cell(cells[0] if cells else "", title="Количество", maximum=MAX_ROWS * 10,
                                     required=True)
        amount = tabular.decimal_cell(cells[1] if len(cells) > 1 else "", title="Сумма", places=2, required=True)
        transfer = tabular.decimal_cell(cells[2], title="Сумма перевода", places=2) if len(cells) > 2 else None
        commission = tabular.decimal_cell(cells[3], title="Комиссия", places=2) if len(cells) > 3 else None
    except tabular.CellError as error:
        raise Invalid("file", f"Итоговая строка реестра (строка {line}) не читается: {error.message}. Запросите "
                              "реестр в банке заново") from None
    return Footer(line, count, amount, transfer, commission)


def _bank_rows(text: str, *, limits: tabular.Limits) -> tuple[list[tuple[int, dict, list[str]]], Footer]:
    """The lines of a bank registry (no header) and its closing «=» line."""
    rows: list[tuple[int, dict, list[str]]] = []
    footer: Footer | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if footer is not None:
            raise Invalid("file", f"После итоговой строки реестра (строка {footer.line}) есть ещё строки "
                                  f"(строка {number}). Загрузите реестр без изменений, как его прислал банк")
        if stripped.startswith("="):
            footer = _footer(number, stripped)
            continue
        if len(rows) >= limits.max_rows:
            raise Invalid("file", f"В реестре больше {limits.max_rows} строк. Разделите его на части")
        try:
            cells = next(csv.reader([line], delimiter=";"))
        except csv.Error:
            cells = line.split(";")
        while len(cells) > 11 and not cells[-1].strip():  # a «;» at the end of the line
            cells.pop()
        if len(cells) in (11, 12):
            values = dict(zip(_BANK_FIELDS_12 if len(cells) == 12 else _BANK_FIELDS_11, cells, strict=True))
        else:
            rows.append((number, {},
                         [f"В строке {len(cells)} полей через «;», а в реестре их 11 или 12 (дата; время; отделение; "
                          "ВСП; [номер операции;] лицевой счёт; ФИО; адрес; период; сумма; сумма перевода; "
                          "комиссия)"]))
            continue
        values = {k: v.strip() for k, v in values.items()}
        rows.append((number, values, []))
    if not rows:
        raise Invalid("file", "В реестре нет ни одного платежа")
    if footer is None:
        raise Invalid("file", "В реестре нет итоговой строки (она начинается со знака «=» и содержит число платежей "
                              "и их сумму): файл, вероятно, обрезан. Запросите реестр в банке заново")
    return rows, footer


def _check_footer(rows: list[PaymentRow], footer: Footer) -> None:
    if footer.count != len(rows):
        raise Invalid("file", f"Итоговая строка реестра не сходится с платежами: в ней {_count_word(footer.count)}, "
                              f"а в файле {_count_word(len(rows))}. Файл мог быть обрезан или изменён — ничего не "
                              "загружено. Запросите реестр в банке заново")
    if any(r.amount is None for r in rows):
        return  # the lines with errors are shown; their sum cannot be compared
    for title, total, value in (("сумма платежей", footer.amount, lambda r: r.amount),
                                ("сумма перевода", footer.transfer, lambda r: r.transfer),
                                ("комиссия", footer.commission, lambda r: r.commission)):
        if total is None:
            continue
        values = [value(r) for r in rows]
        if any(v is None for v in values):
            continue
        actual = sum(values, ZERO)
        if actual != total:
            raise Invalid("file", f"Итоговая строка реестра не сходится с платежами: {title} в ней {money(total)}, "
                                  f"а по строкам {money(actual)}. Файл мог быть изменён — ничего не загружено. "
                                  "Запросите реестр в банке заново")


def _read(*, filename: str, content: bytes, bank: str, today: date) -> tuple[list[PaymentRow], str, Footer | None]:
    """Rows of either layout; Invalid("file", …) for a file that cannot be used at all."""
    if not content:
        raise Invalid("file", "Файл пустой. Выберите реестр платежей")
    if len(content) > MAX_FILE_BYTES:
        raise Invalid("file", f"Файл больше {MAX_FILE_BYTES // (1024 * 1024)} МБ. Разделите реестр на части")
    limits = tabular.Limits(max_bytes=MAX_FILE_BYTES, max_rows=MAX_ROWS)
    if not content.startswith(b"PK\x03\x04") and not content.startswith(b"\xd0\xcf\x11\xe0"):
        text = tabular.decode_text(content)
        first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        if _DATE_START.match(first.split(";")[0] if ";" in first else ""):
            raw_rows, footer = _bank_rows(text, limits=limits)
            rows = [parse_row(n, cells, bank=bank, today=today, read_errors=errs) for n, cells, errs in raw_rows]
            _check_footer(rows, footer)
            return rows, BANK_LAYOUT, footer
    name = filename if filename.lower().endswith((".csv", ".txt", ".xlsx", ".xlsm", ".xls")) else f"{filename}.csv"
    table = tabular.read_table(filename=name, content=content, fields=FIELDS, what="платежами", limits=limits)
    rows = []
    for source in table.rows:
        cells = {k: _raw(v) for k, v in source.cells.items()}
        errors = list(source.errors.values())
        if source.extra:
            errors.append("В строке больше значений, чем столбцов в заголовке. Если разделитель — запятая, пишите "
                          "суммы через точку или в кавычках")
        rows.append(parse_row(source.line, cells, bank=bank, today=today, read_errors=errors))
    return rows, TABLE_LAYOUT, None


def _stored_rows(imp: TabularImport, today: date) -> list[PaymentRow]:
    bank = (imp.summary or {}).get("bank", "other")
    return [parse_row(r["line"], r["cells"], bank=bank, today=today, read_errors=r.get("read_errors"))
            for r in imp.rows]


# ---------------------------------------------------------------------------------------------------------
# Checking against the file and the database
# ---------------------------------------------------------------------------------------------------------


def _check_file(rows: list[PaymentRow]) -> None:
    first: dict[str, int] = {}
    for row in rows:
        if not row.line_key:
            continue
        if row.line_key in first:
            row.errors.append(f"Повтор строки {first[row.line_key]}: тот же платёж (дата, номер операции, лицевой "
                              "счёт и сумма). Уточните реестр в банке")
        else:
            first[row.line_key] = row.line


def _match(rows: list[PaymentRow], organisation_id: int) -> None:
    """Premises of the organisation by account number or ЕЛС; lines whose key is booked already."""
    for r in rows:
        r.key = f"o{organisation_id}:{r.line_key}" if r.line_key else ""
    accounts = sorted({r.account for r in rows if r.account and not r.errors})
    by_account: dict[str, Premises] = {}
    by_els: dict[str, Premises] = {}
    for start in range(0, len(accounts), 500):
        chunk = accounts[start:start + 500]
        upper = [a.upper() for a in chunk]
        for p in db.session.scalars(select(Premises).join(Building, Building.id == Premises.building_id).where(
                Building.organisation_id == organisation_id,
                or_(Premises.account_number.in_(chunk), Premises.els.in_(upper)))):
            by_account[p.account_number] = p
            if p.els:
                by_els[p.els.upper()] = p
    keys = [r.key for r in rows if r.key]
    loaded: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        loaded |= set(db.session.scalars(select(Payment.external_id).where(Payment.external_id.in_(chunk))))
        loaded |= set(db.session.scalars(select(UnmatchedPayment.external_id).where(
            UnmatchedPayment.external_id.in_(chunk))))
    for row in rows:
        row.premises = (by_account.get(row.account) or by_els.get(row.account.upper())) if row.account else None
        row.loaded = bool(row.key) and row.key in loaded


@dataclass
class Total:
    count: int = 0
    amount: Decimal = ZERO
    commission: Decimal = ZERO

    def add(self, row: PaymentRow) -> None:
        self.count += 1
        self.amount += row.amount or ZERO
        self.commission += row.commission or ZERO


@dataclass
class PaymentsPreview:
    organisation: Organisation
    bank: str
    layout: str
    filename: str
    rows: list[PaymentRow]
    footer: Footer | None
    imp: TabularImport | None = None

    @property
    def bank_name(self) -> str:
        return BANKS.get(self.bank, self.bank)

    @property
    def errors(self) -> list[PaymentRow]:
        return [r for r in self.rows if r.errors]

    @property
    def totals(self) -> dict[str, Total]:
        totals = {status: Total() for status in STATUS_LABELS}
        for row in self.rows:
            totals[row.status].add(row)
        return totals

    @property
    def to_write(self) -> int:
        return sum(1 for r in self.rows if r.status in (BOOK, UNMATCHED))

    @property
    def can_apply(self) -> bool:
        return self.imp is not None and self.imp.applied_at is None and not self.errors and self.to_write > 0


def _preview(rows, *, organisation, bank, layout, filename, footer, imp=None) -> PaymentsPreview:
    _check_file(rows)
    _match(rows, organisation.id)
    return PaymentsPreview(organisation=organisation, bank=bank, layout=layout, filename=filename, rows=rows,
                           footer=footer, imp=imp)


# ---------------------------------------------------------------------------------------------------------
# Public calls: the import
# ---------------------------------------------------------------------------------------------------------


def payment_organisations(actor: User) -> list[Organisation]:
    """The management organisations whose payments the actor may import (the УК they staff)."""
    orgs = access_for(actor).uk_orgs
    if not orgs:
        return []
    return list(db.session.scalars(select(Organisation).where(Organisation.id.in_(orgs))
                                   .order_by(Organisation.short_name, Organisation.id)))


def _require(actor: User, organisation_id: int | None) -> Organisation:
    if organisation_id is None or not access_for(actor).staff_of(organisation_id):
        raise NotAllowed("Загружать платежи может только управляющая организация")
    return db.session.get(Organisation, organisation_id)


def _footer_dict(footer: Footer | None) -> dict | None:
    if footer is None:
        return None
    return {"line": footer.line, "count": footer.count, "amount": str(footer.amount),
            "transfer": None if footer.transfer is None else str(footer.transfer),
            "commission": None if footer.commission is None else str(footer.commission)}


def _footer_of(summary: dict | None) -> Footer | None:
    data = (summary or {}).get("footer")
    if not data:
        return None
    return Footer(data["line"], data["count"], Decimal(data["amount"]),
                  None if data.get("transfer") is None else Decimal(data["transfer"]),
                  None if data.get("commission") is None else Decimal(data["commission"]))


def payments_import_preview(*, actor: User, organisation_id: int, bank: str, filename: str, content: bytes,
                            now: datetime | None = None) -> PaymentsPreview:
    """Read and check a registry and store it as the preview; nothing else is written."""
    now = now or utcnow()
    organisation = _require(actor, organisation_id)
    if bank not in BANKS:
        raise Invalid("bank", "Выберите банк, приславший реестр")
    rows, layout, footer = _read(filename=filename or "", content=content, bank=bank, today=local_today(now))
    digest = tabular.sha256(content)
    earlier = db.session.scalars(select(TabularImport).where(
        TabularImport.kind == KIND, TabularImport.organisation_id == organisation.id,
        TabularImport.content_sha256 == digest, TabularImport.applied_at.is_not(None))).all()
    for other in earlier:
        other_bank = (other.summary or {}).get("bank")
        if other_bank and other_bank != bank:
            raise Invalid("bank", f"Этот файл уже загружен {date_ru(other.applied_at)} как реестр банка "
                                  f"«{BANKS.get(other_bank, other_bank)}». Выберите тот же банк — иначе платежи "
                                  "зачислились бы дважды")
    imp = tabular.preview_store(kind=KIND, organisation_id=organisation.id, actor=actor, filename=filename,
                                content=content, rows=[r.stored() for r in rows], now=now,
                                summary={"bank": bank, "layout": layout, "footer": _footer_dict(footer)})
    organisation = db.session.get(Organisation, organisation.id)
    return _preview(rows, organisation=organisation, bank=bank, layout=layout, filename=imp.filename,
                    footer=footer, imp=imp)


def payments_import_get(*, actor: User, import_id) -> TabularImport:
    """A stored payments preview of one of the actor's organisations, else NotFound (a 404)."""
    return tabular.import_get(actor=actor, id=import_id, kind=KIND)


def payments_import_review(*, actor: User, imp: TabularImport, now: datetime | None = None) -> PaymentsPreview:
    """The stored preview, checked against the database as it is now."""
    now = now or utcnow()
    organisation = _require(actor, imp.organisation_id)
    summary = imp.summary or {}
    return _preview(_stored_rows(imp, local_today(now)), organisation=organisation, bank=summary.get("bank", "other"),
                    layout=summary.get("layout", TABLE_LAYOUT), filename=imp.filename, footer=_footer_of(summary),
                    imp=imp)


class ImportRejected(Conflict):
    """Lines that were fine at the preview fail now."""

    def __init__(self, preview: PaymentsPreview):
        super().__init__("После проверки файла в нём появились ошибки. Ничего не загружено: исправьте строки с "
                         "ошибками и загрузите реестр заново.")
        self.preview = preview


@dataclass
class ImportResult:
    booked: Total
    unmatched: Total
    loaded: Total
    statements: int  # statements of closed periods re-issued


def _lock_organisation(organisation_id: int) -> None:
    """One payments import per organisation at a time (SELECT … FOR UPDATE on PostgreSQL; SQLite serialises
    writers). Taken before the buildings' locks, which every import takes in id order: no deadlock."""
    db.session.execute(select(Organisation.id).where(Organisation.id == organisation_id).with_for_update())


def _reissue_statements(first_month: dict[int, date], now: datetime) -> int:
    """Statements already issued for the month of a payment or later are rebuilt, so that «оплачено», the opening
    debt of later months and the amount due include it. Their пени stay as issued (recomputed when the period is
    recalculated); the version is bumped so a cached PDF is not served."""
    if not first_month:
        return 0
    by_period: dict[date, list[Statement]] = defaultdict(list)
    for s in db.session.scalars(select(Statement).where(Statement.premises_id.in_(sorted(first_month)))):
        if s.period >= first_month[s.premises_id]:
            by_period[s.period].append(s)
    count = 0
    for period in sorted(by_period):
        kept = {s.premises_id: (s.penalty, s.penalty_basis, s.version or 1, s.issued_at) for s in by_period[period]}
        premises = sorted((s.premises for s in by_period[period]), key=lambda p: p.id)
        for statement in billing.statements_issue(premises=premises, period=period, now=now):
            penalty, penalty_basis, version, issued_at = kept[statement.premises_id]
            # the пени and their explanation stay as issued, together (the receipt must not contradict itself)
            statement.penalty, statement.penalty_basis = penalty, penalty_basis
            statement.issued_at, statement.version = issued_at, version + 1
            statement.amount_due = billing.money(statement.opening_balance + statement.charged + statement.penalty
                                                 - statement.paid)
            count += 1
    return count


def _payment(row_premises_id: int, *, paid_on, amount, commission, period, reference, external_id,
             import_id) -> Payment:
    return Payment(premises_id=row_premises_id, paid_on=paid_on, amount=amount, source=SOURCE, reference=reference,
                   commission=commission, period=period, external_id=external_id, import_id=import_id)


def payments_import_apply(*, actor: User, imp: TabularImport, now: datetime | None = None,
                          origin: Origin = NO_ORIGIN) -> ImportResult:
    """Apply a stored preview: every line or none (ImportRejected when a line fails now). See the module docstring."""
    now = now or utcnow()
    organisation = _require(actor, imp.organisation_id)
    tabular.refuse_if_applied(imp)
    tabular.refuse_if_expired(imp, now)
    import_id, filename, summary = imp.id, imp.filename, dict(imp.summary or {})
    org_id = organisation.id
    tabular.claim(imp, now)  # a second confirmation of this preview waits here, then is refused
    try:
        _lock_organisation(org_id)
        rows = _stored_rows(imp, local_today(now))
        _check_file(rows)
        _match(rows, org_id)
        tabular.lock_buildings(r.premises.building_id for r in rows if r.premises is not None)
        _match(rows, org_id)  # again under the locks: a concurrent import of the same lines has committed
        if any(r.errors for r in rows):
            preview = PaymentsPreview(organisation=organisation, bank=summary.get("bank", "other"),
                                      layout=summary.get("layout", TABLE_LAYOUT), filename=filename, rows=rows,
                                      footer=_footer_of(summary), imp=imp)
            db.session.rollback()
            raise ImportRejected(preview)
        booked, unmatched, loaded = Total(), Total(), Total()
        first_month: dict[int, date] = {}
        for r in rows:
            if r.status == LOADED:
                loaded.add(r)
            elif r.status == BOOK:
                booked.add(r)
                db.session.add(_payment(r.premises.id, paid_on=r.paid_on, amount=r.amount, commission=r.commission,
                                        period=r.period, reference=r.reference, external_id=r.key,
                                        import_id=import_id))
                month = month_start(r.paid_on)
                first_month[r.premises.id] = min(first_month.get(r.premises.id, month), month)
            else:
                unmatched.add(r)
                db.session.add(UnmatchedPayment(
                    organisation_id=org_id, import_id=import_id, external_id=r.key, paid_on=r.paid_on,
                    account_number=r.account, payer=r.payer or None, address=r.address or None, period=r.period,
                    amount=r.amount, commission=r.commission, reference=r.reference, created_at=now))
        db.session.flush()
        reissued = _reissue_statements(first_month, now)
        result = ImportResult(booked=booked, unmatched=unmatched, loaded=loaded, statements=reissued)
        audit_record(actor=actor, action="payments_imported", entity_type="organisation", entity_id=org_id,
                     changes={"file": filename[:200], "import_id": import_id, "bank": summary.get("bank"),
                              "booked": {"count": booked.count, "amount": str(booked.amount)},
                              "unmatched": {"count": unmatched.count, "amount": str(unmatched.amount)},
                              "loaded": {"count": loaded.count, "amount": str(loaded.amount)},
                              "commission": str(booked.commission + unmatched.commission),
                              "statements": reissued}, origin=origin)
        db.session.commit()
    except IntegrityError as error:  # the same line booked at the same moment by another import
        db.session.rollback()
        raise Conflict("Часть платежей этого реестра только что загружена другим пользователем. Ничего не "
                       "загружено: загрузите файл ещё раз — уже загруженные строки будут пропущены.") from error
    except Exception:
        db.session.rollback()
        raise
    return result


# ---------------------------------------------------------------------------------------------------------
# Public calls: unmatched payments
# ---------------------------------------------------------------------------------------------------------


def unmatched_list(*, actor: User, resolved: bool = False, limit: int = 200) -> list[UnmatchedPayment]:
    """Unmatched payments of the actor's organisations: open ones (oldest first) or resolved ones (newest first)."""
    clause = access_for(actor).uk_orgs_clause(UnmatchedPayment.organisation_id)
    query = select(UnmatchedPayment).where(clause)
    if resolved:
        query = query.where(UnmatchedPayment.resolved_at.is_not(None)).order_by(UnmatchedPayment.resolved_at.desc())
    else:
        query = query.where(UnmatchedPayment.resolved_at.is_(None)).order_by(UnmatchedPayment.paid_on,
                                                                            UnmatchedPayment.id)
    return list(db.session.scalars(query.limit(limit)))


def unmatched_totals(*, actor: User) -> Total:
    """How many open unmatched payments the actor's organisations have, and their sum (one query)."""
    count, amount = db.session.execute(select(func.count(UnmatchedPayment.id), func.coalesce(func.sum(
        UnmatchedPayment.amount), 0)).where(access_for(actor).uk_orgs_clause(UnmatchedPayment.organisation_id),
                                            UnmatchedPayment.resolved_at.is_(None))).one()
    return Total(count=count or 0, amount=billing.money(Decimal(amount or 0)))


def unmatched_get(*, actor: User, id) -> UnmatchedPayment:  # noqa: A002
    """An unmatched payment of one of the actor's УК, else NotFound (never says it exists)."""
    key = valid_id(id)
    item = db.session.get(UnmatchedPayment, key) if key else None
    if item is None or not access_for(actor).staff_of(item.organisation_id):
        raise NotFound("Нет такого платежа")
    return item


_FLAT_WORDS = frozenset({"кв", "квартира", "пом", "помещение", "оф", "офис"})
_HOUSE_WORDS = frozenset({"д", "дом"})
_STREET_WORDS = frozenset({"г", "город", "ул", "улица", "пр", "проспект", "пер", "переулок", "мкр"})


def _folded(text: str) -> str:
    return text.casefold().replace("ё", "е")


def premises_search(*, actor: User, item: UnmatchedPayment, query: str, limit: int = 20) -> list[Premises]:
    """Premises of the payment's organisation by account number, ЕЛС or address: street words must be in the
    address; a number after «д»/«кв» is the house/the flat; «Ленина 1 5» is street, house, flat; any other number
    matches the account (4+ digits, anywhere in it), the ЕЛС, the house or the flat."""
    unmatched_get(actor=actor, id=item.id)
    terms = [t.strip(".") for t in re.split(r"[\s,]+", (query or "").strip()) if t.strip(".")][:8]
    words: list[str] = []  # street words
    houses: list[str] = []
    flats: list[str] = []
    generic: list[str] = []  # account, ЕЛС, house or flat
    marker = None
    for term in terms:
        folded = _folded(term)
        if folded in _FLAT_WORDS or folded in _HOUSE_WORDS or folded in _STREET_WORDS:
            marker = folded
            continue
        if re.search(r"\d", term):
            target = flats if marker in _FLAT_WORDS else houses if marker in _HOUSE_WORDS else generic
            target.append(term)
        else:
            words.append(folded)
        marker = None
    if words and len(generic) >= 2 and not houses and not flats:  # «Ленина 1 5»: the house, then the flat
        houses.append(generic.pop(0))
        flats.append(generic.pop(0))
    if not (words or houses or flats or generic):
        return []
    buildings = list(db.session.scalars(select(Building).where(Building.organisation_id == item.organisation_id)))
    if words:
        buildings = [b for b in buildings if all(w in _folded(b.short_address) for w in words)]
    buildings = [b for b in buildings if all(b.house == h for h in houses)]
    if not buildings:
        return []
    clauses = [Premises.number == f for f in flats]
    for t in generic:
        options = [Premises.els == t.upper(), Premises.number == t, Building.house == t]
        if len(t) >= 4:
            options.append(Premises.account_number.contains(t, autoescape=True))
        clauses.append(or_(*options))
    found = db.session.scalars(select(Premises).join(Building, Building.id == Premises.building_id).where(
        Premises.building_id.in_([b.id for b in buildings]), *clauses).limit(limit * 5))
    result = sorted(set(found), key=lambda p: (p.building.short_address, p.sort_key))
    return result[:limit]


def _claim_unmatched(item: UnmatchedPayment, actor: User, now: datetime, **values) -> None:
    result = db.session.execute(update(UnmatchedPayment).where(
        UnmatchedPayment.id == item.id, UnmatchedPayment.resolved_at.is_(None)).values(
        resolved_at=now, resolved_by_id=actor.id, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("Этот платёж уже разобран другим сотрудником.")


@dataclass(frozen=True)
class Booked:
    payment: Payment
    premises: Premises


def unmatched_book(*, actor: User, id, premises_id, note: str = "", now: datetime | None = None,  # noqa: A002
                   origin: Origin = NO_ORIGIN) -> Booked:
    """Book an unmatched payment to premises of its organisation: a Payment with the line's key is written (so the
    registry re-imported still shows it «уже загружено»), the payment is marked resolved."""
    now = now or utcnow()
    item = unmatched_get(actor=actor, id=id)
    key = valid_id(premises_id)
    premises = db.session.get(Premises, key) if key else None
    if premises is None or premises.building.organisation_id != item.organisation_id:
        raise NotFound("Нет такого помещения")
    note = (note or "").strip()
    if len(note) > 300:
        raise Invalid("note", "Не больше 300 символов")
    if item.resolved_at is not None:
        raise Conflict("Этот платёж уже разобран.")
    item_id, org_id, premises_id_ = item.id, item.organisation_id, premises.id
    try:
        _claim_unmatched(item, actor, now, resolution_note=note or None)
        tabular.lock_buildings([premises.building_id])
        item = db.session.get(UnmatchedPayment, item_id)
        db.session.refresh(item)
        payment = _payment(premises_id_, paid_on=item.paid_on, amount=item.amount, commission=item.commission,
                           period=item.period, reference=item.reference, external_id=item.external_id,
                           import_id=item.import_id)
        db.session.add(payment)
        db.session.flush()
        item.payment_id = payment.id
        _reissue_statements({premises_id_: month_start(item.paid_on)}, now)
        audit_record(actor=actor, action="unmatched_payment_booked", entity_type="unmatched_payment",
                     entity_id=item_id, changes={"premises_id": premises_id_, "account": item.account_number,
                                                 "amount": str(item.amount), "paid_on": item.paid_on.isoformat(),
                                                 "organisation_id": org_id, "note": note[:300]}, origin=origin)
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise Conflict("Этот платёж уже зачислен.") from error
    except Exception:
        db.session.rollback()
        raise
    return Booked(payment, db.session.get(Premises, premises_id_))


def unmatched_dismiss(*, actor: User, id, note: str, now: datetime | None = None,  # noqa: A002
                      origin: Origin = NO_ORIGIN) -> UnmatchedPayment:
    """Close an unmatched payment without booking it (returned to the payer, paid to another УК…); a note is
    required and kept."""
    now = now or utcnow()
    item = unmatched_get(actor=actor, id=id)
    note = (note or "").strip()
    if not note:
        raise Invalid("note", "Напишите, почему платёж не зачислен (например, «возвращён плательщику»)")
    if len(note) > 300:
        raise Invalid("note", "Не больше 300 символов")
    if item.resolved_at is not None:
        raise Conflict("Этот платёж уже разобран.")
    item_id = item.id
    try:
        _claim_unmatched(item, actor, now, resolution_note=note)
        item = db.session.get(UnmatchedPayment, item_id)
        db.session.refresh(item)
        audit_record(actor=actor, action="unmatched_payment_dismissed", entity_type="unmatched_payment",
                     entity_id=item_id, changes={"account": item.account_number, "amount": str(item.amount),
                                                 "paid_on": item.paid_on.isoformat(), "note": note}, origin=origin)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return item


def example_registry() -> bytes:
    """A small Sberbank-style registry in Windows-1251, as the help page offers it."""
    lines = [
        "24-11-2026;10-15-32;8600;8600999V;1000123456;12345678;ИВАНОВА АННА ПЕТРОВНА;г Чита, ул Ленина, д 1, кв 1;"
        "112026;1500,00;1485,00;15,00",
        "24-11-2026;12-01-07;8600;8600012;1000123470;12345679;ПЕТРОВ ПЁТР ПЕТРОВИЧ;г Чита, ул Ленина, д 1, кв 2;"
        "11.2026;2350,50;2350,50;0,00",
        "=2;3850,50;3835,50;15,00;1234;25-11-2026",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")
