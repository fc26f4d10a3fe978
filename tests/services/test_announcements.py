from datetime import UTC, datetime, timedelta

import pytest

from app.models import Announcement
from app.services import announcements as svc
from app.services.errors import Invalid, NotAllowed, NotFound

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def data(**kw):
    values = dict(category="sale", title="Отдам коляску", body="Коляска зима-лето, забирать самовывозом.",
                  author_name="Анна", contact="", scope="building", days="14")
    values.update(kw)
    return svc.AnnouncementInput(**values)


def test_create_shows_chosen_name_and_street_only(world, db):
    item = svc.announcement_create(actor=world.owner, data=data(), now=NOW)
    assert (item.author_name, item.author_street, item.contact) == ("Анна", world.p_b2.building.street, None) or \
        item.author_street in {world.building.street, world.building2.street}
    assert "кв" not in item.author_street and item.expires_at == NOW + timedelta(days=14)


def test_validation(world, db):
    with pytest.raises(Invalid) as info:
        svc.announcement_create(actor=world.owner, data=data(category="x", title="", body="мало", author_name="",
                                                             scope="all", days="45"), now=NOW)
    assert set(info.value.errors) == {"category", "title", "body", "author_name", "scope", "days"}
    assert db.session.query(Announcement).count() == 0


def test_daily_limit(world, db):
    for i in range(svc.DAILY_LIMIT):
        svc.announcement_create(actor=world.owner, data=data(title=f"Объявление {i}"), now=NOW + timedelta(minutes=i))
    with pytest.raises(Invalid, match="в сутки"):
        svc.announcement_create(actor=world.owner, data=data(), now=NOW + timedelta(hours=1))
    svc.announcement_create(actor=world.owner, data=data(), now=NOW + timedelta(days=1, minutes=5))


def test_visibility_scope_expiry(world, db):
    mine = svc.announcement_create(actor=world.neighbour, data=data(scope="building"), now=NOW)
    portal = svc.announcement_create(actor=world.neighbour, data=data(scope="portal", title="Всем"), now=NOW)
    assert {a.id for a in svc.announcement_list(world.owner, now=NOW)[0]} == {mine.id, portal.id}
    assert [a.id for a in svc.announcement_list(world.owner_other, now=NOW)[0]] == [portal.id]
    with pytest.raises(NotFound):
        svc.announcement_get(actor=world.owner_other, id=mine.id, now=NOW)
    assert svc.announcement_get(actor=world.owner, id=mine.id, now=NOW) is mine
    later = NOW + timedelta(days=15)
    assert svc.announcement_list(world.owner, now=later)[0] == []


def test_filters_and_cyrillic_search(world, db):
    svc.announcement_create(actor=world.neighbour, data=data(title="Продаю КОЛЯСКУ"), now=NOW)
    svc.announcement_create(actor=world.neighbour, data=data(category="lost", title="Найдены ключи",
                                                             body="Связка ключей у подъезда."), now=NOW)
    assert [a.title for a in svc.announcement_list(world.owner, now=NOW, q="коляск")[0]] == ["Продаю КОЛЯСКУ"]
    assert [a.title for a in svc.announcement_list(world.owner, now=NOW, category="lost")[0]] == ["Найдены ключи"]
    assert svc.announcement_list(world.owner, now=NOW, scope="portal")[0] == []


def test_edit_delete_only_author(world, db):
    item = svc.announcement_create(actor=world.neighbour, data=data(), now=NOW)
    with pytest.raises(NotAllowed):
        svc.announcement_update(actor=world.owner, item=item, data=data(title="Чужое"))
    with pytest.raises(NotAllowed):
        svc.announcement_delete(actor=world.staff, item=item)
    svc.announcement_update(actor=world.neighbour, item=item, data=data(title="Новый заголовок"), now=NOW)
    svc.announcement_delete(actor=world.neighbour, item=item)
    with pytest.raises(NotFound):  # deleted: gone for everyone, its author included
        svc.announcement_get(actor=world.neighbour, id=item.id, now=NOW)


def test_report_once_and_moderation(world, db):
    item = svc.announcement_create(actor=world.neighbour, data=data(), now=NOW)
    assert svc.announcement_report(actor=world.owner, item=item, reason="Реклама")
    assert not svc.announcement_report(actor=world.owner, item=item, reason="Ещё раз")
    with pytest.raises(Invalid):
        svc.announcement_report(actor=world.neighbour, item=item, reason="Сам на себя")
    assert [(a.id, n) for a, n in svc.reported(world.council)] == [(item.id, 1)]
    assert svc.reported(world.staff_other) == []
    for role in ("owner", "staff_other", "rso"):
        with pytest.raises(NotAllowed):
            svc.announcement_hide(actor=world.by_role(role), item=item, reason="Нет")
    svc.announcement_hide(actor=world.council, item=item, reason="Коммерческая реклама", now=NOW)
    assert item.status == "hidden"
    assert svc.announcement_list(world.owner, now=NOW)[0] == []
    assert svc.announcement_get(actor=world.neighbour, id=item.id, now=NOW).hidden_reason == "Коммерческая реклама"
    with pytest.raises(NotFound):  # a hidden announcement is gone for other readers
        svc.announcement_get(actor=world.owner, id=item.id, now=NOW)


def test_users_without_a_building_cannot_post(world):
    for role in ("rso", "operator"):
        with pytest.raises(NotAllowed):
            svc.announcement_create(actor=world.by_role(role), data=data(), now=NOW)


def test_operator_moderates_portal_wide_but_cannot_post(world, db):
    item = svc.announcement_create(actor=world.neighbour, data=data(), now=NOW)
    other = svc.announcement_create(actor=world.owner_other, data=data(title="Чужой дом"), now=NOW)
    svc.announcement_report(actor=world.owner, item=item, reason="Реклама")
    svc.announcement_report(actor=world.neighbour, item=other, reason="Реклама")
    assert {a.id for a, _ in svc.reported(world.operator)} == {item.id, other.id}
    assert [a.id for a, _ in svc.reported(world.staff)] == [item.id]  # the УК: its buildings only
    assert svc.reported(world.rso_user) == [] and svc.reported(world.owner) == []
    assert svc.can_moderate(world.operator, other) and not svc.can_moderate(world.staff, other)
    assert svc.announcement_get(actor=world.operator, id=other.id, now=NOW) is other
    svc.announcement_hide(actor=world.operator, item=other, reason="Мошенничество", now=NOW)
    assert other.status == "hidden" and other.hidden_by_id == world.operator.id
    assert not svc.may_post(world.operator) and not svc.may_post(world.rso_user)
    assert svc.may_post(world.owner) and svc.may_post(world.staff) and svc.may_post(world.council)


def test_loaders_refuse_what_the_actor_may_not_reach(world, db):
    item = svc.announcement_create(actor=world.neighbour, data=data(), now=NOW)  # building scope
    for role in ("staff_other", "rso"):
        with pytest.raises(NotFound):
            svc.announcement_get(actor=world.by_role(role), id=item.id, now=NOW)
    for bad in (0, 2**31, "x", None):
        with pytest.raises(NotFound):
            svc.announcement_get(actor=world.neighbour, id=bad, now=NOW)
    assert svc.own_announcement_get(actor=world.neighbour, id=item.id, now=NOW) is item
    with pytest.raises(NotAllowed):  # sees it, is not its author: 403
        svc.own_announcement_get(actor=world.owner, id=item.id, now=NOW)
    with pytest.raises(NotFound):  # does not see it: 404
        svc.own_announcement_get(actor=world.staff_other, id=item.id, now=NOW)
    assert svc.announcement_list(world.owner, now=NOW, offset=10**30)[0] == []


def test_control_characters_refused(world, db):
    for field, value in (("title", "Отдам\x00коляску"), ("body", "Коляска\x1bзима-лето, самовывоз."),
                         ("author_name", "Анна\x7f"), ("contact", "+7\x0c914")):
        with pytest.raises(Invalid) as info:
            svc.announcement_create(actor=world.owner, data=data(**{field: value}), now=NOW)
        assert info.value.errors == {field: "Поле содержит недопустимые символы"}
    item = svc.announcement_create(actor=world.owner, data=data(body="Коляска.\nЗабирать\tсамовывозом."), now=NOW)
    assert item.body == "Коляска.\nЗабирать\tсамовывозом."
    with pytest.raises(Invalid, match="недопустимые символы"):
        svc.announcement_report(actor=world.neighbour, item=item, reason="Спам\x00")
    assert db.session.query(Announcement).count() == 1
