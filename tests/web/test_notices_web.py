"""Notices and announcements over HTTP: feed and htmx contract, permissions, unsubscribe, text never as HTML."""

import re
from datetime import timedelta

import pytest

from app.models import Announcement, Notice
from app.models.base import utcnow
from app.services import announcements as ann
from app.services import notices as svc
from tests.conftest import login_as


@pytest.fixture
def notices(world, db):
    world.neighbour.created_at = world.owner.created_at = utcnow() - timedelta(days=60)
    db.session.commit()
    items = [svc.notice_publish(actor=world.staff, data=svc.NoticeInput(
        category="info", title=f"Новость {i}", body="Текст новости для жителей дома.",
        building_ids=(world.building.id,)), now=utcnow() - timedelta(hours=i)) for i in range(12)]
    return items


def test_feed_page_more_and_inline_read(app, world, notices):
    c = login_as(app.test_client(), world.neighbour)
    page = c.get("/notices/")
    assert page.status_code == 200 and "Новость 0" in page.text and "Новость 11" not in page.text
    assert 'id="notices-unread"' in page.text and ">12<" in page.text
    more = c.get("/notices/?offset=10", headers={"HX-Request": "true", "HX-Target": "notices-more"})
    assert more.status_code == 200 and "<html" not in more.text and "Новость 11" in more.text
    assert "HX-Request" in more.headers["Vary"]
    n = notices[0]
    inline = c.get(f"/notices/{n.id}", headers={"HX-Request": "true", "HX-Target": f"notice-{n.id}"})
    assert inline.text.startswith(f'<article id="notice-{n.id}"') and inline.headers["HX-Trigger"] == "notices:read"
    again = c.get(f"/notices/{n.id}", headers={"HX-Request": "true", "HX-Target": f"notice-{n.id}"})
    assert "HX-Trigger" not in again.headers
    counter = c.get("/notices/unread", headers={"HX-Request": "true"})
    assert counter.text.startswith('<span id="notices-unread"') and ">11<" in counter.text


def test_full_page_more_without_javascript(app, world, notices):
    page = login_as(app.test_client(), world.neighbour).get("/notices/?offset=10")
    assert "<html" in page.text and "Новость 10" in page.text and "К началу" in page.text


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("neighbour", 200), ("council", 200), ("staff", 200),
                                              ("rso", 200), ("owner_other", 404), ("staff_other", 404),
                                              ("operator", 404)])
def test_notice_detail_permissions(app, world, notices, role, status):
    c = app.test_client() if role == "owner_other" else None
    user = world.owner_other if role == "owner_other" else world.by_role(role)
    c = login_as(c or app.test_client(), user)
    assert c.get(f"/notices/{notices[0].id}").status_code == status


@pytest.mark.parametrize(("role", "new", "edit"), [("owner", 403, 403), ("council", 200, 403), ("staff", 200, 200),
                                                   ("ukadmin", 200, 200), ("rso", 200, 403),
                                                   ("staff_other", 200, 404)])
def test_notice_form_permissions(app, world, notices, role, new, edit):
    c = login_as(app.test_client(), world.by_role(role))
    assert c.get("/notices/new").status_code == new
    assert c.get(f"/notices/{notices[0].id}/edit").status_code == edit


def test_publish_errors_keep_text_then_303(app, world, db):
    c = login_as(app.test_client(), world.council)
    r = c.post("/notices/new", data={"category": "planned", "title": "Нет воды", "body": "Подробности позже, ждите.",
                                      "building_ids": [world.building.id]})
    assert r.status_code == 422 and "Укажите, что отключают" in r.text and "Подробности позже" in r.text
    r = c.post("/notices/new", data={"category": "meeting", "title": "Собрание", "body": "Подробности позже, ждите.",
                                      "building_ids": [world.building.id]})
    assert r.status_code == 303
    assert db.session.query(Notice).one().author_role == "council"


def test_planned_template_prefills(app, world):
    r = login_as(app.test_client(), world.staff).get("/notices/new?template=planned&resource=cold_water")
    assert "не более 4 часов единовременно" in r.text and re.search(r'<option selected value="planned">', r.text)


def test_unsubscribe_get_asks_post_does(app, world, db):
    world.owner.notify_new_notice = True
    db.session.commit()
    token = svc.unsubscribe_token(world.owner)
    c = app.test_client()
    page = c.get(f"/notices/unsubscribe/{token}")
    assert page.status_code == 200 and "Да, отписаться" in page.text
    assert world.owner.notify_new_notice  # a GET (mail scanners prefetch links) changes nothing
    done = c.post(f"/notices/unsubscribe/{token}")
    assert done.status_code == 200 and "больше не придут" in done.text
    db.session.expire_all()
    assert not world.owner.notify_new_notice
    assert c.post("/notices/unsubscribe/broken").status_code == 400


def test_unsubscribe_needs_no_csrf_token(app_factory, world, db):
    app = app_factory(WTF_CSRF_ENABLED=True)
    token = svc.unsubscribe_token(world.owner)
    assert app.test_client().post(f"/notices/unsubscribe/{token}").status_code == 200


def test_html_in_texts_is_shown_as_text(app, world, db):
    svc.notice_publish(actor=world.staff, data=svc.NoticeInput(
        category="info", title="<script>alert(1)</script>", body="<b>жирный</b> <img src=x onerror=alert(1)>",
        building_ids=(world.building.id,)))
    ann.announcement_create(actor=world.neighbour, data=ann.AnnouncementInput(
        category="other", title="<i>курсив</i>", body="<script>steal()</script> текст", author_name="<b>Я</b>"))
    c = login_as(app.test_client(), world.owner)
    notice = db.session.query(Notice).one()
    for path in ("/notices/", f"/notices/{notice.id}", "/announcements/",
                 f"/announcements/{db.session.query(Announcement).one().id}"):
        html = c.get(path).text
        assert "<script>alert(1)</script>" not in html and "<script>steal()" not in html
        assert "<b>жирный</b>" not in html and "<i>курсив</i>" not in html and "<b>Я</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get("/notices/").text


def test_announcement_post_error_keeps_text(app, world, db):
    c = login_as(app.test_client(), world.owner)
    r = c.post("/announcements/new", data={"category": "sale", "title": "", "body": "Отдам шкаф, самовывоз.",
                                           "author_name": "Анна", "scope": "building", "days": "40"})
    assert r.status_code == 422 and "Введите заголовок" in r.text and "Отдам шкаф, самовывоз." in r.text
    assert "от 1 до 30" in r.text and 'value="40"' in r.text
    r = c.post("/announcements/new", data={"category": "sale", "title": "Шкаф", "body": "Отдам шкаф, самовывоз.",
                                           "author_name": "Анна", "scope": "building", "days": "7"})
    assert r.status_code == 303


def test_announcement_list_filters_fragment(app, world, db):
    ann.announcement_create(actor=world.neighbour, data=ann.AnnouncementInput(
        category="lost", title="Найдены ключи", body="У второго подъезда, связка.", author_name="Пётр"))
    c = login_as(app.test_client(), world.owner)
    r = c.get("/announcements/?q=КЛЮЧИ", headers={"HX-Request": "true", "HX-Target": "announcements-list"})
    assert r.text.startswith('<div id="announcements-list">') and "Найдены ключи" in r.text
    assert "Найдены ключи" not in c.get("/announcements/?category=sale").text.split('id="announcements-list"')[1]


@pytest.mark.parametrize(("role", "view", "hide"), [("owner", 200, 403), ("council", 200, 303), ("staff", 200, 303),
                                                    ("staff_other", 404, 404), ("neighbour", 200, 403),
                                                    ("operator", 200, 303), ("rso", 404, 404)])
def test_announcement_permissions(app, world, db, role, view, hide):
    item = ann.announcement_create(actor=world.neighbour, data=ann.AnnouncementInput(
        category="sale", title="Шкаф", body="Отдам шкаф, самовывоз.", author_name="Пётр"))
    c = login_as(app.test_client(), world.by_role(role))
    assert c.get(f"/announcements/{item.id}").status_code == view
    assert c.post(f"/announcements/{item.id}/hide", data={"reason": "Реклама"}).status_code == hide
    edit = c.get(f"/announcements/{item.id}/edit").status_code
    assert edit == (200 if role == "neighbour" else (404 if view == 404 else 403))
    assert c.get("/announcements/99999999999").status_code == 404


def test_announcement_report_error_next_to_the_field_keeps_text(app, world, db):
    item = ann.announcement_create(actor=world.neighbour, data=ann.AnnouncementInput(
        category="sale", title="Шкаф", body="Отдам шкаф, самовывоз.", author_name="Пётр"))
    c = login_as(app.test_client(), world.owner)
    r = c.post(f"/announcements/{item.id}/report", data={"reason": "Реклама\x1b, спам"})
    assert r.status_code == 422 and 'id="report-reason-error"' in r.text
    assert "Поле содержит недопустимые символы" in r.text and "Реклама" in r.text
    r = c.post(f"/announcements/{item.id}/report", data={"reason": ""})
    assert r.status_code == 422 and "Введите что не так с объявлением" in r.text
    assert c.post(f"/announcements/{item.id}/report", data={"reason": "Реклама"}).status_code == 303
    council = login_as(app.test_client(), world.council)
    r = council.post(f"/announcements/{item.id}/hide", data={"reason": "x" * 301})
    assert r.status_code == 422 and 'id="hide-reason-error"' in r.text and "Не больше 300 символов" in r.text
