"""Queue-time shedding (app/overload.py): a request that waited too long in the queue gets a fast Russian 503."""

import time

import pytest

from app.overload import MESSAGE, QueueShedder, parse_request_start
from tests.conftest import login_as


@pytest.fixture
def shedding_app(app_factory):
    application = app_factory(OVERLOAD_QUEUE_LIMIT_MS=2000)
    with application.app_context():
        yield application


def stamp(seconds_ago: float) -> dict:
    return {"X-Request-Start": f"t={time.time() - seconds_ago:.3f}"}  # nginx: "t=${msec}"


def test_request_that_waited_past_the_limit_gets_a_russian_503_with_retry_after(shedding_app):
    r = shedding_app.test_client().get("/auth/login", headers=stamp(30))
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "60"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert MESSAGE == "Слишком много обращений, повторите через минуту"
    assert MESSAGE in r.text and '<html lang="ru">' in r.text
    assert "Set-Cookie" not in r.headers  # no session was opened for it
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert len(r.data) < 1024


def test_fresh_and_missing_stamps_are_served(shedding_app):
    client = shedding_app.test_client()
    assert client.get("/auth/login", headers=stamp(0.05)).status_code == 200
    assert client.get("/auth/login", headers=stamp(1.9)).status_code == 200
    assert client.get("/auth/login").status_code == 200
    # A stamp from the future (clocks of proxy and app a little apart) or garbage is not a reason to shed.
    assert client.get("/auth/login", headers=stamp(-5)).status_code == 200
    for junk in ("t=", "t=abc", "nan", "t=-1", "t=inf", "1e400"):
        assert client.get("/auth/login", headers={"X-Request-Start": junk}).status_code == 200, junk


def test_static_files_and_health_checks_are_never_shed(shedding_app):
    client = shedding_app.test_client()
    css = client.get("/static/css/app.css", headers=stamp(60))
    assert css.status_code == 200 and b"Retry-After" not in css.data
    # /health* is reserved for checks: whatever it answers (no such route yet: 404), never the 503.
    assert client.get("/health", headers=stamp(60)).status_code != 503


def test_logged_in_owner_and_posts_are_shed_before_any_work(shedding_app, db, world):
    owner = login_as(shedding_app.test_client(), world.owner)
    assert owner.get("/home").status_code == 200
    home = owner.get("/home", headers=stamp(10))
    assert home.status_code == 503
    post = owner.post("/auth/logout", headers=stamp(10))
    assert post.status_code == 503
    assert owner.get("/home").status_code == 200  # still logged in: the shed logout did nothing


def test_htmx_request_gets_a_small_fragment(shedding_app):
    r = shedding_app.test_client().get("/auth/login", headers={**stamp(10), "HX-Request": "true"})
    assert r.status_code == 503
    assert "<html" not in r.text and MESSAGE in r.text and 'role="alert"' in r.text
    assert "HX-Request" in r.headers["Vary"]


def test_limit_zero_turns_shedding_off(app_factory):
    application = app_factory(OVERLOAD_QUEUE_LIMIT_MS=0)
    assert application.test_client().get("/auth/login", headers=stamp(600)).status_code == 200


def test_default_app_sheds_after_the_default_limit(app):
    client = app.test_client()
    assert client.get("/auth/login", headers=stamp(2)).status_code == 200
    assert client.get("/auth/login", headers=stamp(4)).status_code == 503


@pytest.mark.parametrize(("header", "seconds"), [
    ("t=1764000000.123", 1764000000.123),  # nginx ${msec}
    ("t=1764000000123", 1764000000.123),  # milliseconds
    ("t=1764000000123456", 1764000000.123456),  # microseconds
    ("1764000000.5", 1764000000.5),
    (None, None), ("", None), ("t=x", None), ("t=0", None),
])
def test_parse_request_start(header, seconds):
    parsed = parse_request_start(header)
    assert parsed == pytest.approx(seconds) if seconds is not None else parsed is None


def test_middleware_with_a_fixed_clock_counts_what_it_shed():
    calls = []

    def inner(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    shedder = QueueShedder(inner, limit_ms=1000, clock=lambda: 1000.0)
    statuses = []

    def run(path, start):
        shedder({"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_X_REQUEST_START": f"t={start}"},
                lambda status, headers: statuses.append(status))

    run("/home", 999.5)  # 500 ms: served
    run("/home", 998.9)  # 1 100 ms: shed
    run("/static/css/app.css", 900)  # static: served however old
    assert statuses == ["200 OK", "503 Service Unavailable", "200 OK"]
    assert calls == ["/home", "/static/css/app.css"] and shedder.shed_count == 1
