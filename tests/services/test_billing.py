"""Charges and statements: computation rules (the receipt itself: tests/services/test_receipts.py)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.models import Charge, OpeningBalance, Payment, Service, Statement, Tariff
from app.models.billing import KeyRate, PenaltyRule
from app.services import billing
from app.services.errors import Conflict, Invalid, NotAllowed
from tests.factories import MeterFactory, ReadingFactory

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
CLOSE_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 1 Dec, 09:00 in Chita


def service(world, code, name, unit, method, rate, *, resource=None, zone=None, norm=None, order=0,
            since=date(2026, 1, 1)):
    s = Service(organisation_id=world.uk.id, code=code, name=name, unit=unit, method=method, resource=resource,
                zone=zone, norm_per_person=Decimal(norm) if norm else None, sort_order=order)
    s.tariffs = [Tariff(valid_from=since, rate=Decimal(rate))]
    return s


@pytest.fixture
def tariffs(world, db):
    services = [
        service(world, "MAINT", "Содержание жилого помещения", "м²", "area", "30.15", order=1),
        service(world, "CW", "Холодное водоснабжение", "м³", "meter", "48.72", resource="cold_water", norm="3.9",
                order=2),
        service(world, "EL", "Электроэнергия", "кВт·ч", "meter", "4.26", resource="electricity", norm="100", order=3),
        service(world, "EL1", "Электроэнергия, день", "кВт·ч", "meter", "4.90", resource="electricity", zone="T1",
                norm="70", order=4),
        service(world, "TKO", "Обращение с ТКО", "чел.", "residents", "176.70", order=5),
        service(world, "DOOR", "Домофон", "шт.", "fixed", "55", order=6),
    ]
    db.session.add_all(services)
    world.p1.registered_residents = 2
    world.p1.total_area = Decimal("48.60")
    db.session.commit()
    return {s.code: s for s in services}


@pytest.fixture
def water(world, db):
    meter = MeterFactory(premises=world.p1, building_id=world.building.id, resource="cold_water",
                         serial_number="ВС-1")
    for month, value in [(4, 100), (5, 104), (6, 108), (7, 112), (8, 116), (9, 120), (10, 125)]:
        ReadingFactory(meter=meter, period=date(2026, month, 1), value=Decimal(value))
    db.session.commit()
    return meter


def lines_by_code(world, period, readings_meter=None):
    from app.services.billing import _readings_by_meter, _services, compute_lines

    meters = [readings_meter] if readings_meter else []
    readings = _readings_by_meter([m.id for m in meters], period)
    return {line.service.code: line for line in compute_lines(world.p1, period, _services(world.uk.id), meters,
                                                               readings)}


def test_methods_area_residents_fixed_and_meter(world, tariffs, water):
    lines = lines_by_code(world, OCT, water)
    assert (lines["MAINT"].volume, lines["MAINT"].amount) == (Decimal("48.60"), Decimal("1465.29"))  # 1465.29
    assert (lines["TKO"].volume, lines["TKO"].amount) == (Decimal(2), Decimal("353.40"))
    assert lines["DOOR"].amount == Decimal("55.00")
    assert (lines["CW"].volume, lines["CW"].amount, lines["CW"].note) == (Decimal(5), Decimal("243.60"),
                                                                          "по показаниям")
    # No electricity meter: the single-rate service by the норматив; the day-rate service does not apply.
    assert lines["EL"].volume == Decimal(200) and "норматив 100 × 2 чел." in lines["EL"].note
    assert "EL1" not in lines


def test_zoned_meter_takes_zoned_service_only(world, tariffs, db):
    t1 = MeterFactory(premises=world.p1, building_id=world.building.id, resource="electricity", zone="T1")
    ReadingFactory(meter=t1, period=date(2026, 9, 1), value=Decimal(1000))
    ReadingFactory(meter=t1, period=OCT, value=Decimal(1150))
    db.session.commit()
    lines = lines_by_code(world, OCT, t1)
    assert "EL" not in lines and lines["EL1"].volume == Decimal(150)


def test_actual_residents_count_when_more(world, tariffs):
    world.p1.actual_residents = 4
    assert lines_by_code(world, OCT)["TKO"].volume == Decimal(4)
    world.p1.actual_residents = 1
    assert lines_by_code(world, OCT)["TKO"].volume == Decimal(2)


def test_missing_readings_average_for_six_periods_then_norm(world, tariffs, water):
    """ПП 354 п. 59 «б» (residential): the average for up to 6 periods in a row, then the норматив (п. 60)."""
    # Average of the last 6 months before the gap: (125 - 100) / 6 = 4.1666… -> 4.167 m³
    for n in range(1, 7):
        line = lines_by_code(world, date(2026, 10 + n, 1) if n <= 2 else date(2027, n - 2, 1), water)["CW"]
        assert f"по среднему ({n}-й" in line.note
        assert line.volume == Decimal("4.167")
        assert line.basis["rule"] == "ПП 354 п. 59 «б»" and line.basis["method"] == "average"
    seventh = lines_by_code(world, date(2027, 5, 1), water)["CW"]
    assert seventh.note.startswith("по нормативу 3,9 × 2 чел.") and seventh.volume == Decimal("7.8")
    assert seventh.basis["method"] == "norm" and seventh.basis["norm"]["factor"] is None  # «б»: no coefficient


def test_average_needs_three_months_of_history(world, tariffs, db):
    meter = MeterFactory(premises=world.p1, building_id=world.building.id, resource="cold_water")
    ReadingFactory(meter=meter, period=date(2026, 8, 1), value=Decimal(10))
    ReadingFactory(meter=meter, period=date(2026, 9, 1), value=Decimal(14))
    db.session.commit()
    assert lines_by_code(world, OCT, meter)["CW"].note.startswith("по нормативу")


def test_reading_of_expired_meter_is_not_used(world, tariffs, water, db):
    from app.models import Reading

    r = db.session.query(Reading).filter_by(meter_id=water.id, period=OCT).one()
    r.not_for_billing = True
    db.session.commit()
    assert lines_by_code(world, OCT, water)["CW"].note.startswith("по среднему (1-й")


def test_rounding_to_kopecks_half_up(world, tariffs, db):
    tariffs["MAINT"].tariffs[0].rate = Decimal("0.0625")
    world.p1.total_area = Decimal("0.08")  # 0.005 ₽ -> 0.01
    assert lines_by_code(world, OCT)["MAINT"].amount == Decimal("0.01")
    assert billing.money(Decimal("2.675")) == Decimal("2.68")


def test_tariff_by_validity(world, tariffs, db):
    cw = tariffs["CW"]
    cw.tariffs[0].valid_to = date(2026, 6, 30)
    cw.tariffs.append(Tariff(valid_from=date(2026, 7, 1), rate=Decimal("50")))
    db.session.commit()
    assert billing.tariff_for(cw, date(2026, 6, 1)) == Decimal("48.72")
    assert billing.tariff_for(cw, OCT) == Decimal("50")
    assert billing.tariff_for(cw, date(2025, 12, 1)) is None


def test_close_period_statements_and_payments(world, tariffs, water, db):
    db.session.add(OpeningBalance(premises_id=world.p1.id, period=OCT, amount=Decimal("1000.00")))
    db.session.add(Payment(premises_id=world.p1.id, paid_on=date(2026, 10, 5), amount=Decimal("1000.00")))
    db.session.commit()
    report = billing.period_close(actor=world.staff, building=world.building, period=OCT, now=CLOSE_AT)
    s = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one()
    expected = Decimal("1465.29") + Decimal("243.60") + Decimal("852.00") + Decimal("353.40") + Decimal("55.00")
    assert (s.opening_balance, s.charged, s.paid, s.penalty) == (Decimal("1000.00"), expected, Decimal("1000.00"), 0)
    # ЖК РФ ст. 155 ч. 1 (from 01.03.2026): by the 15th; 15.11.2026 is a Sunday, so Monday (ГК РФ ст. 193)
    assert s.amount_due == expected and s.due_date == date(2026, 11, 16)
    assert report.premises == 3 and db.session.query(Charge).filter_by(premises_id=world.p1.id).count() == 5
    # November: half of October paid in November; the rest is debt, no пени yet (not a month overdue).
    db.session.add(Payment(premises_id=world.p1.id, paid_on=date(2026, 11, 9), amount=Decimal("1000.00")))
    db.session.commit()
    billing.period_close(actor=world.staff, building=world.building, period=NOV,
                         now=datetime(2027, 1, 1, tzinfo=UTC))
    n = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=NOV).one()
    assert n.opening_balance == expected and n.paid == Decimal("1000.00") and n.penalty == 0
    assert n.amount_due == n.opening_balance + n.charged - n.paid
    assert [paid for _, paid in billing.premises_statements(world.p1)] == [False, False]


def test_penalty_on_debt_older_than_a_month(world, tariffs, db):
    # ЖК РФ ст. 155 ч. 14: пени from the 31st day after the due date, not from the first day of the month.
    db.session.add(KeyRate(valid_from=date(2025, 12, 22), rate=Decimal("16.00"), source="test"))
    db.session.add(PenaltyRule(valid_from=date(2025, 1, 1), valid_to=date(2026, 12, 31), mode="capped",
                               fixed_rate=Decimal("9.5"), citation="ПП РФ № 474 (ред. ПП № 329)"))
    db.session.add(OpeningBalance(premises_id=world.p1.id, period=OCT, amount=Decimal("10000.00")))
    db.session.commit()
    billing.period_close(actor=world.staff, building=world.building, period=OCT, now=CLOSE_AT)
    s = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one()
    # the opening debt counts as September's, due 15.10.2026: its 31st day is 15.11.2026
    assert s.penalty == 0
    billing.period_close(actor=world.staff, building=world.building, period=NOV, now=datetime(2027, 1, 1, tzinfo=UTC))
    n = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=NOV).one()
    assert n.penalty == Decimal("50.67")  # 10 000 × 9.5 % / 300 × 16 days (15–30.11)


def test_reclosing_replaces_charges_and_imported_period_is_refused(world, tariffs, db):
    billing.period_close(actor=world.staff, building=world.building, period=OCT, now=CLOSE_AT)
    tariffs["DOOR"].tariffs[0].rate = Decimal("60")
    db.session.commit()
    billing.period_close(actor=world.staff, building=world.building, period=OCT, now=CLOSE_AT)
    door = db.session.query(Charge).filter_by(premises_id=world.p1.id, service_id=tariffs["DOOR"].id).one()
    assert door.amount == Decimal("60.00")
    door.source = "import"
    db.session.commit()
    with pytest.raises(Conflict, match="загружены"):
        billing.period_close(actor=world.staff, building=world.building, period=OCT, now=CLOSE_AT)


def test_close_permissions_and_future(world, tariffs):
    for role in ("council", "owner", "staff_other", "rso"):
        with pytest.raises(NotAllowed):
            billing.period_close(actor=world.by_role(role), building=world.building, period=OCT, now=CLOSE_AT)
    with pytest.raises(Invalid):
        billing.period_close(actor=world.staff, building=world.building, period=date(2026, 12, 1), now=CLOSE_AT)
    # three years back is the limit (ГК РФ ст. 196): December 2023 closes, November 2023 and 1900 do not
    billing.period_close(actor=world.staff, building=world.building, period=date(2023, 12, 1), now=CLOSE_AT)
    for old in (date(2023, 11, 1), date(1900, 1, 1)):
        with pytest.raises(Invalid, match="не старше трёх лет"):
            billing.period_close(actor=world.staff, building=world.building, period=old, now=CLOSE_AT)


def test_current_debt_and_paid_flag(world, tariffs, db):
    billing.period_close(actor=world.staff, building=world.building, period=OCT, now=CLOSE_AT)
    s = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one()
    assert billing.current_debt(world.p1, date(2026, 12, 2)) == s.amount_due
    db.session.add(Payment(premises_id=world.p1.id, paid_on=date(2026, 12, 3), amount=s.amount_due))
    db.session.commit()
    assert billing.current_debt(world.p1, date(2026, 12, 4)) == 0
    assert billing.premises_statements(world.p1)[0][1] is True
