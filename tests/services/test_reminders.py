"""Reminders: readings (mailing, needs email consent) and verification (service message), deduplicated."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.models import OutboxMessage
from app.models.audit import ConsentChannel
from app.services import profile
from app.services.periods import TZ, window_for
from app.services.reminders import reading_stage, reminders_enqueue, verification_stage
from tests import factories as F

NOV = date(2026, 11, 1)


def chita(day: int, hour: int = 10, month: int = 11) -> datetime:
    """A moment of November 2026 in Chita, as UTC (what the services get)."""
    return datetime(2026, month, day, hour, 0, tzinfo=TZ).astimezone(UTC)


def consent(user, give: bool = True, at: datetime | None = None):
    profile.consents_set(actor=user, wanted={ConsentChannel.EMAIL: give}, text_version="v1",
                         now=at or chita(1))


@pytest.fixture
def meters(world, db):
    m = SimpleNamespace(
        cold1=F.MeterFactory(premises=world.p1, resource="cold_water", serial_number="ВС100001"),
        hot1=F.MeterFactory(premises=world.p1, resource="hot_water", serial_number="ГВ100002"),
        b2=F.MeterFactory(premises=world.p_b2, resource="cold_water", serial_number="ВС700007"),
        cold2=F.MeterFactory(premises=world.p2, resource="cold_water", serial_number="ВС200002"),
    )
    world.neighbour.email = "neighbour@example.ru"
    db.session.commit()
    consent(world.owner)
    return m


def outbox(db, prefix: str = "") -> list[OutboxMessage]:
    return [m for m in db.session.query(OutboxMessage).order_by(OutboxMessage.id) if m.dedupe_key.startswith(prefix)]


def reading_mail(db) -> list[OutboxMessage]:
    return outbox(db, "reading-reminder:")


# ---------------------------------------------------------------------------------------------------------
# Reading reminders
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "stage"),
    [(19, None), (20, None), (22, None), (23, "soon"), (24, "soon"), (25, "last"), (26, None)],
)
def test_reading_stage_in_the_default_window(world, day, stage):
    assert reading_stage(window_for(world.building, NOV), date(2026, 11, day)) == stage


def test_short_window_reminds_only_inside_it(world, db):
    world.building.reading_start_day, world.building.reading_end_day = 24, 25
    window = window_for(world.building, NOV)
    assert [reading_stage(window, date(2026, 11, d)) for d in (23, 24, 25)] == [None, "soon", "last"]


def test_owner_is_reminded_three_days_before_close_with_what_is_missing(world, meters, db, app):
    F.ReadingFactory(meter=meters.hot1, period=NOV, value=Decimal("10"), source="owner")
    db.session.commit()
    report = reminders_enqueue(now=chita(23))
    (mail,) = reading_mail(db)
    assert report.readings == 1 and mail.to_address == "owner@example.ru"
    assert mail.subject == "Передайте показания счётчиков до 25.11.2026 включительно"
    text = mail.body_text
    assert "заканчивается 25.11.2026 включительно (осталось дней: 3)" in text
    assert "ВС100001" in text and "ГВ100002" not in text  # the submitted one is not asked for
    assert "г. Чита, ул. Ленина, д. 1, кв. 1" in text and "ВС700007" in text  # both of the owner's premises
    assert "http://localhost/readings/" in text
    assert "дали согласие на рассылки" in text and "Мой профиль → Уведомления и рассылки" in text
    assert 'href="http://localhost/profile/"' in mail.body_html and "ВС100001" in mail.body_html
    assert world.neighbour.email not in {m.to_address for m in reading_mail(db)}  # no consent given


def test_last_day_reminder_and_nothing_between(world, meters, db):
    for day in (20, 21, 22):
        reminders_enqueue(now=chita(day))
    assert reading_mail(db) == []
    reminders_enqueue(now=chita(23))
    reminders_enqueue(now=chita(24))
    assert len(reading_mail(db)) == 1
    reminders_enqueue(now=chita(25, 9))
    last = reading_mail(db)[-1]
    assert len(reading_mail(db)) == 2
    assert last.subject == "Сегодня последний день приёма показаний (25.11.2026)"
    assert "Сегодня, 25.11.2026, последний день приёма показаний счётчиков за ноябрь 2026" in last.body_text
    reminders_enqueue(now=chita(26))
    assert len(reading_mail(db)) == 2


def test_a_missed_run_catches_up_the_next_day(world, meters, db):
    reminders_enqueue(now=chita(24))
    (mail,) = reading_mail(db)
    assert "осталось дней: 2" in mail.body_text


def test_running_twice_queues_nothing_twice(world, meters, db):
    first = reminders_enqueue(now=chita(23, 9))
    second = reminders_enqueue(now=chita(23, 18))
    assert first.readings == 1 and second.readings == 0 and second.already_queued == 1
    assert len(reading_mail(db)) == 1


def test_dates_are_chita_dates(world, meters, db):
    reminders_enqueue(now=datetime(2026, 11, 22, 14, 30, tzinfo=UTC))  # 22.11 23:30 in Chita
    assert reading_mail(db) == []
    reminders_enqueue(now=datetime(2026, 11, 22, 15, 30, tzinfo=UTC))  # 23.11 00:30 in Chita
    assert len(reading_mail(db)) == 1


def test_no_reminder_when_every_meter_has_a_reading(world, meters, db):
    F.ReadingFactory(meter=meters.cold1, period=NOV, value=Decimal("10"), source="owner")
    F.ReadingFactory(meter=meters.hot1, period=NOV, value=Decimal("10"), source="council")  # locked by the council
    F.ReadingFactory(meter=meters.b2, period=NOV, value=Decimal("10"), source="import")
    db.session.commit()
    reminders_enqueue(now=chita(23))
    assert reading_mail(db) == []


def test_locked_meter_is_not_listed(world, meters, db):
    F.ReadingFactory(meter=meters.hot1, period=NOV, value=Decimal("10"), source="staff")
    db.session.commit()
    reminders_enqueue(now=chita(23))
    (mail,) = reading_mail(db)
    assert "ГВ100002" not in mail.body_text and "ВС100001" in mail.body_text


def test_meters_the_owner_cannot_submit_are_not_asked_for(world, meters, db):
    meters.cold1.next_verification_on = date(2026, 11, 10)  # expired: the owner cannot submit it
    meters.hot1.archived = True
    meters.b2.next_verification_on = date(2026, 11, 23)  # expires today
    db.session.commit()
    reminders_enqueue(now=chita(23))
    assert reading_mail(db) == []


def test_consent_rules(world, meters, db):
    consent(world.owner, give=False, at=chita(2))  # withdrawn: stops at once
    consent(world.neighbour, give=True, at=chita(2))
    reminders_enqueue(now=chita(23))
    assert [m.to_address for m in reading_mail(db)] == ["neighbour@example.ru"]
    consent(world.owner, give=True, at=chita(23, 12))
    reminders_enqueue(now=chita(23, 13))
    assert {m.to_address for m in reading_mail(db)} == {"neighbour@example.ru", "owner@example.ru"}


def test_no_email_or_inactive_account_gets_nothing(world, meters, db):
    consent(world.neighbour)
    world.owner.email = None
    world.neighbour.active = False
    db.session.commit()
    reminders_enqueue(now=chita(23))
    assert reading_mail(db) == []


def test_building_window_override(world, meters, db):
    world.building.reading_start_day, world.building.reading_end_day = 10, 15
    db.session.commit()
    reminders_enqueue(now=chita(13))
    (mail,) = reading_mail(db)
    assert "заканчивается 15.11.2026" in mail.body_text
    assert "ВС100001" in mail.body_text and "ВС700007" not in mail.body_text  # building2 keeps 20–25
    reminders_enqueue(now=chita(23))
    assert "ВС700007" in reading_mail(db)[-1].body_text and "ВС100001" not in reading_mail(db)[-1].body_text


def test_co_owners_each_get_their_own(world, meters, db):
    F.OwnershipFactory(user=world.neighbour, premises=world.p1)
    db.session.commit()
    consent(world.neighbour)
    reminders_enqueue(now=chita(23))
    assert sorted(m.to_address for m in reading_mail(db)) == ["neighbour@example.ru", "owner@example.ru"]


# ---------------------------------------------------------------------------------------------------------
# Verification reminders
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "stage"),
    [(61, None), (60, 60), (45, 60), (31, 60), (30, 30), (1, 30), (0, None), (-5, None)],
)
def test_verification_stage(days_left, stage):
    today = date(2026, 11, 10)
    assert verification_stage(today + timedelta(days=days_left), today) == stage


def test_verification_reminders_60_and_30_days_before(world, meters, db):
    today = date(2026, 11, 10)
    due = today + timedelta(days=60)
    meters.cold1.next_verification_on = meters.hot1.next_verification_on = due
    meters.cold2.next_verification_on = today + timedelta(days=61)
    consent(world.owner, give=False, at=chita(2))  # a service message: no consent needed
    db.session.commit()
    reminders_enqueue(now=chita(10))
    (mail,) = outbox(db, "verification-reminder:")
    assert mail.to_address == "owner@example.ru"
    assert mail.subject == f"Срок поверки счётчика истекает {due:%d.%m.%Y}"
    assert "ВС100001" in mail.body_text and "ГВ100002" in mail.body_text  # one letter for both
    assert "(осталось дней: 60)" in mail.body_text and "служебное сообщение" in mail.body_text
    assert "ООО «УК Тест»" in mail.body_text and "Мой профиль" not in mail.body_text
    reminders_enqueue(now=chita(11))  # cold2 is now 60 days away: its owner's reminder, none again for ours
    reminders_enqueue(now=chita(30))
    assert [m.to_address for m in outbox(db, "verification-reminder:")] == [
        "owner@example.ru", "neighbour@example.ru"]
    reminders_enqueue(now=chita(10, month=12))  # 30 days left for the owner's meters
    reminders_enqueue(now=chita(11, month=12))
    mails = [m for m in outbox(db, "verification-reminder:") if m.to_address == "owner@example.ru"]
    assert len(mails) == 2 and "(осталось дней: 30)" in mails[1].body_text


def test_verification_reminder_skips_archived_expired_and_emailless(world, meters, db):
    today = date(2026, 11, 10)
    meters.cold1.next_verification_on = today + timedelta(days=30)
    meters.cold1.archived = True
    meters.hot1.next_verification_on = today
    meters.cold2.next_verification_on = today + timedelta(days=30)
    world.neighbour.email = ""
    db.session.commit()
    reminders_enqueue(now=chita(10))
    assert outbox(db, "verification-reminder:") == []


# ---------------------------------------------------------------------------------------------------------
# Bounded queries and the cron command
# ---------------------------------------------------------------------------------------------------------


def test_reminder_queries_do_not_grow_with_owners(world, meters, db):
    from sqlalchemy import event

    created = []

    def selects_for(count: int) -> int:
        for i in range(count):
            created.append(i)
            premises = F.PremisesFactory(building=world.building2, number=f"{count}-{i}")
            F.MeterFactory(premises=premises, next_verification_on=date(2026, 12, 20))
            user = F.UserFactory(email=f"u{count}-{i}@example.ru")
            F.OwnershipFactory(user=user, premises=premises)
            db.session.commit()
            consent(user)
        db.session.query(OutboxMessage).delete()
        db.session.commit()
        statements = []
        listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            report = reminders_enqueue(now=chita(23))
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert (report.readings, report.verification) == (len(created) + 1, len(created))  # + the world's owner
        return sum(s.lstrip().upper().startswith("SELECT") for s in statements)

    assert selects_for(3) == selects_for(25) <= 14


def test_remind_command(app, world, meters, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["readings", "remind", "--now", "2026-11-23T10:00"])  # Chita time
    assert result.exit_code == 0, result.output
    assert "queued: 1 reading reminder(s), 0 verification reminder(s); already queued earlier: 0" in result.output
    result = runner.invoke(args=["readings", "remind", "--now", "2026-11-23T01:00:00+00:00"])  # the same day
    assert "queued: 0 reading reminder(s), 0 verification reminder(s); already queued earlier: 1" in result.output
    result = runner.invoke(args=["readings", "remind", "--now", "23.11.2026"])
    assert result.exit_code == 2 and "ISO format" in result.output
