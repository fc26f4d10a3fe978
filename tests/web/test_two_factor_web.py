"""Second factor over HTTP: enrolment pages, the login step, the grace period hook, rate limits, storage."""

import re
import time
import uuid
from datetime import timedelta

import pyotp
import pytest

from app.models import AuditLog, User
from app.models.base import utcnow
from app.services import twofactor
from tests.conftest import login_as
from tests.factories import PASSWORD


def _secret_from(page: str) -> str:
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def _enrol_over_http(client):
    page = client.get("/auth/two-factor")
    assert page.status_code == 200 and "Подключить приложение" in page.text
    assert client.post("/auth/two-factor/start").status_code == 303
    page = client.get("/auth/two-factor")
    assert 'src="data:image/svg+xml' in page.text
    secret = _secret_from(page.text)
    r = client.post("/auth/two-factor/confirm", data={"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200 and "Сохраните коды восстановления" in r.text
    codes = re.findall(r"<li>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</li>", r.text)
    assert len(codes) == 10
    return secret, codes


def _next_code(secret: str) -> str:
    """The code of the next 30-second step (the current one may have been used already; window=1 accepts it)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _password_step(client, login="owner", **kwargs):
    r = client.post("/auth/login", data={"login": login, "password": PASSWORD}, **kwargs)
    assert r.status_code == 303
    return r


def test_enrol_then_login_with_a_code(app, world):
    client = login_as(app.test_client(), world.owner)
    secret, _codes = _enrol_over_http(client)
    page = client.get("/auth/two-factor")
    assert "Вход с кодом включён" in page.text and "10 из 10" in page.text
    assert "totp-secret" not in page.text  # the secret is never shown again
    client.post("/auth/logout")

    r = _password_step(client, query_string={"next": "/profile/"})
    assert r.headers["Location"] == "/auth/2fa"
    # The password alone does not log in.
    assert client.get("/home").headers["Location"].startswith("/auth/login")
    page = client.get("/auth/2fa")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.text
    r = client.post("/auth/2fa", data={"code": "000000" if _next_code(secret) != "000000" else "111111"})
    assert r.status_code == 422 and "Неверный код" in r.text and "<title>Ошибка: " in r.text
    r = client.post("/auth/2fa", data={"code": _next_code(secret)})
    assert r.status_code == 303 and r.headers["Location"] == "/profile/"
    assert client.get("/profile/").status_code == 200


def test_login_with_a_recovery_code_once(app, world):
    client = login_as(app.test_client(), world.owner)
    _secret, codes = _enrol_over_http(client)
    client.post("/auth/logout")
    _password_step(client)
    assert client.post("/auth/2fa", data={"code": codes[3]}).status_code == 303
    client.post("/auth/logout")
    _password_step(client)
    r = client.post("/auth/2fa", data={"code": codes[3]})
    assert r.status_code == 422


def test_second_step_without_the_password_step_goes_back_to_login(client, world):
    r = client.get("/auth/2fa")
    assert r.status_code == 303 and r.headers["Location"] == "/auth/login"


def test_second_step_expires(app, world):
    client = login_as(app.test_client(), world.owner)
    secret, _ = _enrol_over_http(client)
    client.post("/auth/logout")
    _password_step(client)
    with client.session_transaction() as s:
        s["2fa_pending"] = {**s["2fa_pending"], "t": int(time.time()) - 600}
    r = client.post("/auth/2fa", data={"code": _next_code(secret)})
    assert r.status_code == 303 and r.headers["Location"] == "/auth/login"


def test_second_step_is_rate_limited_per_account(app, world, db):
    client = login_as(app.test_client(), world.owner)
    secret, _ = _enrol_over_http(client)
    client.post("/auth/logout")
    _password_step(client)
    for _ in range(5):
        assert client.post("/auth/2fa", data={"code": "12345"}).status_code == 422
    r = client.post("/auth/2fa", data={"code": _next_code(secret)})
    assert r.status_code == 429
    # Another browser with the same password is limited too (the limit is the account's).
    other = app.test_client()
    _password_step(other, environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert other.post("/auth/2fa", data={"code": _next_code(secret)}).status_code == 429
    assert db.session.query(AuditLog).filter_by(action="two_factor_failed").count() == 5


def test_enrolment_wrong_code_keeps_the_qr_and_says_why(app, world):
    client = login_as(app.test_client(), world.owner)
    client.post("/auth/two-factor/start")
    r = client.post("/auth/two-factor/confirm", data={"code": "12"})
    assert r.status_code == 422 and "Неверный код" in r.text and 'src="data:image/svg+xml' in r.text


def test_disable_over_http(app, world):
    client = login_as(app.test_client(), world.owner)
    secret, _ = _enrol_over_http(client)
    r = client.post("/auth/two-factor/disable", data={"off-password": "wrong", "off-code": _next_code(secret)})
    assert r.status_code == 422 and "Пароль введён неверно" in r.text
    r = client.post("/auth/two-factor/disable", data={"off-password": PASSWORD, "off-code": _next_code(secret)})
    assert r.status_code == 303
    assert not twofactor.is_enabled(world.owner)


def test_recovery_codes_can_be_renewed_over_http(app, world):
    client = login_as(app.test_client(), world.owner)
    secret, old = _enrol_over_http(client)
    r = client.post("/auth/two-factor/recovery-codes", data={"renew-code": _next_code(secret)})
    assert r.status_code == 200 and "Прежние коды восстановления больше не действуют" in r.text
    assert not set(re.findall(r"<li>([a-z0-9-]{14})</li>", r.text)) & set(old)


# --- grace period ------------------------------------------------------------------------------------------------

def test_staff_first_login_starts_grace_and_shows_a_reminder(client, world, db):
    r = _password_step(client, login="staff")
    assert r.headers["Location"] == "/home"
    staff = db.session.get(User, world.staff.id)
    assert staff.two_factor_required_since is not None
    page = client.get("/home")
    assert page.status_code == 200 and "Включите его до" in page.text


def test_owner_login_has_no_reminder(client, world, db):
    _password_step(client)
    assert "вход с кодом" not in client.get("/home").text.lower()
    assert db.session.get(User, world.owner.id).two_factor_required_since is None


def test_after_grace_staff_can_reach_only_enrolment(client, world, db):
    world.staff.two_factor_required_since = utcnow() - timedelta(days=15)
    db.session.commit()
    r = _password_step(client, login="staff")
    assert r.headers["Location"] == "/auth/two-factor"
    assert client.get("/home").headers["Location"] == "/auth/two-factor"
    assert client.get("/manage/", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/auth/two-factor"
    page = client.get("/auth/two-factor")
    assert page.status_code == 200 and "чтобы продолжить работу" in page.text
    # Enrolling frees the account.
    client.post("/auth/two-factor/start")
    secret = _secret_from(client.get("/auth/two-factor").text)
    assert client.post("/auth/two-factor/confirm", data={"code": pyotp.TOTP(secret).now()}).status_code == 200
    assert client.get("/home").status_code == 200


def test_grace_days_are_configurable(app, client, world, db):
    app.config["TWO_FACTOR_GRACE_DAYS"] = 30
    world.staff.two_factor_required_since = utcnow() - timedelta(days=15)
    db.session.commit()
    assert _password_step(client, login="staff").headers["Location"] == "/home"


# --- rate-limit storage ------------------------------------------------------------------------------------------

def test_production_refuses_memory_rate_limit_storage():
    from app import create_app
    from config import ProdConfig

    base = {"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://", "RATELIMIT_STORAGE_URI": "memory://"}
    with pytest.raises(RuntimeError, match="RATELIMIT_STORAGE_URI"):
        create_app(type("P", (ProdConfig,), base))
    create_app(type("P", (ProdConfig,), {**base, "RATELIMIT_ALLOW_MEMORY": True}))


def _redis_or_skip(url: str):
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"Redis is not reachable at {url}: {error}")


def test_login_limits_work_on_redis(app_factory, world):
    from app import create_app
    from config import ProdConfig

    url = "redis://127.0.0.1:6379/0"
    _redis_or_skip(url)
    prefix = f"portal-test-{uuid.uuid4().hex[:8]}"
    create_app(type("P", (ProdConfig,), {"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                                         "RATELIMIT_STORAGE_URI": url}))  # production accepts Redis
    app = app_factory(RATELIMIT_STORAGE_URI=url, RATELIMIT_KEY_PREFIX=prefix)
    client = app.test_client()
    try:
        for _ in range(5):
            r = client.post("/auth/login", data={"login": "owner", "password": "bad"},
                            environ_base={"REMOTE_ADDR": "10.7.7.7"})
            assert r.status_code == 422
        r = client.post("/auth/login", data={"login": "owner", "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.7.7.7"})
        assert r.status_code == 429
    finally:
        import redis

        store = redis.Redis.from_url(url)
        keys = store.keys(f"*{prefix}*")
        if keys:
            store.delete(*keys)  # only this test's counters: others may share the server
    assert keys  # the counters lived in Redis


def test_admin_resets_a_lost_phone(app, world, db):
    staff_client = login_as(app.test_client(), world.staff)
    _enrol_over_http(staff_client)
    assert staff_client.get("/home").status_code == 200
    # Staff may not reset their administrator; another УК's admin does not even see the account.
    other = login_as(app.test_client(), world.staff_other)
    assert other.post(f"/auth/two-factor/reset/{world.staff.id}").status_code == 404
    assert login_as(app.test_client(), world.staff).post(
        f"/auth/two-factor/reset/{world.ukadmin.id}").status_code == 404
    admin = login_as(app.test_client(), world.ukadmin)
    r = admin.post(f"/auth/two-factor/reset/{world.staff.id}", data={"next": "/manage/"})
    assert r.status_code == 303 and r.headers["Location"] == "/manage/"
    assert not twofactor.is_enabled(world.staff)
    assert staff_client.get("/home").headers["Location"].startswith("/auth/login")  # sessions ended
    assert admin.post("/auth/two-factor/reset/99999999999").status_code == 404
