"""«Запомнить меня на этом телефоне»: owners get a long server-side session (60 days absolute, 35 days idle)
that a remember cookie can reopen after the browser drops its session cookie; logout ends it for good; the
back office keeps the ordinary 12-hour session. And the per-process cap on concurrent argon2 hashing."""

import threading
import time
from datetime import timedelta

import pytest
from freezegun import freeze_time

from app.extensions import db as _db
from app.models import UserSession
from app.models.base import utcnow
from app.services import passwords, sessions
from tests.factories import PASSWORD


def _row(user_id) -> UserSession:
    _db.session.expire_all()
    return _db.session.query(UserSession).filter_by(user_id=user_id).order_by(UserSession.id.desc()).first()


def _without_session_cookie(client):
    """The phone's browser was closed: the session cookie is gone, the remember cookie stays."""
    client.delete_cookie("session")


def test_owner_remembered_for_sixty_days(client, world):
    r = client.post("/auth/login", data={"login": "owner", "password": PASSWORD, "remember": "y"})
    assert r.status_code == 303
    assert "remember_token=" in " ".join(r.headers.getlist("Set-Cookie"))
    row = _row(world.owner.id)
    assert row.remember and row.expires_at - row.created_at == sessions.REMEMBER_LIFETIME
    _without_session_cookie(client)
    assert client.get("/home").status_code == 200  # reopened from the remember cookie


def test_without_the_box_no_remember_cookie(client, world):
    r = client.post("/auth/login", data={"login": "owner", "password": PASSWORD})
    assert "remember_token=" not in " ".join(r.headers.getlist("Set-Cookie"))
    row = _row(world.owner.id)
    assert not row.remember and row.expires_at - row.created_at == timedelta(hours=12)
    _without_session_cookie(client)
    assert client.get("/home").status_code == 302


@pytest.mark.parametrize("login", ["staff", "council", "admin"])
def test_back_office_accounts_are_never_remembered(client, world, login):
    r = client.post("/auth/login", data={"login": login, "password": PASSWORD, "remember": "y"})
    assert r.status_code == 303
    assert "remember_token=" not in " ".join(r.headers.getlist("Set-Cookie"))
    user = world.by_role({"admin": "operator"}.get(login, login))
    row = _row(user.id)
    assert not row.remember and row.expires_at - row.created_at == timedelta(hours=12)


def test_logout_makes_the_remember_cookie_worthless(client, world):
    client.post("/auth/login", data={"login": "owner", "password": PASSWORD, "remember": "y"})
    cookie = client.get_cookie("remember_token")
    client.post("/auth/logout")
    client.set_cookie("remember_token", cookie.value)  # a copy of the cookie saved before logout
    _without_session_cookie(client)
    assert client.get("/home").status_code == 302


def test_remembered_session_ends_after_idle_and_at_its_absolute_end(app, world):
    start = utcnow()
    token = sessions.session_start(user=world.owner, remember=True, now=start, grace_starts=False)
    assert sessions.session_load(token=token, now=start + timedelta(days=34)) is not None  # touched
    assert sessions.session_load(token=token, now=start + timedelta(days=34 + 34)) is None  # over 60 days
    other = sessions.session_start(user=world.owner, remember=True, now=start, grace_starts=False)
    assert sessions.session_load(token=other, now=start + timedelta(days=36)) is None  # idle for 36 days
    chain = sessions.session_start(user=world.owner, remember=True, now=start, grace_starts=False)
    for day in (20, 40, 59):  # used every few weeks: alive until the absolute end
        assert sessions.session_load(token=chain, now=start + timedelta(days=day)) is not None
    assert sessions.session_load(token=chain, now=start + timedelta(days=61)) is None


def test_ordinary_session_keeps_its_twelve_hours(app, world):
    start = utcnow()
    token = sessions.session_start(user=world.owner, now=start, grace_starts=False)
    assert sessions.session_load(token=token, now=start + timedelta(hours=11)) is not None
    assert sessions.session_load(token=token, now=start + timedelta(hours=13)) is None


def test_password_change_keeps_a_remembered_phone_remembered(client, world):
    with freeze_time("2026-11-22 03:00:00"):
        client.post("/auth/login", data={"login": "owner", "password": PASSWORD, "remember": "y"})
        r = client.post("/auth/password", data={"current_password": PASSWORD, "new_password": "новый длинный пароль",
                                                "confirm_password": "новый длинный пароль"})
        assert r.status_code == 303
        row = _row(world.owner.id)
        assert row.remember and row.expires_at - row.created_at == sessions.REMEMBER_LIFETIME
        _without_session_cookie(client)
        assert client.get("/home").status_code == 200


def test_hashing_is_capped_per_process(app):
    """With a cap of 1, two threads never hash at the same time."""
    hashed = passwords.hash_password("длинный пароль из слов")
    previous = passwords.max_concurrent()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1, max_concurrent=1)
    inside, most = 0, 0
    lock = threading.Lock()
    class SlowHasher:
        """Records how many verifications run at once."""

        def verify(self, h, p):
            return slow_verify(h, p)

    real = passwords._hasher.verify

    def slow_verify(h, p):
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)
        with lock:
            inside -= 1
        return real(h, p)

    passwords._hasher = SlowHasher()
    try:
        threads = [threading.Thread(target=passwords.verify_password, args=(hashed, "x")) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert most == 1
        passwords.configure(time_cost=1, memory_cost=1024, parallelism=1, max_concurrent=3)
        passwords._hasher = SlowHasher()
        most = 0
        threads = [threading.Thread(target=passwords.verify_password, args=(hashed, "x")) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert most == 3
    finally:
        passwords.configure(time_cost=1, memory_cost=1024, parallelism=1, max_concurrent=previous)
