"""Appeals over HTTP: filing form, live polling contract, permissions (photos included), staff board."""

import io
import re

import pytest
from PIL import Image

from app.models import Appeal, AppealPhoto
from app.services import appeals as svc
from tests.conftest import login_as


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 10)).save(out, "JPEG")
    return out.getvalue()


def owner_on_p1(app, world):
    c = login_as(app.test_client(), world.owner)
    c.post("/apartment/switch", data={"premises_id": world.p1.id})
    return c


def repair_id(world):
    return next(c.id for c in svc.categories_for(world.uk.id) if c.code == "REPAIR")


@pytest.fixture
def appeal(world, db):
    a = svc.appeal_file(actor=world.owner, premises=world.p1, category_id=repair_id(world), place_kind="premises",
                        place_detail=None, text="Течёт кран на кухне, вода капает.",
                        photos=[svc.Upload("p.jpg", jpeg())])
    return a


def test_file_with_photo_shows_number_and_deadline(app, world, db):
    c = owner_on_p1(app, world)
    form = c.get("/appeals/new")
    token = re.search(r'name="client_token" type="hidden" value="([^"]+)"', form.text).group(1)
    data = {"category_id": str(repair_id(world)), "place_kind": "entrance", "place_detail": "3 этаж",
            "text": "Не горит свет на лестнице третьего этажа.", "client_token": token,
            "photos": (io.BytesIO(jpeg()), "lamp.jpg")}
    r = c.post("/appeals/new", data=data, content_type="multipart/form-data")
    assert r.status_code == 303
    appeal = db.session.query(Appeal).one()
    page = c.get(r.headers["Location"]).text
    assert appeal.number in page and "Зарегистрировано" in page and "Срок" in page
    assert "входящий № " + appeal.number in page
    # the same form submitted again (double click) creates nothing new
    data["photos"] = (io.BytesIO(jpeg()), "lamp.jpg")
    assert c.post("/appeals/new", data=data, content_type="multipart/form-data").status_code == 303
    assert db.session.query(Appeal).count() == 1
    photo = db.session.query(AppealPhoto).one()
    image = c.get(f"/appeals/photos/{photo.id}.jpg")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"


def test_bad_upload_message_keeps_text_stores_nothing(app, world, db):
    c = owner_on_p1(app, world)
    r = c.post("/appeals/new", data={"category_id": str(repair_id(world)), "place_kind": "premises",
                                     "text": "Описание проблемы остаётся на месте.",
                                     "photos": (io.BytesIO(b"MZ\x90\x00not an image"), "photo.jpg")},
               content_type="multipart/form-data")
    assert r.status_code == 422 and "photo.jpg: это не фотография" in r.text
    assert "Описание проблемы остаётся на месте." in r.text
    assert db.session.query(Appeal).count() == 0


def test_live_polling_contract(app, world, db, appeal):
    c = owner_on_p1(app, world)
    same = c.get(f"/appeals/{appeal.id}/live?v={appeal.version}", headers={"HX-Request": "true"})
    assert same.status_code == 204 and same.data == b""
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="in_progress")
    changed = c.get(f"/appeals/{appeal.id}/live?v=1", headers={"HX-Request": "true"})
    assert changed.status_code == 200 and changed.text.startswith('<div id="appeal-live"')
    assert "В работе" in changed.text and f"v={appeal.version}" in changed.text and "<html" not in changed.text
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="done")
    svc.appeal_set_status(actor=world.owner, appeal=appeal, to="closed")
    final = c.get(f"/appeals/{appeal.id}/live?v=1", headers={"HX-Request": "true"})
    assert final.status_code == 286 and "hx-trigger" not in final.text  # polling stops


def test_list_polling_is_cheap_when_nothing_changed(app, world, db, appeal):
    c = owner_on_p1(app, world)
    page = c.get("/appeals/").text
    sig = re.search(r'sig=([\w-]+)', page).group(1)
    headers = {"HX-Request": "true", "HX-Target": "appeals-list"}
    assert c.get(f"/appeals/?sig={sig}", headers=headers).status_code == 204
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="in_progress")
    r = c.get(f"/appeals/?sig={sig}", headers=headers)
    assert r.status_code == 200 and "В работе" in r.text


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("staff", 200), ("ukadmin", 200), ("neighbour", 404),
                                              ("council", 404), ("staff_other", 404), ("rso", 404)])
def test_appeal_and_photo_permissions(app, world, db, appeal, role, status):
    c = login_as(app.test_client(), world.by_role(role))
    photo = db.session.query(AppealPhoto).one()
    assert c.get(f"/appeals/{appeal.id}").status_code == status
    assert c.get(f"/appeals/photos/{photo.id}.jpg").status_code == status
    assert c.get(f"/appeals/{appeal.id}/live?v=0").status_code in ((status,) if status == 404 else (200, 286))


def test_internal_note_hidden_from_owner_page(app, world, db, appeal):
    svc.appeal_comment(actor=world.staff, appeal=appeal, text="Ключ от подвала у консьержа", internal=True)
    assert "Ключ от подвала у консьержа" not in owner_on_p1(app, world).get(f"/appeals/{appeal.id}").text
    assert "Ключ от подвала у консьержа" in login_as(app.test_client(), world.staff).get(f"/appeals/{appeal.id}").text


def test_staff_board_and_inline_status(app, world, db, appeal):
    c = login_as(app.test_client(), world.staff)
    board = c.get("/manage/appeals")
    assert board.status_code == 200 and appeal.number in board.text
    r = c.post(f"/manage/appeals/{appeal.id}/row", data={"to": "in_progress", "version": appeal.version},
               headers={"HX-Request": "true", "HX-Target": f"appeal-row-{appeal.id}"})
    assert r.status_code == 200 and r.text.startswith(f'<article id="appeal-row-{appeal.id}"') and "В работе" in r.text
    stale = c.post(f"/manage/appeals/{appeal.id}/row", data={"to": "done", "version": 1},
                   headers={"HX-Request": "true", "HX-Target": f"appeal-row-{appeal.id}"})
    assert stale.status_code == 409 and "Обновите страницу" in stale.text
    r = c.post(f"/manage/appeals/{appeal.id}/row", data={"action": "assign", "assignee_id": world.ukadmin.id},
               headers={"HX-Request": "true", "HX-Target": f"appeal-row-{appeal.id}"})
    assert r.status_code == 200 and 'selected>Семёнов Дмитрий' in r.text
    frag = c.get("/manage/appeals?status=all", headers={"HX-Request": "true", "HX-Target": "appeals-board"})
    assert frag.text.startswith('<div id="appeals-board">')


@pytest.mark.parametrize(("role", "status"), [("owner", 403), ("council", 403), ("rso", 403), ("staff_other", 404)])
def test_board_permissions(app, world, db, appeal, role, status):
    c = login_as(app.test_client(), world.by_role(role))
    if role != "staff_other":
        assert c.get("/manage/appeals").status_code == status
    assert c.post(f"/manage/appeals/{appeal.id}/row", data={"to": "in_progress"}).status_code == status


def test_detail_forms_show_errors_next_to_the_field_and_keep_text(app, world, db, appeal):
    owner = owner_on_p1(app, world)
    r = owner.post(f"/appeals/{appeal.id}/comment", data={"text": "Когда\x1b придёт мастер?"},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and 'id="comment-text-error"' in r.text and "недопустимые символы" in r.text
    assert "Когда\x1b придёт мастер?" in r.text  # what was typed comes back (and is refused again)
    staff = login_as(app.test_client(), world.staff)
    r = staff.post(f"/appeals/{appeal.id}/status", data={"to": "rejected", "reason": "", "version": appeal.version})
    assert r.status_code == 422 and 'id="reason-rejected-error"' in r.text and "Введите причину" in r.text
    stale = staff.post(f"/appeals/{appeal.id}/status", data={"to": "in_progress", "version": appeal.version - 1})
    assert stale.status_code == 409 and "Обновите страницу" in stale.text
    r = staff.post(f"/appeals/{appeal.id}/status", data={"to": "done", "version": appeal.version})
    assert r.status_code == 303
    r = owner.post(f"/appeals/{appeal.id}/rate", data={"rating": "9", "rating_comment": "Быстро сделали"})
    assert r.status_code == 422 and "Поставьте оценку от 1 до 5" in r.text and 'value="Быстро сделали"' in r.text
    assert owner.post(f"/appeals/{appeal.id}/rate", data={"rating": "5"}).status_code == 303


@pytest.mark.parametrize("role", ["neighbour", "council", "staff_other", "rso", "operator"])
def test_actions_on_an_appeal_one_may_not_reach_are_404(app, world, db, appeal, role):
    c = login_as(app.test_client(), world.by_role(role))
    for path, data in ((f"/appeals/{appeal.id}/status", {"to": "in_progress"}),
                       (f"/appeals/{appeal.id}/comment", {"text": "Чужой комментарий"}),
                       (f"/appeals/{appeal.id}/rate", {"rating": "5"})):
        assert c.post(path, data=data).status_code == 404, path


def test_owner_trying_a_staff_transition_is_403(app, world, db, appeal):
    r = owner_on_p1(app, world).post(f"/appeals/{appeal.id}/status", data={"to": "in_progress"})
    assert r.status_code == 403  # reaches the appeal, may not do this
