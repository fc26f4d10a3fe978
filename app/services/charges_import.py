"""Import of a period's charges exported by the УК's billing system (CSV or XLSX).

One row per premises (by «Лицевой счёт») and service (by «Код услуги»); the columns are described once, in
COLUMNS, which also drives the help page and the downloadable template. Files are read by the one tabular
module (app/services/tabular.py); the preview is stored like every import's (tabular_imports, kind "charges").

1. `charges_import_preview` reads the file and checks every row (numbers, decimals, Итого = Начислено +
   Перерасчёт − Льгота, duplicates, Пени agreeing within an account, accounts of this building, active
   services of the organisation) and stores the normalised rows as the preview of this building and period.
   Nothing else is written. A file with row errors is stored too (the preview lists them) but cannot be applied.
2. `charges_import_apply` takes the stored preview (staff of the building's УК; within PREVIEW_MAX_AGE; once),
   locks the building row, checks every row again against the database as it is now, and applies all rows or
   none, in one transaction: the period's charges of the premises in the file are replaced (imported and
   computed ones alike; premises not in the file keep theirs), statements are re-issued for those premises,
   the file's Пени replaces the computed penalty, and an audit record is written. Uploading and applying the
   same file again gives the same charges and statements; applying one preview twice is refused (Conflict).
   `billing.period_close` refuses a period with imported charges.
"""


from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.access import access_for, uk_buildings
from app.extensions import db
from app.formatting import number
from app.models import Building, Premises, Statement, User
from app.models.base import utcnow
from app.models.billing import Charge, ChargeSource, Service
from app.models.imports import ImportKind, TabularImport
from app.models.orgs import Organisation
from app.services import billing, tabular
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.periods import current_month

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
PREVIEW_MAX_AGE = tabular.PREVIEW_MAX_AGE  # an old preview must not overwrite newer charges

CSV_MIMETYPE = tabular.CSV_MIMETYPE


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
    aliases: tuple[str, ...] = ()  # other names of the column in billing systems' reports


MONEY_LIMIT = Decimal("100000000")  # 100 million ₽ for one line is a typo, and the columns hold less

COLUMNS: tuple[Column, ...] = (
    Column("account", "Лицевой счёт", True, "Лицевой счёт помещения, как в квитанции. Помещение должно быть в "
           "выбранном доме.", "текст до 20 символов; в Excel задайте столбцу формат «Текстовый», чтобы не "
           "потерялись нули в начале", "12345678", max_length=20,
           aliases=("Номер ЛС", "ЛС", "Л/с", "Номер лицевого счёта")),
    Column("code", "Код услуги", True, "Код услуги из справочника услуг вашей организации (список ниже). "
           "Услуга должна быть включена.", "текст до 30 символов, как в справочнике", "MAINT", max_length=30,
           aliases=("Код",)),
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
FIELDS = tuple(tabular.Field(c.key, c.title, c.aliases, c.required) for c in COLUMNS)

NEW, CHANGED, UNCHANGED, ERROR = "new", "changed", "unchanged", "error"
STATUS_LABELS = {NEW: "новая", CHANGED: "изменится", UNCHANGED: "без изменений", ERROR: "ошибка"}

ZERO = Decimal("0")


def _money_text(value: Decimal) -> str:
    return number(value, "#,##0.00")


# ---------------------------------------------------------------------------------------------------------
# Reading the file into rows of raw cells (app/services/tabular.py)
# ---------------------------------------------------------------------------------------------------------

RawRow = tabular.SourceRow


def read_table(*, filename: str, content: bytes) -> list[tabular.SourceRow]:
    """The data rows of a CSV or XLSX file; Invalid("file", ...) for a file that cannot be used at all."""
    return tabular.read_table(filename=filename, content=content, fields=FIELDS, what="начислениями",
                              limits=tabular.Limits(max_bytes=MAX_FILE_BYTES, max_rows=MAX_ROWS)).rows


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
    extra: bool = False
    read_errors: list[str] = field(default_factory=list)
    cells: dict[str, object] = field(default_factory=dict)  # as stored, see stored()
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

    def stored(self) -> dict:
        """The row as the preview stores it: normalised values (the raw text where a value is refused), so that
        checking the stored row again gives the same result."""
        return {"line": self.line, "cells": self.cells, "extra": self.extra, "read_errors": self.read_errors}


def _stored_value(value):
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 48.6000 -> "48.6"
    return value


def parse_row(line: int, cells: dict[str, object], *, extra: bool = False,
              read_errors: list[str] | None = None) -> ImportRow:
    """One row on its own: every value and Итого = Начислено + Перерасчёт − Льгота."""
    row = ImportRow(line=line, extra=extra, read_errors=list(read_errors or []))
    errors = row.errors
    errors.extend(row.read_errors)
    if extra:
        errors.append("В строке больше значений, чем столбцов в заголовке. Если разделитель — запятая, пишите "
                      "дробные числа через точку или в кавычках")
    for column in COLUMNS:
        value = cells.get(column.key)
        if column.places is None:
            text = tabular.text(value)
            if column.required and not text:
                errors.append(f"Не заполнено «{column.title}»")
            elif len(text) > column.max_length:
                errors.append(f"«{column.title}» длиннее {column.max_length} символов")
            setattr(row, column.key, text)
            row.cells[column.key] = text
            continue
        try:
            parsed = tabular.decimal_cell(value, title=column.title, places=column.places, negative=column.negative,
                                          limit=column.limit, required=column.required)
        except tabular.CellError as error:
            errors.append(error.message)
            parsed = None
        setattr(row, column.key, parsed)
        row.cells[column.key] = _stored_value(parsed) if parsed is not None else tabular.text(value)
    for key in ("volume", "tariff", "recalculation", "benefit"):
        if getattr(row, key) is None and tabular.blank(cells.get(key)):
            setattr(row, key, ZERO.quantize(Decimal(1).scaleb(-COLUMN[key].places)))
    if row.charged is not None and row.recalculation is not None and row.benefit is not None:
        expected = row.charged + row.recalculation - row.benefit
        if row.total is None and tabular.blank(cells.get("total")):
            row.total = expected
        elif row.total is not None and row.total != expected:
            errors.append(f"«Итого» {_money_text(row.total)} не равно «Начислено» + «Перерасчёт» − «Льгота» = "
                          f"{_money_text(expected)}")
    return row


def _source_row(source: tabular.SourceRow) -> ImportRow:
    return parse_row(source.line, source.cells, extra=source.extra, read_errors=list(source.errors.values()))


def _stored_rows(stored: list) -> list[ImportRow]:
    return [parse_row(r["line"], r["cells"], extra=r.get("extra", False), read_errors=r.get("read_errors"))
            for r in stored]


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
    imp: TabularImport | None = None  # the stored preview (tabular_imports) that the confirmation applies

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
        return self.imp is not None and self.imp.applied_at is None and not self.errors


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


def _preview(rows: list[ImportRow], *, building: Building, period: date, filename: str, orgs: set[int],
             imp: TabularImport | None = None) -> ChargesPreview:
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
            Premises.building_id == building.id)) or 0, imp=imp,
    )
    return preview


# ---------------------------------------------------------------------------------------------------------
# Public calls
# ---------------------------------------------------------------------------------------------------------


def _require(actor: User, building: Building, period: date, now: datetime, *, future_ok: bool = False) -> set[int]:
    orgs = set(access_for(actor).uk_orgs)
    if building is None or building.organisation_id not in orgs:
        raise NotAllowed("Загружать начисления может только управляющая организация дома")
    if period > current_month(now) and not future_ok:
        raise Invalid("period", "Месяц ещё не наступил: начисления загружают за текущий или прошедший месяц")
    return orgs


def charges_import_preview(*, actor: User, building: Building, period: date, filename: str, content: bytes,
                           now: datetime | None = None) -> ChargesPreview:
    """Read and check a file and store it as the preview (tabular_imports); nothing else is written."""
    now = now or utcnow()
    orgs = _require(actor, building, period, now)
    rows = [_source_row(r) for r in read_table(filename=filename, content=content)]
    # Stored first: the commit expires the session, and the checks below load what the page shows.
    imp = tabular.preview_store(kind=ImportKind.CHARGES, organisation_id=building.organisation_id,
                                building_id=building.id, period=period, actor=actor, filename=filename,
                                content=content, rows=[r.stored() for r in rows], now=now)
    return _preview(rows, building=building, period=period, filename=imp.filename, orgs=orgs, imp=imp)


class ImportRejected(Conflict):
    """Rows that were fine at the preview fail now (the building's premises or services changed meanwhile)."""

    def __init__(self, preview: ChargesPreview):
        super().__init__("После проверки файла данные дома или справочник услуг изменились, и в файле появились "
                         "ошибки. Ничего не загружено: исправьте строки с ошибками и загрузите файл заново.")
        self.preview = preview


def charges_import_get(*, actor: User, import_id) -> TabularImport:
    """A stored charges preview of a building of the actor's УК, else NotFound (a 404)."""
    imp = tabular.import_get(actor=actor, id=import_id, kind=ImportKind.CHARGES)
    building = db.session.get(Building, imp.building_id) if imp.building_id else None
    if building is None or not access_for(actor).uk_manages(building):
        raise NotFound("Нет такой загрузки")
    return imp


def _import_place(imp: TabularImport) -> tuple[Building, date]:
    return db.session.get(Building, imp.building_id), imp.period


def charges_import_review(*, actor: User, imp: TabularImport, now: datetime | None = None) -> ChargesPreview:
    """The stored preview, checked against the database as it is now."""
    building, period = _import_place(imp)
    orgs = _require(actor, building, period, now or utcnow(), future_ok=True)
    return _preview(_stored_rows(imp.rows), building=building, period=period, filename=imp.filename, orgs=orgs,
                    imp=imp)


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
    """Put the billing system's Пени on a statement and keep amount due = opening + charged + penalty − paid.

    Imported пени win over the portal's own (DOMAIN.md); the portal's figure stays in the basis for comparison.
    """
    basis = statement.penalty_basis or {}
    portal = statement.penalty if basis and basis.get("source") != "import" else None
    statement.penalty = billing.money(penalty)
    statement.amount_due = billing.money(statement.opening_balance + statement.charged + statement.penalty
                                         - statement.paid)
    statement.penalty_basis = {
        "rule": "ЖК РФ ст. 155 ч. 14", "source": "import", "items": [],
        "portal_amount": str(portal) if portal is not None else None,
        "text": "Пени рассчитаны биллинговой системой управляющей организации и загружены из файла начислений.",
    }
    return statement


def charges_import_apply(*, actor: User, imp: TabularImport, now: datetime | None = None,
                         origin: Origin = NO_ORIGIN) -> ImportResult:
    """Apply a stored preview: every row or none (ImportRejected when a row fails now). See the module docstring."""
    now = now or utcnow()
    building, period = _import_place(imp)
    orgs = _require(actor, building, period, now)
    tabular.refuse_if_applied(imp)
    tabular.refuse_if_expired(imp, now)
    filename = imp.filename
    tabular.claim(imp, now)  # a second confirmation of this preview waits here, then is refused
    # One import per building at a time: a second one waits, then replaces what the first one wrote.
    tabular.lock_buildings([building.id])
    rows = _stored_rows(imp.rows)
    preview = _preview(rows, building=building, period=period, filename=filename, orgs=orgs, imp=imp)
    if preview.errors:
        db.session.rollback()
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
    return tabular.write_csv([
        [c.title for c in COLUMNS],
        ["12345678", first, "48,6", "30,15", "1465,29", "", "", "", "1465,29", "12,34"],
        ["12345678", second, "5", "48,72", "243,60", "-48,72", "Показания за сентябрь переданы после расчёта",
         "0", "194,88", "12,34"],
    ])


