"""Routes of the house onboarding import: permissions, the flow, paging and filters, refusals."""

import io
import re

import pytest

from app.models import OwnerRecord, Premises, TabularImport
from app.services import house_import as svc
from tests.conftest import login_as
from tests.services.test_house_import import csv_bytes, flat, line

ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]


def client_for(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


def upload(c, building_id, content, filename="дом.csv"):
    return c.post(f"/manage/buildings/{building_id}/import", data={"file": (io.BytesIO(content), filename)},
                  content_type="multipart/form-data")


# council and another УК → 404 (the loader); owners and suppliers → 403 (the gate); the operator may
EXPECTED = {"anon": 302, "owner": 403, "neighbour": 403, "rso": 403, "council": 404, "staff_other": 404,
            "staff": 200, "ukadmin": 200, "operator": 200}


@pytest.mark.parametrize("suffix", ["", "/template.xlsx", "/template.csv"])
@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, role, suffix):
    r = client_for(app, world, role).get(f"/manage/buildings/{world.building.id}/import{suffix}")
    assert r.status_code == EXPECTED[role], (role, suffix)


@pytest.mark.parametrize("role", ROLES)
def test_preview_and_apply_matrix(app, world, db, role):
    imp = svc.house_import_preview(actor=world.staff, building=world.building, filename="h.csv",
                                   content=csv_bytes([flat(10)]))
    c = client_for(app, world, role)
    base = f"/manage/buildings/{world.building.id}/import/{imp.id}"
    assert c.get(base).status_code == EXPECTED[role]
    r = c.post(base + "/apply")
    assert r.status_code == (303 if EXPECTED[role] == 200 else EXPECTED[role]), role
    assert db.session.query(Premises).filter_by(number="10").count() == (1 if EXPECTED[role] == 200 else 0)


@pytest.mark.parametrize("role", ROLES)
def test_upload_matrix(app, world, db, role):
    r = upload(client_for(app, world, role), world.building.id, csv_bytes([flat(10)]))
    assert r.status_code == (303 if EXPECTED[role] == 200 else EXPECTED[role]), role
    assert db.session.query(TabularImport).count() == (1 if EXPECTED[role] == 200 else 0)
    assert db.session.query(Premises).filter_by(number="10").count() == 0  # nothing before the confirmation


def test_preview_of_another_building_is_404(app, world, db):
    imp = svc.house_import_preview(actor=world.staff, building=world.building, filename="h.csv",
                                   content=csv_bytes([flat(10)]))
    c = login_as(app.test_client(), world.staff)
    assert c.get(f"/manage/buildings/{world.building2.id}/import/{imp.id}").status_code == 404
    assert c.post(f"/manage/buildings/{world.building2.id}/import/{imp.id}/apply").status_code == 404
    assert c.get(f"/manage/buildings/{world.building.id}/import/999999").status_code == 404


def test_upload_preview_confirm_flow(app, world, db):
    c = login_as(app.test_client(), world.staff)
    page = c.get(f"/manage/buildings/{world.building.id}")
    assert f"/manage/buildings/{world.building.id}/import" in page.text  # linked from the building page
    rows = [flat(10, share="1/2"), line(number="10", owner="Второй Собственник", share="1/2"), flat(11)]
    r = upload(c, world.building.id, csv_bytes(rows))
    assert r.status_code == 303
    preview = c.get(r.headers["Location"])
    assert preview.status_code == 200 and "Помещения: новых — 2" in preview.text and "Загрузить" in preview.text
    assert "кв. 1, кв. 2, кв. 3" in preview.text  # not in the file, kept
    action = re.search(r'action="([^"]+/apply)"', preview.text)[1]
    done = c.post(action)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/manage/buildings/{world.building.id}")
    building_page = c.get(done.headers["Location"])
    assert "Данные дома загружены: новых помещений — 2" in building_page.text and ">10<" in building_page.text
    assert db.session.query(OwnerRecord).count() == 3
    again = c.post(action)
    assert again.status_code == 409 and "уже загружен" in again.text and "<title>Ошибка:" in again.text


def test_errors_filter_and_paging(app, world, db, monkeypatch):
    from app.blueprints.manage import house_import as routes

    monkeypatch.setattr(routes, "PAGE_ROWS", 2)
    c = login_as(app.test_client(), world.staff)
    rows = [flat(20), flat(21, total_area="-5"), flat(22), flat(23), flat(24, total_area="48.6.1")]
    location = upload(c, world.building.id, csv_bytes(rows)).headers["Location"]
    page = c.get(location)
    assert "страница 1 из 3" in page.text and "следующие" in page.text and "Загрузить</button>" not in page.text
    assert f'href="{location}?show=all&amp;page=2">следующие' in page.text  # the link escaped once, not twice
    errors = c.get(location + "?show=errors")
    assert "«Общая площадь, м²» не может быть отрицательным" in errors.text and "«48.6.1» — не число" in errors.text
    assert "страница" not in errors.text
    r = c.post(location + "/apply")
    assert r.status_code == 422 and "строк с ошибками — 2" in r.text
    assert db.session.query(Premises).filter_by(building_id=world.building.id).count() == 3


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("h.csv", csv_bytes([]), "только заголовки"),
    ("h.pdf", b"%PDF-1.4", "Загрузите файл CSV или XLSX"),
    ("h.csv", "Номер помещения;Лицевой счёт\r\n".encode() + b"1;2\r\n" * (svc.MAX_ROWS + 1), "В файле больше"),
])
def test_bad_files_message_next_to_the_field(app, world, db, filename, content, message):
    r = upload(login_as(app.test_client(), world.staff), world.building.id, content, filename)
    assert r.status_code == 422 and 'id="file-error"' in r.text and message in r.text
    assert "<title>Ошибка:" in r.text and db.session.query(TabularImport).count() == 0


def test_missing_file_and_a_request_far_over_the_limit(app, world, db):
    c = login_as(app.test_client(), world.staff)
    r = c.post(f"/manage/buildings/{world.building.id}/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "Выберите файл с помещениями дома" in r.text
    big = upload(c, world.building.id, b"x" * (svc.MAX_FILE_BYTES + 100_000))
    assert big.status_code == 413 and "Файл больше 5 МБ" in big.text
    other = upload(login_as(app.test_client(), world.staff_other), world.building.id,
                   b"x" * (svc.MAX_FILE_BYTES + 100_000))
    assert other.status_code == 413 and "Файл больше" not in other.text  # no page of a building it may not see


def test_templates_download(app, world):
    c = login_as(app.test_client(), world.staff)
    xlsx = c.get(f"/manage/buildings/{world.building.id}/import/template.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:4] == b"PK\x03\x04"
    csv = c.get(f"/manage/buildings/{world.building.id}/import/template.csv")
    assert csv.status_code == 200 and "Номер помещения;Вид помещения" in csv.data.decode("utf-8-sig")


def test_preview_page_of_200_flats_stays_light(app, world, db):
    import gzip

    c = login_as(app.test_client(), world.staff)
    rows = [flat(n, resource="Холодная вода", serial=f"Х{n}", verification="01.01.2030", reading="1")
            for n in range(100, 300)]
    page = c.get(upload(c, world.building.id, csv_bytes(rows)).headers["Location"])
    assert page.status_code == 200 and "страница 1 из 2" in page.text
    assert len(gzip.compress(page.data)) <= 14 * 1024, len(gzip.compress(page.data))
