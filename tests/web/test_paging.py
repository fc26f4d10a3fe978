"""Staff lists page by 50 and their query count does not grow with the rows (5 vs 120): appeals board, inbox,
/manage/ buildings. Pager links are real links (work without JS) and, with htmx, swap only the list's region."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db as _db
from app.models import Appeal, Question, QuestionMessage
from app.models.appeals import AppealStatus
from app.services import appeals as appeals_svc
from app.services.paging import PAGE_SIZE, page_number
from tests import factories as F
from tests.conftest import login_as
from tests.queries import QueryCounter

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def _get(client, path, **kw):
    _db.session.expire_all()  # no help from objects the test has loaded
    with QueryCounter() as q:
        r = client.get(path, **kw)
    assert r.status_code == 200, r.status_code
    return r, q.count


def _appeals(world, n, start=0):
    category = next(c for c in appeals_svc.categories_for(world.uk.id) if c.code == "REPAIR")
    premises = [F.PremisesFactory(building=world.building, number=str(100 + start + i), entrance=1)
                for i in range(n)]
    for i, p in enumerate(premises):
        k = start + i
        _db.session.add(Appeal(
            organisation_id=world.uk.id, building_id=world.building.id, premises_id=p.id, author_id=world.owner.id,
            category_id=category.id, number=f"T-{k}", year=2026, seq=k + 1, place_kind="premises",
            text=f"Обращение {k}", status=AppealStatus.REGISTERED,
            registered_at=NOW - timedelta(days=30), deadline_at=NOW + timedelta(days=k - 60)))
    _db.session.commit()


def _questions(world, n):
    for k in range(n):
        q = Question(author_id=world.owner.id, building_id=world.building.id, premises_id=world.p1.id,
                     addressee="uk", organisation_id=world.uk.id, subject=f"Вопрос {k}",
                     created_at=NOW + timedelta(minutes=k), updated_at=NOW + timedelta(minutes=k))
        q.messages.append(QuestionMessage(author_id=world.owner.id, from_owner=True, text=f"Текст вопроса номер {k}"))
        _db.session.add(q)
    _db.session.commit()


def _buildings(world, n):
    for k in range(n):
        b = F.BuildingFactory(organisation=world.uk, street="ул. Тестовая", house=str(1000 + k))
        F.PremisesFactory(building=b, number="1")
    _db.session.commit()


def test_page_number_is_forgiving():
    assert [page_number(v) for v in (None, "", "x", "0", "-3", "2", 7, "99999999")] == [1, 1, 1, 1, 1, 2, 7, 10_000]


def test_appeals_board_queries_do_not_grow_and_pages_by_50(app, world, db):
    staff = login_as(app.test_client(), world.staff)
    _appeals(world, 5)
    _, few = _get(staff, "/manage/appeals")
    _appeals(world, 115, start=5)
    r, many = _get(staff, "/manage/appeals")
    assert many == few, (few, many)
    assert r.text.count('class="card appeal-row') == PAGE_SIZE
    # overdue first, by deadline: T-0 .. T-49 on page 1 (all 60 overdue), T-50 .. on page 2
    numbers = re.findall(r"№ (T-\d+)", r.text)
    assert numbers[0] == "T-0" and "T-49" in numbers and "T-50" not in numbers
    assert 'rel="next" href="/manage/appeals?page=2"' in r.text and 'rel="prev"' not in r.text
    page2, q2 = _get(staff, "/manage/appeals?page=2", headers={"HX-Request": "true", "HX-Target": "appeals-board"})
    assert "<html" not in page2.text and page2.text.startswith('<div id="appeals-board">')
    assert q2 <= few  # the region alone: no navigation counters
    found = re.findall(r"№ (T-\d+)", page2.text)
    assert found[0] == "T-50" and len(set(found)) == PAGE_SIZE
    last, _ = _get(staff, "/manage/appeals?page=3")
    assert last.text.count('class="card appeal-row') == 20 and 'rel="next"' not in last.text
    assert 'rel="prev" href="/manage/appeals?page=2"' in last.text
    past, _ = _get(staff, "/manage/appeals?page=9")
    assert "Обращений нет" in past.text


def test_appeals_pager_keeps_the_filters(app, world, db):
    _appeals(world, 60)
    staff = login_as(app.test_client(), world.staff)
    r, _ = _get(staff, f"/manage/appeals?building={world.building.id}&overdue=1")
    # 60 overdue in this building: two pages, the link carries the filters
    assert re.search(r'rel="next" href="/manage/appeals\?[^"]*overdue=1[^"]*page=2', r.text.replace("&amp;", "&"))
    assert f"building={world.building.id}" in r.text


def test_appeals_board_never_shows_another_uk(app, world, db):
    _appeals(world, 3)
    other = login_as(app.test_client(), world.staff_other)
    r, _ = _get(other, "/manage/appeals?page=1")
    assert "T-0" not in r.text and "Обращений нет" in r.text


def test_appeals_service_page_rows_are_loaded_with_their_premises(app, world, db):
    _appeals(world, 7)
    _db.session.expire_all()
    rows, _counts, pager = appeals_svc.board_page(world.staff, appeals_svc.BoardFilters(), NOW, page=1, size=5)
    assert len(rows) == 5 and pager.has_next and pager.next == 2
    with QueryCounter() as q:
        titles = [a.premises.title for a in rows] + [a.category.name for a in rows] + [a.building.short_address
                                                                                      for a in rows]
    assert q.count == 0 and len(titles) == 15


def test_inbox_queries_do_not_grow_and_pages_by_50(app, world, db):
    staff = login_as(app.test_client(), world.staff)
    _questions(world, 5)
    _, few = _get(staff, "/manage/inbox")
    _questions(world, 115)
    r, many = _get(staff, "/manage/inbox")
    assert many == few, (few, many)
    assert len(re.findall(r'id="question-\d+"', r.text)) == PAGE_SIZE
    assert 'href="/manage/inbox?tab=new&amp;offset=50"' in r.text
    more, _ = _get(staff, "/manage/inbox?tab=new&offset=100", headers={"HX-Request": "true",
                                                                      "HX-Target": "inbox-more"})
    assert len(re.findall(r'id="question-\d+"', more.text)) == 20 and "<html" not in more.text


def test_inbox_of_another_uk_sees_none(app, world, db):
    _questions(world, 3)
    r, _ = _get(login_as(app.test_client(), world.staff_other), "/manage/inbox")
    assert not re.findall(r'id="question-\d+"', r.text)


def test_buildings_index_queries_do_not_grow_and_pages_by_50(app, world, db):
    staff = login_as(app.test_client(), world.staff)
    _buildings(world, 3)  # 2 of the world + 3 = 5
    _, few = _get(staff, "/manage/")
    _buildings(world, 115)  # 120 buildings
    r, many = _get(staff, "/manage/")
    assert many == few, (few, many)
    assert r.text.count('<li class="card">') == PAGE_SIZE
    assert 'rel="next" href="/manage/?page=2"' in r.text
    frag, _ = _get(staff, "/manage/?page=3", headers={"HX-Request": "true", "HX-Target": "building-list"})
    assert frag.text.startswith('<div id="building-list">') and frag.text.count('<li class="card">') == 20
    assert 'rel="next"' not in frag.text


@pytest.mark.parametrize("who", ["staff_other", "council"])
def test_buildings_index_is_scoped(app, world, db, who):
    _buildings(world, 3)
    r, _ = _get(login_as(app.test_client(), getattr(world, who)), "/manage/")
    assert "ул. Тестовая" not in r.text
