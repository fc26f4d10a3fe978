"""The console (/console): permission matrix, refused POSTs change nothing, validation with Russian messages,
audit rows for every change, and the flows the operator and the УК admin go through."""

import pytest
from sqlalchemy import func, select

from app.access import access_for
from app.extensions import db as _db
from app.models import AuditLog, Building, CouncilMembership, Organisation, StaffMembership, User, UserSession
from app.models import building_suppliers as bs
from app.services import announcements, passwords
from tests import factories as F
from tests.conftest import login_as
from tests.web.test_post_refusals import changed_tables, snapshot

ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]

VALID_ORG = {
    "org_type": "uk", "name": "Общество с ограниченной ответственностью «УК Новая»", "short_name": "ООО «УК Новая»",
    "inn": "7536123455", "kpp": "753601001", "ogrn": "1117746358608", "address": "672000, г. Чита, ул. Ленина, 10",
    "phones": "+7 3022 11-22-33", "ads_phone": "+7 3022 21-00-00", "office_hours": "пн–пт 9:00–18:00",
    "email": "info@uk-new.example", "site": "uk-new.example", "bank_name": "ПАО СБЕРБАНК",
    "bank_bic": "047601637", "bank_account": "40702810674000012345", "bank_corr_account": "30101810500000000637",
    "reading_start_day": "20", "reading_end_day": "25",
}
VALID_BUILDING = {"city": "Чита", "street": "ул. Новая", "house": "3", "postcode": "672000",
                  "fias_guid": "2C8BB2A6-0F1E-4A5B-9C3D-1E2F3A4B5C6D", "gis_house_code": "", "year_built": "1985",
                  "floors": "9", "entrances": "4", "reading_start_day": "", "reading_end_day": ""}


def _client(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


def _ids(world):
    return {"uk": world.uk.id, "uk_other": world.uk_other.id, "rso": world.rso.id, "b": world.building.id,
            "b_other": world.building_other.id, "m_other": world.staff_other.staff_memberships[0].id,
            "neighbour": world.neighbour.id}


OP = {"anon": 302, "operator": 200}
ADMIN_OWN = {"anon": 302, "operator": 200, "ukadmin": 200}
ADMIN_FOREIGN = {"anon": 302, "operator": 200, "ukadmin": 404}
GET_MATRIX = [
    ("/console/", ADMIN_OWN, 403),
    ("/console/organisations", OP, 403),
    ("/console/organisations?q=Тест&kind=uk&active=1", OP, 403),
    ("/console/organisations/new", OP, 403),
    ("/console/moderation", OP, 403),
    ("/console/moderation?view=hidden", OP, 403),
    ("/console/organisations/{uk}", ADMIN_OWN, 403),
    ("/console/organisations/{uk_other}", ADMIN_FOREIGN, 403),
    ("/console/organisations/{rso}", ADMIN_FOREIGN, 403),
    ("/console/organisations/999999", {"anon": 302, "operator": 404, "ukadmin": 404}, 403),
    ("/console/organisations/{uk}/edit", OP, 403),
    ("/console/organisations/{uk}/buildings/new", ADMIN_OWN, 403),
    ("/console/organisations/{uk_other}/buildings/new", ADMIN_FOREIGN, 403),
    ("/console/buildings/{b}/edit", ADMIN_OWN, 403),
    ("/console/buildings/{b_other}/edit", ADMIN_FOREIGN, 403),
    ("/console/buildings/{b}/council", {"anon": 302, "operator": 200, "ukadmin": 200, "staff": 200,
                                        "staff_other": 404}, 403),
    ("/console/buildings/{b_other}/council", {"anon": 302, "operator": 200, "ukadmin": 404, "staff": 404,
                                              "staff_other": 200}, 403),
]


@pytest.mark.parametrize(("path", "expected", "default"), GET_MATRIX, ids=[m[0] for m in GET_MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, role, path, expected, default):
    r = _client(app, world, role).get(path.format(**_ids(world)))
    assert r.status_code == expected.get(role, default), (role, path)


# Every state-changing route with plausible data, × every role that must be refused.
POSTS = [
    ("/console/organisations/new", VALID_ORG, {"ukadmin": 403, "staff": 403, "staff_other": 403}),
    ("/console/organisations/{uk_other}/edit", {**VALID_ORG, "inn": "7707083893"}, {"ukadmin": 403}),
    ("/console/organisations/{uk_other}/active", {"active": "0"}, {"ukadmin": 403, "staff_other": 403}),
    ("/console/organisations/{uk_other}/buildings/new", VALID_BUILDING, {"ukadmin": 404, "staff_other": 403}),
    ("/console/buildings/{b_other}/edit", {**VALID_BUILDING, "organisation_id": "{uk}"},
     {"ukadmin": 404, "staff_other": 403}),
    ("/console/organisations/{uk_other}/staff", {"full_name": "Захватчик", "login": "grab", "role": "admin"},
     {"ukadmin": 404, "staff_other": 403}),
    ("/console/staff/{m_other}/role", {"role": "admin"}, {"ukadmin": 404, "staff_other": 403}),
    ("/console/staff/{m_other}/active", {"active": "0"}, {"ukadmin": 404, "staff_other": 403}),
    ("/console/staff/{m_other}/reset", {}, {"ukadmin": 404, "staff_other": 403}),
    ("/console/buildings/{b_other}/council", {"user_id": "{neighbour}", "protocol_number": "1",
                                              "protocol_date": "01.11.2026"}, {"ukadmin": 404, "staff": 404}),
]
REFUSING = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso"]


@pytest.mark.parametrize(("path", "data", "statuses"), POSTS, ids=[p[0] for p in POSTS])
def test_refused_posts_change_nothing(app, world, path, data, statuses):
    ids = _ids(world)
    url = path.format(**ids)
    payload = {k: v.format(**ids) for k, v in data.items()}
    for role in REFUSING:
        expected = 302 if role == "anon" else statuses.get(role, 403)
        if role == "staff_other" and "{b_other}/council" in path:
            continue  # the rightful keeper of that council (tested below)
        before = snapshot()
        response = _client(app, world, role).post(url, data=payload)
        assert response.status_code == expected, (role, url, response.status_code)
        assert changed_tables(before, snapshot()) == [], (role, url)


def test_council_end_refused_for_others(app, world):
    url = f"/console/council/{world.council.council_memberships[0].id}/end"
    for role in ["anon", "owner", "neighbour", "council", "staff_other", "rso"]:
        before = snapshot()
        response = _client(app, world, role).post(url)
        assert response.status_code == {"anon": 302, "staff_other": 404}.get(role, 403), role
        assert changed_tables(before, snapshot()) == []


def _assert_refused_field(client, url, data, name, message, kept):
    """422, the message next to the field, «Ошибка:» in the title, what was typed kept, nothing stored."""
    before = snapshot()
    r = client.post(url, data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="{name}-error"' in html and message in html, html[:2000]
    assert "<title>Ошибка:" in html
    if kept:
        assert f'value="{kept}"' in html
    assert changed_tables(before, snapshot()) == []


def _audit(action):
    return list(_db.session.scalars(select(AuditLog).where(AuditLog.action == action)))


# --- organisations ----------------------------------------------------------------------------------------

def test_operator_creates_a_uk_with_valid_details(app, world):
    c = login_as(app.test_client(), world.operator)
    r = c.post("/console/organisations/new", data=VALID_ORG)
    assert r.status_code == 303
    org = _db.session.scalar(select(Organisation).where(Organisation.inn == "7536123455"))
    assert r.headers["Location"].endswith(f"/console/organisations/{org.id}")
    assert (org.kind, org.management_form, org.kpp, org.ads_phone) == ("uk", "uk", "753601001", "+73022210000")
    assert org.site == "https://uk-new.example"
    assert org.settings == {"reading_window": {"start_day": 20, "end_day": 25}}
    [entry] = _audit("organisation_created")
    assert (entry.actor_id, entry.entity_id, entry.actor_role) == (world.operator.id, org.id, "operator")
    page = c.get(f"/console/organisations/{org.id}").get_data(as_text=True)
    assert "ООО «УК Новая»" in page and "40702810674000012345" in page


def test_operator_creates_a_supplier_with_its_resources(app, world):
    c = login_as(app.test_client(), world.operator)
    data = {**VALID_ORG, "org_type": "rso", "inn": "7707083893", "reading_start_day": "", "reading_end_day": "",
            "resources": ["heat", "hot_water"]}
    assert c.post("/console/organisations/new", data=data).status_code == 303
    org = _db.session.scalar(select(Organisation).where(Organisation.inn == "7707083893"))
    assert (org.kind, org.management_form) == ("rso", None)
    assert org.settings["resources"] == ["hot_water", "heat"]
    r = c.post("/console/organisations/new", data={**data, "inn": "7536095840", "resources": []})
    assert r.status_code == 422
    assert "Отметьте хотя бы один ресурс" in r.get_data(as_text=True)


FIELD_ERRORS = [
    ("inn", "7536123457", "контрольные цифры"),
    ("inn", "", "Введите ИНН"),
    ("inn", "75361234", "10 цифр для организации"),
    ("kpp", "75360100", "КПП — 9 знаков"),
    ("kpp", "", "Введите КПП"),
    ("ogrn", "1117746358607", "контрольная цифра"),
    ("ogrn", "304500116000157", "ОГРН из 13 цифр"),
    ("bank_bic", "147601637", "начинается с 04"),
    ("bank_account", "40702810974000012345", "не сходится контрольный ключ"),
    ("bank_account", "407028109740000", "20 цифр"),
    ("bank_corr_account", "30101810500000000638", "Корреспондентский счёт не соответствует БИК"),
    ("bank_name", "", "реквизиты банка нужны целиком"),
    ("name", "", "Введите полное наименование"),
    ("short_name", "", "Введите краткое наименование"),
    ("address", "", "Введите адрес"),
    ("ads_phone", "123", "+7 914 123-45-67"),
    ("email", "not-an-email", "name@example.ru"),
    ("site", "нет сайта", "Введите адрес сайта"),
    ("reading_start_day", "0", "от 1 до 31"),
    ("reading_end_day", "32", "от 1 до 31"),
    ("reading_end_day", "15", "не может быть раньше первого"),
    ("reading_end_day", "", "Введите и последний день"),
    ("org_type", "bank", "Выберите вид организации"),
]


@pytest.mark.parametrize(("name", "value", "message"), FIELD_ERRORS, ids=[f"{f[0]}={f[1]}" for f in FIELD_ERRORS])
def test_organisation_field_errors(app, world, name, value, message):
    kept = "info@uk-new.example" if name != "email" else "пн–пт 9:00–18:00"
    _assert_refused_field(login_as(app.test_client(), world.operator), "/console/organisations/new",
                          {**VALID_ORG, name: value}, name, message, kept)


def test_inn_already_on_the_portal(app, world):
    c = login_as(app.test_client(), world.operator)
    r = c.post("/console/organisations/new", data={**VALID_ORG, "inn": world.uk.inn, "kpp": "753601001"})
    assert r.status_code == 422
    # the world's ИНН are factory numbers; either message names the ИНН field
    assert 'id="inn-error"' in r.get_data(as_text=True)


def test_operator_edits_and_deactivates_an_organisation(app, world):
    c = login_as(app.test_client(), world.operator)
    org_id = world.uk_other.id
    data = {**VALID_ORG, "inn": "7536095840", "short_name": "ООО «Другая УК» (новое)", "reading_start_day": "18",
            "reading_end_day": "24"}
    assert c.post(f"/console/organisations/{org_id}/edit", data=data).status_code == 303
    org = _db.session.get(Organisation, org_id)
    assert org.short_name == "ООО «Другая УК» (новое)"
    assert org.settings["reading_window"] == {"start_day": 18, "end_day": 24}
    [entry] = _audit("organisation_updated")
    assert entry.changes["short_name"] == ["ООО «Другая УК»", "ООО «Другая УК» (новое)"]
    assert c.post(f"/console/organisations/{org_id}/active", data={"active": "0"}).status_code == 303
    assert _db.session.get(Organisation, org_id).active is False
    assert len(_audit("organisation_deactivated")) == 1
    # an inactive organisation takes no new buildings or staff
    r = c.post(f"/console/organisations/{org_id}/staff", data={"full_name": "Новый", "login": "newbie",
                                                               "role": "staff"})
    assert r.status_code == 422
    assert c.get(f"/console/organisations/{org_id}/buildings/new").status_code == 200
    r = c.post(f"/console/organisations/{org_id}/buildings/new", data=VALID_BUILDING)
    assert r.status_code == 422 and "отключена" in r.get_data(as_text=True)


def test_kind_cannot_flip_while_in_use(app, world):
    c = login_as(app.test_client(), world.operator)
    data = {**VALID_ORG, "org_type": "rso", "inn": "7536095840", "resources": ["heat"]}
    r = c.post(f"/console/organisations/{world.uk.id}/edit", data=data)
    assert r.status_code == 422 and "нельзя сменить" in r.get_data(as_text=True)


def test_organisations_search_and_htmx_fragment(app, world):
    c = login_as(app.test_client(), world.operator)
    html = c.get("/console/organisations?q=другая").get_data(as_text=True)
    assert "ООО «Другая УК»" in html and "ООО «УК Тест»" not in html
    r = c.get("/console/organisations?kind=rso", headers={"HX-Request": "true", "HX-Target": "organisations-list"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body and 'id="organisations-list"' in body
    assert "АО «Вода»" in body and "ООО «УК Тест»" not in body
    assert "HX-Request" in r.headers["Vary"]


# --- buildings --------------------------------------------------------------------------------------------

def test_ukadmin_adds_a_building_to_their_own_organisation(app, world):
    c = login_as(app.test_client(), world.ukadmin)
    data = {**VALID_BUILDING, "organisation_id": str(world.uk_other.id), "supplier_cold_water": str(world.rso.id)}
    r = c.post(f"/console/organisations/{world.uk.id}/buildings/new", data=data)
    assert r.status_code == 303, r.get_data(as_text=True)[:3000]
    b = _db.session.scalar(select(Building).where(Building.street == "ул. Новая"))
    assert b.organisation_id == world.uk.id  # fixed to their own, whatever was posted
    assert b.fias_guid == "2c8bb2a6-0f1e-4a5b-9c3d-1e2f3a4b5c6d"
    assert (b.year_built, b.floors, b.entrances, b.reading_start_day) == (1985, 9, 4, None)
    rows = _db.session.execute(select(bs.c.organisation_id, bs.c.resources).where(bs.c.building_id == b.id)).all()
    assert [tuple(r) for r in rows] == [(world.rso.id, ["cold_water"])]
    [entry] = _audit("building_created")
    assert entry.entity_id == b.id and entry.actor_role == "ukadmin"
    assert access_for(world.rso_user).supplies(b.id, "cold_water")


BUILDING_ERRORS = [
    ("street", "", "Введите улицу"),
    ("house", "", "Введите номер дома"),
    ("postcode", "67200", "6 цифр"),
    ("fias_guid", "не-гуид", "32 шестнадцатеричные"),
    ("fias_guid", "{{2c8bb2a6-0f1e-4a5b-9c3d-1e2f3a4b5c6d}}", "32 шестнадцатеричные"),
    ("gis_house_code", "код ГИС", "латинские буквы"),
    ("year_built", "85", "четыре цифры"),
    ("floors", "0", "от 1 до 100"),
    ("entrances", "abc", "от 1 до 50"),
    ("reading_start_day", "x", "от 1 до 31"),
    ("reading_end_day", "40", "от 1 до 31"),
    ("supplier_heat", "{rso}", "Выберите поставщика ресурса «Отопление»"),
    ("supplier_cold_water", "999999", "Выберите поставщика ресурса «Холодная вода»"),
]


@pytest.mark.parametrize(("name", "value", "message"), BUILDING_ERRORS, ids=[f"{b[0]}={b[1]}" for b in BUILDING_ERRORS])
def test_building_field_errors(app, world, name, value, message):
    _assert_refused_field(login_as(app.test_client(), world.operator),
                          f"/console/organisations/{world.uk.id}/buildings/new",
                          {**VALID_BUILDING, name: value.format(rso=world.rso.id)}, name, message,
                          "ул. Новая" if name != "street" else "1985")


def test_duplicate_address_is_refused(app, world):
    c = login_as(app.test_client(), world.operator)
    r = c.post(f"/console/organisations/{world.uk_other.id}/buildings/new",
               data={**VALID_BUILDING, "street": "ул. ленина", "house": "1", "fias_guid": ""})
    assert r.status_code == 422 and "Дом с таким адресом уже есть" in r.get_data(as_text=True)


def test_operator_transfers_a_building_and_sets_window_and_suppliers(app, world):
    c = login_as(app.test_client(), world.operator)
    b = world.building
    data = {**VALID_BUILDING, "street": b.street, "house": b.house, "fias_guid": "",
            "organisation_id": str(world.uk_other.id), "reading_start_day": "15", "reading_end_day": "22",
            "supplier_cold_water": ""}
    assert c.post(f"/console/buildings/{b.id}/edit", data=data).status_code == 303
    _db.session.expire_all()
    b = _db.session.get(Building, world.building.id)
    assert (b.organisation_id, b.reading_start_day, b.reading_end_day) == (world.uk_other.id, 15, 22)
    assert _db.session.scalar(select(func.count()).select_from(bs).where(bs.c.building_id == b.id)) == 0
    [entry] = _audit("building_updated")
    assert entry.changes["organisation_id"] == [world.uk.id, world.uk_other.id]
    assert "suppliers" in entry.changes


def test_ukadmin_cannot_hand_a_building_to_another_uk(app, world):
    c = login_as(app.test_client(), world.ukadmin)
    b = world.building
    data = {**VALID_BUILDING, "street": b.street, "house": b.house, "fias_guid": "",
            "organisation_id": str(world.uk_other.id), "supplier_cold_water": str(world.rso.id)}
    assert c.post(f"/console/buildings/{b.id}/edit", data=data).status_code == 303
    assert _db.session.get(Building, b.id).organisation_id == world.uk.id


def test_edit_form_shows_stored_values(app, world):
    c = login_as(app.test_client(), world.ukadmin)
    html = c.get(f"/console/buildings/{world.building.id}/edit").get_data(as_text=True)
    assert 'value="ул. Ленина"' in html
    assert f'<option selected value="{world.rso.id}">' in html or f'value="{world.rso.id}" selected' in html
    assert 'name="organisation_id"' in html and "<select" in html  # supplier selects
    assert 'id="organisation_id"' not in html  # the УК admin does not choose the organisation


# --- staff ------------------------------------------------------------------------------------------------

def test_ukadmin_creates_a_staff_account_shown_once(app, world):
    c = login_as(app.test_client(), world.ukadmin)
    r = c.post(f"/console/organisations/{world.uk.id}/staff",
               data={"full_name": "Павлова Мария", "login": "Pavlova.M", "role": "staff", "phone": "",
                     "email": "pavlova@uk.example"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    user = _db.session.scalar(select(User).where(User.login == "pavlova.m"))
    password = html.split('class="mono big">')[1].split("<")[0]
    assert password not in user.password_hash and passwords.verify_password(user.password_hash, password)
    assert user.must_change_password and user.temp_password_expires_at is not None
    assert [(m.organisation_id, m.role) for m in user.staff_memberships] == [(world.uk.id, "staff")]
    [entry] = _audit("staff_created")
    assert entry.changes == {"organisation_id": world.uk.id, "login": "pavlova.m", "role": "staff"}
    # the password is never shown again
    assert password not in c.get(f"/console/organisations/{world.uk.id}").get_data(as_text=True)


@pytest.mark.parametrize(("data", "name", "message"), [
    ({"full_name": "", "login": "abc", "role": "staff"}, "full_name", "Введите ФИО сотрудника"),
    ({"full_name": "Иванов", "login": "", "role": "staff"}, "login", "Введите логин сотрудника"),
    ({"full_name": "Иванов", "login": "иванов", "role": "staff"}, "login", "латинских букв"),
    ({"full_name": "Иванов", "login": "owner", "role": "staff"}, "login", "уже занят"),
    ({"full_name": "Иванов", "login": "ivanov", "role": "boss"}, "role", "Выберите роль"),
    ({"full_name": "Иванов", "login": "ivanov", "role": "staff", "phone": "12"}, "phone", "+7 914"),
])
def test_staff_field_errors(app, world, data, name, message):
    _assert_refused_field(login_as(app.test_client(), world.operator), f"/console/organisations/{world.uk.id}/staff",
                          data, name, message, None)


def test_role_change_and_the_last_admin(app, world):
    admin_m = world.ukadmin.staff_memberships[0]
    staff_m = world.staff.staff_memberships[0]
    c = login_as(app.test_client(), world.ukadmin)
    # an admin can't demote themselves
    before = snapshot()
    assert c.post(f"/console/staff/{admin_m.id}/role", data={"role": "staff"}).status_code == 403
    assert changed_tables(before, snapshot()) == []
    # the operator can't remove the last admin either
    op = login_as(app.test_client(), world.operator)
    r = op.post(f"/console/staff/{admin_m.id}/role", data={"role": "staff"})
    assert r.status_code == 409 and "единственный администратор" in r.get_data(as_text=True)
    r = op.post(f"/console/staff/{admin_m.id}/active", data={"active": "0"})
    assert r.status_code == 409
    assert changed_tables(before, snapshot()) == []
    # promote staff to admin, then the first admin may be demoted by the new one
    assert c.post(f"/console/staff/{staff_m.id}/role", data={"role": "admin"}).status_code == 303
    assert _db.session.get(StaffMembership, staff_m.id).role == "admin"
    [entry] = _audit("staff_role_changed")
    assert entry.changes["role"] == ["staff", "admin"]
    c2 = login_as(app.test_client(), world.staff)
    assert c2.post(f"/console/staff/{admin_m.id}/role", data={"role": "staff"}).status_code == 303


def test_deactivation_ends_sessions(app, world):
    staff_m = world.staff.staff_memberships[0]
    victim = login_as(app.test_client(), world.staff)
    assert victim.get("/manage/").status_code == 200
    c = login_as(app.test_client(), world.ukadmin)
    version = world.staff.session_version
    assert c.post(f"/console/staff/{staff_m.id}/active", data={"active": "0"}).status_code == 303
    _db.session.expire_all()
    user = _db.session.get(User, world.staff.id)
    assert user.active is False and user.session_version == version + 1
    live = _db.session.scalar(select(func.count(UserSession.id)).where(UserSession.user_id == user.id,
                                                                       UserSession.revoked_at.is_(None)))
    assert live == 0
    assert victim.get("/manage/").status_code == 302  # logged out
    assert len(_audit("staff_deactivated")) == 1
    assert c.post(f"/console/staff/{staff_m.id}/active", data={"active": "1"}).status_code == 303
    assert _db.session.get(User, world.staff.id).active is True


def test_reset_password_of_staff(app, world):
    staff_m = world.staff.staff_memberships[0]
    c = login_as(app.test_client(), world.ukadmin)
    old = world.staff.password_hash
    r = c.post(f"/console/staff/{staff_m.id}/reset")
    assert r.status_code == 200 and "Новый пароль выдан" in r.get_data(as_text=True)
    _db.session.expire_all()
    user = _db.session.get(User, world.staff.id)
    assert user.password_hash != old and user.must_change_password
    assert len(_audit("staff_password_reset")) == 1


def test_ukadmin_cannot_administer_a_staff_account_that_owns_elsewhere(app, world):
    """Authority over every role of the account: a УК staff member who owns a flat in another УК's building
    is administered by the operator only (the УК admin would otherwise take over an owner account)."""
    F.OwnershipFactory(user=world.staff, premises=world.p_other)
    _db.session.commit()
    m = world.staff.staff_memberships[0]
    c = login_as(app.test_client(), world.ukadmin)
    before = snapshot()
    assert c.post(f"/console/staff/{m.id}/reset").status_code == 403
    assert changed_tables(before, snapshot()) == []
    assert login_as(app.test_client(), world.operator).post(f"/console/staff/{m.id}/reset").status_code == 200


# --- council ----------------------------------------------------------------------------------------------

def test_staff_adds_an_owner_to_the_council_and_ends_it(app, world):
    c = login_as(app.test_client(), world.staff)
    page = c.get(f"/console/buildings/{world.building.id}/council").get_data(as_text=True)
    assert "Петров Пётр Петрович" in page  # neighbour owns кв. 2 here
    assert "Сидоров" not in page  # owners of other buildings are never offered
    data = {"user_id": str(world.neighbour.id), "is_chair": "y", "protocol_number": "3",
            "protocol_date": "01.11.2026", "term_from": "01.11.2026", "term_to": "31.10.2028"}
    r = c.post(f"/console/buildings/{world.building.id}/council", data=data)
    assert r.status_code == 422 and "уже есть председатель" in r.get_data(as_text=True)
    data.pop("is_chair")
    assert c.post(f"/console/buildings/{world.building.id}/council", data=data).status_code == 303
    m = _db.session.scalar(select(CouncilMembership).where(CouncilMembership.user_id == world.neighbour.id))
    assert (m.protocol_number, str(m.protocol_date), str(m.term_to), m.is_chair) == ("3", "2026-11-01",
                                                                                     "2028-10-31", False)
    assert access_for(_db.session.get(User, world.neighbour.id)).on_council_of(world.building.id)
    [entry] = _audit("council_member_added")
    assert entry.entity_id == world.neighbour.id
    assert c.post(f"/console/council/{m.id}/end").status_code == 303
    assert _db.session.get(CouncilMembership, m.id) is None
    assert len(_audit("council_member_removed")) == 1


@pytest.mark.parametrize(("data", "name", "message"), [
    ({"user_id": "{owner_other}"}, "user_id", "Выберите собственника помещения в этом доме"),
    ({"user_id": "{staff}"}, "user_id", "Выберите собственника помещения в этом доме"),
    ({"user_id": "abc"}, "user_id", "Выберите собственника"),
    ({"user_id": "{council}"}, "user_id", "уже в совете"),
    ({"protocol_number": ""}, "protocol_number", "Введите номер протокола ОСС"),
    ({"protocol_date": ""}, "protocol_date", "Введите дату протокола"),
    ({"protocol_date": "32.13.2026"}, "protocol_date", "ДД.ММ.ГГГГ"),
    ({"term_to": "01.01.2026"}, "term_to", "раньше, чем начался"),
    ({"term_from": "01.10.2026"}, "term_from", "не раньше даты протокола"),
])
def test_council_field_errors(app, world, data, name, message):
    ids = {"owner_other": world.owner_other.id, "staff": world.staff.id, "council": world.council.id}
    base = {"user_id": str(world.neighbour.id), "protocol_number": "3", "protocol_date": "01.11.2026",
            "term_from": "01.11.2026", "term_to": "31.10.2028"}
    payload = {**base, **{k: v.format(**ids) for k, v in data.items()}}
    _assert_refused_field(login_as(app.test_client(), world.operator),
                          f"/console/buildings/{world.building.id}/council", payload, name, message, None)


# --- moderation, navigation, home -------------------------------------------------------------------------

def test_moderation_lists_reported_and_hidden_of_every_building(app, world):
    items = []
    for author, title in [(world.owner_other, "Продам гараж"), (world.neighbour, "Отдам котёнка")]:
        items.append(announcements.announcement_create(actor=author, data=announcements.AnnouncementInput(
            category="sale", title=title, body="Подробности по телефону.", author_name="Сосед")))
    announcements.announcement_report(actor=world.owner, item=items[1], reason="спам")
    announcements.announcement_report(actor=world.council, item=items[1], reason="спам")
    announcements.announcement_report(actor=world.staff_other, item=items[0], reason="реклама")
    announcements.announcement_hide(actor=world.operator, item=items[0], reason="реклама")
    c = login_as(app.test_client(), world.operator)
    html = c.get("/console/moderation").get_data(as_text=True)
    assert "Отдам котёнка" in html and "Продам гараж" not in html
    assert f"/announcements/{items[1].id}#hide-reason" in html
    html = c.get("/console/moderation?view=hidden").get_data(as_text=True)
    assert "Продам гараж" in html and "реклама" in html
    rows, _next = announcements.moderation_list(world.staff, view="reported")
    assert [a.id for a, _n in rows] == [items[1].id]  # staff moderate only their УК's buildings
    rows, _next = announcements.moderation_list(world.operator, view="reported", limit=1)
    assert [(a.id, n) for a, n in rows] == [(items[1].id, 2)]


def test_nav_and_operator_home(app, world):
    op = login_as(app.test_client(), world.operator).get("/home").get_data(as_text=True)
    assert 'href="/console/"' in op and "Консоль оператора" in op and "УК, ТСЖ и ЖСК: 2, РСО: 1" in op
    assert 'href="/manage/audit"' in op
    admin = login_as(app.test_client(), world.ukadmin).get("/console/").get_data(as_text=True)
    assert f"/console/organisations/{world.uk.id}" in admin and "/manage/audit" in admin
    assert f"/console/organisations/{world.uk_other.id}" not in admin
    staff = login_as(app.test_client(), world.staff).get("/home").get_data(as_text=True)
    assert 'href="/console/"' not in staff and "Консоль оператора" not in staff


def test_console_pages_are_light(app, world):
    import gzip

    c = login_as(app.test_client(), world.operator)
    for path in ["/console/", "/console/organisations", "/console/organisations/new",
                 f"/console/organisations/{world.uk.id}", f"/console/buildings/{world.building.id}/edit",
                 f"/console/buildings/{world.building.id}/council", "/console/moderation"]:
        body = c.get(path).get_data()
        assert len(gzip.compress(body)) <= 14 * 1024, path


def test_query_counts_do_not_grow_with_staff_and_council(app, world):
    from tests.web.test_budget import QueryCounter

    operator_id, uk_id, building_id = world.operator.id, world.uk.id, world.building.id

    def count(path):
        c = login_as(app.test_client(), _db.session.get(User, operator_id))
        _db.session.expunge_all()
        with QueryCounter(_db.engine) as counter:
            assert c.get(path).status_code == 200
        return counter.count

    org_page, council_page = f"/console/organisations/{uk_id}", f"/console/buildings/{building_id}/council"
    few = count(org_page), count(council_page)
    uk, building = _db.session.get(Organisation, uk_id), _db.session.get(Building, building_id)
    for _n in range(6):
        F.StaffFactory(user=F.UserFactory(), organisation=uk)
        owner = F.UserFactory()
        premises = F.PremisesFactory(building=building)
        F.OwnershipFactory(user=owner, premises=premises)
        F.CouncilFactory(user=owner, building=building)
    _db.session.commit()
    many = count(org_page), count(council_page)
    assert many == few, (few, many)
    assert max(many) <= 20
