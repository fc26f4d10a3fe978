import re

from app.extensions import db
from app.models import User
from app.services import accounts
from tests.conftest import login_as
from tests.factories import PASSWORD


def test_login_page_is_russian(client):
    r = client.get("/auth/login")
    assert r.status_code == 200
    assert '<html lang="ru">' in r.text
    assert "Вход в личный кабинет" in r.text
    assert "регистрац" in r.text  # explains there is no self-registration


def test_login_success_redirects_303(client, world):
    r = client.post("/auth/login", data={"login": "owner", "password": PASSWORD})
    assert r.status_code == 303
    assert r.headers["Location"] == "/home"
    assert client.get("/home").status_code == 200


def test_login_failure_keeps_login_and_says_same_message(client, world):
    for login in ("owner", "nobody"):
        r = client.post("/auth/login", data={"login": login, "password": "wrong one"})
        assert r.status_code == 422
        assert "Неверный логин или пароль" in r.text
        assert f'value="{login}"' in r.text
        assert "wrong one" not in r.text  # the password is never echoed
        assert "<title>Ошибка: " in r.text


def test_login_empty_fields_russian_messages(client, world):
    r = client.post("/auth/login", data={"login": "", "password": ""})
    assert r.status_code == 422
    assert "Введите логин" in r.text and "Введите пароль" in r.text
    assert 'href="#login"' in r.text  # the error summary links to the field


def test_next_is_followed_only_within_the_site(client, world):
    r = client.post("/auth/login?next=/profile/", data={"login": "owner", "password": PASSWORD})
    assert r.headers["Location"] == "/profile/"
    client.post("/auth/logout")
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        r = client.post("/auth/login", query_string={"next": evil}, data={"login": "owner", "password": PASSWORD})
        assert r.headers["Location"] == "/home"
        client.post("/auth/logout")


def test_protected_page_redirects_to_login_with_next(client, world):
    r = client.get("/profile/")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/auth/login?next=/profile/")


def test_forced_password_change_flow(client, world):
    issued = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Новикова Ольга")
    r = client.post("/auth/login", data={"login": issued.user.login, "password": issued.temporary_password})
    assert r.status_code == 303 and r.headers["Location"] == "/auth/password"
    # Every other page sends the user back to the password change.
    assert client.get("/profile/").headers["Location"] == "/auth/password"
    assert client.get("/home", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/auth/password"
    page = client.get("/auth/password")
    assert "Придумайте свой пароль" in page.text
    bad = client.post(
        "/auth/password",
        data={
            "current_password": issued.temporary_password,
            "new_password": "12345678",
            "confirm_password": "12345678",
        },
    )
    assert bad.status_code == 422 and "распространён" in bad.text
    ok = client.post(
        "/auth/password",
        data={
            "current_password": issued.temporary_password,
            "new_password": "мой новый пароль",
            "confirm_password": "мой новый пароль",
        },
    )
    assert ok.status_code == 303
    assert client.get("/profile/").status_code == 200


def test_deactivation_ends_sessions(app, world):
    c = login_as(app.test_client(), world.neighbour)
    assert c.get("/home").status_code == 200
    accounts.account_set_active(actor=world.staff, user=world.neighbour, active=False)
    assert c.get("/home").status_code == 302


def test_logout_is_post_only(client, world):
    login_as(client, world.owner)
    assert client.get("/auth/logout").status_code == 405
    r = client.post("/auth/logout")
    assert r.status_code == 303
    assert client.get("/home").status_code == 302


def _try(client, login, password, ip):
    return client.post("/auth/login", data={"login": login, "password": password}, environ_base={"REMOTE_ADDR": ip})


def test_login_limits_are_per_account_and_address_with_higher_ceilings(app):
    assert app.config["LOGIN_LIMIT_PER_ACCOUNT_IP"] == "5 per minute; 20 per hour"
    assert app.config["LOGIN_LIMIT_PER_ACCOUNT"] == "20 per minute; 100 per hour"
    assert app.config["LOGIN_LIMIT_PER_IP"] == "100 per minute; 1000 per hour"


def test_login_rate_limited_per_account_from_one_address(client, world):
    for _ in range(5):
        assert _try(client, "owner", "bad", "10.0.0.1").status_code == 422
    r = _try(client, "owner", PASSWORD, "10.0.0.1")
    assert r.status_code == 429
    assert "Слишком много попыток" in r.text
    # The owner at home, on another address, is not locked out by a guesser elsewhere.
    assert _try(client, "owner", PASSWORD, "10.0.0.2").status_code == 303


def test_login_per_account_ceiling_across_addresses(client, world):
    for i in range(20):  # a guesser spreading over addresses: 1 try from each
        assert _try(client, "owner", "bad", f"10.0.1.{i}").status_code == 422
    assert _try(client, "owner", PASSWORD, "10.0.2.1").status_code == 429
    # Another account from the same address is not affected.
    assert _try(client, "neighbour", PASSWORD, "10.0.2.1").status_code == 303


def test_nat_neighbours_are_not_locked_out_by_one_flat(client, world):
    """A block of flats behind one provider address: one resident's typos lock only that account there."""
    for _ in range(5):
        assert _try(client, "owner", "bad", "10.5.5.5").status_code == 422
    assert _try(client, "owner", PASSWORD, "10.5.5.5").status_code == 429
    assert _try(client, "neighbour", "bad", "10.5.5.5").status_code == 422
    assert _try(client, "neighbour", PASSWORD, "10.5.5.5").status_code == 303


def test_login_ip_wide_ceiling_still_applies(app, client, world):
    app.config["LOGIN_LIMIT_PER_IP"] = "12 per minute"  # the default is 100/min; same rule, fewer requests
    for i in range(12):
        assert _try(client, f"guess{i}", "bad", "10.9.9.9").status_code == 422
    assert _try(client, "owner", PASSWORD, "10.9.9.9").status_code == 429
    assert _try(client, "owner", PASSWORD, "10.9.9.8").status_code == 303


def test_successful_logins_do_not_count(client, world):
    for _ in range(8):
        r = client.post("/auth/login", data={"login": "owner", "password": PASSWORD})
        assert r.status_code == 303
        client.post("/auth/logout")


def test_session_cookie_flags(client, world):
    r = client.post("/auth/login", data={"login": "owner", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_in_production_config():
    from config import ProdConfig

    assert ProdConfig.SESSION_COOKIE_SECURE is True


def test_csrf_enforced_when_enabled(app_factory, world):
    app = app_factory(WTF_CSRF_ENABLED=True)
    c = app.test_client()
    r = c.post("/auth/login", data={"login": "owner", "password": PASSWORD})
    assert r.status_code == 400 and "Страница устарела" in r.text
    page = c.get("/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    r = c.post("/auth/login", data={"login": "owner", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    # htmx requests carry the token in a header set on <body>.
    home = c.get("/home")
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', home.text).group(1)
    r = c.post(
        "/profile/contacts/edit",
        data={"phone": "", "email": ""},
        headers={"HX-Request": "true", "HX-Target": "profile-contacts"},
    )
    assert r.status_code == 400
    r = c.post(
        "/profile/contacts/edit",
        data={"phone": "", "email": "a@b.ru"},
        headers={"HX-Request": "true", "HX-Target": "profile-contacts", "X-CSRFToken": header_token},
    )
    assert r.status_code == 200
    assert db.session.query(User).filter_by(login="owner").one().email == "a@b.ru"


def test_production_refuses_the_default_secret_key(monkeypatch):
    import pytest

    from app import create_app
    from config import ProdConfig

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(type("P", (ProdConfig,), {"SECRET_KEY": "dev-secret-change-me"}))
