"""Charges import over HTTP: permission matrix, upload → preview → confirm, bad files, tampered payloads."""

import codecs
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import event

from app.extensions import db as _db
from app.models import AuditLog, Charge, Service, Statement, TabularImport, Tariff
from app.services import charges_import as svc
from tests.conftest import login_as
from tests.factories import PremisesFactory
from tests.services.test_charges_import import basic_rows, csv_bytes, xlsx_bytes

PAGE = "/manage/charges/import"
CONFIRM = "/manage/charges/import/confirm"
ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]


@pytest.fixture(autouse=True)
def _frozen():
    with freeze_time("2026-11-20 03:00:00"):  # 20 November, noon in Chita
        yield


@pytest.fixture
def services(world, db):
    items = []
    for code, name, order, active in [("MAINT", "Содержание жилого помещения", 1, True),
                                      ("TKO", "Обращение с ТКО", 2, True), ("OLD", "Радиоточка", 3, False)]:
        s = Service(organisation_id=world.uk.id, code=code, name=name, unit="шт.", method="fixed", sort_order=order,
                    active=active)
        s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=Decimal("10"))]
        items.append(s)
    db.session.add_all(items)
    db.session.commit()
    return {s.code: s for s in items}


def norm(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def client_for(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


def upload(c, world, content, *, filename="charges.csv", building=None, period="2026-10", **extra):
    data = {"building": str(building or world.building.id), "period": period,
            "file": (io.BytesIO(content), filename), **extra}
    return c.post(PAGE, data=data, content_type="multipart/form-data")


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return match[1]


def confirm_data(html: str) -> dict:
    """The confirmation posts the id of the stored preview (formerly a signed token with building and period)."""
    return {"import_id": hidden(html, "import_id")}


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', html, re.S)
    return norm(re.sub(r"<[^>]+>", "", match[1])).strip() if match else ""


# --- permission matrix ----------------------------------------------------------------------------------------

GET_MATRIX = [
    (PAGE, {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 200}, 403),
    (PAGE + "?building={building}", {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 404}, 403),
    (PAGE + "?building={building2}", {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 404}, 403),
    (PAGE + "?building={building_other}", {"anon": 302, "staff": 404, "ukadmin": 404, "staff_other": 200}, 403),
    (PAGE + "?building=999999", {"anon": 302, "staff": 404, "ukadmin": 404, "staff_other": 404}, 403),
    (PAGE + "/format", {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 200}, 403),
    (PAGE + "/template.csv", {"anon": 302, "staff": 200, "ukadmin": 200, "staff_other": 200}, 403),
]


@pytest.mark.parametrize(("path", "expected", "default"), GET_MATRIX, ids=[m[0] for m in GET_MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, services, role, path, expected, default):
    url = path.format(building=world.building.id, building2=world.building2.id,
                      building_other=world.building_other.id)
    assert client_for(app, world, role).get(url).status_code == expected.get(role, default), (role, url)


@pytest.mark.parametrize(("role", "status"), [("anon", 302), ("owner", 403), ("neighbour", 403), ("council", 403),
                                              ("rso", 403), ("operator", 403), ("staff_other", 404),
                                              ("ukadmin", 200), ("staff", 200)])
def test_upload_and_confirm_matrix(app, world, services, db, role, status):
    content = csv_bytes(basic_rows(world))
    r = upload(client_for(app, world, role), world, content)
    assert r.status_code == status
    # a confirmation for the building: only staff of its organisation get past the gate and the loader
    preview_owner = world.by_role(role) if status == 200 else world.staff
    imp = svc.charges_import_preview(actor=preview_owner, building=world.building, period=date(2026, 10, 1),
                                     filename="c.csv", content=content).imp
    r = client_for(app, world, role).post(CONFIRM, data={"import_id": imp.id})
    assert r.status_code == (303 if status == 200 else status)
    assert db.session.query(Charge).count() == (3 if status == 200 else 0)


def test_staff_cannot_upload_for_another_organisations_building(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    assert upload(c, world, csv_bytes(basic_rows(world)), building=world.building_other.id).status_code == 404
    assert upload(c, world, csv_bytes(basic_rows(world)), building="abc").status_code == 404


# --- the flow -------------------------------------------------------------------------------------------------


def test_upload_preview_confirm_redirects_to_receipts_with_a_message(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    page = c.get(PAGE, query_string={"building": world.building2.id, "period": "2026-09"})
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert f'<option selected value="{world.building2.id}">' in page.text and 'value="2026-09"' in page.text
    assert 'type="month"' in page.text and 'max="2026-11"' in page.text
    assert "/manage/charges/import/format" in page.text and "/manage/charges/import/template.csv" in page.text
    assert 'value="2026-10"' in c.get(PAGE).text  # the last month by default

    r = upload(c, world, csv_bytes(basic_rows(world)))
    assert r.status_code == 200
    html = norm(r.text)
    assert "Проверка файла начислений" in html and "charges.csv · ул. Ленина, д. 1 · октябрь 2026" in html
    assert "Новые: 3" in html and "С ошибками: 0" in html and "Помещений в файле: 2 из 3" in html
    assert "Содержание жилого помещения" in html and "2 830,58 ₽" in html and "3 007,28 ₽" in html
    assert "Пени из файла: 12,34 ₽ (лицевых счетов: 1)" in html
    assert 'id="row-4"' in html and "Выбыл один жилец" in html
    assert db.session.query(Charge).count() == 0  # nothing stored by the preview

    r = c.post(CONFIRM, data=confirm_data(r.text))
    assert r.status_code == 303
    assert r.headers["Location"] == f"/manage/receipts?building={world.building.id}&period=2026-10"
    landing = norm(c.get(r.headers["Location"]).text)
    assert "Начисления за октябрь 2026 загружены: строк — 3, помещений — 2, итого 3 007,28 ₽." in landing
    assert "Квитанций: 2" in landing
    assert db.session.query(Charge).filter_by(source="import").count() == 3
    assert db.session.query(AuditLog).filter_by(action="charges_imported").count() == 1


def test_reimport_shows_changes_and_removals_then_replaces(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    c.post(CONFIRM, data=confirm_data(upload(c, world, csv_bytes(basic_rows(world))).text))
    a1 = world.p1.account_number
    r = upload(c, world, csv_bytes([[a1, "MAINT", "48,6", "30,15", "1500,00", "", "", "", "", "12,34"]]))
    html = norm(r.text)
    assert r.status_code == 200 and "Изменятся: 1" in html and "1 465,29 ₽ → 1 500,00 ₽" in html
    assert "Будут удалены начисления, которых нет в файле: 1" in html and "кв. 1, л/с " + a1 in html
    r = c.post(CONFIRM, data=confirm_data(r.text))
    assert r.status_code == 303
    assert "заменено прежних строк — 2" in norm(c.get(r.headers["Location"]).text)
    assert db.session.query(Charge).filter_by(premises_id=world.p1.id).count() == 1


def test_xlsx_upload(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    rows = [[world.p1.account_number, "MAINT", 48.6, 30.15, 1465.29, None, None, None, None, 12.34]]
    r = upload(c, world, xlsx_bytes(rows), filename="октябрь.xlsx")
    assert r.status_code == 200 and "Новые: 1" in r.text
    assert c.post(CONFIRM, data=confirm_data(r.text)).status_code == 303
    assert db.session.query(Statement).filter_by(premises_id=world.p1.id).one().penalty == Decimal("12.34")


def test_preview_with_row_errors_offers_no_confirmation(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    rows = basic_rows(world) + [["000", "XYZ", "", "", "12,345", "", "", "", "", ""]]
    r = upload(c, world, csv_bytes(rows))
    assert r.status_code == 422
    html = norm(r.text)
    assert "<title>Ошибка:" in html and "В файле есть ошибки — ничего не загружено" in html
    summary = re.search(r'<a href="#row-5">Строка 5: (.*?)</a>', html)[1]
    for message in ("Лицевой счёт 000 не найден в доме ул. Ленина, д. 1", "Неизвестный код услуги «XYZ»",
                    "«Начислено»: больше двух знаков после запятой (12,345)"):
        assert message in summary
    assert '<tr id="row-5">' in html and "/manage/charges/import/format" in html
    assert 'name="import_id"' not in html and CONFIRM not in html
    assert "С ошибками: 1" in html and "Итоги по услугам (строки без ошибок)" in html
    assert db.session.query(Charge).count() == 0


def test_many_errors_are_summarised(app, world, services):
    c = login_as(app.test_client(), world.staff)
    rows = [[f"{i:05d}", "MAINT", "", "", "1", "", "", "", "", ""] for i in range(25)]
    html = upload(c, world, csv_bytes(rows)).text
    assert html.count('<li><a href="#row-') == 20 and "и ещё строк с ошибками: 5" in html


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("photo.png", b"\x89PNG\r\n\x1a\n", "Загрузите файл CSV или XLSX"),
    ("charges.csv", b"", "Файл пустой. Выберите файл с начислениями"),
    ("charges.csv", "Лицевой счёт;Сумма\r\n1;2\r\n".encode(), "В файле нет обязательных столбцов: «Код услуги», "
                                                               "«Начислено»"),
    ("charges.csv", b"x;y\r\n1;2\r\n", "Не найдена строка заголовков"),
    ("charges.xlsx", b"not a zip", "Файл не похож на XLSX"),
    ("charges.csv", "Лицевой счёт;Код услуги;Начислено\r\n".encode(), "В файле нет строк с начислениями"),
])
def test_bad_files_message_next_to_the_field(app, world, services, db, filename, content, message):
    c = login_as(app.test_client(), world.staff)
    r = upload(c, world, content, filename=filename)
    assert r.status_code == 422
    assert message in field_error(r.text, "file"), field_error(r.text, "file")
    assert '<div class="error-summary"' in r.text and "<title>Ошибка:" in r.text
    assert f'<option selected value="{world.building.id}">' in r.text and 'value="2026-10"' in r.text  # kept
    assert db.session.query(Charge).count() == 0


def test_missing_file(app, world, services):
    c = login_as(app.test_client(), world.staff)
    r = c.post(PAGE, data={"building": world.building.id, "period": "2026-10"}, content_type="multipart/form-data")
    assert r.status_code == 422 and field_error(r.text, "file") == "Ошибка: Выберите файл с начислениями"


def test_file_over_the_limit(app, world, services):
    c = login_as(app.test_client(), world.staff)
    r = upload(c, world, b"x" * (svc.MAX_FILE_BYTES + 1))
    assert r.status_code == 422 and "Файл больше 2 МБ" in field_error(r.text, "file")


def test_request_far_over_the_limit_is_refused_before_reading(app, world, services):
    c = login_as(app.test_client(), world.staff)
    r = upload(c, world, b"x" * (3 * 1024 * 1024))
    assert r.status_code == 413 and "Файл больше 2 МБ" in field_error(r.text, "file")
    assert login_as(app.test_client(), world.owner).post(
        PAGE, data={"file": (io.BytesIO(b"x" * (3 * 1024 * 1024)), "a.csv")}).status_code == 413


@pytest.mark.parametrize(("period", "message"), [
    ("", "Укажите месяц начислений"),
    ("октябрь", "Укажите месяц в формате ГГГГ-ММ, например 2026-10"),
    ("2026-13", "Укажите месяц в формате ГГГГ-ММ"),
    ("2026-12", "Месяц ещё не наступил"),
])
def test_bad_period(app, world, services, db, period, message):
    c = login_as(app.test_client(), world.staff)
    r = upload(c, world, csv_bytes(basic_rows(world)), period=period)
    assert r.status_code == 422 and message in field_error(r.text, "period")


def test_period_typed_as_month_dot_year(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    r = upload(c, world, csv_bytes(basic_rows(world)), period="10.2026")
    assert r.status_code == 200 and "октябрь 2026" in r.text
    assert db.session.query(TabularImport).one().period == date(2026, 10, 1)  # the stored preview's month


def test_unknown_or_foreign_preview_ids_are_404_and_a_preview_applies_once(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    data = confirm_data(upload(c, world, csv_bytes(basic_rows(world))).text)
    for bad in ("", "abc", "999999", "-1"):
        assert c.post(CONFIRM, data={"import_id": bad}).status_code == 404
    assert db.session.query(Charge).count() == 0 and db.session.query(AuditLog).count() == 0
    assert c.post(CONFIRM, data=data).status_code == 303
    r = c.post(CONFIRM, data=data)
    assert r.status_code == 409 and "уже загружен" in norm(r.text) and "<title>Ошибка:" in r.text
    assert db.session.query(AuditLog).filter_by(action="charges_imported").count() == 1


def test_preview_of_a_colleague_may_be_confirmed_another_organisation_gets_404(app, world, services, db):
    # Like the readings import: a stored preview belongs to the organisation (the signed token was personal).
    data = confirm_data(upload(login_as(app.test_client(), world.ukadmin), world, csv_bytes(basic_rows(world))).text)
    assert login_as(app.test_client(), world.staff_other).post(CONFIRM, data=data).status_code == 404
    assert db.session.query(Charge).count() == 0
    assert login_as(app.test_client(), world.staff).post(CONFIRM, data=data).status_code == 303


def test_rows_failing_at_confirmation_show_the_preview_again(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    data = confirm_data(upload(c, world, csv_bytes(basic_rows(world))).text)
    services["TKO"].active = False
    db.session.commit()
    r = c.post(CONFIRM, data=data)
    assert r.status_code == 409
    html = norm(r.text)
    assert "Начисления не загружены" in html and "Ничего не загружено" in html
    assert "Услуга «TKO» (Обращение с ТКО) отключена" in html and 'name="import_id"' not in html
    assert db.session.query(Charge).count() == 0


def test_charges_changed_at_the_same_moment(app, world, services, db, monkeypatch):
    from app.services import billing

    c = login_as(app.test_client(), world.staff)
    data = confirm_data(upload(c, world, csv_bytes(basic_rows(world))).text)

    def collide(**kwargs):
        db.session.add(Charge(premises_id=world.p1.id, period=date(2026, 10, 1), service_id=services["MAINT"].id,
                              volume=0, tariff=0, amount=1, total=1, source="computed"))
        db.session.flush()

    monkeypatch.setattr(billing, "statements_issue", collide)
    r = c.post(CONFIRM, data=data)
    assert r.status_code == 409 and "только что изменились" in r.text and 'enctype="multipart/form-data"' in r.text
    assert db.session.query(Charge).count() == 0


def test_csrf_is_required_and_the_size_check_comes_first(app_factory, world, services, db):
    from app.extensions import limiter

    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        limiter.reset()
        c = login_as(app.test_client(), world.staff)
        assert upload(c, world, csv_bytes(basic_rows(world))).status_code == 400
        big = upload(c, world, b"x" * (3 * 1024 * 1024))
        assert big.status_code == 413 and "Файл больше 2 МБ" in big.text
        csrf = hidden(c.get(PAGE).text, "csrf_token")
        preview = upload(c, world, csv_bytes(basic_rows(world)), csrf_token=csrf)
        assert preview.status_code == 200
        data = confirm_data(preview.text)
        assert c.post(CONFIRM, data=data).status_code == 400
        assert c.post(CONFIRM, data={**data, "csrf_token": hidden(preview.text, "csrf_token")}).status_code == 303
    assert db.session.query(Charge).count() == 3


def test_preview_queries_do_not_grow_with_rows(app, world, services, db):
    c = login_as(app.test_client(), world.staff)
    more = [PremisesFactory(building=world.building, number=str(10 + i)) for i in range(20)]
    db.session.commit()
    small = csv_bytes([[world.p1.account_number, "MAINT", "", "", "1", "", "", "", "", "1"]])
    large = csv_bytes([[p.account_number, code, "", "", "1", "", "", "", "", "1"]
                       for p in more for code in ("MAINT", "TKO")])
    counts = []

    def count(*args):
        counts[-1] += 1

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        # the first one warms the session up (the user, the building); the second is another file, as the third
        # (the same file again would refresh its stored preview instead of adding one)
        for content in (small, small.replace(b";1;", b";2;"), large):
            counts.append(0)
            assert upload(c, world, content).status_code == 200
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    assert counts[1] == counts[2], counts


# --- help and template ----------------------------------------------------------------------------------------


def test_help_page_lists_every_column_and_the_service_codes(app, world, services):
    html = login_as(app.test_client(), world.staff).get(PAGE + "/format").text
    for column in svc.COLUMNS:
        assert f'<th scope="row">{column.title}</th>' in html
        assert column.example in html
    assert "MAINT" in html and "Обращение с ТКО" in html and "отключена — строки с ней не загрузятся" in html
    assert "UTF-8 или Windows-1251" in html and "2 МБ" in html


def test_template_download(app, world, services):
    r = login_as(app.test_client(), world.staff).get(PAGE + "/template.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.data.startswith(codecs.BOM_UTF8)
    lines = r.data[3:].decode().splitlines()
    assert lines[0] == ";".join(c.title for c in svc.COLUMNS) and len(lines) == 3
    assert lines[1].split(";")[1] == "MAINT" and lines[2].split(";")[1] == "TKO"
