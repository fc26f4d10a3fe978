"""Readings over HTTP: owner page, board (152-ФЗ: numbers only for owners), grid cells, permissions."""

import gzip
import re
from datetime import date
from decimal import Decimal

import pytest
from freezegun import freeze_time

from app.models import Meter, Reading, ReadingSubmission
from app.services import readings as svc
from tests.conftest import login_as
from tests.factories import MeterFactory, ReadingFactory

NOV = date(2026, 11, 1)
IN_WINDOW = "2026-11-22 03:00:00"  # UTC = 12:00 in Chita


@pytest.fixture(autouse=True)
def _frozen():
    with freeze_time(IN_WINDOW):
        yield


@pytest.fixture
def meters(world, db):
    water = MeterFactory(premises=world.p1, building_id=world.building.id, serial_number="ВС-1")
    power = MeterFactory(premises=world.p1, building_id=world.building.id, resource="electricity", digits=6,
                         serial_number="Э-1")
    neighbour_water = MeterFactory(premises=world.p2, building_id=world.building.id, serial_number="ВС-2")
    for m, v in ((water, "120"), (power, "5000"), (neighbour_water, "300")):
        ReadingFactory(meter=m, period=date(2026, 9, 1), value=Decimal(v) - 4)
        ReadingFactory(meter=m, period=date(2026, 10, 1), value=Decimal(v))
    db.session.commit()
    return water, power, neighbour_water


def owner_client(app, world):
    c = login_as(app.test_client(), world.owner)
    # the owner's first premises by address is on another street; work with кв. 1 of ул. Ленина
    c.post("/apartment/switch", data={"premises_id": world.p1.id})
    return c


def test_owner_page_shows_window_previous_and_inputs(app, world, meters):
    water, power, _ = meters
    page = owner_client(app, world).get("/readings/").text
    assert "Приём показаний за ноябрь 2026 открыт" in page and "до 25.11.2026" in page
    assert "Предыдущее: <strong>120</strong>" in page
    assert f'name="m{water.id}"' in page and 'inputmode="decimal"' in page
    assert "ВС-2" not in page  # the neighbour's meter


def test_owner_submit_303_to_confirmation(app, world, meters, db):
    water, power, _ = meters
    c = owner_client(app, world)
    r = c.post("/readings/", data={f"m{water.id}": "124,5", f"m{power.id}": ""})
    assert r.status_code == 303
    number = db.session.query(ReadingSubmission).one().number
    assert r.headers["Location"] == f"/readings/confirmation/{number}"
    page = c.get(r.headers["Location"]).text
    assert number in page and "22.11.2026 12:00" in page and "124,5" in page and "Подтверждение отправлено" in page


def test_owner_errors_keep_values_and_show_next_to_field(app, world, meters, db):
    water, power, _ = meters
    c = owner_client(app, world)
    r = c.post("/readings/", data={f"m{water.id}": "119", f"m{power.id}": "5010,5"})
    assert r.status_code == 422
    assert "<title>Ошибка: " in r.text and "Меньше предыдущего" in r.text
    assert f'id="m{water.id}-error"' in r.text and 'value="119"' in r.text and 'value="5010,5"' in r.text
    assert db.session.query(Reading).filter_by(period=NOV).count() == 0


def test_owner_spike_confirm_step(app, world, meters, db):
    water, power, _ = meters
    c = owner_client(app, world)
    r = c.post("/readings/", data={f"m{water.id}": "160"})
    assert r.status_code == 422 and "Подтвердите показания" in r.text and f'name="confirm_{water.id}"' in r.text
    r = c.post("/readings/", data={f"m{water.id}": "160", f"confirm_{water.id}": "1"})
    assert r.status_code == 303


def test_owner_sees_lock_message_after_council_entry(app, world, meters, db):
    water, power, _ = meters
    svc.reading_enter(actor=world.council, meter=water, period=NOV, value="121", expected_version=None)
    c = owner_client(app, world)
    page = c.get("/readings/").text
    assert "внесены советом дома 22.11.2026 12:00" in page and f'name="m{water.id}"' not in page
    assert "/appeals/new" in page  # a link to file an appeal
    r = c.post("/readings/", data={f"m{water.id}": "125"})
    assert r.status_code == 422 and "через управляющую организацию" in r.text


def test_confirmation_of_another_premises_is_404(app, world, meters, db):
    water, *_ = meters
    owner_client(app, world).post("/readings/", data={f"m{water.id}": "121"})
    number = db.session.query(ReadingSubmission).one().number
    for user in (world.neighbour, world.staff, world.owner_other):
        assert login_as(app.test_client(), user).get(f"/readings/confirmation/{number}").status_code == 404


def test_board_for_owner_has_numbers_only(app, world, meters, db):
    water, power, nw = meters
    svc.reading_enter(actor=world.staff, meter=nw, period=NOV, value="301", expected_version=None)
    page = login_as(app.test_client(), world.owner).get(f"/readings/building?building={world.building.id}").text
    assert "Передали 1 из 2" in page
    assert "301" not in page and "ВС-2" not in page and world.neighbour.full_name not in page
    assert "tile-done" in page and "tile-missing" in page


def test_board_for_council_has_values_and_sources(app, world, meters, db):
    *_, nw = meters
    svc.reading_enter(actor=world.staff, meter=nw, period=NOV, value="301", expected_version=None)
    page = login_as(app.test_client(), world.council).get("/readings/building").text
    assert "301" in page and "управляющая организация" in page


def test_board_for_supplier_only_its_resource(app, world, meters, db):
    world.rso.settings = {"resources": ["cold_water"]}
    db.session.commit()
    page = login_as(app.test_client(), world.rso_user).get("/readings/building").text
    assert "Холодная вода" in page and "Электроэнергия" not in page


def test_board_fragment_contract(app, world, meters):
    r = login_as(app.test_client(), world.council).get(
        "/readings/building", query_string={"period": "2026-10"},
        headers={"HX-Request": "true", "HX-Target": "readings-board"})
    assert r.status_code == 200 and r.text.startswith('<div id="readings-board">') and "<html" not in r.text
    assert "октябрь 2026" in r.text


def cell(c, meter, value, version="", period="2026-11", htmx=True):
    headers = {"HX-Request": "true", "HX-Target": f"reading-cell-{meter.id}"} if htmx else {}
    return c.post(f"/manage/readings/{period}/meters/{meter.id}", data={"value": value, "version": version},
                  headers=headers)


def test_grid_page_and_cells(app, world, meters, db):
    water, power, nw = meters
    c = login_as(app.test_client(), world.council)
    page = c.get("/manage/readings").text
    assert f'id="reading-cell-{water.id}"' in page and f'id="reading-cell-{nw.id}"' in page
    r = cell(c, water, "12x")
    assert r.status_code == 422 and r.text.startswith(f'<td id="reading-cell-{water.id}"')
    assert 'value="12x"' in r.text and "Введите число" in r.text and 'aria-invalid="true"' in r.text
    r = cell(c, water, "121,5")
    assert r.status_code == 200 and "сохранено" in r.text and 'name="version" value="1"' in r.text
    assert "HX-Request" in r.headers["Vary"]
    # A second grid, loaded before the save, is refused with the current value.
    r = cell(c, water, "122")
    assert r.status_code == 409 and "сейчас 121,5 (совет дома" in r.text and 'value="122"' in r.text
    assert 'name="version" value="1"' in r.text  # re-pressing Enter now overwrites deliberately
    r = cell(c, water, "122", version="1")
    assert r.status_code == 200
    assert db.session.query(Reading).filter_by(meter_id=water.id, period=NOV).one().value == Decimal("122")


def test_grid_cell_without_javascript_redirects_back(app, world, meters):
    water, *_ = meters
    r = cell(login_as(app.test_client(), world.staff), water, "121", htmx=False)
    assert r.status_code == 303 and f"#reading-cell-{water.id}" in r.headers["Location"]


def test_grid_filters(app, world, meters, db):
    water, power, nw = meters
    c = login_as(app.test_client(), world.staff)
    svc.reading_enter(actor=world.staff, meter=nw, period=NOV, value="301", expected_version=None)
    r = c.get("/manage/readings", query_string={"building": world.building.id, "missing": "1", "entrance": ""},
              headers={"HX-Request": "true", "HX-Target": "readings-grid"})
    assert r.text.startswith('<div id="readings-grid">')
    assert f"reading-cell-{water.id}" in r.text and f"reading-cell-{nw.id}" not in r.text
    r = c.get("/manage/readings", query_string={"building": world.building.id, "entrance": "2"})
    assert f"reading-cell-{water.id}" not in r.text


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 403), ("neighbour", 403), ("rso", 403), ("staff_other", 404), ("council", 200), ("staff", 200),
     ("ukadmin", 200)],
)
def test_grid_cell_permissions(app, world, meters, role, status):
    water, *_ = meters
    r = cell(login_as(app.test_client(), world.by_role(role)), water, "121")
    assert r.status_code == status


def test_council_cannot_open_grid_of_another_building(app, world, meters):
    c = login_as(app.test_client(), world.council)
    assert c.get("/manage/readings", query_string={"building": world.building2.id}).status_code == 404
    assert c.get("/manage/readings", query_string={"building": world.building_other.id}).status_code == 404


@pytest.mark.parametrize(
    ("role", "own", "neighbour"),
    [("owner", 200, 404), ("neighbour", 404, 200), ("council", 200, 200), ("staff", 200, 200),
     ("staff_other", 404, 404), ("rso", 200, 200), ("operator", 404, 404)],  # rso: cold water is its resource
)
def test_history_permissions(app, world, meters, role, own, neighbour):
    water, _, nw = meters
    c = login_as(app.test_client(), world.by_role(role))
    assert c.get(f"/readings/meters/{water.id}").status_code == own
    assert c.get(f"/readings/meters/{nw.id}").status_code == neighbour


def test_supplier_sees_history_of_its_resource_only(app, world, meters, db):
    water, power, _ = meters
    world.rso.settings = {"resources": ["cold_water"]}
    db.session.commit()
    c = login_as(app.test_client(), world.rso_user)
    assert c.get(f"/readings/meters/{water.id}").status_code == 200
    assert c.get(f"/readings/meters/{power.id}").status_code == 404


def test_history_page_chart_and_revisions_for_staff_only(app, world, meters):
    water, *_ = meters
    svc.reading_enter(actor=world.council, meter=water, period=NOV, value="123", expected_version=None)
    staff_page = login_as(app.test_client(), world.staff).get(f"/readings/meters/{water.id}").text
    assert "<svg" in staff_page and "Журнал изменений" in staff_page and "Козлова Ирина Николаевна" in staff_page
    owner_page = login_as(app.test_client(), world.owner).get(f"/readings/meters/{water.id}").text
    assert "<svg" in owner_page and "Журнал изменений" not in owner_page


@pytest.mark.parametrize(("role", "path"), [("anon", "/readings/"), ("anon", "/readings/building"),
                                            ("anon", "/manage/readings")])
def test_anonymous_redirected(client, world, role, path):
    assert client.get(path).status_code == 302


def test_grid_default_view_within_page_budget_on_demo(app, db, demo):
    from app.models import User

    staff = db.session.query(User).filter_by(login="staff").one()
    c = login_as(app.test_client(), staff)
    big = re.search(r'<option value="(\d+)">ул. Бабушкина', c.get("/manage/readings").text).group(1)
    r = c.get("/manage/readings", query_string={"building": big})
    assert r.status_code == 200
    assert len(gzip.compress(r.data)) <= 14 * 1024
    for path in ("/readings/building", f"/readings/building?building={big}"):
        assert len(gzip.compress(c.get(path).data)) <= 14 * 1024


def test_staff_adds_replaces_and_archives_a_meter(app, world, meters, db):
    water, *_ = meters
    c = login_as(app.test_client(), world.staff)
    r = c.post(f"/manage/premises/{world.p1.id}/meters/new",
               data={"resource": "hot_water", "tariff": "single", "serial_number": "", "digits": "5",
                     "next_verification_on": "2030-01-01", "initial_value": "1"})
    assert r.status_code == 422 and "Введите заводской номер" in r.text and 'value="2030-01-01"' in r.text
    r = c.post(f"/manage/premises/{world.p1.id}/meters/new",
               data={"resource": "hot_water", "tariff": "single", "serial_number": "ГВ-9", "digits": "5",
                     "next_verification_on": "2030-01-01", "initial_value": "1", "place": "кухня"})
    assert r.status_code == 303
    page = c.get(r.headers["Location"]).text
    assert "ГВ-9" in page and "Заменить" in page
    r = c.post(f"/manage/meters/{water.id}/replace",
               data={"resource": "cold_water", "tariff": "single", "serial_number": "ВС-NEW", "digits": "5",
                     "next_verification_on": "2032-01-01", "initial_value": "0", f"final_{water.id}": "100"})
    assert r.status_code == 422 and "Меньше предыдущего" in r.text and 'value="100"' in r.text
    r = c.post(f"/manage/meters/{water.id}/replace",
               data={"resource": "cold_water", "tariff": "single", "serial_number": "ВС-NEW", "digits": "5",
                     "next_verification_on": "2032-01-01", "initial_value": "0", f"final_{water.id}": "121"})
    assert r.status_code == 303
    new = db.session.query(Meter).filter_by(serial_number="ВС-NEW").one()
    r = c.post(f"/manage/meters/{new.id}/archive")
    assert r.status_code == 303
    assert db.session.get(Meter, new.id).archived


@pytest.mark.parametrize(("role", "status"), [("council", 403), ("owner", 403), ("rso", 403), ("staff_other", 404)])
def test_meter_management_permissions(app, world, meters, role, status):
    water, *_ = meters
    c = login_as(app.test_client(), world.by_role(role))
    assert c.get(f"/manage/premises/{world.p1.id}/meters/new").status_code == status
    assert c.get(f"/manage/meters/{water.id}/replace").status_code == status
    assert c.post(f"/manage/meters/{water.id}/archive").status_code == status
    assert c.get(f"/manage/buildings/{world.building.id}/meters/new").status_code == status
