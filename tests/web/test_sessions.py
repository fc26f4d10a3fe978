"""Server-side sessions over HTTP: logout really ends the session, a saved cookie is worthless afterwards."""

from datetime import UTC, datetime, timedelta

import pytest
from flask_login.utils import encode_cookie
from sqlalchemy import event

from app.models import UserSession
from app.services import accounts, sessions
from tests.conftest import login_as
from tests.factories import PASSWORD

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _login(client, login="owner"):
    r = client.post("/auth/login", data={"login": login, "password": PASSWORD})
    assert r.status_code == 303
    return r


def test_login_creates_a_session_row_and_cookie_carries_only_the_token(client, world, db):
    _login(client)
    row = db.session.query(UserSession).filter_by(user_id=world.owner.id).one()
    assert row.revoked_at is None and row.session_version == world.owner.session_version
    assert row.ip == "127.0.0.1"
    assert row.expires_at - row.created_at == timedelta(hours=12)
    assert len(row.token_hash) == 64


def test_logout_then_replaying_the_saved_cookie_gets_the_login_page(client, world, db):
    _login(client)
    assert client.get("/profile/").status_code == 200
    saved = client.get_cookie("session").value
    assert client.post("/auth/logout").status_code == 303
    client.set_cookie("session", saved)  # the attacker's copy of the cookie from before logout
    r = client.get("/profile/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/auth/login")
    row = db.session.query(UserSession).filter_by(user_id=world.owner.id).one()
    assert row.revoked_at is not None and row.revoked_reason == "logout"


def test_a_remember_cookie_dies_with_logout_too(app, client, world):
    _login(client)
    token = world.owner.session_token
    client.post("/auth/logout")
    # A remember-me cookie (Flask-Login signs the same token) is refused once the session is revoked.
    client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), encode_cookie(token))
    assert client.get("/profile/").status_code == 302


def test_other_sessions_survive_one_logout(app, world):
    phone, laptop = app.test_client(), app.test_client()
    _login(phone)
    _login(laptop)
    laptop.post("/auth/logout")
    assert phone.get("/profile/").status_code == 200
    assert laptop.get("/profile/").status_code == 302


def test_password_change_kills_other_sessions_and_renews_this_one(app, world, db):
    phone, laptop = app.test_client(), app.test_client()
    _login(phone)
    _login(laptop)
    old_cookie = laptop.get_cookie("session").value
    r = laptop.post(
        "/auth/password",
        data={"current_password": PASSWORD, "new_password": "мой новый пароль", "confirm_password": "мой новый пароль"},
    )
    assert r.status_code == 303
    assert laptop.get("/profile/").status_code == 200
    assert phone.get("/profile/").status_code == 302
    # The laptop's pre-change cookie is dead too: the session was renewed, not kept.
    stale = app.test_client()
    stale.set_cookie("session", old_cookie)
    assert stale.get("/profile/").status_code == 302
    live = sessions.sessions_live(user=world.owner)
    assert len(live) == 1
    revoked = db.session.query(UserSession).filter_by(user_id=world.owner.id, revoked_reason="password_changed")
    assert revoked.count() == 2


def test_reset_and_deactivation_end_every_session(app, world):
    c = login_as(app.test_client(), world.neighbour)
    assert c.get("/home").status_code == 200
    accounts.account_reset(actor=world.staff, user=world.neighbour)
    assert c.get("/home").headers["Location"].startswith("/auth/login")
    c = login_as(app.test_client(), world.neighbour)
    assert c.get("/home").headers["Location"] == "/auth/password"  # logged in, with a temporary password
    accounts.account_set_active(actor=world.staff, user=world.neighbour, active=False)
    assert c.get("/home").headers["Location"].startswith("/auth/login")


def test_forged_or_old_style_session_ids_are_refused(client, world):
    for forged in (f"{world.owner.id}:{world.owner.session_version}", "x" * 500, ""):
        with client.session_transaction() as s:
            s["_user_id"] = forged
        assert client.get("/home").status_code == 302


# --- the service -------------------------------------------------------------------------------------------------

def test_session_expires_and_is_touched_at_most_every_few_minutes(world, db):
    token = sessions.session_start(user=world.owner, lifetime=timedelta(hours=12), now=NOW)
    live = sessions.session_load(token=token, now=NOW + timedelta(minutes=1))
    assert live.user.id == world.owner.id and live.session.last_seen_at == NOW
    live = sessions.session_load(token=token, now=NOW + timedelta(minutes=6))
    assert live.session.last_seen_at == NOW + timedelta(minutes=6)
    assert sessions.session_load(token=token, now=NOW + timedelta(hours=12)) is None
    assert sessions.session_load(token="nope", now=NOW) is None


def test_session_end_revokes_once(world):
    token = sessions.session_start(user=world.owner, now=NOW)
    assert sessions.session_end(token=token, now=NOW)
    assert not sessions.session_end(token=token, now=NOW)
    assert sessions.session_load(token=token, now=NOW) is None


def test_session_load_is_one_query_for_session_and_user(app, world, db):
    token = sessions.session_start(user=world.owner, now=NOW)
    db.session.expunge_all()
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        live = sessions.session_load(token=token, now=NOW + timedelta(seconds=5))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert live is not None
    touching = [s for s in statements if "user_sessions" in s]
    assert len(touching) == 1 and "JOIN" in touching[0].upper()
    assert not any(s.lstrip().upper().startswith("SELECT") and "FROM users" in s and "user_sessions" not in s
                   for s in statements)


@pytest.mark.parametrize("reason", ["two_factor_reset"])
def test_sessions_end_all(world, reason):
    a = sessions.session_start(user=world.owner, now=NOW)
    b = sessions.session_start(user=world.owner, now=NOW)
    assert sessions.sessions_end_all(user=world.owner, reason=reason, now=NOW) == 2
    assert sessions.session_load(token=a, now=NOW) is None and sessions.session_load(token=b, now=NOW) is None
