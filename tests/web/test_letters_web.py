"""The letters page and its two POSTs: permission matrix (every role), a refused POST changes nothing, the PDF
is streamed with no-store and nothing with a password is stored, errors next to the field with «Ошибка:»."""

import io
import re

import pytest
from pypdf import PdfReader

from app.models import OwnerRecord, User
from app.services import passwords
from tests.conftest import login_as
from tests.web.test_post_refusals import changed_tables, snapshot

ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]
MANAGERS_OK = {"council": 200, "staff": 200, "ukadmin": 200}


def _client(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


@pytest.fixture
def register(world, db):
    db.session.add_all([OwnerRecord(premises_id=world.p2.id, full_name="Петрова Мария Ивановна", share_num=1,
                                    share_den=2),
                        OwnerRecord(premises_id=world.p3.id, full_name="Кузнецов Илья Ильич"),
                        OwnerRecord(premises_id=world.p_other.id, full_name="Чужой Собственник")])
    db.session.commit()


@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, register, role):
    c = _client(app, world, role)
    expected = {"anon": 302, **MANAGERS_OK, "staff_other": 404}.get(role, 403)
    assert c.get(f"/manage/buildings/{world.building.id}/letters").status_code == expected
    # Another УК's building does not exist for them; its own staff see it.
    other = {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404, "staff_other": 200}.get(role, 403)
    assert c.get(f"/manage/buildings/{world.building_other.id}/letters").status_code == other
    # The council of ул. Ленина, 1 does not manage ул. Горького, 5; the УК does.
    b2 = {"anon": 302, "council": 404, "staff": 200, "ukadmin": 200, "staff_other": 404}.get(role, 403)
    assert c.get(f"/manage/buildings/{world.building2.id}/letters").status_code == b2


@pytest.mark.parametrize("role", ["owner", "neighbour", "council", "staff", "ukadmin", "rso", "operator"])
def test_refused_posts_change_nothing(app, world, register, role):
    """Posts to the other УК's building: refused (404 or 403), the database unchanged table by table."""
    c = _client(app, world, role)
    for path, data in ((f"/manage/buildings/{world.building_other.id}/letters/issue", {}),
                       (f"/manage/buildings/{world.building_other.id}/letters/reissue",
                        {"user_ids": str(world.owner_other.id)}),
                       (f"/manage/buildings/{world.building.id}/letters/reissue",
                        {"user_ids": str(world.owner_other.id)})):
        before = snapshot()
        r = c.post(path, data=data)
        assert r.status_code in (403, 404), (role, path, r.status_code)
        assert changed_tables(before, snapshot()) == [], (role, path)


def test_staff_other_reaches_their_own_building(app, world, register, db):
    r = _client(app, world, "staff_other").post(f"/manage/buildings/{world.building_other.id}/letters/issue")
    assert r.status_code == 200 and r.mimetype == "application/pdf"


@pytest.mark.parametrize("role", ["council", "staff", "ukadmin"])
def test_issue_streams_one_pdf_and_stores_no_password(app, world, register, db, role):
    c = _client(app, world, role)
    page = c.get(f"/manage/buildings/{world.building.id}/letters")
    assert "Выдать доступ и скачать письма (2)" in page.text and "Петрова Мария Ивановна" in page.text
    r = c.post(f"/manage/buildings/{world.building.id}/letters/issue", data={"entrance": ""})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "no-store" in r.headers["Cache-Control"]
    assert r.headers["Content-Disposition"].startswith("attachment;")
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(r.data)).pages]
    assert len(pages) == 2
    user = db.session.query(User).filter_by(full_name="Петрова Мария Ивановна").one()
    password = re.search(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", pages[0]).group(0)
    assert user.login in pages[0] and passwords.verify_password(user.password_hash, password)
    # The password is nowhere in the database (only its hash), in no table.
    dump = repr(snapshot())
    assert password not in dump and r.data[:100] not in dump.encode()
    # Twice: nothing new; the page says so.
    again = c.post(f"/manage/buildings/{world.building.id}/letters/issue", data={"entrance": ""})
    assert again.status_code == 303
    assert "доступ уже выдан" in c.get(again.headers["Location"]).text


def test_issue_for_one_entrance(app, world, register, db):
    c = _client(app, world, "staff")
    r = c.post(f"/manage/buildings/{world.building.id}/letters/issue", data={"entrance": "2"})
    assert len(PdfReader(io.BytesIO(r.data)).pages) == 1
    assert db.session.query(OwnerRecord).filter_by(premises_id=world.p2.id).one().user_id is None


def test_reissue_selected_owners(app, world, register, db):
    c = _client(app, world, "council")
    page = c.get(f"/manage/buildings/{world.building.id}/letters").text
    assert f'name="user_ids" value="{world.neighbour.id}"' in page
    assert f'name="user_ids" value="{world.council.id}"' not in page  # never one's own account
    before = world.neighbour.session_version
    r = c.post(f"/manage/buildings/{world.building.id}/letters/reissue", data={"user_ids": [str(world.neighbour.id)]})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    db.session.expire_all()
    assert world.neighbour.session_version == before + 1 and world.neighbour.must_change_password


def test_reissue_without_selection_shows_the_error_next_to_the_list(app, world, register):
    c = _client(app, world, "staff")
    r = c.post(f"/manage/buildings/{world.building.id}/letters/reissue", data={"entrance": "1"})
    assert r.status_code == 422
    assert "<title>Ошибка:" in r.text and "Отметьте собственников" in r.text
    assert 'class="error-summary"' in r.text and 'href="#user_ids"' in r.text


def test_building_page_links_to_letters(app, world):
    text = _client(app, world, "council").get(f"/manage/buildings/{world.building.id}").text
    assert f"/manage/buildings/{world.building.id}/letters" in text


def test_letters_page_filters_and_budget(app, world, register):
    import gzip

    c = _client(app, world, "staff")
    r = c.get(f"/manage/buildings/{world.building.id}/letters?entrance=2&status=none")
    assert r.status_code == 200 and "Кузнецов Илья Ильич" in r.text and "Петрова" not in r.text
    assert len(gzip.compress(r.data)) < 14 * 1024
    assert c.get(f"/manage/buildings/{world.building.id}/letters?entrance=x&status=<b>").status_code == 200
