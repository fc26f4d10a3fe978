"""Charges, balances and statements (ЕПД totals).

Two ways charges arrive: imported from the УК's billing system (readings_exchange-like import, see
billing_import) or computed here when staff close a period: per m² of area, per resident, per metered
consumption, or a fixed sum. Metered consumption without a reading for the period is billed by the average
monthly consumption of the last (up to) 6 months for up to 3 periods in a row, then by the норматив
(ПП 354 п. 59 «б», п. 60). A meter past its verification date is billed as if it had no reading.
Money is Decimal, rounded to kopecks half up.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, func, insert, select

from app.access import access_for
from app.extensions import db
from app.formatting import number
from app.models import Building, Meter, Premises, Reading, User
from app.models.base import utcnow
from app.models.billing import (
    Charge,
    ChargeSource,
    Method,
    Service,
    Statement,
)
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed
from app.services.periods import add_months, current_month
from app.services.statements import (  # noqa: F401  (re-exported: callers use billing.*)
    KOPECK,
    current_debt,
    due_date,
    money,
    premises_statements,
    statement_paid,
    statements_issue,
)

AVERAGE_MONTHS = 6
AVERAGE_PERIODS_MAX = 3


def tariff_for(service: Service, period: date) -> Decimal | None:
    """The rate in force on the first day of the period."""
    for t in reversed(service.tariffs):
        if t.valid_from <= period and (t.valid_to is None or t.valid_to >= period):
            return t.rate
    return None


def residents_of(premises: Premises) -> int:
    """People to bill per resident: registered, or more if the owner says more actually live there."""
    return max(premises.registered_residents or 0, premises.actual_residents or 0)


@dataclass
class Line:
    service: Service
    volume: Decimal
    tariff: Decimal
    note: str

    @property
    def amount(self) -> Decimal:
        return money(self.volume * self.tariff)


def _metered_volume(service: Service, premises: Premises, meters: list[Meter], period: date,
                    readings: dict[int, dict[date, Reading]]) -> tuple[Decimal, str] | None:
    """Consumption of the service's registers for the period and how it was obtained; None if the service
    does not apply (e.g. the day-rate service for premises with a single-rate meter)."""
    of_resource = [m for m in meters if m.resource == service.resource]
    registers = [m for m in of_resource if (m.zone or None) == (service.zone or None)]
    if of_resource and not registers:
        return None  # the premises is billed under the other tariff scheme of this resource
    if not registers:
        if service.zone:
            return None  # no meter: only the single-rate service applies, by the норматив
        people = residents_of(premises)
        norm = service.norm_per_person or Decimal(0)
        return norm * people, f"норматив {number(norm, '#,##0.####')} × {people} чел. (нет счётчика)"
    total, notes = Decimal(0), []
    for meter in registers:
        history = readings.get(meter.id, {})
        current = history.get(period)
        usable = current is not None and not current.not_for_billing
        if usable:
            earlier = [r for p, r in history.items() if p < period and not r.not_for_billing]
            previous = max(earlier, key=lambda r: r.period).value if earlier else meter.initial_value
            total += current.value - previous
            notes.append("по показаниям")
            continue
        missing = _periods_without_reading(history, period)
        average = _average(history, period)
        if average is not None and missing <= AVERAGE_PERIODS_MAX:
            total += average
            notes.append(f"по среднему ({missing}-й мес. без показаний)")
        else:
            people = residents_of(premises)
            norm = service.norm_per_person or Decimal(0)
            total += norm * people
            notes.append(f"по нормативу {number(norm, '#,##0.####')} × {people} чел.")
    return total, "; ".join(dict.fromkeys(notes))


def _periods_without_reading(history: dict[date, Reading], period: date) -> int:
    """How many periods in a row, ending with this one, have no usable reading."""
    count, p = 0, period
    while count < 36:
        r = history.get(p)
        if r is not None and not r.not_for_billing:
            break
        count += 1
        p = add_months(p, -1)
    return count


def _average(history: dict[date, Reading], period: date) -> Decimal | None:
    """Average monthly consumption over the last (up to) 6 months with readings before the gap."""
    usable = sorted((p, r.value) for p, r in history.items() if p < period and not r.not_for_billing)
    usable = [x for x in usable if x[0] >= add_months(period, -(AVERAGE_MONTHS + AVERAGE_PERIODS_MAX + 1))]
    if len(usable) < 2:
        return None
    window = usable[-(AVERAGE_MONTHS + 1):]
    (p0, v0), (p1, v1) = window[0], window[-1]
    months = (p1.year - p0.year) * 12 + p1.month - p0.month
    # ПП 354 п. 59: the average of at least 6 months, or of the months the meter worked, but no fewer than 3.
    return (v1 - v0) / months if months >= 3 else None


def compute_lines(premises: Premises, period: date, services: list[Service], meters: list[Meter],
                  readings: dict[int, dict[date, Reading]]) -> list[Line]:
    lines = []
    for service in services:
        rate = tariff_for(service, period)
        if rate is None:
            continue
        if service.method == Method.AREA:
            area = premises.total_area or Decimal(0)
            lines.append(Line(service, area, rate, f"{number(area)} м² × тариф"))
        elif service.method == Method.RESIDENTS:
            people = residents_of(premises)
            lines.append(Line(service, Decimal(people), rate, f"{people} чел. × тариф"))
        elif service.method == Method.FIXED:
            lines.append(Line(service, Decimal(1), rate, "фиксированная сумма"))
        else:
            metered = _metered_volume(service, premises, meters, period, readings)
            if metered is not None:
                lines.append(Line(service, metered[0], rate, metered[1]))
    return lines


def _services(organisation_id: int) -> list[Service]:
    return list(db.session.scalars(select(Service).where(Service.organisation_id == organisation_id,
                                                         Service.active.is_(True))
                                   .order_by(Service.sort_order, Service.id)))


def _readings_by_meter(meter_ids: list[int], period: date) -> dict[int, dict[date, Reading]]:
    since = add_months(period, -(AVERAGE_MONTHS + AVERAGE_PERIODS_MAX + 36))
    result: dict[int, dict[date, Reading]] = defaultdict(dict)
    if meter_ids:
        for r in db.session.scalars(select(Reading).where(Reading.meter_id.in_(meter_ids), Reading.period >= since,
                                                          Reading.period <= period)):
            result[r.meter_id][r.period] = r
    return result


@dataclass
class CloseReport:
    premises: int = 0
    lines: int = 0
    total: Decimal = Decimal(0)
    statements: list[Statement] = field(default_factory=list)
    due: dict[int, Decimal] = field(default_factory=dict)  # premises id -> amount due (read before commit)


def period_close(*, actor: User, building: Building, period: date, now: datetime | None = None,
                 origin: Origin = NO_ORIGIN) -> CloseReport:
    """Compute the period's charges for every premises of the building and issue statements.

    Re-closing replaces computed charges; a period whose charges were imported is refused (re-import instead).
    """
    from app.services.locks import building_lock  # serialises close and the imports of this building (409)
    building_lock(building.id)
    now = now or utcnow()
    if not access_for(actor).uk_manages(building):
        raise NotAllowed("Закрывать период может только управляющая организация")
    if period >= current_month(now):
        raise Invalid("period", "Закрыть можно только прошедший месяц")
    premises = list(db.session.scalars(select(Premises).where(Premises.building_id == building.id)))
    ids = [p.id for p in premises]
    imported = db.session.scalar(select(func.count(Charge.id)).where(
        Charge.premises_id.in_(ids), Charge.period == period, Charge.source == ChargeSource.IMPORT))
    if imported:
        raise Conflict("Начисления за этот месяц загружены из расчётной системы. Чтобы изменить их, загрузите "
                       "файл заново.")
    services = _services(building.organisation_id)
    meters = list(db.session.scalars(select(Meter).where(Meter.premises_id.in_(ids))))
    by_premises: dict[int, list[Meter]] = defaultdict(list)
    for m in meters:
        by_premises[m.premises_id].append(m)
    readings = _readings_by_meter([m.id for m in meters], period)
    db.session.execute(delete(Charge).where(Charge.premises_id.in_(ids), Charge.period == period))
    report = CloseReport()
    rows = []
    for p in premises:
        own = [m for m in by_premises.get(p.id, []) if not m.archived or _has(readings, m, period)]
        for line in compute_lines(p, period, services, own, readings):
            amount = line.amount
            rows.append({"premises_id": p.id, "period": period, "service_id": line.service.id,
                         "volume": line.volume.quantize(Decimal("0.0001")), "tariff": line.tariff, "amount": amount,
                         "recalculation": Decimal(0), "benefit": Decimal(0), "total": amount,
                         "note": line.note[:200], "source": ChargeSource.COMPUTED, "created_at": now})
            report.total += amount
        report.premises += 1
    if rows:
        db.session.execute(insert(Charge), rows)  # one multi-row insert: a big building has thousands of lines
    report.lines = len(rows)
    report.statements = statements_issue(premises=premises, period=period, now=now)
    report.due = {s.premises_id: s.amount_due for s in report.statements}
    audit_record(actor=actor, action="period_closed", entity_type="building", entity_id=building.id,
                 changes={"period": period.isoformat(), "lines": report.lines, "total": str(report.total)},
                 origin=origin)
    db.session.commit()
    return report


def _has(readings, meter, period) -> bool:
    return period in readings.get(meter.id, {})


def charges_for(premises_id: int, period: date) -> list[Charge]:
    return sorted(db.session.scalars(select(Charge).where(Charge.premises_id == premises_id,
                                                          Charge.period == period)),
                  key=lambda c: (c.service.sort_order, c.service.id))
