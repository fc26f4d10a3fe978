"""Пени by ЖК РФ ст. 155 ч. 14, the dated key-rate table and the rate rules in force (docs/penalties.md).

The arithmetic is pure (no database): `penalty_compute` takes one premises' debts by period and its payments,
allocates the payments (the period the payer named, else the oldest unpaid one — Пленум ВС РФ № 22 от
27.06.2017 п. 32, ГК РФ ст. 319.1 п. 3) and computes the пени accrued on the days of a window:

- a period's debt is overdue from the day after its due date (`statements.due_date`); пени accrue from the 31st
  day after the due date to the 90th at 1/300 of the rate, from the 91st day at 1/130 (ч. 14);
- the base is the period's unpaid charges only — never earlier пени;
- a payment reduces the base from the day it is paid (that day carries no пени on the paid part);
- the rate: ч. 14 takes the key rate «действующей на день фактической оплаты». Each paid part of a debt uses the
  key rate of the day it was paid; the part still unpaid uses the rate of the calculation day, which is the last
  day of the window (so a statement re-issued later gives the same figure). The PenaltyRule in force on each
  day of accrual may cap it (ПП РФ № 474: the lesser of that rate and 9.5 %), fix it, or suspend пени.

The operator keeps the key-rate table and the rules (console «Ставки и пени»); `key_rate_add`/`penalty_rule_add`
are those screens' services.
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.access import access_for, valid_id
from app.extensions import db
from app.formatting import date_ru, number, period_ru
from app.formatting import money as money_ru
from app.models import User
from app.models.base import utcnow
from app.models.billing import KeyRate, PenaltyRule
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Invalid, NotAllowed, NotFound
from app.services.meters import parse_date
from app.services.periods import add_months
from app.services.validation import clean_text, validate_all

LAW = "ЖК РФ ст. 155 ч. 14"
KOPECK = Decimal("0.01")
FIRST_DAY = 31  # пени start on the 31st day after the due date
HIGHER_FROM = 91  # and grow to 1/130 from the 91st day
FRACTIONS = {300: "1/300", 130: "1/130"}

MODES = {
    "payment_day": "ключевая ставка на день оплаты (ЖК РФ ст. 155 ч. 14)",
    "capped": "ключевая ставка на день оплаты, но не выше заданной (мораторий)",
    "fixed": "фиксированная ставка",
    "suspended": "пени не начисляются",
}


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------------------
# The tables
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    valid_from: date
    valid_to: date | None  # inclusive
    mode: str
    fixed_rate: Decimal | None
    citation: str


DEFAULT_RULE = Rule(date.min, None, "payment_day", None, LAW)


@dataclass
class Tables:
    """The key rates (sorted by date) and the rate rules, loaded once per statements run."""

    rates: list[tuple[date, Decimal]]
    rules: list[Rule]
    _days: list[date] = field(init=False, repr=False)

    def __post_init__(self):
        self.rates.sort()
        self.rules.sort(key=lambda r: r.valid_from)
        self._days = [d for d, _ in self.rates]

    def key_rate(self, day: date) -> Decimal | None:
        i = bisect_right(self._days, day)
        return self.rates[i - 1][1] if i else None

    def rule(self, day: date) -> Rule:
        """The rule in force on the day: the latest one starting on or before it that has not ended."""
        found = DEFAULT_RULE
        for r in self.rules:
            if r.valid_from > day:
                break
            if r.valid_to is None or r.valid_to >= day:
                found = r
        return found

    def rule_changes(self, start: date, end: date) -> list[date]:
        """Days in (start, end] on which the rule in force may change."""
        days = set()
        for r in self.rules:
            for d in (r.valid_from, r.valid_to + timedelta(days=1) if r.valid_to else None):
                if d is not None and start < d <= end:
                    days.add(d)
        return sorted(days)


def tables_load() -> Tables:
    rates = [(d, r) for d, r in db.session.execute(select(KeyRate.valid_from, KeyRate.rate))]
    rules = [Rule(r.valid_from, r.valid_to, r.mode, r.fixed_rate, r.citation)
             for r in db.session.scalars(select(PenaltyRule))]
    return Tables(rates, rules)


# ---------------------------------------------------------------------------------------------------------
# Allocation of payments to periods
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentIn:
    paid_on: date
    amount: Decimal
    period: date | None = None  # the period the payer named


def allocate(debts: dict[date, Decimal], payments: list[PaymentIn]) -> dict[date, list[tuple[date, Decimal]]]:
    """Which part of each period's debt was paid on which day.

    A payment goes to the period the payer named (up to its unpaid debt), the rest to the oldest unpaid
    period that has begun by the payment day; what is left waits for the next periods (an advance) and covers
    each of them on its first day. A period's debt is known from its first day. Returns {period: [(day, part)]}.
    """
    remaining = {p: a for p, a in debts.items() if a > 0}
    paid: dict[date, list[tuple[date, Decimal]]] = {p: [] for p in remaining}
    periods = sorted(remaining)
    named_credit: dict[date, Decimal] = {}  # a payment naming a period that has not begun yet
    credit = Decimal(0)
    opened = 0  # periods[:opened] have begun

    def take(period: date, day: date, amount: Decimal) -> Decimal:
        part = min(amount, remaining.get(period, Decimal(0)))
        if part > 0:
            remaining[period] -= part
            paid[period].append((day, part))
        return amount - part

    def to_oldest(day: date, amount: Decimal) -> Decimal:
        for period in periods[:opened]:
            if amount <= 0:
                break
            amount = take(period, day, amount)
        return amount

    def open_until(day: date) -> None:
        nonlocal opened, credit
        while opened < len(periods) and periods[opened] <= day:
            period = periods[opened]
            opened += 1
            left = take(period, period, named_credit.pop(period, Decimal(0)))
            credit += left
            credit = take(period, period, credit)
        for period in [p for p in named_credit if p <= day]:  # named a period without debt
            credit += named_credit.pop(period)
        credit = to_oldest(day, credit)

    for pay in sorted(payments, key=lambda p: (p.paid_on, p.period or date.max)):
        open_until(pay.paid_on)
        amount = pay.amount
        if pay.period is not None and pay.period > pay.paid_on:
            named_credit[pay.period] = named_credit.get(pay.period, Decimal(0)) + amount
            continue
        if pay.period is not None:
            amount = take(pay.period, pay.paid_on, amount)
        credit += to_oldest(pay.paid_on, amount)
    open_until(date.max)  # periods that begin after the last payment take what is left of an advance
    return paid


# ---------------------------------------------------------------------------------------------------------
# Пени of a window
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Item:
    period: date
    debt: Decimal
    start: date
    end: date  # inclusive
    fraction: int  # 300 or 130
    rate: Decimal
    amount: Decimal
    citation: str
    paid_on: date | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_json(self) -> dict:
        data = {"period": self.period.isoformat(), "debt": str(self.debt), "from": self.start.isoformat(),
                "to": self.end.isoformat(), "days": self.days, "fraction": FRACTIONS[self.fraction],
                "rate": str(self.rate.quantize(KOPECK)), "amount": str(self.amount), "citation": self.citation}
        if self.paid_on:
            data["paid_on"] = self.paid_on.isoformat()
        return data


@dataclass
class Result:
    amount: Decimal
    items: list[Item]
    notes: list[str]
    window: tuple[date, date]

    def basis(self) -> dict:
        return {"rule": LAW, "window": {"from": self.window[0].isoformat(), "to": self.window[1].isoformat()},
                "items": [i.as_json() for i in self.items], "notes": self.notes, "text": self.text()}

    def text(self) -> str:
        start, end = self.window
        head = f"Пени ({LAW}) за дни с {date_ru(start)} по {date_ru(end)}"
        if not self.items:
            lines = [f"{head}: не начислены — просроченного более чем на 30 дней долга нет."]
        else:
            lines = [f"{head}: {money_ru(self.amount)}."]
            for i in self.items:
                paid = f", оплачено {date_ru(i.paid_on)}" if i.paid_on else ""
                lines.append(f"Долг за {period_ru(i.period)} {money_ru(i.debt)}{paid}: с {date_ru(i.start)} по "
                             f"{date_ru(i.end)}, {i.days} дн. × {FRACTIONS[i.fraction]} × "
                             f"{number(i.rate, '#,##0.00')} % = {money_ru(i.amount)} ({i.citation}).")
        return "\n".join(lines + self.notes)


def _rate(rule: Rule, tables: Tables, rate_day: date) -> Decimal | None:
    if rule.mode == "fixed":
        return rule.fixed_rate
    key = tables.key_rate(rate_day)
    if rule.mode == "capped" and key is not None and rule.fixed_rate is not None:
        return min(key, rule.fixed_rate)
    return key


def _accrue(*, period: date, due: date, part: Decimal, start: date, end: date, rate_day: date, tables: Tables,
            paid_on: date | None, items: list[Item], notes: set[str]) -> None:
    """Items for one part of a period's debt accruing over [start, end]."""
    if start > end or part <= 0:
        return
    cuts = {due + timedelta(days=HIGHER_FROM)} | set(tables.rule_changes(start, end))
    bounds = [start] + sorted(d for d in cuts if start < d <= end) + [end + timedelta(days=1)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        last = b - timedelta(days=1)
        rule = tables.rule(a)
        if rule.mode == "suspended":
            notes.add(f"С {date_ru(max(a, rule.valid_from))} по "
                      f"{date_ru(min(last, rule.valid_to or last))} пени не начисляются: {rule.citation}.")
            continue
        rate = _rate(rule, tables, rate_day)
        if rate is None:
            notes.add(f"Ключевая ставка на {date_ru(rate_day)} не задана в таблице ставок — пени за эти дни не "
                      "начислены.")
            continue
        fraction = 300 if (a - due).days < HIGHER_FROM else 130
        days = (last - a).days + 1
        amount = money(part * rate * days / 100 / fraction)
        items.append(Item(period, part, a, last, fraction, rate, amount, rule.citation, paid_on))


def penalty_compute(*, debts: dict[date, Decimal], payments: list[PaymentIn], start: date, end: date,
                    tables: Tables, due) -> Result:
    """Пени accrued on the days [start, end] on the debts by period (charges only), `due(period)` their due
    dates. Payments after `end` are ignored; the unpaid rest uses the rate of `end` (the calculation day)."""
    paid = allocate(debts, [p for p in payments if p.paid_on <= end])
    items: list[Item] = []
    notes: set[str] = set()
    for period in sorted(paid):
        due_day = due(period)
        first = max(start, due_day + timedelta(days=FIRST_DAY))
        if first > end:
            continue
        unpaid = debts[period]
        for day, part in paid[period]:
            unpaid -= part
            _accrue(period=period, due=due_day, part=part, start=first, end=min(end, day - timedelta(days=1)),
                    rate_day=day, tables=tables, paid_on=day, items=items, notes=notes)
        _accrue(period=period, due=due_day, part=unpaid, start=first, end=end, rate_day=end, tables=tables,
                paid_on=None, items=items, notes=notes)
    items.sort(key=lambda i: (i.period, i.paid_on or date.max, i.start))
    return Result(sum((i.amount for i in items), Decimal("0.00")), items, sorted(notes), (start, end))


def window_of(period: date) -> tuple[date, date]:
    """The days whose пени the statement of `period` carries: the calendar days of the period itself."""
    return period, add_months(period, 1) - timedelta(days=1)


# ---------------------------------------------------------------------------------------------------------
# The operator's screens: key rates and rules
# ---------------------------------------------------------------------------------------------------------


def _require_operator(actor: User) -> None:
    if not access_for(actor).operator:
        raise NotAllowed("Ставки и правила начисления пеней ведёт оператор портала")


def key_rates_list() -> list[KeyRate]:
    return list(db.session.scalars(select(KeyRate).order_by(KeyRate.valid_from.desc())))


def penalty_rules_list() -> list[PenaltyRule]:
    return list(db.session.scalars(select(PenaltyRule).order_by(PenaltyRule.valid_from.desc())))


def _rate_value(raw, field_name: str) -> Decimal:
    text = str(raw if raw is not None else "").strip().replace(",", ".").replace(" ", "").replace("%", "")
    if not text:
        raise Invalid(field_name, "Введите ставку, % годовых")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Invalid(field_name, "Введите ставку числом, например 16,5") from None
    if not value.is_finite() or value < 0 or value > Decimal("99.99"):
        raise Invalid(field_name, "Ставка — от 0 до 99,99 % годовых")
    if value != value.quantize(KOPECK):
        raise Invalid(field_name, "Не больше двух знаков после запятой")
    return value.quantize(KOPECK)


def _required_date(raw, field_name: str, label: str) -> date:
    value = parse_date(raw, field_name, label)
    if value is None:
        raise Invalid(field_name, f"Введите {label} в формате ДД.ММ.ГГГГ")
    if not date(1992, 1, 1) <= value <= date(2100, 12, 31):
        raise Invalid(field_name, "Проверьте год: дата вне допустимого диапазона")
    return value


def key_rate_add(*, actor: User, valid_from, rate, source, now: datetime | None = None,
                 origin: Origin = NO_ORIGIN) -> KeyRate:
    """Add the key rate in force from a date (one rate per date)."""
    _require_operator(actor)
    values = validate_all({
        "valid_from": lambda: _required_date(valid_from, "valid_from", "дату, с которой действует ставка"),
        "rate": lambda: _rate_value(rate, "rate"),
        "source": lambda: clean_text(source, "source", "источник: сообщение Банка России", max_len=300),
    })
    day = values["valid_from"]
    duplicate = Invalid("valid_from", f"Ставка с {date_ru(day)} уже есть в таблице: проверьте дату")
    if db.session.scalar(select(KeyRate.id).where(KeyRate.valid_from == day)):
        raise duplicate
    row = KeyRate(valid_from=day, rate=values["rate"], source=values["source"], created_at=now or utcnow(),
                  created_by_id=actor.id)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise duplicate from None
    audit_record(actor=actor, action="key_rate_added", entity_type="key_rate", entity_id=row.id,
                 changes={"valid_from": day.isoformat(), "rate": str(values["rate"]), "source": values["source"]},
                 origin=origin)
    db.session.commit()
    return row


def _overlap(valid_from: date, valid_to: date | None, *, skip: int | None = None) -> PenaltyRule | None:
    for other in db.session.scalars(select(PenaltyRule).order_by(PenaltyRule.valid_from)):
        if other.id != skip and other.valid_from <= (valid_to or date.max) and valid_from <= (other.valid_to
                                                                                                or date.max):
            return other
    return None


def _span(rule: PenaltyRule) -> str:
    return f"с {date_ru(rule.valid_from)} " + (f"по {date_ru(rule.valid_to)}" if rule.valid_to else
                                               "без даты окончания")


def penalty_rule_add(*, actor: User, valid_from, valid_to, mode, fixed_rate, citation,
                     now: datetime | None = None, origin: Origin = NO_ORIGIN) -> PenaltyRule:
    """Add the rate rule in force over [valid_from, valid_to] (open-ended when valid_to is empty).

    Spans never overlap, so one rule is in force on a day (days without a rule use ЖК ст. 155 ч. 14 as is).
    """
    _require_operator(actor)

    def rate_check():
        if mode in ("capped", "fixed"):
            return _rate_value(fixed_rate, "fixed_rate")
        if str(fixed_rate or "").strip():
            raise Invalid("fixed_rate", "Ставку указывают только для порядков «не выше заданной» и «фиксированная»")
        return None

    def mode_check():
        if mode not in MODES:
            raise Invalid("mode", "Выберите порядок начисления из списка")
        return mode

    values = validate_all({
        "valid_from": lambda: _required_date(valid_from, "valid_from", "дату начала"),
        "valid_to": lambda: parse_date(valid_to, "valid_to", "дату окончания"),
        "mode": mode_check,
        "fixed_rate": rate_check,
        "citation": lambda: clean_text(citation, "citation", "основание: постановление или статью закона",
                                       max_len=300),
    })
    start, end = values["valid_from"], values["valid_to"]
    if end is not None and end < start:
        raise Invalid("valid_to", "Дата окончания раньше даты начала")
    other = _overlap(start, end)
    if other is not None:
        raise Invalid("valid_from", f"Пересекается с правилом {_span(other)}: сначала задайте тому правилу дату "
                                    "окончания")
    row = PenaltyRule(valid_from=start, valid_to=end, mode=values["mode"], fixed_rate=values["fixed_rate"],
                      citation=values["citation"], created_at=now or utcnow(), created_by_id=actor.id)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Invalid("valid_from", f"Правило с {date_ru(start)} уже есть") from None
    audit_record(actor=actor, action="penalty_rule_added", entity_type="penalty_rule", entity_id=row.id,
                 changes={"valid_from": start.isoformat(), "valid_to": end.isoformat() if end else None,
                          "mode": row.mode, "fixed_rate": str(row.fixed_rate) if row.fixed_rate is not None else None,
                          "citation": row.citation}, origin=origin)
    db.session.commit()
    return row


def penalty_rule_get(*, actor: User, id) -> PenaltyRule:
    _require_operator(actor)
    key = valid_id(id)
    rule = db.session.get(PenaltyRule, key) if key is not None else None
    if rule is None:
        raise NotFound("Нет такого правила")
    return rule


def penalty_rule_end(*, actor: User, rule: PenaltyRule, valid_to, origin: Origin = NO_ORIGIN) -> PenaltyRule:
    """Set (or change) the last day of a rule, e.g. when the government ends or extends a moratorium."""
    _require_operator(actor)
    end = validate_all({"valid_to": lambda: parse_date(valid_to, "valid_to", "дату окончания")})["valid_to"]
    if end is not None and end < rule.valid_from:
        raise Invalid("valid_to", "Дата окончания раньше даты начала правила")
    other = _overlap(rule.valid_from, end, skip=rule.id)
    if other is not None:
        raise Invalid("valid_to", f"Пересекается с правилом {_span(other)}")
    old = rule.valid_to
    rule.valid_to = end
    audit_record(actor=actor, action="penalty_rule_ended", entity_type="penalty_rule", entity_id=rule.id,
                 changes={"valid_to": [old.isoformat() if old else None, end.isoformat() if end else None]},
                 origin=origin)
    db.session.commit()
    return rule
