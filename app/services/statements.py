"""Statements (the ЕПД's totals): opening debt, charges, payments, пени and the amount due of a period.

Money is Decimal, rounded to kopecks half up. Пени: app/services/penalties.py, docs/penalties.md.
"""

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import Premises
from app.models.billing import Charge, OpeningBalance, Payment, Statement
from app.services import gis_ids, penalties
from app.services.periods import add_months
from app.services.workcalendar import is_working_day

KOPECK = Decimal("0.01")
# ЖК РФ ст. 155 ч. 1 as amended from 01.03.2026: payment is due by the 15th of the next month (it was the 10th,
# or another day set by the management contract); the first period due on the 15th is February 2026.
DUE_DAY_15_FROM = date(2026, 3, 1)


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


def due_date(period: date) -> date:
    """The last day to pay for the period: the 10th of the next month (ЖК РФ ст. 155 ч. 1), the 15th for
    months from 01.03.2026 on; a non-working last day moves to the next working day (ГК РФ ст. 193)."""
    month = add_months(period, 1)
    day = month.replace(day=15 if month >= DUE_DAY_15_FROM else 10)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def statements_issue(*, premises: list[Premises], period: date, now: datetime) -> list[Statement]:
    """(Re)build the statements of the period from charges, payments and earlier statements (no commit).

    Bulk: a fixed number of queries for any number of premises. The пени are those accrued on the days of
    the period (penalties.window_of) on every overdue period's charges (app/services/penalties.py); earlier
    пени are part of the opening balance, never of the base. A re-issue bumps the statement's version.
    """
    ids = [p.id for p in premises]
    if not ids:
        return []
    start, last_day = penalties.window_of(period)
    by_period: dict[int, dict[date, Decimal]] = defaultdict(dict)
    for pid, charged_period, total in db.session.execute(
            select(Charge.premises_id, Charge.period, func.sum(Charge.total)).where(
                Charge.premises_id.in_(ids), Charge.period <= period).group_by(Charge.premises_id, Charge.period)):
        by_period[pid][charged_period] = Decimal(total or 0)
    penalties_before = dict(db.session.execute(select(Statement.premises_id, func.sum(Statement.penalty)).where(
        Statement.premises_id.in_(ids), Statement.period < period).group_by(Statement.premises_id)).all())
    payments: dict[int, list[penalties.PaymentIn]] = defaultdict(list)
    for pid, paid_on, amount, named in db.session.execute(
            select(Payment.premises_id, Payment.paid_on, Payment.amount, Payment.period).where(
                Payment.premises_id.in_(ids), Payment.paid_on <= last_day).order_by(Payment.paid_on, Payment.id)):
        payments[pid].append(penalties.PaymentIn(paid_on, Decimal(amount), named))
    openings = {o.premises_id: o for o in db.session.scalars(select(OpeningBalance).where(
        OpeningBalance.premises_id.in_(ids)))}
    existing = {s.premises_id: s for s in db.session.scalars(select(Statement).where(
        Statement.premises_id.in_(ids), Statement.period == period))}
    tables = penalties.tables_load()
    result = []
    for p in premises:
        charges = by_period.get(p.id, {})
        pays = payments.get(p.id, [])
        opening_entry = openings.get(p.id)
        opening = opening_entry.amount if opening_entry and opening_entry.period <= period else Decimal(0)
        charged_before = sum((a for d, a in charges.items() if d < period), Decimal(0))
        paid_before = sum((x.amount for x in pays if x.paid_on < start), Decimal(0))
        debt = money(opening + charged_before + Decimal(penalties_before.get(p.id) or 0) - paid_before)
        this = money(charges.get(period, Decimal(0)))
        paid = money(sum((x.amount for x in pays if x.paid_on >= start), Decimal(0)))
        counted = opening_entry if opening else None
        computed = penalties.penalty_compute(debts=_debts(charges, counted), payments=_credits(pays, charges, counted),
                                             start=start, end=last_day, tables=tables, due=due_date)
        statement = existing.get(p.id)
        if statement is None:
            statement = Statement(premises_id=p.id, period=period, version=1)
        else:
            statement.version = (statement.version or 1) + 1
        statement.opening_balance, statement.charged, statement.paid = debt, this, paid
        statement.penalty = computed.amount
        statement.penalty_basis = computed.basis()
        statement.amount_due = money(debt + this + computed.amount - paid)
        statement.issued_at, statement.due_date = now, due_date(period)
        statement.payment_document_id = gis_ids.payment_document_id(premises=p, period=period)
        db.session.add(statement)
        result.append(statement)
    return result


def _debts(charges: dict[date, Decimal], opening: OpeningBalance | None) -> dict[date, Decimal]:
    """The base of пени by period: each period's charges; an opening debt counts as a debt of the month before
    the portal's first period (its real age is unknown: the youngest it can be, so пени are never overstated)."""
    debts = {d: a for d, a in charges.items() if a > 0}
    if opening is not None and opening.amount > 0:
        before = add_months(opening.period, -1)
        debts[before] = debts.get(before, Decimal(0)) + opening.amount
    return debts


def _credits(pays: list, charges: dict[date, Decimal], opening: OpeningBalance | None) -> list:
    """Payments, plus an opening advance and negative period totals (recalculations) as credits of their day."""
    credits = list(pays)
    if opening is not None and opening.amount < 0:
        credits.append(penalties.PaymentIn(opening.period, -opening.amount))
    credits += [penalties.PaymentIn(d, -a) for d, a in charges.items() if a < 0]
    return credits


def statement_paid(statement: Statement) -> Decimal:
    """Payments made after the period, towards this statement."""
    after = add_months(statement.period, 1)
    return Decimal(db.session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.premises_id == statement.premises_id, Payment.paid_on >= after)) or 0)


def premises_statements(premises: Premises) -> list[tuple[Statement, bool]]:
    """Statements newest first, each with paid/unpaid (payments after it cover its amount due)."""
    return premises_account(premises)[0]


def premises_account(premises: Premises) -> tuple[list[tuple[Statement, bool]], Decimal | None]:
    """The receipts list and what the owner owes today, from the same two queries (statements, payments):
    `premises_statements` and `current_debt` in one go for the receipts page."""
    statements = list(db.session.scalars(select(Statement).where(Statement.premises_id == premises.id)
                                         .order_by(Statement.period.desc())))
    payments = list(db.session.execute(select(Payment.paid_on, Payment.amount).where(
        Payment.premises_id == premises.id)))
    result = []
    for s in statements:
        after = add_months(s.period, 1)
        paid_after = sum((a for d, a in payments if d >= after), Decimal(0))
        result.append((s, s.amount_due <= 0 or paid_after >= s.amount_due))
    if not statements:
        return result, None
    latest = statements[0]
    since = add_months(latest.period, 1)
    return result, money(latest.amount_due - sum((a for d, a in payments if d >= since), Decimal(0)))


def current_debt(premises: Premises, today: date) -> Decimal | None:
    """What the owner owes today: the latest statement's amount due minus payments made since."""
    latest = db.session.scalar(select(Statement).where(Statement.premises_id == premises.id)
                               .order_by(Statement.period.desc()).limit(1))
    if latest is None:
        return None
    paid = statement_paid(latest)
    return money(latest.amount_due - paid)
