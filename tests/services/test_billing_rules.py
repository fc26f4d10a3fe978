"""The billing rules of ПП 354 with worked examples (docs/billing.md): п. 42, 59 «а»/«б», 60, 61, водоотведение,
heating (Прил. 2 ф. 2, 3) and КР на СОИ (п. 44, ф. 11–15)."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.models import Charge, Service, Tariff
from app.models.housing import PremisesKind
from app.services import billing
from app.services import billing_rules as rules
from tests.factories import MeterFactory, ReadingFactory

TARIFF = Decimal("48.72")
Y = 2026


def month(m: int, year: int = Y) -> date:
    return date(year + (m - 1) // 12, (m - 1) % 12 + 1, 1)


def close(world, period: date):
    from app.services.periods import add_months

    after = add_months(period, 1)
    return billing.period_close(actor=world.staff, building=world.building, period=period,
                                now=datetime(after.year, after.month, 2, tzinfo=UTC))


def add_service(db, world, code, method, rate, unit="м³", **kw):
    s = Service(organisation_id=world.uk.id, code=code, name=kw.pop("name", code), unit=unit, method=method,
                sort_order=kw.pop("order", 10), **kw)
    s.tariffs = [Tariff(valid_from=date(2025, 1, 1), rate=Decimal(rate))]
    db.session.add(s)
    db.session.commit()
    return s


@pytest.fixture
def cw(world, db):
    world.p1.registered_residents = 2
    world.p1.total_area = Decimal("50")
    world.p2.total_area = Decimal("30")
    world.p3.total_area = Decimal("20")
    return add_service(db, world, "CW", "meter", TARIFF, name="Холодное водоснабжение", resource="cold_water",
                       norm_per_person=Decimal("3.9"), raising_factor=Decimal("1.5"), order=1)


def meter_with(db, world, values: dict[date, int], *, initial="100", premises=None, **kw):
    meter = MeterFactory(premises=premises or world.p1, building_id=world.building.id, resource="cold_water",
                         serial_number=kw.pop("serial", "ВС-1"), initial_value=Decimal(initial), **kw)
    for p, v in values.items():
        ReadingFactory(meter=meter, period=p, value=Decimal(v))
    db.session.commit()
    return meter


def cw_charges(db, world, service):
    return {c.period: c for c in db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=service.id)}


def billed_volume(charges) -> Decimal:
    """What the owner was billed for in volume: the lines' volumes plus the recalculated volume (п. 61)."""
    total = Decimal(0)
    for c in charges:
        total += c.volume
        r = (c.basis or {}).get("recalculation")
        if r:
            total += Decimal(r["actual"]) - Decimal(r["billed"])
    return total


# --- the pure rules ------------------------------------------------------------------------------------------


def test_average_limits_of_59_a_and_b():
    assert rules.average_limit("a", PremisesKind.APARTMENT) == 3
    assert rules.average_limit("a", PremisesKind.NON_RESIDENTIAL) == 2
    assert rules.average_limit("b", PremisesKind.APARTMENT) == 6
    assert rules.average_limit("b", PremisesKind.NON_RESIDENTIAL) == 3


def test_average_over_six_months_or_at_least_three():
    readings = [(month(m), Decimal(100 + 10 * (m - 1))) for m in range(1, 10)]  # Jan 100 … Sep 180
    value, periods = rules.average_volume(readings, month(10))
    assert value == Decimal("10.000") and periods == [month(m) for m in range(4, 10)]  # Apr–Sep: 6 months
    assert rules.average_volume(readings[:3], month(4)) is None  # Jan–Mar: 2 months, fewer than 3
    value, periods = rules.average_volume(readings[:4], month(5))  # the meter worked 3 months
    assert value == Decimal("10.000") and len(periods) == 3


def test_spread_adds_up_exactly():
    parts = rules.spread(Decimal(50), [month(7), month(8), month(9)])
    assert parts == {month(7): Decimal("16.667"), month(8): Decimal("16.667"), month(9): Decimal("16.666")}
    assert sum(parts.values()) == 50


def test_norm_and_raising_factor():
    assert rules.norm_volume(Decimal("3.9"), 2) == Decimal("7.8")
    assert rules.norm_volume(Decimal("3.9"), 2, Decimal("1.5")) == Decimal("11.70")


def test_heating_formulas_2_and_3():
    assert rules.heating_norm_volume(Decimal("48.6"), Decimal("0.0246")) == Decimal("1.19556")
    assert rules.heating_house_volume(Decimal("120"), Decimal("50"), Decimal("4000")) == Decimal("1.5")


def test_common_property_by_house_meter_capped_at_the_norm():
    args = {"area": Decimal(50), "total_area": Decimal(100), "norm_per_m2": Decimal("0.05"),
            "common_area": Decimal(200)}
    # (120 − 110) × 50/100 = 5 m³; the cap is 0.05 × 200 × 50/100 = 5 m³: not above it
    r = rules.common_volume(house_volume=Decimal(120), individual_volume=Decimal(110), over_norm=False, **args)
    assert (r.volume, r.cap, r.capped, r.method) == (Decimal(5), Decimal("5.000"), False, "common_house")
    # (140 − 110) × 50/100 = 15 m³ > 5: the УК charges 5 m³ (п. 44 абз. 2)
    r = rules.common_volume(house_volume=Decimal(140), individual_volume=Decimal(110), over_norm=False, **args)
    assert (r.volume, r.capped) == (Decimal("5.000"), True)
    # … unless the owners' meeting decided to distribute the whole volume
    r = rules.common_volume(house_volume=Decimal(140), individual_volume=Decimal(110), over_norm=True, **args)
    assert (r.volume, r.capped) == (Decimal(15), False)
    # apartments used more than the house meter shows: 0, not a negative charge
    r = rules.common_volume(house_volume=Decimal(100), individual_volume=Decimal(110), over_norm=False, **args)
    assert r.volume == 0
    # no house meter: the норматив (ф. 15)
    r = rules.common_volume(house_volume=None, individual_volume=Decimal(110), over_norm=False, **args)
    assert (r.volume, r.method) == (Decimal("5.000"), "common_norm")
    assert rules.common_volume(house_volume=None, individual_volume=Decimal(0), over_norm=False, area=Decimal(50),
                               total_area=Decimal(100), norm_per_m2=None, common_area=None) is None


def test_periods_label():
    assert rules.periods_label([month(7), month(8)]) == "07–08.2026"
    assert rules.periods_label([month(11), month(13)]) == "11.2026–01.2027"
    assert rules.periods_label([month(7)]) == "07.2026"


# --- п. 61: the worked examples through period_close ----------------------------------------------------------


def test_jan_to_sep_reading_after_average_months_bills_real_consumption_once(world, db, cw):
    """Readings Jan–Jun 100→150, none in Jul–Aug, 200 in Sep: Jan..Sep bill 100 m³ (= 200 − 100), not 120."""
    meter = meter_with(db, world, {month(m): 100 + 10 * (m - 1) for m in range(1, 7)} | {month(9): 200})
    for m in range(1, 10):
        close(world, month(m))
    charges = cw_charges(db, world, cw)
    assert [charges[month(m)].volume for m in range(1, 7)] == [0] + [Decimal(10)] * 5
    for m in (7, 8):
        assert charges[month(m)].basis["method"] == "average"
        assert charges[month(m)].basis["rule"] == "ПП 354 п. 59 «б»"
        assert charges[month(m)].volume == 10
    sep = charges[month(9)]
    # 50 m³ between the readings, spread over Jul–Sep: Sep keeps its third, Jul–Aug are recalculated
    assert sep.volume == Decimal("16.666") and sep.basis["method"] == "meter"
    assert sep.recalculation == Decimal("649.63")  # (33.334 − 20) m³ × 48.72
    assert sep.recalculation_reason == "п. 61 ПП 354: 07–08.2026 по среднему 20 м³, по показаниям 33,334 м³"
    assert sep.total == sep.amount + sep.recalculation
    recalc = sep.basis["recalculation"]
    assert recalc == {"rule": "ПП 354 п. 61", "periods": ["2026-07-01", "2026-08-01"], "billed": "20.000",
                      "actual": "33.334", "amount": "649.63", "text": sep.recalculation_reason}
    assert billed_volume(charges.values()) == 100
    assert sum(c.total for c in charges.values()) == 100 * TARIFF  # 4 872,00 ₽, not 974,40 ₽ more
    # October with its own reading: nothing is recalculated again
    ReadingFactory(meter=meter, period=month(10), value=Decimal(205))
    db.session.commit()
    close(world, month(10))
    oct_ = cw_charges(db, world, cw)[month(10)]
    assert (oct_.volume, oct_.recalculation, oct_.basis["recalculation"]) == (Decimal(5), 0, None)


def test_reading_after_norm_months_and_reclosing_is_idempotent(world, db, cw):
    """Two readings only (no average possible): Jul–Aug by the норматив 3.9 × 2 = 7.8 m³, then 120 in Sep."""
    meter_with(db, world, {month(5): 100, month(6): 105, month(9): 120})
    for m in range(6, 10):
        close(world, month(m))
    charges = cw_charges(db, world, cw)
    assert [charges[month(m)].basis["method"] for m in (7, 8)] == ["norm", "norm"]
    assert charges[month(7)].volume == Decimal("7.8")
    sep = charges[month(9)]
    assert sep.volume == 5 and sep.recalculation == Decimal("-272.83")  # (10 − 15.6) m³ × 48.72
    assert "по нормативу 15,6 м³, по показаниям 10 м³" in sep.recalculation_reason
    assert billed_volume(charges.values()) == 20  # Jun..Sep = 120 − 100
    # Re-closing September gives the same lines: no second recalculation
    first = [(c.volume, c.recalculation, json.dumps(c.basis, sort_keys=True)) for c in charges.values()]
    close(world, month(9))
    db.session.expire_all()
    again = cw_charges(db, world, cw)
    assert [(c.volume, c.recalculation, json.dumps(c.basis, sort_keys=True)) for c in again.values()] == first
    assert db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=cw.id).count() == 4


def test_late_reading_for_a_past_month_settles_the_months_up_to_it(world, db, cw):
    meter = meter_with(db, world, {month(m): 100 + 10 * (m - 1) for m in range(1, 7)})
    for m in range(1, 9):
        close(world, month(m))  # Jul, Aug by the average: 10 + 10
    ReadingFactory(meter=meter, period=month(7), value=Decimal(154))  # handed in late for July
    db.session.commit()
    close(world, month(9))  # still no reading for September
    sep = cw_charges(db, world, cw)[month(9)]
    assert sep.basis["method"] == "average"
    assert sep.basis["recalculation"]["periods"] == ["2026-07-01"]
    assert sep.recalculation == money((Decimal(4) - 10) * TARIFF)  # July used 4 m³, not 10
    ReadingFactory(meter=meter, period=month(10), value=Decimal(190))
    db.session.commit()
    close(world, month(10))
    oct_ = cw_charges(db, world, cw)[month(10)]
    assert oct_.basis["recalculation"]["periods"] == ["2026-08-01", "2026-09-01"]
    assert billed_volume(cw_charges(db, world, cw).values()) == 90  # Jan..Oct = 190 − 100


def money(x):
    return billing.money(x)


def test_expired_verification_average_three_months_then_norm_with_coefficient(world, db, cw):
    """п. 59 «а»: verification ran out on 15.06 — readings from June are not used; the average for Jun–Aug,
    then the норматив × 1.5 (п. 60)."""
    meter_with(db, world, {month(m): 100 + 10 * (m - 1) for m in range(1, 10)},
               next_verification_on=date(Y, 6, 15))
    for m in range(5, 10):
        close(world, month(m))
    charges = cw_charges(db, world, cw)
    assert charges[month(5)].basis["method"] == "meter"
    for m in (6, 7, 8):
        assert charges[month(m)].basis["rule"] == "ПП 354 п. 59 «а»" and charges[month(m)].volume == 10
    sep = charges[month(9)]
    assert sep.basis["method"] == "norm" and sep.basis["rule"].startswith("ПП 354 п. 60")
    assert sep.volume == Decimal("11.7") and sep.basis["norm"]["factor"] == "1.5"
    assert sep.recalculation == 0  # readings of a faulty meter settle nothing


def test_non_residential_average_three_periods_then_norm(world, db, cw):
    world.p1.kind = PremisesKind.NON_RESIDENTIAL
    meter_with(db, world, {month(m): 100 + 10 * (m - 1) for m in range(1, 7)})
    for m in range(6, 11):
        close(world, month(m))
    charges = cw_charges(db, world, cw)
    assert [charges[month(m)].basis["method"] for m in range(7, 11)] == ["average"] * 3 + ["norm"]


def test_no_meter_norm_with_raising_factor_and_basis_contract(world, db, cw):
    close(world, month(3))
    c = cw_charges(db, world, cw)[month(3)]
    assert c.volume == Decimal("11.7") and c.basis["method"] == "norm_no_meter"  # 3.9 × 2 × 1.5
    assert c.basis["norm"] == {"value": "3.9", "unit": "м³ на чел.", "people": 2, "factor": "1.5"}
    assert set(c.basis) == {"rule", "method", "text", "meters", "norm", "common", "recalculation"}


def test_meter_line_basis(world, db, cw):
    meter_with(db, world, {month(2): 110, month(3): 112.345})
    close(world, month(3))
    c = cw_charges(db, world, cw)[month(3)]
    entry = c.basis["meters"][0]
    assert c.basis["rule"] == "ПП 354 п. 42, Прил. 2 ф. 1" and c.basis["method"] == "meter"
    assert entry["serial"] == "ВС-1" and entry["volume"] == "2.345" and entry["method"] == "meter"
    assert entry["previous"] == {"period": "2026-02-01", "value": "110.000"}
    assert entry["current"] == {"period": "2026-03-01", "value": "112.345"}
    assert c.basis["text"] == "По показаниям счётчика ВС-1: 112,345 − 110 = 2,345 м³."
    assert c.note == "по показаниям"


# --- водоотведение, heating, СОИ ------------------------------------------------------------------------------


def test_sewage_is_cold_plus_hot_water_with_its_own_tariff(world, db, cw):
    hw = add_service(db, world, "HW", "meter", "250", resource="hot_water", norm_per_person=Decimal("2.9"), order=2)
    sew = add_service(db, world, "SEW", "sewage", "40.10", order=3)
    meter_with(db, world, {month(2): 110, month(3): 115})
    world.p2.registered_residents = 1
    hot = MeterFactory(premises=world.p1, building_id=world.building.id, resource="hot_water", initial_value=0)
    ReadingFactory(meter=hot, period=month(2), value=Decimal(50))
    ReadingFactory(meter=hot, period=month(3), value=Decimal(53))
    db.session.commit()
    close(world, month(3))
    c = db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=sew.id, period=month(3)).one()
    assert (c.volume, c.amount) == (Decimal(8), Decimal("320.80"))  # (5 + 3) m³ × 40.10
    assert c.basis["method"] == "sewage"
    # p2 has no meters: водоотведение of the норматив volumes, without the raising coefficient
    c2 = db.session.query(Charge).filter_by(premises_id=world.p2.id, service_id=sew.id, period=month(3)).one()
    hw_p2 = db.session.query(Charge).filter_by(premises_id=world.p2.id, service_id=hw.id, period=month(3)).one()
    cw_p2 = db.session.query(Charge).filter_by(premises_id=world.p2.id, service_id=cw.id, period=month(3)).one()
    assert (cw_p2.volume, hw_p2.volume) == (Decimal("5.85"), Decimal("2.9"))  # 3.9 × 1 × 1.5; no coefficient on ГВС
    assert c2.volume == Decimal("6.8")  # 3.9 + 2.9: the raising coefficient does not apply to водоотведение


def test_heating_by_norm_and_by_house_meter(world, db, cw):
    heat = add_service(db, world, "HEAT", "heating", "3100.50", unit="Гкал", norm_per_m2=Decimal("0.0246"))
    close(world, month(1))
    c = db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=heat.id, period=month(1)).one()
    assert c.volume == Decimal("1.23") and c.amount == Decimal("3813.62")  # 50 × 0.0246 × 3 100,50
    assert c.basis["method"] == "heating_norm"
    heat.by_house_meter = True
    house = MeterFactory(premises=None, building_id=world.building.id, resource="heat", initial_value=0)
    ReadingFactory(meter=house, period=month(1), value=Decimal("1000"))
    ReadingFactory(meter=house, period=month(2), value=Decimal("1004.2"))
    db.session.commit()
    close(world, month(2))
    c = db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=heat.id, period=month(2)).one()
    assert c.volume == Decimal("2.1") and c.basis["method"] == "heating_house"  # 4.2 Гкал × 50 / 100 m²
    assert c.basis["common"]["house_volume"] == "4.200" and c.basis["common"]["total_area"] == "100.00"


def test_common_property_distributed_by_area_share(world, db, cw):
    world.building.common_area = Decimal("200")
    world.p2.registered_residents = world.p3.registered_residents = 0
    soi = add_service(db, world, "CW_SOI", "common", TARIFF, resource="cold_water", norm_per_m2=Decimal("0.05"),
                      by_house_meter=True, order=20)
    flat = meter_with(db, world, {month(2): 110, month(3): 118})  # p1: 8 m³
    house = MeterFactory(premises=None, building_id=world.building.id, resource="cold_water", initial_value=0)
    ReadingFactory(meter=house, period=month(2), value=Decimal(1000))
    ReadingFactory(meter=house, period=month(3), value=Decimal(1014))
    db.session.commit()
    close(world, month(3))

    def line(p):
        return db.session.query(Charge).filter_by(premises_id=p.id, service_id=soi.id, period=month(3)).one()

    # individual: p1 8 m³ by meter, p2 and p3 have 0 residents -> 0; house 14 m³: 6 m³ for common property
    assert line(world.p1).volume == Decimal("3")  # 6 × 50/100, below the cap 0.05 × 200 × 0.5 = 5
    assert line(world.p2).volume == Decimal("1.8") and line(world.p3).volume == Decimal("1.2")
    basis = line(world.p1).basis
    assert basis["method"] == "common_house" and basis["common"]["individual_volume"] == "8.000"
    assert basis["common"]["cap"] == "5.000" and basis["common"]["capped"] is False
    # A bigger house volume: capped at the норматив, unless the owners' meeting decided otherwise
    ReadingFactory(meter=house, period=month(4), value=Decimal(1040))
    ReadingFactory(meter=flat, period=month(4), value=Decimal(124))
    db.session.commit()
    close(world, month(4))
    p1 = db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=soi.id, period=month(4)).one()
    assert (p1.volume, p1.basis["common"]["capped"]) == (Decimal(5), True)  # 20 × 0.5 = 10 > 5
    world.building.soi_over_norm = True
    db.session.commit()
    close(world, month(4))
    p1 = db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=soi.id, period=month(4)).one()
    assert (p1.volume, p1.basis["common"]["capped"]) == (Decimal(10), False)


def test_common_property_without_house_meter_by_norm_and_warning_without_area(world, db, cw):
    soi = add_service(db, world, "EL_SOI", "common", "4.26", unit="кВт·ч", resource="electricity",
                      norm_per_m2=Decimal("0.9"), by_house_meter=True)
    report = close(world, month(3))
    assert not db.session.query(Charge).filter_by(service_id=soi.id).count()
    assert any("EL_SOI" in w for w in report.warnings)
    world.building.common_area = Decimal("150")
    db.session.commit()
    close(world, month(3))
    c = db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=soi.id, period=month(3)).one()
    assert c.volume == Decimal("67.5") and c.basis["method"] == "common_norm"  # 0.9 × 150 × 50/100
