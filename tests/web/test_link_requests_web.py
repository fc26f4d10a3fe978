"""Link requests on the web: the owner answers in «Мой профиль» (POST, CSRF, audit); staff withdraw."""

import re

import pytest

from app.models import AuditLog, LinkStatus, Ownership, OwnershipLinkRequest
from app.services import accounts
from tests.conftest import login_as

ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]


@pytest.fixture
def pending(world, db):
    accounts.ownership_link_request(actor=world.council, premises=world.p2, login="other", share="1/2")
    return db.session.query(OwnershipLinkRequest).filter_by(login="other").one()


def _client(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


def test_owner_sees_the_request_in_the_profile(app, world, pending):
    page = login_as(app.test_client(), world.owner_other).get("/profile/").text
    assert "Запросы на добавление помещения" in page
    for expected in (world.p2.full_address, "Козлова Ирина Николаевна", "совет дома", "доля 1/2",
                     f"/profile/links/{pending.id}/accept", f"/profile/links/{pending.id}/decline"):
        assert expected in page, expected
    for role in ("owner", "neighbour", "staff"):
        assert "Запросы на добавление помещения" not in _client(app, world, role).get("/profile/").text


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_only_the_addressee_answers(app, world, db, pending, role, answer):
    r = _client(app, world, role).post(f"/profile/links/{pending.id}/{answer}")
    assert r.status_code == (302 if role == "anon" else 404), role
    db.session.expire_all()
    assert pending.status == LinkStatus.PENDING
    assert db.session.query(Ownership).filter_by(premises_id=world.p2.id, user_id=world.owner_other.id).count() == 0


def test_accept_creates_the_ownership_and_audit(app, world, db, pending):
    c = login_as(app.test_client(), world.owner_other)
    assert c.get(f"/profile/links/{pending.id}/accept").status_code == 405
    r = c.post(f"/profile/links/{pending.id}/accept", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert r.status_code == 303 and r.headers["Location"] == "/profile/"
    page = c.get("/profile/").text
    assert "Помещение добавлено" in page and "Запросы на добавление помещения" not in page
    ownership = db.session.query(Ownership).filter_by(premises_id=world.p2.id, user_id=world.owner_other.id).one()
    assert (ownership.share_num, ownership.share_den) == (1, 2)
    audit = db.session.query(AuditLog).filter_by(action="link_accepted").one()
    assert audit.actor_id == world.owner_other.id and audit.ip == "10.9.8.7"
    # A second answer is a clear message, not an error page.
    r = c.post(f"/profile/links/{pending.id}/decline")
    assert r.status_code == 303 and "уже закрыт" in c.get("/profile/").text


def test_decline_creates_nothing(app, world, db, pending):
    c = login_as(app.test_client(), world.owner_other)
    r = c.post(f"/profile/links/{pending.id}/decline")
    assert r.status_code == 303 and "Запрос отклонён" in c.get("/profile/").text
    assert db.session.query(Ownership).filter_by(user_id=world.owner_other.id).count() == 1
    assert db.session.query(AuditLog).filter_by(action="link_declined", actor_id=world.owner_other.id).count() == 1
    # The council still sees «не принят» (a decline tells them no more than silence would).
    page = login_as(app.test_client(), world.council).get(f"/manage/premises/{world.p2.id}").text
    assert "не принят" in page and "Сидоров" not in page


def test_answers_need_the_csrf_token(app_factory, world, db, pending):
    app = app_factory(WTF_CSRF_ENABLED=True)
    c = login_as(app.test_client(), world.owner_other)
    assert c.post(f"/profile/links/{pending.id}/accept").status_code == 400
    page = c.get("/profile/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post(f"/profile/links/{pending.id}/accept", data={"csrf_token": token}).status_code == 303
    assert db.session.query(Ownership).filter_by(premises_id=world.p2.id, user_id=world.owner_other.id).count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_withdraw_matrix(app, world, db, pending, role):
    r = _client(app, world, role).post(f"/manage/premises/{world.p2.id}/links/{pending.id}/withdraw")
    expected = {"anon": 302, "council": 303, "staff": 303, "ukadmin": 303, "staff_other": 404}.get(role, 403)
    assert r.status_code == expected, role
    db.session.expire_all()
    assert pending.status == (LinkStatus.WITHDRAWN if expected == 303 else LinkStatus.PENDING)


def test_withdraw_from_the_premises_page(app, world, db, pending):
    c = login_as(app.test_client(), world.staff)
    page = c.get(f"/manage/premises/{world.p2.id}").text
    assert 'логин <span class="mono">other</span>' in page and "Сидоров" not in page
    r = c.post(f"/manage/premises/{world.p2.id}/links/{pending.id}/withdraw")
    page = c.get(r.headers["Location"]).text
    assert "Запрос отозван" in page and "Запросов нет" in page
    assert login_as(app.test_client(), world.owner_other).get("/profile/").text.count("Принять") == 0
    # The request of another premises is not found through this one.
    other = c.post(f"/manage/premises/{world.p1.id}/links/{pending.id}/withdraw")
    assert other.status_code == 404


def test_link_requests_are_rate_limited_per_manager(app_factory, world, db):
    """Probing logins through the link form stays slow: a manager may send only so many requests."""
    from app.extensions import limiter
    from tests.conftest import login_as as _login

    application = app_factory(LINK_REQUEST_LIMIT="3 per hour")
    with application.app_context():
        limiter.reset()
        c = _login(application.test_client(), world.staff)
        codes = [c.post(f"/manage/premises/{world.p2.id}/owners", data={"existing_login": f"nobody{i}"}).status_code
                 for i in range(4)]
    assert codes[:3] == [303, 303, 303] and codes[3] == 429


def test_expire_links_command(app, world):
    result = app.test_cli_runner().invoke(args=["accounts", "expire-links"])
    assert result.exit_code == 0 and "expired" in result.output
