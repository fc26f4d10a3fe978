"""Permission matrix: every route × every role. An object the actor may not reach is a 404, never a 403."""

import pytest

from tests.conftest import login_as
from tests.web.test_post_refusals import changed_tables, snapshot

ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]


def _client(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


# (path template, {role: expected status}); roles not named expect `default`.
GET_MATRIX = [
    ("/home", {"anon": 302}, 200),
    ("/profile/", {"anon": 302}, 200),
    ("/profile/contacts/edit", {"anon": 302}, 200),
    ("/profile/preferences/edit", {"anon": 302}, 200),
    ("/profile/name/edit", {"anon": 302}, 404),  # names are locked in the world: no edit form
    ("/profile/unknown/edit", {"anon": 302}, 404),
    ("/auth/password", {"anon": 302}, 200),
    ("/apartment/", {"anon": 302, "owner": 200, "neighbour": 200, "council": 200}, 404),
    ("/apartment/owner-fields/edit", {"anon": 302, "owner": 200, "neighbour": 200, "council": 200}, 404),
    ("/manage/", {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200, "staff_other": 200}, 403),
    ("/manage/buildings/{building}", {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200,
                                      "staff_other": 404}, 403),
    ("/manage/buildings/{building2}", {"anon": 302, "council": 404, "staff": 200, "ukadmin": 200,
                                       "staff_other": 404}, 403),
    ("/manage/buildings/{building_other}", {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404,
                                            "staff_other": 200}, 403),
    ("/manage/premises/{p2}", {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200, "staff_other": 404}, 403),
    ("/manage/premises/{p_other}", {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404,
                                    "staff_other": 200}, 403),
    ("/manage/premises/999999", {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404, "staff_other": 404}, 403),
    # Readings: owners get their form; others are sent to the building board.
    ("/readings/", {"anon": 302, "owner": 200, "neighbour": 200, "council": 200}, 302),
    ("/readings/building", {"anon": 302, "operator": 404}, 200),
    ("/readings/building?building={building}", {"anon": 302, "operator": 404, "staff_other": 404}, 200),
    ("/readings/building?building={building_other}", {"anon": 302, "staff_other": 200}, 404),
    ("/manage/readings", {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200, "staff_other": 200}, 403),
    ("/manage/readings?building={building}", {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200,
                                              "staff_other": 404}, 403),
]


def _fill(path, world):
    return path.format(building=world.building.id, building2=world.building2.id,
                       building_other=world.building_other.id, p2=world.p2.id, p_other=world.p_other.id)


@pytest.mark.parametrize(("path", "expected", "default"), GET_MATRIX, ids=[m[0] for m in GET_MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, role, path, expected, default):
    r = _client(app, world, role).get(_fill(path, world))
    assert r.status_code == expected.get(role, default), (role, path)


POST_MATRIX = [
    # (path, data, {role: status}, default)
    ("/manage/premises/{p2}/accounts", {"full_name": "Новый Собственник"},
     {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200, "staff_other": 404}, 403),
    ("/manage/accounts/{neighbour}/reset", {},
     {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200, "staff_other": 404}, 403),
    ("/manage/accounts/{neighbour}/active", {"active": "0"},
     {"anon": 302, "council": 303, "staff": 303, "ukadmin": 303, "staff_other": 404}, 403),
    ("/manage/accounts/{staff}/reset", {}, {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404,
                                           "staff_other": 404}, 403),
    ("/manage/accounts/{owner_other}/letter", {"password": "x"},
     {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404, "staff_other": 422}, 403),
    ("/manage/premises/{p2}/owners", {"existing_login": "owner"},
     {"anon": 302, "council": 303, "staff": 303, "ukadmin": 303, "staff_other": 404}, 403),
    ("/manage/premises/{p2}/owners/{neighbour}/remove", {},
     {"anon": 302, "council": 303, "staff": 303, "ukadmin": 303, "staff_other": 404}, 403),
    ("/manage/premises/{p_other}/owners/{owner_other}/remove", {},
     {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404, "staff_other": 303}, 403),
    ("/apartment/owner-fields/edit", {"actual_residents": "2", "emergency_phone": ""},
     {"anon": 302, "owner": 303, "neighbour": 303, "council": 303}, 404),
    ("/apartment/switch", {"premises_id": "{p2}"}, {"anon": 302, "neighbour": 303}, 404),
    ("/profile/contacts/edit", {"phone": "", "email": "x@example.ru"}, {"anon": 302}, 303),
]


@pytest.mark.parametrize(("path", "data", "expected", "default"), POST_MATRIX, ids=[m[0] for m in POST_MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_post_matrix(app, world, role, path, data, expected, default):
    ids = {"p2": world.p2.id, "p_other": world.p_other.id, "neighbour": world.neighbour.id,
           "staff": world.staff.id, "owner_other": world.owner_other.id}
    data = {k: v.format(**ids) for k, v in data.items()}
    client = _client(app, world, role)
    before = snapshot()
    r = client.post(path.format(**ids), data=data)
    assert r.status_code == expected.get(role, default), (role, path)
    if r.status_code in (302, 401, 403, 404):  # refused (302: to the login page): nothing may have changed
        assert changed_tables(before, snapshot()) == [], (role, path)


def test_owner_cannot_switch_to_someone_elses_premises(app, world):
    c = login_as(app.test_client(), world.owner)
    assert c.post("/apartment/switch", data={"premises_id": world.p2.id}).status_code == 404
    page = c.get("/apartment/")
    assert world.p_b2.account_number in page.text  # the first of the owner's own premises
    assert world.p2.account_number not in page.text


def test_owner_sees_only_own_premises_on_apartment_and_home(app, world):
    c = login_as(app.test_client(), world.neighbour)
    for path in ("/home", "/apartment/"):
        text = c.get(path).text
        assert world.p2.account_number in text
        assert world.p1.account_number not in text and world.p_other.account_number not in text
        assert "Иванова" not in text  # another owner's name never appears


def test_owner_switches_between_own_premises(app, world):
    c = login_as(app.test_client(), world.owner)
    r = c.post("/apartment/switch", data={"premises_id": world.p_b2.id, "next": "/apartment/"})
    assert r.status_code == 303 and r.headers["Location"] == "/apartment/"
    page = c.get("/apartment/")
    assert world.p_b2.account_number in page.text


def test_navigation_is_role_aware(app, world):
    owner_nav = login_as(app.test_client(), world.owner).get("/home").text
    assert 'href="/apartment/"' in owner_nav and 'href="/manage/"' not in owner_nav
    staff_nav = login_as(app.test_client(), world.staff).get("/home").text
    assert 'href="/manage/"' in staff_nav and 'href="/apartment/"' not in staff_nav
