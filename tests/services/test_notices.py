"""Notices: who posts where, who sees what, unread counts, emails exactly once to those who should get them."""

from datetime import UTC, datetime, timedelta

import pytest

from app.models import AuditLog, Notice, NoticeRevision, OutboxMessage
from app.models.audit import ConsentChannel
from app.services import notices as svc
from app.services.errors import Invalid, Locked, NotAllowed, NotFound
from app.services.profile import consents_set
from tests.factories import OwnershipFactory, PremisesFactory, UserFactory

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # 12:00 in Chita


def data(world, **kw):
    values = dict(category="info", title="Собрание совета дома", body="Приглашаем всех на собрание в пятницу.",
                  building_ids=(world.building.id,))
    values.update(kw)
    return svc.NoticeInput(**values)


def outage(world, **kw):
    values = dict(category="planned", resource="hot_water", title="Нет горячей воды",
                  body="Плановый ремонт теплотрассы, подача прекращается.", starts_at="2026-11-27T09:00",
                  ends_at="2026-11-27T13:00", building_ids=(world.building.id,))
    values.update(kw)
    return svc.NoticeInput(**values)


@pytest.fixture
def subscribers(world, db):
    """Owner: email + flag + consent; neighbour: email + flag, no consent; council: no flag."""
    world.owner.notify_new_notice = True
    world.neighbour.email, world.neighbour.notify_new_notice = "n@example.ru", True
    world.council.email = "c@example.ru"
    db.session.commit()
    consents_set(actor=world.owner, wanted={ConsentChannel.EMAIL: True}, text_version="v1")


@pytest.mark.parametrize(("role", "building", "author_role"),
                         [("staff", "building", "staff"), ("staff", "building2", "staff"),
                          ("council", "building", "council"), ("rso", "building", "rso")])
def test_who_posts_where(world, role, building, author_role):
    notice = svc.notice_publish(actor=world.by_role(role), data=data(world, building_ids=(getattr(world,
                                                                                                  building).id,)),
                                now=NOW)
    assert notice.author_role == author_role
    if author_role != "council":
        assert notice.organisation_id is not None


@pytest.mark.parametrize(("role", "building"), [("council", "building2"), ("rso", "building2"),
                                                ("staff_other", "building"), ("owner", "building")])
def test_posting_outside_scope_refused(world, role, building):
    with pytest.raises((Invalid, NotAllowed)):
        svc.notice_publish(actor=world.by_role(role), data=data(world, building_ids=(getattr(world,
                                                                                             building).id,)),
                           now=NOW)


def test_validation_messages(world):
    with pytest.raises(Invalid) as info:
        svc.notice_publish(actor=world.staff, data=svc.NoticeInput(category="x", title="", body="коротко",
                                                                   building_ids=()), now=NOW)
    assert set(info.value.errors) == {"category", "title", "body", "building_ids"}
    with pytest.raises(Invalid) as info:
        svc.notice_publish(actor=world.staff, data=outage(world, resource="", starts_at="", ends_at=""), now=NOW)
    assert set(info.value.errors) == {"resource", "starts_at"}
    with pytest.raises(Invalid, match="в прошлом"):
        svc.notice_publish(actor=world.staff, data=outage(world, starts_at="2026-11-01T09:00"), now=NOW)
    with pytest.raises(Invalid, match="позже начала"):
        svc.notice_publish(actor=world.staff, data=outage(world, ends_at="2026-11-27T08:00"), now=NOW)
    with pytest.raises(Invalid, match="один дом"):
        svc.notice_publish(actor=world.staff, data=data(world, building_ids=(world.building.id, world.building2.id),
                                                        entrances="1"), now=NOW)


def test_times_are_chita_local(world):
    notice = svc.notice_publish(actor=world.staff, data=outage(world), now=NOW)
    assert notice.starts_at == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 09:00 UTC+9
    assert svc.when(notice) == "с 27.11.2026 09:00 до 27.11.2026 13:00"


def test_targeting_by_building_and_entrance(world, db):
    notice = svc.notice_publish(actor=world.staff, data=data(world, entrances="2"), now=NOW)
    assert svc.notice_get(actor=world.council, id=notice.id)  # council of the building sees everything of it
    with pytest.raises(NotFound):
        svc.notice_get(actor=world.owner, id=notice.id)  # кв. 1 is in entrance 1
    entrance2 = UserFactory(login="e2")
    OwnershipFactory(user=entrance2, premises=PremisesFactory(building=world.building, number="30", entrance=2))
    db.session.commit()
    assert svc.notice_get(actor=entrance2, id=notice.id)
    for outsider in (world.owner_other, world.staff_other):  # another building, another УК
        with pytest.raises(NotFound):
            svc.notice_get(actor=outsider, id=notice.id)
    assert svc.notice_get(actor=world.rso_user, id=notice.id)  # supplier of the building


def test_feed_pins_active_outages_pages_and_unread(world, db):
    world.neighbour.created_at = NOW - timedelta(days=60)
    old = [svc.notice_publish(actor=world.staff, data=data(world, title=f"Новость {i}"), now=NOW - timedelta(hours=i))
           for i in range(12)]
    out = svc.notice_publish(actor=world.staff, data=outage(world), now=NOW - timedelta(days=2))
    page = svc.notice_feed(world.neighbour, now=NOW)
    assert [n.id for n in page.pinned] == [out.id]
    assert [n.title for n in page.items][:2] == ["Новость 0", "Новость 1"] and len(page.items) == 10
    assert page.next_offset == 10
    second = svc.notice_feed(world.neighbour, now=NOW, offset=10)
    assert [n.title for n in second.items] == ["Новость 10", "Новость 11"] and second.next_offset is None
    assert svc.unread_count(world.neighbour, now=NOW) == 13
    assert svc.notice_mark_read(user=world.neighbour, notice=old[0], now=NOW)
    assert not svc.notice_mark_read(user=world.neighbour, notice=old[0], now=NOW)  # idempotent
    assert svc.unread_count(world.neighbour, now=NOW) == 12
    # After the outage ends it is no longer pinned.
    later = svc.notice_feed(world.neighbour, now=datetime(2026, 11, 28, tzinfo=UTC))
    assert later.pinned == []


def test_unread_ignores_notices_older_than_the_account(world, db):
    svc.notice_publish(actor=world.staff, data=data(world), now=NOW - timedelta(days=3))
    world.neighbour.created_at = NOW - timedelta(days=1)
    db.session.commit()
    assert svc.unread_count(world.neighbour, now=NOW) == 0


def test_emails_only_to_those_who_should_get_them_once(world, subscribers, db):
    notice = svc.notice_publish(actor=world.staff, data=data(world), now=NOW)
    # info: needs flag + email + consent -> only the owner
    assert [m.to_address for m in db.session.query(OutboxMessage)] == ["owner@example.ru"]
    message = db.session.query(OutboxMessage).one()
    assert message.dedupe_key == f"notice:{notice.id}:{world.owner.id}"
    assert "List-Unsubscribe" in message.headers and "One-Click" in message.headers["List-Unsubscribe-Post"]
    assert "Собрание совета дома" in message.subject and "/notices/unsubscribe/" in message.body_text
    # a service category (planned outage) goes without consent: owner and neighbour
    svc.notice_publish(actor=world.staff, data=outage(world), now=NOW)
    assert sorted(m.to_address for m in db.session.query(OutboxMessage)) == [
        "n@example.ru", "owner@example.ru", "owner@example.ru"]
    # queueing the same notice again adds nothing (each recipient once)
    svc._queue_emails(notice, NOW)
    db.session.commit()
    assert db.session.query(OutboxMessage).count() == 3


def test_withdrawn_consent_stops_mailings_at_once(world, subscribers, db):
    consents_set(actor=world.owner, wanted={ConsentChannel.EMAIL: False}, text_version="v1")
    svc.notice_publish(actor=world.staff, data=data(world), now=NOW)
    assert db.session.query(OutboxMessage).count() == 0


def test_entrance_targeting_limits_emails(world, subscribers, db):
    svc.notice_publish(actor=world.staff, data=outage(world, entrances="2"), now=NOW)
    assert db.session.query(OutboxMessage).count() == 0  # owner and neighbour live in entrance 1


def test_unsubscribe_token(app, world, subscribers, db):
    token = svc.unsubscribe_token(world.owner)
    user = svc.unsubscribe(token=token)
    assert user.id == world.owner.id and not world.owner.notify_new_notice
    assert db.session.query(AuditLog).filter_by(action="notice_emails_unsubscribed").count() == 1
    with pytest.raises(Invalid):
        svc.unsubscribe(token=token[:-2] + "xx")


def test_edit_keeps_history_and_withdraw(world, db):
    world.neighbour.created_at = NOW - timedelta(days=60)
    notice = svc.notice_publish(actor=world.staff, data=data(world), now=NOW)
    svc.notice_edit(actor=world.ukadmin, notice=notice, data=data(world, title="Собрание переносится"), now=NOW)
    assert notice.title == "Собрание переносится" and notice.version == 2
    (rev,) = db.session.query(NoticeRevision).all()
    assert rev.snapshot["title"] == "Собрание совета дома" and rev.editor_id == world.ukadmin.id
    with pytest.raises(NotAllowed):
        svc.notice_edit(actor=world.council, notice=notice, data=data(world), now=NOW)
    with pytest.raises(Invalid):
        svc.notice_withdraw(actor=world.staff, notice=notice, reason=" ", now=NOW)
    svc.notice_withdraw(actor=world.staff, notice=notice, reason="Ошибка в дате", now=NOW)
    assert notice.status == "withdrawn"
    with pytest.raises(Locked):
        svc.notice_edit(actor=world.staff, notice=notice, data=data(world), now=NOW)
    assert svc.unread_count(world.neighbour, now=NOW) == 0


def test_planned_template_states_limits():
    text = svc.planned_outage_template("hot_water")
    assert "горячая вода" in text and "14 суток" in text and "№ 354" in text


def test_notice_text_is_stored_as_typed(world, db):
    notice = svc.notice_publish(actor=world.staff, data=data(world, title="<script>alert(1)</script>"), now=NOW)
    assert db.session.get(Notice, notice.id).title == "<script>alert(1)</script>"
