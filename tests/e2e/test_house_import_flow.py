"""House onboarding in a real browser at 360 px: the УК downloads the shipped XLSX template, fills in a few
flats, uploads it, sees the preview, confirms and finds the premises on the building page (axe on each page)."""

import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Building
from tests.e2e.conftest import assert_accessible, assert_fits, import_template, login

pytestmark = pytest.mark.e2e


def filled_template(base_url: str, cookies, building_id: int) -> bytes:
    """The template as the УК downloads it, with its examples replaced by three new flats."""
    book = import_template(base_url, cookies, building_id)
    sheet = book["Помещения"]
    flats = [
        ["901", "квартира", 1, 9, 2, 51.2, 30.4, None, "E2E0901", "Сидорова Вера Павловна", "1/2", "+79140000901",
         None, 2, "Холодная вода", "E2E-ХВ-901", "01.06.2031", 12.5, "20.11.2026"],
        ["901", None, None, None, None, None, None, None, None, "Сидоров Иван Ильич", "1/2"],
        ["902", "квартира", 1, 9, 1, 33, None, None, "E2E0902", "Кузнецов Олег Юрьевич", "1", None,
         "oleg@example.ru", 1],
        ["903", "нежилое", 1, 1, None, 80, None, None, "E2E0903", "ООО «Пекарня»", "1"],
    ]
    for row in flats:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_staff_onboards_flats_from_the_template(page, live_app, base_url, tmp_path):
    with live_app.app_context():
        building = db.session.scalars(select(Building).order_by(Building.id)).first()
        building_id, address = building.id, building.short_address
        db.session.remove()
    login(page, "staff")
    page.goto(f"/manage/buildings/{building_id}")
    page.get_by_role("link", name="Загрузить помещения и собственников из файла").click()
    page.get_by_role("heading", name="Загрузка помещений из файла").wait_for()
    assert_fits(page)
    assert_accessible(page, "upload form")

    path = tmp_path / "Помещения.xlsx"
    path.write_bytes(filled_template(base_url, page.context.cookies(), building_id))
    page.get_by_label("Файл XLSX или CSV").set_input_files(str(path))
    page.get_by_role("button", name="Проверить файл").click()
    page.get_by_role("heading", name="Проверка файла").wait_for()
    summary = page.locator("#totals-h").locator("xpath=..").inner_text()
    assert "Помещения: новых — 3" in summary and "Строк с ошибками: 0" in summary, summary
    assert "Сидорова Вера Павловна (1/2) — новый" in page.locator("table").inner_text()
    assert_fits(page)
    assert_accessible(page, "preview")

    page.get_by_role("link", name="ошибки").click()
    page.get_by_text("Таких строк нет.").wait_for()
    page.get_by_role("button", name="Загрузить").click()
    page.wait_for_url(f"**/manage/buildings/{building_id}")
    assert "Данные дома загружены: новых помещений — 3" in page.locator("body").inner_text()
    table = page.locator("#premises-table")
    for number in ("901", "902", "903"):
        assert table.get_by_role("link", name=number, exact=True).count() == 1
    assert address in page.locator("h1").inner_text()
    assert_fits(page)
    assert_accessible(page, "building page after the import")
