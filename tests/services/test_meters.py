from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.models import AuditLog, Meter, Reading
from app.services import meters as svc
from app.services.errors import Invalid, NotAllowed
from tests.factories import MeterFactory, ReadingFactory

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def spec(**overrides):
    values = dict(resource="electricity", tariff="day_night", serial_number=" Э-777 ", place="щиток",
                  installed_on="2026-11-01", next_verification_on="01.11.2042", digits="6", initial_value="12,5")
    values.update(overrides)
    return svc.MeterSpec(**values)


def test_add_day_night_meter_creates_two_registers(world, db):
    registers = svc.meter_add(actor=world.staff, building=world.building, premises=world.p1, spec=spec())
    assert [(m.zone, m.serial_number, m.initial_value, m.digits) for m in registers] == [
        ("T1", "Э-777", Decimal("12.5"), 6), ("T2", "Э-777", Decimal("12.5"), 6)]
    assert registers[0].next_verification_on == date(2042, 11, 1)
    assert db.session.query(AuditLog).filter_by(action="meter_added").count() == 1


def test_add_building_meter(world, db):
    (odpu,) = svc.meter_add(actor=world.staff, building=world.building, premises=None,
                            spec=spec(resource="heat", tariff="single", digits="7"))
    assert odpu.premises_id is None and odpu.is_building_meter
    assert svc.building_meters(world.building) == [odpu]


def test_add_validation_reports_all_fields(world, db):
    with pytest.raises(Invalid) as info:
        svc.meter_add(actor=world.staff, building=world.building, premises=world.p1,
                      spec=spec(resource="water", tariff="x", serial_number="", digits="12",
                                next_verification_on="", installed_on="32.13.2026", initial_value="-1"))
    assert set(info.value.errors) == {"resource", "tariff", "serial_number", "digits", "next_verification_on",
                                      "installed_on", "initial_value"}
    assert db.session.query(Meter).count() == 0


def test_multi_zone_only_for_electricity_and_dates_ordered(world):
    with pytest.raises(Invalid, match="только счётчики электроэнергии"):
        svc.meter_add(actor=world.staff, building=world.building, premises=world.p1,
                      spec=spec(resource="cold_water"))
    with pytest.raises(Invalid, match="позже даты установки"):
        svc.meter_add(actor=world.staff, building=world.building, premises=world.p1,
                      spec=spec(next_verification_on="2026-10-01"))


@pytest.mark.parametrize("role", ["council", "owner", "rso", "staff_other"])
def test_only_uk_staff_manage_meters(world, role):
    with pytest.raises(NotAllowed):
        svc.meter_add(actor=world.by_role(role), building=world.building, premises=world.p1, spec=spec())


def test_replace_records_final_reading_archives_old_and_starts_new(world, db):
    old = MeterFactory(premises=world.p1, building_id=world.building.id, resource="cold_water", serial_number="OLD")
    ReadingFactory(meter=old, period=date(2026, 10, 1), value=Decimal("300"))
    db.session.commit()
    new = svc.meter_replace(actor=world.staff, meter=old, final_values={old.id: "304,5"}, now=NOW,
                            spec=spec(resource="cold_water", tariff="single", serial_number="NEW", digits="5",
                                      initial_value="0,001"))
    assert old.archived and old.archived_at == NOW
    assert (new[0].serial_number, new[0].initial_value, new[0].replaces_id) == ("NEW", Decimal("0.001"), old.id)
    final = db.session.query(Reading).filter_by(meter_id=old.id, period=date(2026, 11, 1)).one()
    assert (final.value, final.source) == (Decimal("304.5"), "staff")


def test_replace_with_bad_final_reading_changes_nothing(world, db):
    old = MeterFactory(premises=world.p1, building_id=world.building.id, resource="cold_water", serial_number="OLD")
    ReadingFactory(meter=old, period=date(2026, 10, 1), value=Decimal("300"))
    db.session.commit()
    with pytest.raises(Invalid) as info:
        svc.meter_replace(actor=world.staff, meter=old, final_values={old.id: "299"}, now=NOW,
                          spec=spec(resource="cold_water", tariff="single", serial_number="NEW", digits="5"))
    assert list(info.value.errors) == [f"final_{old.id}"]
    db.session.expire_all()
    assert not db.session.get(Meter, old.id).archived
    assert db.session.query(Meter).count() == 1


def test_archive_takes_all_registers_of_the_device(world, db):
    t1, t2 = svc.meter_add(actor=world.staff, building=world.building, premises=world.p1, spec=spec())
    svc.meter_archive(actor=world.staff, meter=t2, now=NOW)
    assert t1.archived and t2.archived
    assert svc.premises_meters(world.p1) == []
    assert len(svc.premises_meters(world.p1, include_archived=True)) == 2
