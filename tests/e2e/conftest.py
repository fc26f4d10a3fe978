"""Real-browser tests: Playwright for Python driving Debian's chromium against a live server in a thread."""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from app.extensions import limiter

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


def _require_browser() -> bool:
    return os.environ.get("REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        if _require_browser():
            pytest.fail("Playwright for Python is not installed but REQUIRE_BROWSER=1")
        pytest.skip("Playwright for Python is not installed")
    if not executable:
        if _require_browser():
            pytest.fail("chromium is not installed (apt-get install chromium) but REQUIRE_BROWSER=1")
        pytest.skip("chromium is not installed: apt-get install chromium (set REQUIRE_BROWSER=1 to fail instead)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(app_factory):
    """The app with CSRF on, the demo loaded, served on 127.0.0.1 from a thread."""
    from app.extensions import db
    from tests.conftest import _wipe, load_demo

    app = app_factory(WTF_CSRF_ENABLED=True, PORTAL_URL="http://127.0.0.1",
                      LIVE_POLL_SECONDS=1)
    with app.app_context():
        _wipe()
        limiter.reset()
        load_demo(app)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    thread.join(5)


@pytest.fixture
def base_url(live_app):
    return live_app.config["LIVE_URL"]


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="ru-RU", timezone_id="Asia/Chita", base_url=base_url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # 422 (validation) and 409 (conflict) answers are part of the htmx contract; Chrome logs them as errors.
    expected = ("status of 422", "status of 409")
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not any(e in msg.text for e in expected) else None)
    yield page
    context.close()
    assert not errors, f"browser errors: {errors}"


def login(page, login: str, password: str = "demo2026"):
    page.goto("/auth/login")
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/home")


def assert_accessible(page, label: str):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"{label}:\n{results.generate_report()}"


def assert_fits(page, width: int = 360):
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"horizontal scroll: {scroll_width}px > {width}px on {page.url}"


def import_template(base_url: str, cookies, building_id: int):
    """The house-import XLSX template as the УК downloads it (with the browser's session cookies), as a workbook
    whose example rows are removed, ready for the test's own flats."""
    import io
    import urllib.request

    from openpyxl import load_workbook

    request = urllib.request.Request(f"{base_url}/manage/buildings/{building_id}/import/template.xlsx", headers={
        "Cookie": "; ".join(f"{c['name']}={c['value']}" for c in cookies)})
    with urllib.request.urlopen(request) as response:  # noqa: S310 - the local test server
        book = load_workbook(io.BytesIO(response.read()))
    sheet = book["Помещения"]
    sheet.delete_rows(2, sheet.max_row)
    return book
