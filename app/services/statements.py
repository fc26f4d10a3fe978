"""Statements (the ЕПД's totals): opening debt, charges, payments, пени and the amount due of a period.

Money is Decimal, rounded to kopecks half up.
"""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import Premises
from app.models.billing import Charge, OpeningBalance, Payment, Statement
from app.services.periods import add_months

KOPECK = Decimal("0.01")
DEFAULT_KEY_RATE = Decimal("9.5")  # % a year; the penalty rate is configurable per organisation


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


def due_date(period: date) -> date:
    """Payment is due by the 10th of the month after the period (ЖК РФ ст. 155 ч. 1)."""
    return add_months(period, 1).replace(day=10)


def statements_issue(*, premises: list[Premises], period: date, now: datetime) -> list[Statement]:
    """(Re)build the statements of the period from charges, payments and earlier statements (no commit)."""
    ids = [p.id for p in premises]
    if not ids:
        return []
    start, end = period, add_months(period, 1)
    charged = dict(db.session.execute(select(Charge.premises_id, func.sum(Charge.total)).where(
        Charge.premises_id.in_(ids), Charge.period == period).group_by(Charge.premises_id)).all())
    charged_before = dict(db.session.execute(select(Charge.premises_id, func.sum(Charge.total)).where(
        Charge.premises_id.in_(ids), Charge.period < period).group_by(Charge.premises_id)).all())
    penalties_before = dict(db.session.execute(select(Statement.premises_id, func.sum(Statement.penalty)).where(
        Statement.premises_id.in_(ids), Statement.period < period).group_by(Statement.premises_id)).all())
    paid_before = dict(db.session.execute(select(Payment.premises_id, func.sum(Payment.amount)).where(
        Payment.premises_id.in_(ids), Payment.paid_on < start).group_by(Payment.premises_id)).all())
    paid_now = dict(db.session.execute(select(Payment.premises_id, func.sum(Payment.amount)).where(
        Payment.premises_id.in_(ids), Payment.paid_on >= start, Payment.paid_on < end)
        .group_by(Payment.premises_id)).all())
    last_charges = dict(db.session.execute(select(Charge.premises_id, func.sum(Charge.total)).where(
        Charge.premises_id.in_(ids), Charge.period == add_months(period, -1)).group_by(Charge.premises_id)).all())
    openings = {o.premises_id: o for o in db.session.scalars(select(OpeningBalance).where(
        OpeningBalance.premises_id.in_(ids)))}
    existing = {s.premises_id: s for s in db.session.scalars(select(Statement).where(
        Statement.premises_id.in_(ids), Statement.period == period))}
    result = []
    for p in premises:
        opening_entry = openings.get(p.id)
        opening = opening_entry.amount if opening_entry and opening_entry.period <= period else Decimal(0)
        debt = money(opening + Decimal(charged_before.get(p.id) or 0) + Decimal(penalties_before.get(p.id) or 0)
                     - Decimal(paid_before.get(p.id) or 0))
        this = money(Decimal(charged.get(p.id) or 0))
        paid = money(Decimal(paid_now.get(p.id) or 0))
        # Debt older than last month's charges and still unpaid during this period is overdue.
        overdue = debt - Decimal(last_charges.get(p.id) or 0) - paid
        penalty = penalty_for(overdue, period, p.building.organisation)
        statement = existing.get(p.id) or Statement(premises_id=p.id, period=period)
        statement.opening_balance, statement.charged, statement.paid = debt, this, paid
        statement.penalty = penalty
        statement.amount_due = money(debt + this + penalty - paid)
        statement.issued_at, statement.due_date = now, due_date(period)
        db.session.add(statement)
        result.append(statement)
    return result


def penalty_for(overdue: Decimal, period: date, organisation) -> Decimal:
    """Simplified пени (ЖК РФ ст. 155 ч. 14): debt overdue more than a month × 1/300 of the key rate a day.

    The full rule (1/300 for days 31–90, 1/130 from day 91, moratoria) belongs to the УК's billing system;
    imported charges carry its figure.
    """
    if overdue <= 0:
        return Decimal("0.00")
    rate = Decimal(str((organisation.settings or {}).get("penalty_key_rate", DEFAULT_KEY_RATE)))
    days = (add_months(period, 1) - period).days
    return money(overdue * rate / 100 / 300 * days)


def statement_paid(statement: Statement) -> Decimal:
    """Payments made after the period, towards this statement."""
    after = add_months(statement.period, 1)
    return Decimal(db.session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.premises_id == statement.premises_id, Payment.paid_on >= after)) or 0)


def premises_statements(premises: Premises) -> list[tuple[Statement, bool]]:
    """Statements newest first, each with paid/unpaid (payments after it cover its amount due)."""
    statements = list(db.session.scalars(select(Statement).where(Statement.premises_id == premises.id)
                                         .order_by(Statement.period.desc())))
    payments = list(db.session.execute(select(Payment.paid_on, Payment.amount).where(
        Payment.premises_id == premises.id)))
    result = []
    for s in statements:
        after = add_months(s.period, 1)
        paid_after = sum((a for d, a in payments if d >= after), Decimal(0))
        result.append((s, s.amount_due <= 0 or paid_after >= s.amount_due))
    return result


def current_debt(premises: Premises, today: date) -> Decimal | None:
    """What the owner owes today: the latest statement's amount due minus payments made since."""
    latest = db.session.scalar(select(Statement).where(Statement.premises_id == premises.id)
                               .order_by(Statement.period.desc()).limit(1))
    if latest is None:
        return None
    paid = statement_paid(latest)
    return money(latest.amount_due - paid)
