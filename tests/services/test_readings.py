"""Meter readings rules (DOMAIN.md «Meter readings», ПП 354), tested without HTTP."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.extensions import db as _db
from app.models import Meter, OutboxMessage, Reading, ReadingRevision, ReadingSubmission, User
from app.services import readings as svc
from app.services.errors import Conflict, Invalid, Locked, NotAllowed
from app.services.periods import window_for, window_state
from tests.factories import MeterFactory, ReadingFactory

NOV = date(2026, 11, 1)
OCT = date(2026, 10, 1)
# 22 November 2026, 12:00 in Chita (UTC+9): inside the default 20–25 window.
IN_WINDOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
AFTER_WINDOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 26 Nov 00:00 Chita


@pytest.fixture
def meters(world, db):
    """The owner's кв. 1: cold water with six months of history, and a day/night electricity meter."""
    water = MeterFactory(premises=world.p1, building_id=world.building.id, resource="cold_water",
                         serial_number="ВС-1", next_verification_on=date(2030, 1, 1))
    t1 = MeterFactory(premises=world.p1, building_id=world.building.id, resource="electricity", zone="T1",
                      serial_number="Э-1", digits=6)
    t2 = MeterFactory(premises=world.p1, building_id=world.building.id, resource="electricity", zone="T2",
                      serial_number="Э-1", digits=6)
    for i, value in enumerate(["100", "104", "108", "112", "116", "120"]):  # 4 m³ a month, May..October
        ReadingFactory(meter=water, period=date(2026, 5 + i, 1), value=Decimal(value))
    ReadingFactory(meter=t1, period=OCT, value=Decimal("5000"))
    ReadingFactory(meter=t2, period=OCT, value=Decimal("2000"))
    db.session.commit()
    return water, t1, t2


def submit(world, values, **kw):
    return svc.reading_submit(actor=world.owner, premises=world.p1, values=values, now=kw.pop("now", IN_WINDOW), **kw)


# --- window ----------------------------------------------------------------------------------------------


def test_default_window_is_20th_to_25th_in_chita_time(world):
    w = window_for(world.building, NOV)
    assert (w.first_day, w.last_day) == (date(2026, 11, 20), date(2026, 11, 25))
    assert w.opens_at == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)  # 20 Nov 00:00 UTC+9
    assert w.closes_at == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 26 Nov 00:00 UTC+9
    assert not w.contains(w.opens_at - timedelta(seconds=1))
    assert w.contains(w.opens_at) and w.contains(w.closes_at - timedelta(seconds=1))
    assert not w.contains(w.closes_at)


def test_window_state_open_closed_next(world):
    state = window_state(world.building, IN_WINDOW)
    assert state.is_open and state.period == NOV
    after = window_state(world.building, AFTER_WINDOW)
    assert not after.is_open and after.window.period == date(2026, 12, 1) and after.period == NOV
    before = window_state(world.building, datetime(2026, 11, 10, tzinfo=UTC))
    assert not before.is_open and before.window.period == NOV and before.period == OCT


def test_window_per_organisation_and_building_override(world, db):
    world.uk.settings = {"reading_window": {"start_day": 15, "end_day": 26}}
    db.session.commit()
    assert (window_for(world.building, NOV).first_day.day, window_for(world.building, NOV).last_day.day) == (15, 26)
    world.building.reading_start_day, world.building.reading_end_day = 1, 10
    assert window_for(world.building, NOV).last_day == date(2026, 11, 10)


# --- value parsing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("123,456", "123.456"), (" 1 234,5 ", "1234.5"), ("007", "7"), ("0", "0")])
def test_parse_value_accepts(raw, value):
    assert svc.parse_value(raw, Meter(digits=5), "f") == Decimal(value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("", "Введите показание"), ("-5", "отрицательным"), ("12a", "Введите число"), ("1,2345", "трёх знаков"),
     ("123456", "не больше 5 цифр"), ("1.2.3", "Введите число")],
)
def test_parse_value_rejects(raw, message):
    with pytest.raises(Invalid, match=message):
        svc.parse_value(raw, Meter(digits=5), "f")


# --- owner submission ------------------------------------------------------------------------------------


def test_owner_submits_and_gets_a_confirmation(world, meters, db):
    water, t1, t2 = meters
    result = submit(world, {water.id: "124,5", t1.id: "5100", t2.id: ""})
    sub = db.session.query(ReadingSubmission).one()
    assert result.submission.number == sub.number and len(sub.number) == 13
    assert sub.values == {str(water.id): "124.5", str(t1.id): "5100"}
    assert sub.at == IN_WINDOW and sub.period == NOV
    reading = db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one()
    assert (reading.value, reading.source, reading.entered_by_id) == (Decimal("124.5"), "owner", world.owner.id)
    assert {line.meter.id: line.consumption for line in result.lines} == {water.id: Decimal("4.5"),
                                                                          t1.id: Decimal("100")}
    assert db.session.query(Reading).filter_by(meter_id=t2.id, period=NOV).count() == 0
    revision = db.session.query(ReadingRevision).filter_by(meter_id=water.id).one()
    assert (revision.old_value, revision.new_value, revision.actor_role) == (None, Decimal("124.5"), "owner")


def test_confirmation_email_goes_to_the_outbox(world, meters, db):
    water, *_ = meters
    result = submit(world, {water.id: "121"})
    message = db.session.query(OutboxMessage).one()
    assert message.to_address == "owner@example.ru"
    assert result.submission.number in message.subject and result.submission.number in message.body_text
    assert "121" in message.body_text
    world.owner.email = None
    db.session.commit()
    submit(world, {water.id: "122"})
    assert db.session.query(OutboxMessage).count() == 1


def test_zero_consumption_is_allowed(world, meters):
    water, *_ = meters
    submit(world, {water.id: "120"})


def test_lower_than_previous_is_refused_with_a_hint(world, meters, db):
    water, *_ = meters
    with pytest.raises(Invalid) as info:
        submit(world, {water.id: "119,999"})
    assert "Меньше предыдущего" in info.value.errors[f"m{water.id}"]
    assert "заменили" in info.value.errors[f"m{water.id}"]


def test_all_or_nothing(world, meters, db):
    water, t1, _ = meters
    with pytest.raises(Invalid) as info:
        submit(world, {water.id: "125", t1.id: "4999"})
    assert list(info.value.errors) == [f"m{t1.id}"]
    assert db.session.query(Reading).filter_by(period=NOV).count() == 0
    assert db.session.query(ReadingSubmission).count() == 0


def test_nothing_typed(world, meters):
    with pytest.raises(Invalid, match="хотя бы одного"):
        submit(world, {})


def test_spike_asks_for_confirmation_then_accepts(world, meters, db):
    water, *_ = meters
    with pytest.raises(svc.NeedsConfirmation) as info:
        submit(world, {water.id: "150"})  # 30 m³ against a usual 4 m³ and a 10 m³ floor
    assert "намного больше обычного" in info.value.errors[f"m{water.id}"]
    assert db.session.query(Reading).filter_by(period=NOV).count() == 0
    submit(world, {water.id: "150"}, confirmed={water.id})
    assert db.session.query(Reading).filter_by(period=NOV).one().value == Decimal("150")


def test_spike_floor_keeps_small_usage_quiet(world, meters):
    water, *_ = meters
    submit(world, {water.id: "129"})  # 9 m³: more than 3 × 4 would be 12; under the 10 m³ floor anyway


def test_no_history_uses_three_times_the_floor(world, meters):
    _, t1, _ = meters
    assert not svc.is_spike(t1, NOV, Decimal("1000"))
    assert svc.is_spike(t1, NOV, Decimal("1201"))


def test_outside_the_window_is_locked(world, meters):
    water, *_ = meters
    with pytest.raises(Locked, match="Приём показаний закрыт.*20.12.2026 по 25.12.2026"):
        submit(world, {water.id: "125"}, now=AFTER_WINDOW)


def test_only_an_owner_of_the_premises(world, meters):
    water, *_ = meters
    for actor in (world.neighbour, world.staff, world.council):
        with pytest.raises(NotAllowed):
            svc.reading_submit(actor=actor, premises=world.p1, values={water.id: "125"}, now=IN_WINDOW)


def test_expired_verification_refused_for_owner_recorded_by_staff_not_for_billing(world, meters, db):
    water, *_ = meters
    water.next_verification_on = date(2026, 11, 1)
    db.session.commit()
    with pytest.raises(Invalid, match="Срок поверки счётчика истёк 01.11.2026"):
        submit(world, {water.id: "125"})
    result = svc.reading_enter(actor=world.staff, meter=water, period=NOV, value="125", expected_version=None,
                               now=IN_WINDOW)
    assert result.not_for_billing
    assert db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one().not_for_billing


def test_owner_corrects_own_reading_while_window_is_open(world, meters, db):
    water, *_ = meters
    submit(world, {water.id: "125"})
    submit(world, {water.id: "124"})
    assert db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one().value == Decimal("124")
    revisions = db.session.query(ReadingRevision).filter_by(meter_id=water.id).order_by(ReadingRevision.id).all()
    assert [(r.old_value, r.new_value) for r in revisions] == [(None, Decimal("125")), (Decimal("125"), Decimal("124"))]
    assert db.session.query(ReadingSubmission).count() == 2


def test_stale_owner_form_conflicts(world, meters, db):
    water, *_ = meters
    submit(world, {water.id: "125"})
    with pytest.raises(Conflict, match="сейчас 125"):
        submit(world, {water.id: "126"}, versions={water.id: None})  # the form was loaded before the first save


# --- the lock rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["council", "staff"])
def test_council_or_staff_entry_locks_the_owner(world, meters, db, role):
    water, t1, _ = meters
    svc.readings_enter_bulk(actor=world.by_role(role), period=NOV, values={water.id: Decimal("120.5")},
                            now=IN_WINDOW)
    with pytest.raises(Locked) as info:
        submit(world, {water.id: "130", t1.id: "5100"})
    message = info.value.errors[f"m{water.id}"]
    who = "советом дома" if role == "council" else "управляющей организацией"
    assert who in message and "22.11.2026 12:00" in message and "через управляющую организацию" in message
    assert db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one().value == Decimal("120.5")
    assert db.session.query(Reading).filter_by(meter_id=t1.id, period=NOV).count() == 0  # all or nothing
    # Other registers stay open for the owner.
    submit(world, {t1.id: "5100"})


def test_staff_entry_over_owner_reading_locks_it(world, meters, db):
    water, *_ = meters
    submit(world, {water.id: "125"})
    reading = db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one()
    svc.reading_enter(actor=world.council, meter=water, period=NOV, value="124", expected_version=reading.version,
                      now=IN_WINDOW)
    with pytest.raises(Locked):
        submit(world, {water.id: "126"})


# --- council / staff entry -------------------------------------------------------------------------------


def test_entry_sources_and_revisions(world, meters, db):
    water, t1, _ = meters
    svc.reading_enter(actor=world.council, meter=water, period=NOV, value="121", expected_version=None, now=IN_WINDOW)
    reading = db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one()
    assert reading.source == "council"
    svc.reading_enter(actor=world.staff, meter=water, period=NOV, value="122", expected_version=reading.version,
                      now=IN_WINDOW)
    _db.session.refresh(reading)
    assert (reading.source, reading.value, reading.version) == ("staff", Decimal("122"), 2)
    roles = [r.actor_role for r in db.session.query(ReadingRevision).filter_by(meter_id=water.id)
             .order_by(ReadingRevision.id)]
    assert roles == ["council", "staff"]


@pytest.mark.parametrize("role", ["owner", "neighbour", "rso", "staff_other", "operator"])
def test_entry_refused_outside_scope(world, meters, role):
    water, *_ = meters
    with pytest.raises(NotAllowed):
        svc.reading_enter(actor=world.by_role(role), meter=water, period=NOV, value="121", expected_version=None,
                          now=IN_WINDOW)


def test_council_of_another_building_cannot_enter(world, db):
    meter = MeterFactory(premises=world.p_b2, building_id=world.building2.id)
    db.session.commit()
    with pytest.raises(NotAllowed):
        svc.reading_enter(actor=world.council, meter=meter, period=NOV, value="1", expected_version=None,
                          now=IN_WINDOW)


def test_entry_validation(world, meters, db):
    water, *_ = meters
    with pytest.raises(Invalid, match="будущий"):
        svc.reading_enter(actor=world.staff, meter=water, period=date(2026, 12, 1), value="125",
                          expected_version=None, now=IN_WINDOW)
    with pytest.raises(Invalid, match="Меньше предыдущего"):
        svc.reading_enter(actor=world.staff, meter=water, period=NOV, value="119", expected_version=None,
                          now=IN_WINDOW)
    # A past period must not exceed the following one.
    with pytest.raises(Invalid, match="Больше показания за октябрь 2026"):
        svc.reading_enter(actor=world.staff, meter=water, period=date(2026, 9, 1), value="121",
                          expected_version=1, now=IN_WINDOW)


def test_stale_grid_value_conflicts_and_shows_current(world, meters, db):
    water, *_ = meters
    svc.reading_enter(actor=world.council, meter=water, period=NOV, value="121", expected_version=None,
                      now=IN_WINDOW)
    with pytest.raises(Conflict, match="сейчас 121 \\(совет дома"):
        svc.reading_enter(actor=world.staff, meter=water, period=NOV, value="122", expected_version=None,
                          now=IN_WINDOW)
    assert _db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one().value == Decimal("121")


def test_bulk_entry_is_all_or_nothing(world, meters, db):
    water, t1, _ = meters
    with pytest.raises(Invalid) as info:
        svc.readings_enter_bulk(actor=world.staff, period=NOV, values={water.id: "121", t1.id: "1"}, now=IN_WINDOW)
    assert list(info.value.errors) == [f"m{t1.id}"]
    assert db.session.query(Reading).filter_by(period=NOV).count() == 0


# --- board, history ----------------------------------------------------------------------------------------


def test_board_statuses_and_progress(world, meters, db):
    water, t1, t2 = meters
    other = MeterFactory(premises=world.p2, building_id=world.building.id)
    db.session.commit()
    submit(world, {water.id: "121", t1.id: "5001"})
    rows = svc.board_rows(world.building, NOV)
    assert [(r.premises.number, r.status) for r in rows] == [("1", "partial"), ("2", "missing"), ("3", "none")]
    submit(world, {t2.id: "2001"})
    svc.reading_enter(actor=world.council, meter=other, period=NOV, value="5", expected_version=None, now=IN_WINDOW)
    rows = svc.board_rows(world.building, NOV)
    total, entrances = svc.board_progress(rows)
    assert (total.done, total.total, total.percent) == (2, 2, 100)
    assert [(e.entrance, e.done, e.total) for e in entrances] == [(1, 2, 2)]


def test_board_for_a_supplier_shows_only_its_resources(world, meters):
    rows = svc.board_rows(world.building, NOV, resources={"cold_water"})
    assert [line.meter.resource for line in rows[0].lines] == ["cold_water"]


def test_history_with_consumption_and_chart(world, meters):
    water, *_ = meters
    points = svc.meter_history(water, until=NOV)
    assert [p.period.month for p in points] == [5, 6, 7, 8, 9, 10]
    assert points[0].consumption is None and points[1].consumption == Decimal("4")
    bars = svc.history_chart(points)
    assert len(bars) == 5 and all(b.height == 80 for b in bars)
    assert svc.usual_consumption(water, NOV) == Decimal("4")


def test_history_is_limited_to_24_months(world, db):
    meter = MeterFactory(premises=world.p1, building_id=world.building.id)
    for i in range(30):
        ReadingFactory(meter=meter, period=date(2024 + (i + 5) // 12, (i + 5) % 12 + 1, 1), value=Decimal(i * 3))
    db.session.commit()
    points = svc.meter_history(meter, until=NOV)
    assert len(points) == 24 and points[-1].period == NOV and points[0].consumption == Decimal(3)


# --- concurrency (PostgreSQL) --------------------------------------------------------------------------------


def _parallel(app, n, work):
    barrier = threading.Barrier(n)
    outcomes = []

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                work(i)
                outcomes.append("ok")
            except Conflict as error:
                outcomes.append(("conflict", error.message))
            except Exception as error:  # pragma: no cover - reported by the assertion below
                outcomes.append(("error", repr(error)))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes




@pytest.fixture
def postgres_only(db):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it with TEST_DATABASE_URL)")


def test_20_parallel_owner_submissions_one_row_losers_conflict(app, world, meters, postgres_only):
    water, *_ = meters
    owner_id, premises_id = world.owner.id, world.p1.id

    def work(i):
        from app.models import Premises

        owner, premises = _db.session.get(User, owner_id), _db.session.get(Premises, premises_id)
        svc.reading_submit(actor=owner, premises=premises, values={water.id: str(121 + i)},
                           versions={water.id: None}, confirmed={water.id}, now=IN_WINDOW)

    outcomes = _parallel(app, 20, work)
    assert outcomes.count("ok") == 1, outcomes
    assert all(o == "ok" or (o[0] == "conflict" and ("Обновите страницу" in o[1] or "изменили" in o[1]))
               for o in outcomes), outcomes
    _db.session.expire_all()
    assert _db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).count() == 1
    assert _db.session.query(ReadingRevision).filter_by(meter_id=water.id, period=NOV).count() == 1
    assert _db.session.query(ReadingSubmission).count() == 1


@pytest.mark.parametrize("start_version", [None, 1])
def test_20_parallel_grid_saves_no_lost_update(app, world, meters, postgres_only, start_version):
    water, *_ = meters
    if start_version:
        svc.reading_enter(actor=world.staff, meter=water, period=NOV, value="121", expected_version=None,
                          now=IN_WINDOW)
    staff_id = world.staff.id

    def work(i):
        staff = _db.session.get(User, staff_id)
        meter = _db.session.get(Meter, water.id)
        svc.reading_enter(actor=staff, meter=meter, period=NOV, value=str(122 + i), expected_version=start_version,
                          now=IN_WINDOW)

    outcomes = _parallel(app, 20, work)
    assert outcomes.count("ok") == 1, outcomes
    assert sum(1 for o in outcomes if o != "ok" and o[0] == "conflict") == 19, outcomes
    _db.session.expire_all()
    reading = _db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one()
    revisions = _db.session.query(ReadingRevision).filter_by(meter_id=water.id, period=NOV).order_by(
        ReadingRevision.id).all()
    assert revisions[-1].new_value == reading.value  # the winner's value is the stored one
    assert len(revisions) == (2 if start_version else 1)


def test_home_attention_for_readings(world, meters, db):
    from app.services.home import attention_items

    water, *_ = meters
    world.p1.actual_residents = 2
    world.owner.phone = "+79141234567"
    water.next_verification_on = date(2026, 12, 20)
    db.session.commit()
    texts = [a.text for a in attention_items(world.owner, world.p1, now=IN_WINDOW)]
    assert texts == ["Передайте показания счётчиков до 25.11.2026 включительно.",
                     "Поверка счётчика «Холодная вода» — до 20.12.2026."]
    assert [a.text for a in attention_items(world.owner, world.p1, now=AFTER_WINDOW)] == texts[1:]
