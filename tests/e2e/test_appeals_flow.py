"""Appeals in a real browser at 360 px: file one with a photo and get the number; staff change the status and
the owner's open page shows it without a reload (htmx polling)."""

import io

import pytest
from PIL import Image

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def photo(tmp_path):
    path = tmp_path / "leak.jpg"
    image = Image.new("RGB", (1200, 900), (30, 60, 200))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def test_file_appeal_and_see_status_change_live(page, browser, base_url, tmp_path):
    login(page, "owner")
    page.get_by_role("link", name="Обращения").click()
    page.get_by_role("link", name="Подать обращение").click()
    assert_fits(page)
    assert_accessible(page, "appeal form")
    page.get_by_label("Что случилось").select_option(label="Заявка на ремонт (срок 10 раб. дн.)")
    page.get_by_label("Где").select_option("premises")
    page.get_by_label("Описание").fill("Течёт смеситель на кухне, вода капает круглые сутки.")
    page.get_by_label("Фотографии").set_input_files(str(photo(tmp_path)))
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_url("**/appeals/*")
    number = page.locator("#appeal-live dd.mono").inner_text()
    assert number.startswith("20") and len(number) == 11
    assert "Зарегистрировано" in page.locator("#appeal-live").inner_text()
    assert page.locator("#appeal-live img").count() == 1
    assert_fits(page)
    assert_accessible(page, "appeal detail")
    url = page.url

    staff_ctx = browser.new_context(viewport={"width": 360, "height": 740}, base_url=base_url, locale="ru-RU")
    staff = staff_ctx.new_page()
    login(staff, "staff")
    staff.get_by_role("link", name="Обращения").click()
    row = staff.locator("article", has_text=number)
    row.get_by_role("button", name="В работу").click()
    staff.locator("article", has_text=number).locator(".tag-in_progress").wait_for()
    assert_accessible(staff, "staff board")
    staff_ctx.close()

    # The owner did nothing: the open page asks the server and shows the new status by itself.
    page.locator("#appeal-live .tag-in_progress").wait_for(timeout=15_000)
    assert page.url == url
    assert "В работе" in page.locator("#appeal-live .big-status").inner_text()


def test_staff_board_filters_fit_320_px(browser, base_url):
    """The board's filter selects hold long category and staff names: they shrink instead of widening the page."""
    context = browser.new_context(base_url=base_url, viewport={"width": 320, "height": 700})
    page = context.new_page()
    try:
        login(page, "staff")
        page.goto("/manage/appeals")
        page.get_by_label("Категория").wait_for()
        assert_fits(page, 320)
    finally:
        context.close()
