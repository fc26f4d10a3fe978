"""Export and import of readings through HTTP: permissions, files, upload → preview → apply (PRG)."""

import io
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from freezegun import freeze_time
from openpyxl import load_workbook

from app.models import Reading, ReadingImport, ReadingRevision
from app.models.metering import ReadingSource
from app.services import readings_exchange as svc
from tests import factories as F
from tests.conftest import login_as

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
TODAY = "2026-11-22 03:00:00"  # 22.11.2026 12:00 in Chita: the November window is open
ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]


@pytest.fixture(autouse=True)
def frozen():
    with freeze_time(TODAY):
        yield


@pytest.fixture
def meters(world, db):
    world.rso.settings = {"resources": ["cold_water"]}
    m = SimpleNamespace(
        cold1=F.MeterFactory(premises=world.p1, resource="cold_water", serial_number="ВС100001"),
        hot1=F.MeterFactory(premises=world.p1, resource="hot_water", serial_number="ГВ100002"),
        b2=F.MeterFactory(premises=world.p_b2, resource="cold_water", serial_number="ВС700007"),
        other=F.MeterFactory(premises=world.p_other, resource="cold_water", serial_number="ВС900009"),
    )
    for meter in vars(m).values():
        F.ReadingFactory(meter=meter, period=OCT, value=Decimal("100"))
    F.ReadingFactory(meter=m.cold1, period=NOV, value=Decimal("110.5"), source="owner")
    db.session.commit()
    return m


def _client(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


def _upload(client, content: bytes, filename: str = "file.csv", period: str = "2026-11"):
    return client.post("/manage/readings/import", data={"period": period, "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def _csv(*lines: str) -> bytes:
    return "\r\n".join(["Лицевой счёт;Заводской номер;Показание", *lines]).encode("utf-8-sig")


# ---------------------------------------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------------------------------------

EXPORTERS = {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200, "staff_other": 200, "rso": 200}
GET_MATRIX = [
    ("/manage/readings/export/form", EXPORTERS, 403),
    ("/manage/readings/export?building=&period=2026-11&format=csv", EXPORTERS, 403),
    ("/manage/readings/export?building={building}&period=2026-11&format=csv",
     {**EXPORTERS, "staff_other": 404}, 403),
    ("/manage/readings/export?building={building2}&period=2026-11&format=xlsx",
     {**EXPORTERS, "council": 404, "staff_other": 404, "rso": 404}, 403),
    ("/manage/readings/export?building={building_other}&period=2026-11&format=csv",
     {**EXPORTERS, "council": 404, "staff": 404, "ukadmin": 404, "rso": 404}, 403),
    ("/manage/readings/export?building=999999&period=2026-11&format=csv",
     {**EXPORTERS, "council": 404, "staff": 404, "ukadmin": 404, "staff_other": 404, "rso": 404}, 403),
    ("/manage/readings/import", {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 200}, 403),
    ("/manage/readings/import/template.csv", {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 200}, 403),
    ("/manage/readings/imports/{imp}", {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 404}, 403),
    ("/manage/readings/imports/999999", {"anon": 302, "staff": 404, "ukadmin": 404, "staff_other": 404}, 403),
]


@pytest.fixture
def staff_import(world, meters):
    return svc.reading_import_preview(actor=world.staff, period=NOV, filename="a.csv",
                                      content=_csv(f"{world.p1.account_number};ГВ100002;120"))


def _fill(path, world, imp):
    return path.format(building=world.building.id, building2=world.building2.id,
                       building_other=world.building_other.id, imp=imp.id)


@pytest.mark.parametrize(("path", "expected", "default"), GET_MATRIX, ids=[m[0] for m in GET_MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, staff_import, role, path, expected, default):
    r = _client(app, world, role).get(_fill(path, world, staff_import))
    assert r.status_code == expected.get(role, default), (role, path)
    assert "HX-Request" in r.headers.get("Vary", "")


@pytest.mark.parametrize("role", ROLES)
def test_upload_and_apply_matrix(app, world, staff_import, role, db):
    c = _client(app, world, role)
    upload = _upload(c, _csv(f"{world.p1.account_number};ГВ100002;120"))
    assert upload.status_code == {"anon": 302, "staff": 303, "ukadmin": 303, "staff_other": 303}.get(role, 403)
    apply = c.post(f"/manage/readings/imports/{staff_import.id}/apply")
    assert apply.status_code == {"anon": 302, "staff": 303, "ukadmin": 303, "staff_other": 404}.get(role, 403)
    applied = db.session.get(ReadingImport, staff_import.id).applied_at is not None
    assert applied == (role in ("staff", "ukadmin"))


def test_staff_of_another_organisation_cannot_import_into_our_building(app, world, meters, db):
    c = login_as(app.test_client(), world.staff_other)
    r = _upload(c, _csv(f"{world.p1.account_number};ВС100001;111"))
    assert r.status_code == 303
    page = c.get(r.headers["Location"]).text
    assert "не обслуживает ваша организация" in page and "ул. Ленина" not in page
    assert "Загрузить</button>" not in page
    imp = db.session.query(ReadingImport).one()
    assert c.post(f"/manage/readings/imports/{imp.id}/apply").status_code == 422
    assert "ошибок в файле — 1" in c.post(f"/manage/readings/imports/{imp.id}/apply").text
    reading = db.session.query(Reading).filter_by(meter_id=meters.cold1.id, period=NOV).one()
    assert (reading.value, reading.source) == (Decimal("110.5"), ReadingSource.OWNER)
    assert db.session.query(ReadingRevision).count() == 0


# ---------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------


def test_export_form_offers_the_actors_buildings(app, world, meters):
    page = login_as(app.test_client(), world.staff).get("/manage/readings/export/form").text
    assert "ул. Ленина, д. 1" in page and "ул. Горького, д. 5" in page and "ул. Чкалова" not in page
    assert '<option selected value="2026-11">ноябрь 2026</option>' in page
    assert "Загрузить показания из файла" in page
    council = login_as(app.test_client(), world.council).get("/manage/readings/export/form").text
    assert "ул. Горького" not in council and "Загрузить показания из файла" not in council


def test_export_csv_download(app, world, meters):
    r = login_as(app.test_client(), world.council).get(
        "/manage/readings/export", query_string={"building": world.building.id, "period": "2026-11", "format": "csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    assert "no-store" in r.headers["Cache-Control"]
    text = r.data.decode("utf-8-sig")
    assert text.splitlines()[0] == ";".join(svc.COLUMNS)
    assert ";ВС100001;11.2026;110,500;10,500;собственник;" in text and "ВС700007" not in text


def test_export_xlsx_for_rso_has_only_its_resource(app, world, meters):
    r = login_as(app.test_client(), world.rso_user).get(
        "/manage/readings/export", query_string={"building": "", "period": "2026-11", "format": "xlsx"})
    assert r.status_code == 200 and r.mimetype == svc.XLSX_MIMETYPE
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert [row[5] for row in rows[1:]] == ["ВС100001"]  # cold water of the supplied building only


@pytest.mark.parametrize(
    ("query", "message"),
    [({"period": "2027-01", "format": "csv"}, "Выберите месяц из списка"),
     ({"period": "ноябрь", "format": "csv"}, "Выберите месяц из списка"),
     ({"period": "2026-11", "format": "pdf"}, "Выберите формат")],
)
def test_export_errors_next_to_the_field(app, world, meters, query, message):
    r = login_as(app.test_client(), world.staff).get("/manage/readings/export", query_string=query)
    assert r.status_code == 422
    assert "<title>Ошибка: " in r.text and message in r.text
    assert re.search(r'class="error-message" id="(period|format)-error"', r.text)


# ---------------------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------------------


def test_upload_preview_apply_flow(app, world, meters, db):
    c = login_as(app.test_client(), world.staff)
    a1 = world.p1.account_number
    r = _upload(c, _csv(f"{a1};ВС100001;111,5", f"{a1};ГВ100002;120", f"{world.p_b2.account_number};ВС700007;"))
    assert r.status_code == 303
    page = c.get(r.headers["Location"])
    assert page.status_code == 200
    for text in ("Итого строк: 3", "Новые показания: 1", "Изменятся: 1", "Пропущены (нет показания): 1",
                 "110,5", "111,5", "изменится", "новое", "пропущена", "Загрузить</button>"):
        assert text in page.text, text
    imp = db.session.query(ReadingImport).one()
    r = c.post(f"/manage/readings/imports/{imp.id}/apply")
    assert r.status_code == 303 and r.headers["Location"] == f"/manage/readings/imports/{imp.id}"
    page = c.get(r.headers["Location"]).text
    assert "загружены: новых — 1, изменено — 1, без изменений — 0" in page
    assert "Повторно применить этот файл нельзя" in page and "Загрузить</button>" not in page
    reading = db.session.query(Reading).filter_by(meter_id=meters.cold1.id, period=NOV).one()
    assert (reading.value, reading.source) == (Decimal("111.5"), ReadingSource.IMPORT)
    # A second confirmation (double click, back button): 409 with a clear message, nothing written again.
    again = c.post(f"/manage/readings/imports/{imp.id}/apply")
    assert again.status_code == 409 and "уже загружен" in again.text
    assert db.session.query(ReadingRevision).count() == 2


def test_file_with_errors_cannot_be_applied(app, world, meters, db):
    c = login_as(app.test_client(), world.staff)
    r = _upload(c, _csv(f"{world.p1.account_number};ВС100001;111", "123;ВС100001;5"))
    imp = db.session.query(ReadingImport).one()
    page = c.get(r.headers["Location"]).text
    assert "С ошибками: 1" in page and "Лицевой счёт 123 не найден" in page and "Загрузить</button>" not in page
    errors_only = c.get(f"/manage/readings/imports/{imp.id}?show=errors").text
    table = errors_only.split("<tbody>")[1]
    assert "Лицевой счёт 123 не найден" in table and "Холодная вода, № ВС100001" not in table
    r = c.post(f"/manage/readings/imports/{imp.id}/apply")
    assert r.status_code == 422 and "Ничего не загружено: ошибок в файле — 1" in r.text
    assert db.session.query(ReadingRevision).count() == 0


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [("readings.pdf", b"%PDF-1.4", "Загрузите файл CSV или XLSX"),
     ("readings.xlsx", b"not a zip", "Файл не похож на XLSX"),
     ("readings.csv", "Адрес;Квартира\r\n1;2".encode(), "Не найдена строка заголовков")],
)
def test_bad_file_error_next_to_the_field_nothing_stored(app, world, meters, db, filename, content, message):
    r = _upload(login_as(app.test_client(), world.staff), content, filename)
    assert r.status_code == 422
    assert re.search(r'<p class="error-message" id="file-error"><span class="visually-hidden">Ошибка:</span> '
                     + re.escape(message), r.text)
    assert 'href="#file"' in r.text and "<title>Ошибка: " in r.text
    assert db.session.query(ReadingImport).count() == 0


def test_missing_file_and_future_period(app, world, meters, db):
    c = login_as(app.test_client(), world.staff)
    r = c.post("/manage/readings/import", data={"period": "2026-11"}, content_type="multipart/form-data")
    assert r.status_code == 422 and "Выберите файл с показаниями" in r.text
    r = _upload(c, _csv(f"{world.p1.account_number};ВС100001;111"), period="2026-12")
    assert r.status_code == 422 and "Нельзя загружать показания за будущий месяц" in r.text
    assert 'value="2026-12"' not in r.text  # not offered: only past and current months
    assert db.session.query(ReadingImport).count() == 0


def test_file_over_the_limit(app, world, meters, db):
    c = login_as(app.test_client(), world.staff)
    r = _upload(c, b"x" * (svc.MAX_FILE_BYTES + 1))  # within the request limit: checked on the file
    assert r.status_code == 422 and "Файл больше 2 МБ" in r.text
    r = _upload(c, b"x" * (svc.MAX_FILE_BYTES + 100 * 1024))  # the request itself is too big: not even read
    assert r.status_code == 413 and "Файл больше 2 МБ" in r.text and 'id="file-error"' in r.text
    assert db.session.query(ReadingImport).count() == 0


def test_oversized_upload_is_refused_before_the_csrf_check(app_factory, app, world, meters):
    strict = app_factory(WTF_CSRF_ENABLED=True)
    c = login_as(strict.test_client(), world.staff)
    r = c.post("/manage/readings/import", content_type="multipart/form-data",
               data={"period": "2026-11", "file": (io.BytesIO(b"x" * (svc.MAX_FILE_BYTES + 100 * 1024)), "a.csv")})
    assert r.status_code == 413 and "Файл больше 2 МБ" in r.text
    # Other roles get the plain status, not the import form.
    c = login_as(strict.test_client(), world.council)
    r = c.post("/manage/readings/import", content_type="multipart/form-data",
               data={"file": (io.BytesIO(b"x" * (svc.MAX_FILE_BYTES + 100 * 1024)), "a.csv")})
    assert r.status_code == 413 and "Загрузка показаний" not in r.text


def test_template_download(app, world):
    r = login_as(app.test_client(), world.staff).get("/manage/readings/import/template.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.data == svc.template_csv()
    assert "attachment" in r.headers["Content-Disposition"]


def test_import_page_explains_the_format(app, world):
    page = login_as(app.test_client(), world.staff).get("/manage/readings/import").text
    for text in ("«Лицевой счёт», «Заводской номер», «Показание»", "до 2 МБ и 5\u00a0000 строк",
                 'enctype="multipart/form-data"', "/manage/readings/import/template.csv", 'accept=".csv,.xlsx'):
        assert text in page, text


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_round_trip_through_the_web(app, world, meters, db, fmt):
    c = login_as(app.test_client(), world.staff)
    exported = c.get("/manage/readings/export", query_string={"building": "", "period": "2026-11", "format": fmt})
    filename = "export." + fmt
    r = _upload(c, exported.data, filename)
    assert r.status_code == 303
    imp = db.session.query(ReadingImport).one()
    assert {row["status"] for row in imp.rows} == {"unchanged", "skipped"}
    assert c.post(f"/manage/readings/imports/{imp.id}/apply").status_code == 303
    assert db.session.query(ReadingRevision).count() == 0


def test_preview_shows_a_conflict_when_readings_changed(app, world, meters, db):
    c = login_as(app.test_client(), world.staff)
    _upload(c, _csv(f"{world.p1.account_number};ГВ100002;120"))
    imp = db.session.query(ReadingImport).one()
    F.ReadingFactory(meter=meters.hot1, period=NOV, value=Decimal("119"), source="owner")
    db.session.commit()
    r = c.post(f"/manage/readings/imports/{imp.id}/apply")
    assert r.status_code == 409 and "показания в базе изменились" in r.text
    assert "119" in r.text and "изменится" in r.text  # the refreshed preview
    assert c.post(f"/manage/readings/imports/{imp.id}/apply").status_code == 303
