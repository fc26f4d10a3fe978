"""Readings in a real browser at 360 px: owner submits; council types three cells (one invalid) with the
keyboard; the owner of a cell the council filled sees the lock message."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select

from app.extensions import db
from app.models import Building, Meter, Reading
from app.models.base import utcnow
from app.services.periods import current_month, local_today
from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


@pytest.fixture
def open_window(live_app):
    """Make today the reading day of ул. Бабушкина, 108, and clear its current-month readings."""
    with live_app.app_context():
        building = db.session.scalar(select(Building).where(Building.house == "108"))
        day = local_today(utcnow()).day
        building.reading_start_day = building.reading_end_day = day
        meter_ids = select(Meter.id).where(Meter.building_id == building.id)
        db.session.execute(delete(Reading).where(Reading.meter_id.in_(meter_ids),
                                                 Reading.period == current_month(utcnow())))
        db.session.commit()
        db.session.remove()


def plus(page, cell_input, amount: float) -> str:
    """The row's previous reading plus `amount`, typed the Russian way (decimal comma)."""
    previous = page.locator("tr", has=cell_input).locator("td.num").inner_text()
    value = float(previous.replace("\u00a0", "").replace(" ", "").replace(",", ".")) + amount
    return f"{value:.3f}".replace(".", ",")


def test_owner_submits_and_gets_confirmation(page, open_window):
    login(page, "owner")
    page.get_by_role("link", name="Показания").click()
    page.get_by_label("Помещение").select_option(label="ул. Бабушкина, д. 108, кв. 12")
    page.wait_for_url("**/readings/")
    page.get_by_text("Приём показаний за").wait_for()
    assert_fits(page)
    assert_accessible(page, "owner readings")
    water = page.locator("fieldset", has_text="Холодная вода").get_by_role("textbox")
    previous = page.locator("fieldset", has_text="Холодная вода").locator(".prev strong").inner_text()
    value = float(previous.replace("\u00a0", "").replace(" ", "").replace(",", ".")) + 3.25
    water.fill(f"{value:.3f}".replace(".", ","))
    page.get_by_role("button", name="Передать показания").click()
    page.get_by_role("heading", name="Показания приняты").wait_for()
    number = page.locator(".confirmation .mono").inner_text()
    assert len(number) == 13
    assert "3,25" in page.locator("table").inner_text()
    assert_accessible(page, "confirmation")


def test_council_types_three_cells_then_owner_sees_the_lock(page, browser, base_url, open_window):
    login(page, "council")
    page.get_by_role("link", name="Ввод показаний").click()
    page.get_by_label("Дом").select_option(label="ул. Бабушкина, д. 108")
    page.locator("#readings-grid").get_by_label("кв. 13, Холодная вода").wait_for()
    assert_accessible(page, "grid")

    first = page.get_by_label("кв. 13, Холодная вода")
    first.click()
    first.fill(plus(page, first, 2))
    first.press("Enter")
    page.locator("td.cell-saved", has=page.get_by_label("кв. 13, Холодная вода")).wait_for()
    second = page.get_by_label("кв. 13, Горячая вода")
    expect(second).to_be_focused()
    # Invalid: letters. The cell says why and keeps focus and the typed text.
    page.keyboard.type("12о")
    page.keyboard.press("Enter")
    error = page.locator(".cell-error .cell-msg.bad")
    error.wait_for()
    assert "Введите число" in error.inner_text()
    assert second.input_value() == "12о"
    assert second.evaluate("el => el === document.activeElement")
    second.fill(plus(page, second, 1))
    second.press("Enter")
    page.locator(".cell-saved", has=page.get_by_label("кв. 13, Горячая вода")).wait_for()
    first_power = page.get_by_label("кв. 13, Электроэнергия").first  # single-rate, or the day (T1) register
    expect(first_power).to_be_focused()
    third = page.get_by_label(first_power.get_attribute("aria-label"), exact=True)
    third.fill(plus(page, third, 150))
    page.keyboard.press("Tab")  # leaving the cell saves it too
    page.locator(".cell-saved", has=third).wait_for()
    assert page.locator(".cell-saved").count() == 3
    assert_accessible(page, "grid after saves")

    # The owner of кв. 13 now sees who entered the readings and cannot change them.
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=base_url, locale="ru-RU")
    owner = context.new_page()
    login(owner, "owner2")
    owner.goto("/readings/")
    locked = owner.locator("fieldset", has_text="Холодная вода").locator(".notice-locked")
    assert "внесены советом дома" in locked.inner_text()
    assert owner.locator("fieldset", has_text="Холодная вода").get_by_role("textbox").count() == 0
    assert_fits(owner)
    assert_accessible(owner, "owner locked")
    context.close()


def test_owner_board_shows_numbers_only(page, open_window):
    login(page, "owner2")
    page.goto("/readings/building")
    page.locator(".tiles").wait_for()
    text = page.locator("#readings-board").inner_text()
    assert "Передали" in text and "Козлова" not in text
    page.get_by_label("Месяц").select_option(index=1)
    page.wait_for_url("**period=*")
    assert_fits(page)
    assert_accessible(page, "board")


def test_council_saves_a_cell_without_javascript(browser, base_url, live_app, open_window):
    """With scripting off the <noscript> token is a real field: Enter in a cell posts its form and the reading is
    saved (the grid's cells carry no token element when JavaScript runs)."""
    with live_app.app_context():
        building_id = db.session.scalar(select(Building.id).where(Building.house == "108"))
        db.session.remove()
    context = browser.new_context(base_url=base_url, java_script_enabled=False, viewport={"width": 360, "height": 800})
    page = context.new_page()
    try:
        login(page, "council")
        page.goto(f"/manage/readings?building={building_id}")
        cell = page.get_by_label("кв. 13, Холодная вода")
        value = plus(page, cell, 3)
        cell.fill(value)
        cell.press("Enter")
        page.wait_for_load_state()
        assert "сохранено" in page.content() or page.get_by_label("кв. 13, Холодная вода").input_value() == value
        with live_app.app_context():
            meter = db.session.scalars(select(Meter).join(Meter.premises).where(
                Meter.building_id == building_id, Meter.resource == "cold_water")).all()
            saved = db.session.scalars(select(Reading).where(Reading.meter_id.in_([m.id for m in meter]),
                                                             Reading.period == current_month(utcnow()))).all()
            db.session.remove()
        assert len(saved) == 1
    finally:
        context.close()
