"""Charges, balances and statements (ЕПД totals).

Two ways charges arrive: imported from the УК's billing system (see charges_import) or computed here when
staff close a period, by the rules of ПП РФ № 354 in app/services/billing_rules.py (docs/billing.md): per m²
of area, per resident, a fixed sum, metered consumption (п. 42; the average of п. 59 «а»/«б»; the норматив of
п. 60; the recalculation of п. 61 when a reading arrives after such months), водоотведение, heating in Гкал
and КР на СОИ (п. 44). Every computed line keeps how it was computed in Charge.basis.
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
from app.models.metering import Resource
from app.services import billing_rules as rules
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed
from app.services.periods import add_months, current_month
from app.services.statements import (  # noqa: F401  (re-exported: callers use billing.*)
    KOPECK,
    current_debt,
    due_date,
    money,
    premises_account,
    premises_statements,
    statement_paid,
    statements_issue,
)

HISTORY_MONTHS = 24  # readings loaded before the period: the average (п. 59) and the anchor of п. 61
SETTLE_MONTHS = 13  # how far back months billed by the average or the норматив are looked for (п. 61)
METHOD_RANK = {"meter": 0, "average": 1, "norm": 2}
WATER = (Resource.COLD_WATER, Resource.HOT_WATER)


def tariff_for(service: Service, period: date) -> Decimal | None:
    """The rate in force on the first day of the period."""
    for t in reversed(service.tariffs):
        if t.valid_from <= period and (t.valid_to is None or t.valid_to >= period):
            return t.rate
    return None


def residents_of(premises: Premises) -> int:
    """People to bill per resident: registered, or more if the owner says more actually live there."""
    return max(premises.registered_residents or 0, premises.actual_residents or 0)


def _s(value: Decimal | None, places: str = "0.001") -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal(places)))


def _d(value: Decimal | None) -> str | None:
    """A factor or норматив as a short string: Decimal('1.50') -> '1.5'."""
    return None if value is None else f"{Decimal(value).normalize():f}"


def _n(value: Decimal) -> str:
    return number(value, "#,##0.###")


@dataclass
class Line:
    service: Service
    volume: Decimal
    tariff: Decimal
    note: str
    basis: dict | None = None
    recalculation: Decimal = Decimal(0)
    recalculation_reason: str | None = None
    # for водоотведение and СОИ: the volume without the raising coefficient, and п. 61 deltas by month
    base_volume: Decimal | None = None
    deltas: dict[date, Decimal] = field(default_factory=dict)

    @property
    def amount(self) -> Decimal:
        return money(self.volume * self.tariff)

    @property
    def total(self) -> Decimal:
        return self.amount + self.recalculation


def _basis(rule: str, method: str, text: str, *, meters=None, norm=None, common=None, recalculation=None) -> dict:
    return {"rule": rule, "method": method, "text": text, "meters": meters or [], "norm": norm,
            "common": common, "recalculation": recalculation}


@dataclass
class Context:
    """Everything the rules need for one building and period, loaded in bulk by period_close."""

    period: date
    services: list[Service]
    meters: dict[int, list[Meter]]  # premises id -> its meters (ИПУ)
    readings: dict[int, dict[date, Reading]]
    unsettled: dict[int, list[rules.Billed]] = field(default_factory=dict)  # meter id -> п. 61 candidates
    house_meters: list[Meter] = field(default_factory=list)  # ОДПУ of the building
    total_area: Decimal = Decimal(0)  # S_об: all premises of the building
    common_area: Decimal | None = None  # S_ои
    soi_over_norm: bool = False
    warnings: list[str] = field(default_factory=list)

    def usable(self, meter: Meter) -> dict[date, Decimal]:
        return {p: r.value for p, r in self.readings.get(meter.id, {}).items()
                if not r.not_for_billing and p <= self.period}


# --- metered services (п. 42, 59, 60, 61) --------------------------------------------------------------------


def _register_entry(meter: Meter, r: rules.RegisterResult) -> dict:
    def point(x):
        return None if x is None else {"period": x[0].isoformat() if x[0] else None, "value": _s(x[1])}

    entry = {"meter_id": meter.id, "serial": meter.serial_number, "zone": meter.zone, "method": r.method,
             "volume": _s(r.volume), "previous": point(r.previous), "current": point(r.current),
             "average_periods": [p.isoformat() for p in r.average_periods] if r.average_periods else None,
             "missing": r.missing}
    if r.settled:
        entry["settled"] = [b.period.isoformat() for b in r.settled]
    if r.spread_over:
        entry["spread_over"] = [p.isoformat() for p in r.spread_over]
    return entry


def _register_text(meter: Meter, r: rules.RegisterResult, service: Service, people: int) -> str:
    unit = service.unit
    if r.method == "meter":
        text = (f"по показаниям счётчика {meter.serial_number}: {_n(r.current[1])} − {_n(r.previous[1])}")
        if r.spread_over:
            text += (f" за {len(r.spread_over)} мес. ({rules.periods_label(r.spread_over)}), на этот месяц "
                     f"{_n(r.volume)} {unit}")
        else:
            text += f" = {_n(r.volume)} {unit}"
        return text
    if r.method == "average":
        return (f"счётчик {meter.serial_number}: по среднему за {len(r.average_periods)} мес. "
                f"({rules.periods_label(r.average_periods)}) {_n(rules.vol(r.volume))} {unit}, "
                f"{r.missing}-й мес. {'неисправности или истёкшей поверки' if r.reason == 'a' else 'без показаний'}"
                f" ({r.rule})")
    factor = f" × {number(r.factor)}" if r.factor else ""
    return (f"счётчик {meter.serial_number}: по нормативу {_n(service.norm_per_person or 0)} {unit} на чел. × "
            f"{people} чел.{factor} = {_n(r.volume)} {unit} ({r.rule})")


def _register_note(r: rules.RegisterResult, service: Service, people: int) -> str:
    if r.method == "meter":
        return "по показаниям"
    if r.method == "average":
        return f"по среднему ({r.missing}-й мес. без показаний)" if r.reason == "b" else \
            f"по среднему ({r.missing}-й мес. после истечения поверки)"
    factor = f" × {number(r.factor)}" if r.factor else ""
    return f"по нормативу {number(service.norm_per_person or 0, '#,##0.####')} × {people} чел.{factor}"


def _recalculation(service: Service, settled: list[tuple[Meter, rules.RegisterResult]]) -> tuple[Decimal, dict]:
    """п. 61: Σ over settled months of (actual − billed) × that month's tariff, with its basis and reason."""
    amount, billed, actual, periods, methods = Decimal(0), Decimal(0), Decimal(0), set(), set()
    for _meter, r in settled:
        for b in r.settled:
            amount += (r.actual[b.period] - b.volume) * b.tariff
            periods.add(b.period)
            methods.add(b.method)
        billed += r.billed_settled
        actual += r.actual_settled
    amount = money(amount)
    how = " и ".join(m for m in ("по среднему", "по нормативу")
                     if {"по среднему": "average", "по нормативу": "norm"}[m] in methods)
    unit = service.unit
    text = (f"п. 61 ПП 354: {rules.periods_label(sorted(periods))} {how} {_n(rules.vol(billed))} {unit}, "
            f"по показаниям {_n(rules.vol(actual))} {unit}")
    return amount, {"rule": rules.RULE_RECALCULATION, "periods": [p.isoformat() for p in sorted(periods)],
                    "billed": _s(billed), "actual": _s(actual), "amount": str(amount), "text": text[:200]}


def _metered_line(ctx: Context, service: Service, premises: Premises, meters: list[Meter],
                  rate: Decimal) -> Line | None:
    """A METER service: the premises' registers of the resource (and zone), or the норматив without a meter."""
    of_resource = [m for m in meters if m.resource == service.resource]
    registers = [m for m in of_resource if (m.zone or None) == (service.zone or None)]
    if of_resource and not registers:
        return None  # the premises is billed under the other tariff scheme of this resource
    people = residents_of(premises)
    if not registers:
        if service.zone:
            return None  # no meter: only the single-rate service applies, by the норматив
        norm = service.norm_per_person or Decimal(0)
        factor = service.raising_factor or None
        volume = rules.norm_volume(norm, people, factor)
        fx = f" × {number(factor)}" if factor else ""
        text = (f"Счётчика нет: норматив {_n(norm)} {service.unit} на чел. × {people} чел.{fx} = {_n(volume)} "
                f"{service.unit} ({rules.RULE_NORM_NO_METER}).")
        basis = _basis(rules.RULE_NORM_NO_METER, "norm_no_meter", text,
                       norm={"value": _d(norm), "unit": f"{service.unit} на чел.", "people": people,
                             "factor": _d(factor)})
        return Line(service, volume, rate, f"норматив {number(norm, '#,##0.####')} × {people} чел. (нет счётчика)"
                    + fx, basis, base_volume=rules.norm_volume(norm, people))
    results = []
    for meter in registers:
        r = rules.register_volume(
            period=ctx.period, readings=ctx.usable(meter), initial=meter.initial_value or Decimal(0),
            kind=premises.kind, people=people, norm=service.norm_per_person, factor=service.raising_factor,
            faulty_from=rules.faulty_since(meter.next_verification_on, ctx.period),
            unsettled=ctx.unsettled.get(meter.id, []))
        results.append((meter, r))
    volume = sum((r.volume for _, r in results), Decimal(0))
    base = sum((r.base_volume for _, r in results), Decimal(0))
    method = max((r.method for _, r in results), key=METHOD_RANK.__getitem__)
    rule = next(r.rule for _, r in results if r.method == method)
    texts = [_register_text(m, r, service, people) for m, r in results]
    text = "; ".join(texts)
    text = text[0].upper() + text[1:] + "."
    norm = None
    if any(r.method == "norm" for _, r in results):
        factor = next((r.factor for _, r in results if r.factor), None)
        norm = {"value": _d(service.norm_per_person or Decimal(0)), "unit": f"{service.unit} на чел.",
                "people": people, "factor": _d(factor)}
    settled = [(m, r) for m, r in results if r.settled]
    recalculation, reason, recalc_basis, deltas = Decimal(0), None, None, {}
    if settled:
        recalculation, recalc_basis = _recalculation(service, settled)
        reason = recalc_basis["text"]
        for _, r in settled:
            for p, d in r.deltas().items():
                deltas[p] = deltas.get(p, Decimal(0)) + d
    note = "; ".join(dict.fromkeys(_register_note(r, service, people) for _, r in results))
    basis = _basis(rule, method, text, meters=[_register_entry(m, r) for m, r in results], norm=norm,
                   recalculation=recalc_basis)
    return Line(service, volume, rate, note, basis, recalculation, reason, base_volume=base, deltas=deltas)


# --- водоотведение, heating, СОИ -----------------------------------------------------------------------------


def _sewage_line(service: Service, rate: Decimal, water: list[Line]) -> Line | None:
    """ПП 354 п. 42: водоотведение = the premises' cold + hot water volumes of the period; a п. 61 recalculation
    of the water follows into водоотведение at its own tariff of the recalculated months."""
    if not water:
        return None
    parts = [(w.service, w.base_volume if w.base_volume is not None else w.volume) for w in water]
    volume = rules.sewage_volume(v for _, v in parts)
    text = ("Водоотведение: " + " + ".join(f"{s.name.lower()} {_n(rules.vol(v))} м³" for s, v in parts)
            + f" = {_n(rules.vol(volume))} м³ (ПП 354 п. 42).")
    deltas: dict[date, Decimal] = {}
    for w in water:
        for p, d in w.deltas.items():
            deltas[p] = deltas.get(p, Decimal(0)) + d
    recalculation, reason, recalc_basis = Decimal(0), None, None
    if deltas:
        amount = Decimal(0)
        for p, d in deltas.items():
            amount += d * (tariff_for(service, p) or rate)
        recalculation = money(amount)
        delta = sum(deltas.values(), Decimal(0))
        reason = (f"п. 61 ПП 354: {rules.periods_label(sorted(deltas))} водоотведение вслед за водой "
                  f"{'+' if delta > 0 else ''}{_n(rules.vol(delta))} м³")
        recalc_basis = {"rule": rules.RULE_RECALCULATION, "periods": [p.isoformat() for p in sorted(deltas)],
                        "billed": None, "actual": None, "delta": _s(delta), "amount": str(recalculation),
                        "text": reason}
    note = "ХВС + ГВС"
    return Line(service, volume, rate, note, _basis("ПП 354 п. 42", "sewage", text, recalculation=recalc_basis),
                recalculation, reason)


def _house_volume(ctx: Context, resource: Resource) -> tuple[Decimal | None, list[dict]]:
    """The building meters' (ОДПУ) volume of the resource for the period: the difference of readings (п. 42(1),
    п. 44); None if the building has no such meter or one of them has no reading for the period."""
    meters = [m for m in ctx.house_meters if m.resource == resource and not m.archived]
    if not meters:
        return None, []
    total, entries = Decimal(0), []
    for m in meters:
        readings = ctx.usable(m)
        if ctx.period not in readings:
            return None, []
        prev = max((p for p in readings if p < ctx.period), default=None)
        previous = readings[prev] if prev else (m.initial_value or Decimal(0))
        volume = rules.metered_volume(previous, readings[ctx.period])
        total += volume
        entries.append({"meter_id": m.id, "serial": m.serial_number, "method": "meter", "volume": _s(volume),
                        "previous": {"period": prev.isoformat() if prev else None, "value": _s(previous)},
                        "current": {"period": ctx.period.isoformat(), "value": _s(readings[ctx.period])},
                        "average_periods": None, "missing": 0})
    return total, entries


def _heating_line(ctx: Context, service: Service, premises: Premises, rate: Decimal) -> Line | None:
    area = premises.total_area or Decimal(0)
    if service.by_house_meter:
        house, entries = _house_volume(ctx, Resource.HEAT)
        if house is not None and ctx.total_area:
            volume = rules.heating_house_volume(house, area, ctx.total_area)
            text = (f"Отопление по общедомовому счётчику: {_n(house)} Гкал × {_n(area)} м² / "
                    f"{_n(ctx.total_area)} м² = {_n(rules.vol(volume))} Гкал (ПП 354 п. 42(1), Прил. 2 ф. 3).")
            return Line(service, volume, rate, "по ОДПУ × доля площади",
                        _basis("ПП 354 п. 42(1), Прил. 2 ф. 3", "heating_house", text, meters=entries,
                               common={"house_volume": _s(house), "individual_volume": None, "area": _s(area, "0.01"),
                                       "total_area": _s(ctx.total_area, "0.01"), "cap": None, "capped": False}))
    if service.norm_per_m2 is None:
        ctx.warnings.append(f"«{service.name}»: не указан норматив Гкал/м² — строка не начислена")
        return None
    volume = rules.heating_norm_volume(area, service.norm_per_m2)
    fallback = " (нет показаний ОДПУ за месяц)" if service.by_house_meter else ""
    text = (f"Отопление по нормативу: {_n(area)} м² × {number(service.norm_per_m2, '#,##0.######')} Гкал/м² = "
            f"{_n(rules.vol(volume))} Гкал{fallback} (ПП 354 п. 42(1), Прил. 2 ф. 2).")
    return Line(service, volume, rate, f"{number(area)} м² × норматив{fallback}",
                _basis("ПП 354 п. 42(1), Прил. 2 ф. 2", "heating_norm", text,
                       norm={"value": _d(service.norm_per_m2), "unit": "Гкал на м²", "people": None,
                             "factor": None}))


@dataclass
class CommonTotals:
    house: Decimal | None
    entries: list[dict]
    individual: Decimal


def _common_line(ctx: Context, service: Service, premises: Premises, rate: Decimal,
                 totals: CommonTotals) -> Line | None:
    """КР на СОИ (ПП 354 п. 44, Прил. 2 ф. 11–15)."""
    area = premises.total_area or Decimal(0)
    house = totals.house if service.by_house_meter else None
    result = rules.common_volume(house_volume=house, individual_volume=totals.individual, area=area,
                                 total_area=ctx.total_area, norm_per_m2=service.norm_per_m2,
                                 common_area=ctx.common_area, over_norm=ctx.soi_over_norm)
    if result is None:
        return None
    unit = service.unit
    common = {"house_volume": _s(result.house_volume), "individual_volume": _s(result.individual_volume),
              "area": _s(area, "0.01"), "total_area": _s(ctx.total_area, "0.01"), "cap": _s(result.cap),
              "capped": result.capped}
    if result.method == "common_norm":
        text = (f"СОИ по нормативу: {number(service.norm_per_m2, '#,##0.######')} {unit}/м² × "
                f"{_n(ctx.common_area)} м² общего имущества × {_n(area)} / {_n(ctx.total_area)} м² = "
                f"{_n(rules.vol(result.volume))} {unit} (ПП 354 Прил. 2 ф. 15).")
        rule, note = "ПП 354 п. 44, Прил. 2 ф. 15", "СОИ по нормативу"
    else:
        share = max(result.house_volume - result.individual_volume, Decimal(0)) * area / ctx.total_area
        text = (f"СОИ по общедомовому счётчику: ({_n(result.house_volume)} − {_n(rules.vol(result.individual_volume))})"
                f" {unit} × {_n(area)} / {_n(ctx.total_area)} м² = {_n(rules.vol(share))} {unit}")
        if result.capped:
            text += f", к оплате не больше норматива: {_n(rules.vol(result.cap))} {unit} (ПП 354 п. 44)."
            note = "СОИ по ОДПУ, в пределах норматива"
        else:
            text += " (ПП 354 п. 44, Прил. 2 ф. 11–13)."
            note = "СОИ по ОДПУ"
        rule = "ПП 354 п. 44, Прил. 2 ф. 11–13"
    return Line(service, result.volume, rate, note, _basis(rule, result.method, text, meters=totals.entries,
                                                          common=common))


# --- a premises, a building ----------------------------------------------------------------------------------


def _simple_line(service: Service, premises: Premises, rate: Decimal) -> Line:
    if service.method == Method.AREA:
        area = premises.total_area or Decimal(0)
        return Line(service, area, rate, f"{number(area)} м² × тариф",
                    _basis("ЖК РФ ст. 156 ч. 1", "area", f"Площадь {_n(area)} м² × тариф."))
    if service.method == Method.RESIDENTS:
        people = residents_of(premises)
        return Line(service, Decimal(people), rate, f"{people} чел. × тариф",
                    _basis("ЖК РФ ст. 157 ч. 1", "residents", f"Проживающих {people} чел. × тариф."))
    return Line(service, Decimal(1), rate, "фиксированная сумма",
                _basis("договор управления", "fixed", "Фиксированная сумма за помещение."))


def _individual_lines(ctx: Context, premises: Premises) -> list[Line]:
    meters = ctx.meters.get(premises.id, [])
    lines: list[Line] = []
    sewage: list[Service] = []
    for service in ctx.services:
        rate = tariff_for(service, ctx.period)
        if rate is None or service.method == Method.COMMON:
            continue
        if service.method in (Method.AREA, Method.RESIDENTS, Method.FIXED):
            lines.append(_simple_line(service, premises, rate))
        elif service.method == Method.SEWAGE:
            sewage.append(service)
        elif service.method == Method.HEATING:
            line = _heating_line(ctx, service, premises, rate)
            if line:
                lines.append(line)
        else:
            line = _metered_line(ctx, service, premises, meters, rate)
            if line:
                lines.append(line)
    water = [ln for ln in lines if ln.service.method == Method.METER and ln.service.resource in WATER]
    for service in sewage:
        line = _sewage_line(service, tariff_for(service, ctx.period), water)
        if line:
            lines.append(line)
    order = {s.id: i for i, s in enumerate(ctx.services)}
    return sorted(lines, key=lambda ln: order[ln.service.id])


def compute_building(ctx: Context, premises: list[Premises]) -> dict[int, list[Line]]:
    """Every line of every premises: the individual ones first, then КР на СОИ, which needs the individual
    volumes of the whole building (ПП 354 п. 44)."""
    result = {p.id: _individual_lines(ctx, p) for p in premises}
    common = [s for s in ctx.services if s.method == Method.COMMON and tariff_for(s, ctx.period) is not None]
    if not common:
        return result
    order = {s.id: i for i, s in enumerate(ctx.services)}
    for service in common:
        house, entries = _house_volume(ctx, service.resource)
        individual = sum((ln.base_volume if ln.base_volume is not None else ln.volume
                          for lines in result.values() for ln in lines
                          if ln.service.method == Method.METER and ln.service.resource == service.resource),
                         Decimal(0))
        totals = CommonTotals(house, entries, individual)
        rate = tariff_for(service, ctx.period)
        missing = 0
        for p in premises:
            line = _common_line(ctx, service, p, rate, totals)
            if line:
                result[p.id].append(line)
            else:
                missing += 1
        if missing:
            ctx.warnings.append(f"«{service.name}»: нет показаний ОДПУ и норматива с площадью общего имущества — "
                                f"не начислено для {missing} помещений")
    for lines in result.values():
        lines.sort(key=lambda ln: order[ln.service.id])
    return result


def compute_lines(premises: Premises, period: date, services: list[Service], meters: list[Meter],
                  readings: dict[int, dict[date, Reading]], *, unsettled=None) -> list[Line]:
    """The lines of one premises (tests and previews); the building's totals are this premises alone."""
    ctx = Context(period=period, services=services, meters={premises.id: meters}, readings=readings,
                  unsettled=unsettled or {}, total_area=premises.total_area or Decimal(0),
                  common_area=premises.building.common_area, soi_over_norm=premises.building.soi_over_norm)
    return compute_building(ctx, [premises])[premises.id]


def _services(organisation_id: int) -> list[Service]:
    return list(db.session.scalars(select(Service).where(Service.organisation_id == organisation_id,
                                                         Service.active.is_(True))
                                   .order_by(Service.sort_order, Service.id)))


def _readings_by_meter(meter_ids: list[int], period: date) -> dict[int, dict[date, Reading]]:
    since = add_months(period, -HISTORY_MONTHS)
    result: dict[int, dict[date, Reading]] = defaultdict(dict)
    if meter_ids:
        for r in db.session.scalars(select(Reading).where(Reading.meter_id.in_(meter_ids), Reading.period >= since,
                                                          Reading.period <= period)):
            result[r.meter_id][r.period] = r
    return result


def _unsettled(premises_ids: list[int], services: list[Service], period: date) -> dict[int, list[rules.Billed]]:
    """п. 61: for each meter, the months right before `period` billed by the average or the норматив and not
    yet recalculated, read from the charges' basis. Two queries: last month's lines, then the history of only
    the lines that were estimated."""
    metered = [s.id for s in services if s.method == Method.METER]
    if not premises_ids or not metered:
        return {}
    last = add_months(period, -1)
    rows = db.session.execute(select(Charge.premises_id, Charge.service_id, Charge.basis).where(
        Charge.premises_id.in_(premises_ids), Charge.period == last, Charge.service_id.in_(metered),
        Charge.source == ChargeSource.COMPUTED)).all()
    candidates = {(pid, sid) for pid, sid, basis in rows
                  if any(e.get("method") in ("average", "norm") for e in (basis or {}).get("meters") or [])}
    if not candidates:
        return {}
    history = db.session.execute(select(Charge.premises_id, Charge.service_id, Charge.period, Charge.tariff,
                                        Charge.basis).where(
        Charge.premises_id.in_({pid for pid, _ in candidates}), Charge.service_id.in_({s for _, s in candidates}),
        Charge.period >= add_months(period, -SETTLE_MONTHS), Charge.period < period,
        Charge.source == ChargeSource.COMPUTED)).all()
    by_meter: dict[int, dict[date, rules.Billed]] = defaultdict(dict)
    settled: dict[int, set[str]] = defaultdict(set)
    for pid, sid, p, tariff, basis in history:
        if (pid, sid) not in candidates:
            continue
        for e in (basis or {}).get("meters") or []:
            mid = e.get("meter_id")
            settled[mid].update(e.get("settled") or [])
            if e.get("method") in ("average", "norm"):
                by_meter[mid][p] = rules.Billed(p, Decimal(e["volume"]), tariff, e["method"])
    result = {}
    for mid, months in by_meter.items():
        run, p = [], last
        while p in months and p.isoformat() not in settled[mid]:
            run.append(months[p])
            p = add_months(p, -1)
        if run:
            result[mid] = run[::-1]
    return result


@dataclass
class CloseReport:
    premises: int = 0
    lines: int = 0
    total: Decimal = Decimal(0)
    statements: list[Statement] = field(default_factory=list)
    due: dict[int, Decimal] = field(default_factory=dict)  # premises id -> amount due (read before commit)
    warnings: list[str] = field(default_factory=list)  # lines that could not be computed, and why


CLOSE_MONTHS_BACK = 36  # charges older than the limitation period (ГК РФ ст. 196: 3 years) are not recomputed


def period_close(*, actor: User, building: Building, period: date, now: datetime | None = None,
                 origin: Origin = NO_ORIGIN) -> CloseReport:
    """Compute the period's charges for every premises of the building and issue statements.

    Re-closing replaces computed charges; a period whose charges were imported is refused (re-import instead).
    """
    now = now or utcnow()
    if not access_for(actor).uk_manages(building):
        raise NotAllowed("Закрывать период может только управляющая организация")
    if period >= current_month(now):
        raise Invalid("period", "Закрыть можно только прошедший месяц")
    if period < add_months(current_month(now), -CLOSE_MONTHS_BACK):
        raise Invalid("period", "Закрыть можно месяц не старше трёх лет: за более ранний срок начисления не "
                                "пересчитываются (исковая давность, ГК РФ ст. 196)")
    # After the checks: serialises the close with the imports of this building (the loser gets 409)
    from app.services.locks import building_lock

    building_lock(building.id)
    premises = list(db.session.scalars(select(Premises).where(Premises.building_id == building.id)))
    ids = [p.id for p in premises]
    imported = db.session.scalar(select(func.count(Charge.id)).where(
        Charge.premises_id.in_(ids), Charge.period == period, Charge.source == ChargeSource.IMPORT))
    if imported:
        raise Conflict("Начисления за этот месяц загружены из расчётной системы. Чтобы изменить их, загрузите "
                       "файл заново.")
    services = _services(building.organisation_id)
    meters = list(db.session.scalars(select(Meter).where(Meter.building_id == building.id)))
    readings = _readings_by_meter([m.id for m in meters], period)
    by_premises: dict[int, list[Meter]] = defaultdict(list)
    house_meters = []
    for m in meters:
        if m.premises_id is None:
            house_meters.append(m)
        elif not m.archived or _has(readings, m, period):
            by_premises[m.premises_id].append(m)
    ctx = Context(period=period, services=services, meters=by_premises, readings=readings,
                  unsettled=_unsettled(ids, services, period), house_meters=house_meters,
                  total_area=sum((p.total_area or Decimal(0) for p in premises), Decimal(0)),
                  common_area=building.common_area, soi_over_norm=building.soi_over_norm)
    computed = compute_building(ctx, premises)
    db.session.execute(delete(Charge).where(Charge.premises_id.in_(ids), Charge.period == period))
    report = CloseReport(warnings=ctx.warnings)
    rows = []
    for p in premises:
        for line in computed[p.id]:
            amount = line.amount
            rows.append({"premises_id": p.id, "period": period, "service_id": line.service.id,
                         "volume": line.volume.quantize(Decimal("0.0001")), "tariff": line.tariff, "amount": amount,
                         "recalculation": line.recalculation, "recalculation_reason": line.recalculation_reason,
                         "benefit": Decimal(0), "total": line.total, "note": line.note[:200], "basis": line.basis,
                         "source": ChargeSource.COMPUTED, "created_at": now})
            report.total += line.total
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
