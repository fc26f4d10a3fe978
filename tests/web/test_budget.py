"""Page budget for low-end phones: bytes (gzip) and bounded query counts (no N+1)."""

import gzip
import re

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.models import Building, User
from tests.conftest import login_as
from tests.queries import QueryCounter

PAGE_BUDGET = 14 * 1024
FRAGMENT_BUDGET = 5 * 1024
FIRST_LOAD_BUDGET = 45 * 1024


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def _user(login):
    return _db.session.query(User).filter_by(login=login).one()


def test_first_load_of_login_page_within_budget(client, demo):
    page = client.get("/auth/login")
    total = gz(page.data)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert len(assets) == 4  # css, favicon, htmx, app.js
    for url in assets:
        total += gz(client.get(url).data)
    assert gz(page.data) <= PAGE_BUDGET
    assert total <= FIRST_LOAD_BUDGET, total


def test_own_js_and_css_budgets(client):
    html = client.get("/auth/login").text
    app_js = re.search(r'src="(/static/js/app\.js[^"]*)"', html).group(1)
    css = re.search(r'href="(/static/css/app\.css[^"]*)"', html).group(1)
    assert len(client.get(app_js).data) <= 2 * 1024
    assert gz(client.get(css).data) <= 10 * 1024


@pytest.mark.parametrize(
    ("login", "path"),
    [("owner", "/home"), ("owner", "/profile/"), ("owner", "/profile/preferences/edit"), ("owner", "/apartment/"),
     ("staff", "/home"), ("staff", "/manage/"), ("staff", "/manage/buildings/{big}"),
     ("council", "/manage/premises/{premises}")],
)
def test_pages_within_budget(app, demo, login, path):
    big = _db.session.query(Building).order_by(Building.id).first()
    c = login_as(app.test_client(), _user(login))
    r = c.get(path.format(big=big.id, premises=big.premises[0].id))
    assert r.status_code == 200
    assert gz(r.data) <= PAGE_BUDGET, (path, gz(r.data))


def test_fragment_budget_for_the_big_building_table(app, demo):
    big = _db.session.query(Building).order_by(Building.id).first()
    c = login_as(app.test_client(), _user("staff"))
    r = c.get(f"/manage/buildings/{big.id}", query_string={"entrance": 1},
              headers={"HX-Request": "true", "HX-Target": "premises-table"})
    assert gz(r.data) <= FRAGMENT_BUDGET, gz(r.data)


def _queries(app, login, path):
    c = login_as(app.test_client(), _user(login))
    _db.session.expunge_all()  # no help from objects the test already loaded
    with QueryCounter(_db.engine) as counter:
        assert c.get(path).status_code == 200
    return counter.count


def test_building_page_queries_do_not_grow_with_premises(app, demo):
    big, small = _db.session.scalars(select(Building.id).order_by(Building.id)).all()  # ids: logins commit
    many = _queries(app, "staff", f"/manage/buildings/{big}")
    few = _queries(app, "staff", f"/manage/buildings/{small}")
    assert many == few, (many, few)
    assert many <= 15


@pytest.mark.parametrize(("login", "path"), [("owner", "/home"), ("owner", "/profile/"), ("owner", "/apartment/"),
                                             ("staff", "/home"), ("staff", "/manage/")])
def test_page_query_counts_are_small(app, demo, login, path):
    assert _queries(app, login, path) <= 15
