"""Every state-changing route × every role that must not reach the object: refused, and NOTHING changed.

The objects belong to another УК's building (ул. Чкалова, 9: owner `other`, staff `staffother`); every other
role posts plausible data to every route that takes them. A refusal is a 404 (an object one may not reach does
not exist for them) or a 403 (a section the role has no business in); either way the database is byte-for-byte
what it was, which is checked table by table.
"""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.services import announcements, appeals, notices, questions
from tests import factories as F
from tests.conftest import login_as

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
REFUSING_ROLES = ["owner", "neighbour", "council", "staff", "ukadmin", "rso"]
# Rows that a request may touch without changing anything of substance (the session's last-seen time).
VOLATILE_TABLES = {"user_sessions"}


@pytest.fixture
def foreign(world, db):
    """Objects of the other УК's building, made through the services as their users would."""
    category = next(c.id for c in appeals.categories_for(world.uk_other.id) if c.code == "REPAIR")
    appeal = appeals.appeal_file(actor=world.owner_other, premises=world.p_other, category_id=category,
                                 place_kind="premises", place_detail=None, text="Течёт кран на кухне, вода капает.")
    question = questions.question_ask(actor=world.owner_other, premises=world.p_other, data=questions.QuestionInput(
        addressee="uk", subject="Когда покрасят подъезд?", text="В подъезде облезла краска."))
    notice = notices.notice_publish(actor=world.staff_other, data=notices.NoticeInput(
        category="info", title="Собрание", body="Приглашаем на собрание в пятницу.",
        building_ids=(world.building_other.id,)))
    item = announcements.announcement_create(actor=world.owner_other, data=announcements.AnnouncementInput(
        category="sale", title="Отдам коляску", body="Коляска зима-лето, самовывоз.", author_name="Сидор",
        contact="", scope="building", days="14"))
    meter = F.MeterFactory(premises=world.p_other)
    db.session.commit()
    return {"appeal": appeal.id, "question": question.id, "notice": notice.id, "item": item.id,
            "meter": meter.id, "p_other": world.p_other.id, "b_other": world.building_other.id,
            "owner_other": world.owner_other.id}


ROUTES = [
    ("/appeals/{appeal}/comment", {"text": "Чужой комментарий"}),
    ("/appeals/{appeal}/rate", {"rating": "1", "comment": "плохо"}),
    ("/appeals/{appeal}/status", {"status": "closed", "comment": "закрыто"}),
    ("/manage/appeals/{appeal}/row", {"status": "in_progress"}),
    ("/questions/{question}/messages", {"text": "Чужое сообщение"}),
    ("/questions/{question}/close", {}),
    ("/manage/inbox/{question}/claim", {}),
    ("/manage/inbox/{question}/reply", {"text": "Чужой ответ"}),
    ("/manage/inbox/{question}/close", {}),
    ("/notices/{notice}/edit", {"category": "info", "title": "Подмена", "body": "Подменённый текст оповещения.",
                                "building_ids": "{b_other}"}),
    ("/notices/{notice}/withdraw", {"reason": "отмена"}),
    ("/announcements/{item}/edit", {"category": "sale", "title": "Подмена", "body": "Подменённый текст.",
                                    "author_name": "X", "scope": "building", "days": "14"}),
    ("/announcements/{item}/delete", {}),
    ("/announcements/{item}/hide", {"reason": "скрыть"}),
    ("/announcements/{item}/report", {"reason": "жалоба"}),
    ("/manage/meters/{meter}/archive", {}),
    ("/manage/meters/{meter}/replace", {"resource": "cold_water", "tariff": "single", "serial_number": "X-1",
                                        "digits": "5", "initial_value": "0"}),
    ("/manage/readings/2026-11/meters/{meter}", {"value": "999"}),
    ("/manage/premises/{p_other}/accounts", {"full_name": "Захватчик Захват"}),
    ("/manage/premises/{p_other}/owners", {"existing_login": "owner"}),
    ("/manage/premises/{p_other}/meters/new", {"resource": "cold_water", "tariff": "single",
                                               "serial_number": "X-2", "digits": "5", "initial_value": "0"}),
    ("/manage/buildings/{b_other}/meters/new", {"resource": "heat", "tariff": "single", "serial_number": "X-3",
                                                "digits": "5", "initial_value": "0"}),
    ("/manage/premises/{p_other}/owners/{owner_other}/remove", {}),
    ("/manage/accounts/{owner_other}/reset", {}),
    ("/manage/accounts/{owner_other}/active", {"active": "0"}),
    ("/manage/accounts/{owner_other}/letter", {"password": "x"}),
    ("/manage/receipts/close", {"building": "{b_other}", "period": "2026-10"}),
    ("/manage/receipts/batches", {"building": "{b_other}", "period": "2026-10"}),
    ("/apartment/switch", {"premises_id": "{p_other}"}),
]


def snapshot() -> dict[str, list[tuple]]:
    _db.session.expire_all()
    result = {}
    for table in _db.metadata.sorted_tables:
        if table.name in VOLATILE_TABLES:
            continue
        rows = _db.session.execute(select(table)).all()
        result[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    return result


def changed_tables(before, after) -> list[str]:
    return [name for name in before if before[name] != after[name]]


@pytest.mark.parametrize(("path", "data"), ROUTES, ids=[r[0] for r in ROUTES])
def test_foreign_object_post_is_refused_and_changes_nothing(app, world, foreign, path, data):
    url = path.format(**foreign)
    payload = {k: v.format(**foreign) for k, v in data.items()}
    for role in REFUSING_ROLES:
        before = snapshot()
        client = login_as(app.test_client(), world.by_role(role))
        response = client.post(url, data=payload)
        assert response.status_code in (403, 404), (role, url, response.status_code)
        after = snapshot()
        assert changed_tables(before, after) == [], (role, url)


def test_the_rightful_users_do_reach_these_objects(app, world, foreign):
    """The refusals above are about who, not about broken routes: the other УК's own people get through."""
    staff = login_as(app.test_client(), world.staff_other)
    assert staff.post(f"/manage/inbox/{foreign['question']}/claim").status_code in (200, 303)
    owner = login_as(app.test_client(), world.owner_other)
    assert owner.post(f"/questions/{foreign['question']}/messages",
                      data={"text": "Дополнение к вопросу"}).status_code == 303
    assert staff.post(f"/manage/meters/{foreign['meter']}/archive").status_code == 303
