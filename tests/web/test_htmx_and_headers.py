"""htmx contract (fragments, 422 swaps, Vary, 401 + HX-Redirect) and security headers."""

import re

import pytest

from tests.conftest import login_as

HX = {"HX-Request": "true"}


def hx(target: str) -> dict:
    return {**HX, "HX-Target": target}


FRAGMENTS = [
    ("/profile/contacts/edit", "profile-contacts", "owner"),
    ("/profile/contacts", "profile-contacts", "owner"),
    ("/profile/preferences/edit", "profile-preferences", "owner"),
    ("/profile/preferences", "profile-preferences", "owner"),
    ("/apartment/owner-fields/edit", "apartment-owner-fields", "owner"),
    ("/apartment/owner-fields", "apartment-owner-fields", "owner"),
    ("/manage/buildings/{building}", "premises-table", "staff"),
]


@pytest.mark.parametrize(("path", "target", "role"), FRAGMENTS)
def test_fragment_contract(app, world, path, target, role):
    c = login_as(app.test_client(), world.by_role(role))
    r = c.get(path.format(building=world.building.id), headers=hx(target))
    assert r.status_code == 200
    assert "<html" not in r.text
    roots = re.findall(r'^<(\w+) id="([\w-]+)"', r.text.strip(), flags=re.M)
    assert roots and roots[0][1] == target
    assert "HX-Request" in r.headers["Vary"]
    assert len(r.data) <= 5 * 1024


@pytest.mark.parametrize(("path", "target", "role"), FRAGMENTS[:1] + FRAGMENTS[4:5])
def test_same_url_without_htmx_is_a_full_page(app, world, path, target, role):
    c = login_as(app.test_client(), world.by_role(role))
    r = c.get(path)
    assert r.status_code == 200 and "<html" in r.text and f'id="{target}"' in r.text


def test_bare_hx_request_does_not_get_a_fragment(app, world):
    c = login_as(app.test_client(), world.owner)
    r = c.get("/profile/contacts/edit", headers=HX)
    assert "<html" in r.text


def test_inline_edit_error_is_422_partial_and_keeps_input(app, world):
    c = login_as(app.test_client(), world.owner)
    r = c.post("/profile/contacts/edit", data={"phone": "12-34", "email": "anna@"}, headers=hx("profile-contacts"))
    assert r.status_code == 422
    assert "<html" not in r.text
    assert 'value="12-34"' in r.text and 'value="anna@"' in r.text
    assert "Введите номер телефона" in r.text and "Введите адрес электронной почты" in r.text
    assert 'aria-invalid="true"' in r.text


def test_inline_edit_success_returns_view_with_flash_oob(app, world):
    c = login_as(app.test_client(), world.owner)
    r = c.post("/profile/contacts/edit", data={"phone": "89141234567", "email": "anna@example.ru"},
               headers=hx("profile-contacts"))
    assert r.status_code == 200
    assert "+7 914 123-45-67" in r.text
    assert '<div id="flash" class="flash" hx-swap-oob="true"' in r.text
    assert "Изменения сохранены" in r.text


def test_page_form_success_is_303_and_error_is_full_page_422(app, world):
    c = login_as(app.test_client(), world.owner)
    r = c.post("/profile/contacts/edit", data={"phone": "+7 914 123 45 67", "email": ""})
    assert r.status_code == 303 and r.headers["Location"] == "/profile/"
    assert "Изменения сохранены" in c.get("/profile/").text
    r = c.post("/profile/contacts/edit", data={"phone": "abc", "email": "ok@example.ru"})
    assert r.status_code == 422 and "<html" in r.text
    assert "<title>Ошибка: " in r.text
    assert 'class="error-summary"' in r.text and 'href="#phone"' in r.text
    assert 'value="abc"' in r.text and 'value="ok@example.ru"' in r.text


def test_unauthenticated_htmx_gets_401_with_hx_redirect(client, world):
    r = client.get("/profile/contacts/edit", headers=hx("profile-contacts"))
    assert r.status_code == 401
    assert r.headers["HX-Redirect"].startswith("/auth/login")
    assert r.text == ""


def test_vary_on_every_response(client, world):
    for path in ("/auth/login", "/home", "/nope"):
        assert "HX-Request" in client.get(path).headers.get("Vary", "")


def test_security_headers(client):
    r = client.get("/auth/login")
    csp = r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_no_inline_scripts_or_styles(app, world):
    c = login_as(app.test_client(), world.owner)
    for path in ("/auth/password", "/home", "/profile/", "/apartment/"):
        html = c.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"<[^>]+\son[a-z]+=", html), path


def test_personal_pages_are_not_cached(app, world):
    c = login_as(app.test_client(), world.owner)
    r = c.get("/profile/")
    assert "no-store" in r.headers["Cache-Control"]
    assert 'hx-history="false"' in r.text


def test_static_files_are_versioned_and_long_cached(client):
    html = client.get("/auth/login").text
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{10})"', html).group(1)
    r = client.get(css)
    assert r.status_code == 200
    assert "max-age=31536000" in r.headers["Cache-Control"] and "immutable" in r.headers["Cache-Control"]
    assert "no-cache" not in r.headers["Cache-Control"]
    js = re.search(r'src="(/static/vendor/htmx-2\.0\.11\.min\.js\?v=[0-9a-f]{10})" defer', html)
    assert js


def test_htmx_config_swaps_422_and_disables_eval(client):
    html = client.get("/auth/login").text
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html).group(1)
    import json

    parsed = json.loads(config)
    assert parsed["allowEval"] is False and parsed["includeIndicatorStyles"] is False
    assert {"code": "422", "swap": True} in parsed["responseHandling"]


@pytest.mark.parametrize(("path", "text"), [("/nope", "Страница не найдена"), ("/auth/logout", "Действие недоступно")])
def test_russian_error_pages(client, path, text):
    r = client.get(path)
    assert text in r.text and '<html lang="ru">' in r.text


def test_403_page_is_russian(app, world):
    r = login_as(app.test_client(), world.owner).get("/manage/")
    assert r.status_code == 403 and "Нет доступа" in r.text


def test_500_page_is_russian(app, world):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom-test")
    def boom():
        raise RuntimeError("boom")

    r = app.test_client().get("/boom-test")
    assert r.status_code == 500 and "Что-то пошло не так" in r.text
