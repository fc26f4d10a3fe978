"""«Из чего сложилась сумма»: what each line of a receipt was computed from, and the line an owner disputes.

The billing writes `Charge.basis` (see the contract in app/models/billing.py and docs/receipts-pay.md) and
`Statement.penalty_basis`; this module reads them into view models for the receipt page. It trusts nothing
about their shape: a missing key, a bad number or an unknown method gives a shorter explanation, never an
error. Imported lines have no basis: their `note` is all there is.

`receipt_line_get` is the only way a line reaches an appeal: it is looked up in the actor's own statement,
so a forged period or service finds nothing (NotFound), never another flat's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from app.access import NOT_FOUND, access_for
from app.extensions import db
from app.models import Premises, Statement, User
from app.models.billing import Charge
from app.services.billing import charges_for
from app.services.errors import NotFound
from app.services.periods import parse_period

PENALTY_KEY = "penalty"
PENALTY_RULE = "ЖК РФ ст. 155 ч. 14"

METHOD_LABELS = {
    "meter": "по показаниям счётчика",
    "average": "по среднемесячному расходу (показания не переданы)",
    "norm": "по нормативу потребления",
    "norm_no_meter": "по нормативу: счётчика нет",
    "area": "по площади помещения",
    "residents": "по числу проживающих",
    "fixed": "фиксированная сумма",
    "sewage": "водоотведение: объём холодной и горячей воды",
    "heating_norm": "отопление по нормативу",
    "heating_house": "отопление по общедомовому счётчику",
    "common_norm": "общее имущество (СОИ) по нормативу",
    "common_house": "общее имущество (СОИ) по общедомовому счётчику",
}

# The paragraph to cite when the basis does not name one (ПП РФ от 06.05.2011 № 354).
FALLBACK_RULES = {
    "meter": "ПП 354 п. 42",
    "average": "ПП 354 п. 59",
    "norm": "ПП 354 п. 60",
    "norm_no_meter": "ПП 354 п. 42",
    "heating_norm": "ПП 354 п. 42(1)",
    "heating_house": "ПП 354 п. 42(1)",
}

# Why the норматив was used, by method (shown next to the норматив).
NORM_WHY = {
    "norm": "показания не передавались дольше, чем закон позволяет считать по среднему, — начислено по нормативу",
    "norm_no_meter": "прибор учёта не установлен — начислено по нормативу",
    "heating_norm": "отопление начислено по нормативу на 1 м² площади помещения",
    "common_norm": "объём на общее имущество начислен в пределах норматива",
}

METER_METHOD_LABELS = {
    "meter": "по показаниям",
    "average": "по среднему",
    "norm": "по нормативу",
}

# Labels of the known keys of basis["common"] (the СОИ distribution); unknown keys are not shown.
COMMON_LABELS = (
    ("house_volume", "Объём по общедомовому счётчику"),
    ("premises_volume", "Объём по всем помещениям"),
    ("common_volume", "Объём на общее имущество"),
    ("norm_volume", "Объём на общее имущество по нормативу"),
    ("common_area", "Площадь общего имущества, м²"),
    ("premises_area", "Площадь помещения, м²"),
    ("total_area", "Площадь всех помещений дома, м²"),
    ("share", "Доля помещения"),
    ("norm", "Норматив"),
    ("volume", "Объём на помещение"),
    ("decision", "Решение общего собрания"),
)


# --- tolerant readers ------------------------------------------------------------------------------------------

def _dec(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _period(value) -> date | None:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return parse_period(value.strip()[:7])


def _int(value) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _text(value, limit: int = 1000) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


# --- view models -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    period: date | None
    value: Decimal | None


@dataclass(frozen=True)
class MeterBasis:
    meter_id: int | None
    serial: str
    method: str
    method_label: str
    volume: Decimal | None
    previous: Point | None
    current: Point | None
    average_periods: list[date]
    missing: int
    linkable: bool  # a meter of this premises: its readings history page may be linked


@dataclass(frozen=True)
class NormBasis:
    value: Decimal | None
    unit: str
    people: int | None
    factor: Decimal | None
    why: str


@dataclass(frozen=True)
class Recalculation:
    rule: str
    periods: list[date]
    billed: Decimal | None
    actual: Decimal | None
    amount: Decimal | None
    text: str


@dataclass(frozen=True)
class PenaltyItem:
    period: date | None
    debt: Decimal | None
    start: date | None
    end: date | None
    days: int | None
    fraction: str
    rate: Decimal | None
    amount: Decimal | None


@dataclass(frozen=True)
class LineExplanation:
    key: str  # the service id, or "penalty": what «Оспорить» names
    service: str
    amount: Decimal
    has_basis: bool
    rule: str = ""
    method: str = ""
    method_label: str = ""
    text: str = ""
    meters: list[MeterBasis] = field(default_factory=list)
    norm: NormBasis | None = None
    common: list[tuple[str, str]] = field(default_factory=list)
    recalculation: Recalculation | None = None
    penalty_items: list[PenaltyItem] = field(default_factory=list)
    charge: Charge | None = None  # the line itself (volume, tariff, recalculation, benefit), None for пени


def _point(value) -> Point | None:
    data = _dict(value)
    if not data:
        return None
    return Point(_period(data.get("period")), _dec(data.get("value")))


def _meter(value, own_meter_ids: frozenset[int]) -> MeterBasis | None:
    data = _dict(value)
    if not data:
        return None
    meter_id = _int(data.get("meter_id"))
    method = _text(data.get("method"), 20)
    periods = [p for p in (_period(x) for x in _list(data.get("average_periods"))) if p]
    return MeterBasis(
        meter_id=meter_id,
        serial=_text(data.get("serial"), 40),
        method=method,
        method_label=METER_METHOD_LABELS.get(method, ""),
        volume=_dec(data.get("volume")),
        previous=_point(data.get("previous")),
        current=_point(data.get("current")),
        average_periods=sorted(periods),
        missing=max(_int(data.get("missing")) or 0, 0),
        linkable=meter_id is not None and meter_id in own_meter_ids,
    )


def _norm(value, method: str) -> NormBasis | None:
    data = _dict(value)
    if not data:
        return None
    factor = _dec(data.get("factor"))
    why = NORM_WHY.get(method, "")
    if factor is not None and factor != 1:
        why = (why + "; " if why else "") + f"с повышающим коэффициентом {factor.normalize():f}"
    return NormBasis(value=_dec(data.get("value")), unit=_text(data.get("unit"), 30),
                     people=_int(data.get("people")), factor=factor, why=why)


def _common(value) -> list[tuple[str, str]]:
    data = _dict(value)
    rows = []
    for key, label in COMMON_LABELS:
        raw = data.get(key)
        if isinstance(raw, bool):
            rows.append((label, "да" if raw else "нет"))
        elif isinstance(raw, (str, int, float)) and str(raw).strip():
            rows.append((label, _text(str(raw), 200)))
    if _text(data.get("text")):
        rows.append(("Пояснение", _text(data.get("text"))))
    return rows


def _recalculation(value) -> Recalculation | None:
    data = _dict(value)
    if not data:
        return None
    periods = sorted(p for p in (_period(x) for x in _list(data.get("periods"))) if p)
    return Recalculation(rule=_text(data.get("rule"), 100) or "ПП 354 п. 61", periods=periods,
                         billed=_dec(data.get("billed")), actual=_dec(data.get("actual")),
                         amount=_dec(data.get("amount")), text=_text(data.get("text")))


def explain_charge(charge: Charge, *, own_meter_ids=frozenset()) -> LineExplanation:
    """One line of the calculation section with what it was computed from (the note alone without a basis)."""
    own = frozenset(own_meter_ids)
    basis = _dict(charge.basis)
    head = dict(key=str(charge.service_id), service=charge.service.name, amount=charge.total, charge=charge)
    if not basis:
        return LineExplanation(**head, has_basis=False, text=_text(charge.note))
    method = _text(basis.get("method"), 20)
    return LineExplanation(
        **head,
        has_basis=True,
        rule=_text(basis.get("rule"), 100) or FALLBACK_RULES.get(method, ""),
        method=method,
        method_label=METHOD_LABELS.get(method, ""),
        text=_text(basis.get("text")) or _text(charge.note),
        meters=[m for m in (_meter(x, own) for x in _list(basis.get("meters"))) if m],
        norm=_norm(basis.get("norm"), method),
        common=_common(basis.get("common")),
        recalculation=_recalculation(basis.get("recalculation")),
    )


def explain_penalty(statement: Statement) -> LineExplanation | None:
    """The пени line (None without пени): debts by period, days and the share of the key rate."""
    if not statement.penalty:
        return None
    basis = _dict(statement.penalty_basis)
    items = []
    for raw in _list(basis.get("items")):
        item = _dict(raw)
        if not item:
            continue
        items.append(PenaltyItem(
            period=_period(item.get("period")), debt=_dec(item.get("debt")), start=_period(item.get("from")),
            end=_period(item.get("to")), days=_int(item.get("days")), fraction=_text(item.get("fraction"), 10),
            rate=_dec(item.get("rate")), amount=_dec(item.get("amount"))))
    return LineExplanation(
        key=PENALTY_KEY, service="Пени", amount=statement.penalty, has_basis=bool(basis),
        rule=_text(basis.get("rule"), 100) or PENALTY_RULE, text=_text(basis.get("text")), penalty_items=items)


def explain_receipt(*, charges: list[Charge], statement: Statement, meters=()) -> list[LineExplanation]:
    """Every line of the receipt page, in the receipt's order, пени last."""
    own = frozenset(m.id for m in meters)
    lines = [explain_charge(c, own_meter_ids=own) for c in charges]
    penalty = explain_penalty(statement)
    return lines + ([penalty] if penalty else [])


# --- the disputed line -----------------------------------------------------------------------------------------

def _statement(premises: Premises, period: date) -> Statement | None:
    return db.session.scalar(select(Statement).where(Statement.premises_id == premises.id,
                                                     Statement.period == period))


def receipt_line_get(*, actor: User, premises: Premises, period: str | None, line: str | None) -> dict:
    """A snapshot of one line of the actor's own receipt, to attach to an appeal («Оспорить»).

    Only an owner of the premises gets it, only for a period with a statement and a line that is on it;
    anything else — another flat, a forged period or service — is NotFound.
    """
    period_date = parse_period(period)
    if premises is None or period_date is None or not access_for(actor).owns(premises):
        raise NotFound(NOT_FOUND)
    statement = _statement(premises, period_date)
    if statement is None:
        raise NotFound(NOT_FOUND)
    if line == PENALTY_KEY:
        explained = explain_penalty(statement)
        if explained is None:
            raise NotFound(NOT_FOUND)
        return _snapshot(period_date, explained, line=PENALTY_KEY)
    service_id = _int(line) if isinstance(line, str) and line.isascii() and line.isdigit() else None
    charge = next((c for c in charges_for(premises.id, period_date) if c.service_id == service_id), None)
    if charge is None:
        raise NotFound(NOT_FOUND)
    explained = explain_charge(charge)
    snapshot = _snapshot(period_date, explained, line=str(charge.service_id))
    snapshot.update(volume=f"{charge.volume.normalize():f}", unit=charge.service.unit,
                    tariff=f"{charge.tariff.normalize():f}")
    return snapshot


def _snapshot(period: date, explained: LineExplanation, *, line: str) -> dict:
    basis = explained.text or (explained.method_label[:1].upper() + explained.method_label[1:])
    return {
        "period": period.isoformat(),
        "line": line,
        "service": explained.service,
        "amount": f"{explained.amount:.2f}",
        "rule": explained.rule,
        "basis": basis,
    }


def dispute_text(line: dict) -> str:
    """The first words of the appeal about a disputed line (the owner adds what is wrong)."""
    from app.formatting import money, period_ru

    period = parse_period((line.get("period") or "")[:7])
    when = f" за {period_ru(period)}" if period else ""
    amount = _dec(line.get("amount"))
    total = f" ({money(amount)})" if amount is not None else ""
    return f"Прошу проверить начисление «{line.get('service', '')}»{when}{total}: "


@dataclass(frozen=True)
class StoredLine:
    """A stored snapshot read back for display (tolerant: it is JSON written months ago)."""

    period: date | None
    service: str
    amount: Decimal | None
    volume: Decimal | None
    unit: str
    tariff: Decimal | None
    basis: str
    rule: str


def stored_line(line: dict | None) -> StoredLine | None:
    data = _dict(line)
    if not data:
        return None
    return StoredLine(period=_period(data.get("period")), service=_text(data.get("service"), 120),
                      amount=_dec(data.get("amount")), volume=_dec(data.get("volume")),
                      unit=_text(data.get("unit"), 20), tariff=_dec(data.get("tariff")),
                      basis=_text(data.get("basis")), rule=_text(data.get("rule"), 100))
