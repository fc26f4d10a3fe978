"""Payments from the bank in a real browser at 320 px: the УК uploads a Sberbank registry (Windows-1251), sees the
preview, confirms, and books the line whose лицевой счёт was unknown to a flat found by address (axe on each page)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Building, Payment, Premises
from app.models.billing import UnmatchedPayment
from app.services.periods import local_today
from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def _registry(day: str, period: str, known: str) -> bytes:
    lines = [
        f"{day};10-15-32;8600;8600999V;E2E0001;{known};ИВАНОВА АННА;г Чита;{period};1500,00;1485,00;15,00",
        f"{day};11-20-05;8600;8600999V;E2E0002;99999999;ПЕТРОВ ПЁТР;г Чита, кв 2;{period};700,00;700,00;0,00",
        "=2;2200,00;2185,00;15,00;77;" + day,
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


def test_staff_loads_a_bank_registry_and_resolves_an_unmatched_line(page, live_app, tmp_path):
    with live_app.app_context():
        premises = db.session.scalars(select(Premises).join(Building).order_by(Building.id, Premises.id)).first()
        known, target_id = premises.account_number, db.session.scalars(
            select(Premises).where(Premises.building_id == premises.building_id, Premises.id != premises.id)
            .order_by(Premises.id)).first().id
        target = db.session.get(Premises, target_id)
        street_word, target_number, target_account = (target.building.street.split()[-1], target.number,
                                                       target.account_number)
        payments_before = db.session.query(Payment).count()
        db.session.remove()
    yesterday = local_today(datetime.now(UTC)) - timedelta(days=1)
    path = tmp_path / "7536000000_40702810000000000001_001_reestr.txt"
    path.write_bytes(_registry(f"{yesterday:%d-%m-%Y}", f"{yesterday:%m%Y}", known))

    page.set_viewport_size({"width": 320, "height": 700})
    login(page, "staff")
    page.goto("/manage/receipts")
    page.get_by_role("link", name="Платежи из банка: загрузить реестр").click()
    page.get_by_role("heading", name="Платежи из банка").wait_for()
    assert_fits(page, 320)
    assert_accessible(page, "upload form")

    page.get_by_label("Файл реестра").set_input_files(str(path))
    page.get_by_role("button", name="Проверить реестр").click()
    page.get_by_role("heading", name="Проверка реестра платежей").wait_for()
    summary = page.locator("#summary-h").locator("xpath=..").inner_text().replace("\xa0", " ")
    assert "Будут зачислены: 1 на 1 500,00 ₽" in summary, summary
    assert "Лицевой счёт не найден: 1 на 700,00 ₽" in summary, summary
    assert "Итог банка: 2 на 2 200,00 ₽" in summary, summary
    assert_fits(page, 320)
    assert_accessible(page, "preview")

    page.get_by_role("button", name="Зачислить платежи").click()
    page.get_by_role("heading", name="Платежи без лицевого счёта").wait_for()
    flash = page.locator("#flash").inner_text().replace("\xa0", " ")
    assert "зачислено платежей — 1 на 1 500,00 ₽; не найден лицевой счёт — 1 на 700,00 ₽" in flash, flash
    assert_fits(page, 320)
    assert_accessible(page, "unmatched list")

    page.get_by_role("link", name="700,00 ₽ · л/с 99999999").click()
    page.get_by_role("heading", name="Платёж 700,00 ₽").wait_for()
    page.get_by_label("Лицевой счёт или адрес").fill(f"{street_word} кв {target_number}")
    page.get_by_role("button", name="Найти").click()
    results = page.locator("#premises-search")
    results.get_by_text(f"л/с {target_account}").wait_for()
    assert_fits(page, 320)
    assert_accessible(page, "unmatched payment with search results")
    results.get_by_role("button", name="Зачислить").first.click()
    page.get_by_role("heading", name="Платежи без лицевого счёта").wait_for()
    assert f"л/с {target_account}" in page.locator("#flash").inner_text()
    assert "Неразобранных платежей нет" in page.locator("main").inner_text()
    assert_fits(page, 320)

    with live_app.app_context():
        assert db.session.query(Payment).count() == payments_before + 2
        booked = db.session.query(Payment).filter_by(premises_id=target_id, reference="E2E0002").one()
        assert str(booked.amount) == "700.00"
        assert db.session.query(UnmatchedPayment).one().payment_id == booked.id
        db.session.remove()
