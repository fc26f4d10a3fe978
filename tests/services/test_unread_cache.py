"""The unread-notices badge cached on the user's row: a hit costs no query, and every change that moves the
count (publish, edit, withdraw, read, a new flat or council seat, the 30-day window) is seen at once."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db as _db
from app.models import User
from app.services import notices as svc
from tests.factories import CouncilFactory, OwnershipFactory
from tests.queries import QueryCounter

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def data(building_id, **kw):
    values = dict(category="info", title="Собрание совета дома", body="Приглашаем всех на собрание в пятницу.",
                  building_ids=(building_id,))
    values.update(kw)
    return svc.NoticeInput(**values)


@pytest.fixture
def aged(world, db):
    for user in (world.owner, world.neighbour, world.council, world.owner_other):
        user.created_at = NOW - timedelta(days=365)
    db.session.commit()
    return world


def stored(user_id):
    """What the row holds, read fresh (not from the session's objects)."""
    _db.session.expire_all()
    return _db.session.execute(select(User.unread_notices, User.notices_gen).where(User.id == user_id)).one()


def test_a_warm_count_costs_no_query(aged, db):
    svc.notice_publish(actor=aged.staff, data=data(aged.building.id), now=NOW - timedelta(hours=1))
    assert svc.unread_count(aged.neighbour, now=NOW) == 1  # counted and stored
    assert stored(aged.neighbour.id)[0] == 1
    user = db.session.get(User, aged.neighbour.id)  # a new request loads the row: the count comes with it
    with QueryCounter() as c:
        assert svc.unread_count(user, now=NOW) == 1
    assert c.count == 0


def test_publish_edit_withdraw_and_read_are_seen_at_once(aged, db):
    w = aged
    first = svc.notice_publish(actor=w.staff, data=data(w.building.id), now=NOW - timedelta(hours=3))
    assert svc.unread_count(w.neighbour, now=NOW) == 1
    assert svc.unread_count(w.owner_other, now=NOW) == 0
    second = svc.notice_publish(actor=w.staff, data=data(w.building.id, title="Второе"), now=NOW - timedelta(hours=2))
    assert svc.unread_count(w.neighbour, now=NOW) == 2
    # edit: the second notice moves to building2 — the neighbour loses it, the owner (flat in building2) keeps it
    assert svc.unread_count(w.owner, now=NOW) == 2
    svc.notice_edit(actor=w.staff, notice=second, data=data(w.building2.id, title="Второе"), now=NOW)
    assert svc.unread_count(w.neighbour, now=NOW) == 1
    assert svc.unread_count(w.owner, now=NOW) == 2
    svc.notice_mark_read(user=w.owner, notice=first, now=NOW)
    assert svc.unread_count(w.owner, now=NOW) == 1
    svc.notice_withdraw(actor=w.staff, notice=second, reason="Ошибка", now=NOW)
    assert svc.unread_count(w.owner, now=NOW) == 0
    assert svc.unread_count(w.neighbour, now=NOW) == 1
    # the council member of building 1 (who owns flat 3) received both building-1 notices
    assert svc.unread_count(w.council, now=NOW) == 1


def test_new_flat_or_council_seat_changes_the_count_at_once(aged, db):
    w = aged
    svc.notice_publish(actor=w.staff, data=data(w.building2.id), now=NOW - timedelta(hours=1))
    assert svc.unread_count(w.neighbour, now=NOW) == 0  # stored: 0
    OwnershipFactory(user=w.neighbour, premises=w.p_b2)  # no service bumps anything: the audience key moves
    db.session.commit()
    assert svc.unread_count(w.neighbour, now=NOW) == 1
    assert svc.unread_count(w.owner_other, now=NOW) == 0
    CouncilFactory(user=w.owner_other, building=w.building2)
    db.session.commit()
    assert svc.unread_count(w.owner_other, now=NOW) == 1


def test_a_notice_leaves_the_window_after_thirty_days(aged, db):
    published = NOW - timedelta(days=29)
    svc.notice_publish(actor=aged.staff, data=data(aged.building.id), now=published)
    assert svc.unread_count(aged.neighbour, now=NOW) == 1
    just_before = published + svc.UNREAD_WINDOW - timedelta(seconds=1)
    assert svc.unread_count(aged.neighbour, now=just_before) == 1
    assert svc.unread_count(aged.neighbour, now=published + svc.UNREAD_WINDOW + timedelta(seconds=1)) == 0
    # asking about an earlier moment than the stored one counts again rather than trusting the cache
    assert svc.unread_count(aged.neighbour, now=just_before) == 1


def test_a_count_raced_by_a_publish_is_not_stored(aged, db):
    """Request A loaded the row (gen g) and counted; a publish committed meanwhile (gen g+1): A's store is
    refused by the generation check, so the stale count never lands."""
    user = db.session.get(User, aged.neighbour.id)
    _count, gen = stored(user.id)
    svc.notice_publish(actor=aged.staff, data=data(aged.building.id), now=NOW - timedelta(hours=1))
    assert stored(user.id) == (None, gen + 1)
    user = db.session.get(User, aged.neighbour.id)
    set_committed_value(user, "notices_gen", gen)  # as loaded before the publish
    set_committed_value(user, "unread_notices", None)
    svc.unread_count(user, now=NOW)
    assert stored(user.id) == (None, gen + 1)


def test_staff_are_counted_live(aged, db):
    from app.models import Notice, NoticeTarget

    assert svc.unread_count(aged.staff, now=NOW) == 0
    # a notice written behind the services' back: staff see it at once (their count is never cached)
    notice = Notice(author_role="staff", organisation_id=aged.uk.id, category="info", title="Т", body="Текст" * 3,
                    published_at=NOW - timedelta(hours=1))
    notice.targets.append(NoticeTarget(building_id=aged.building.id))
    db.session.add(notice)
    db.session.commit()
    aged.staff.created_at = NOW - timedelta(days=365)
    db.session.commit()
    assert svc.unread_count(aged.staff, now=NOW) == 1
    assert stored(aged.staff.id)[0] is None


def test_a_post_does_not_store(aged, db):
    svc.notice_publish(actor=aged.staff, data=data(aged.building.id), now=NOW - timedelta(hours=1))
    assert svc.unread_count(aged.neighbour, now=NOW, store=False) == 1
    assert stored(aged.neighbour.id)[0] is None
