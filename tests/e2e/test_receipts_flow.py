"""Receipts in a real browser: the owner picks a month and downloads the PDF; staff prepare all receipts of
a building and watch the progress update by itself (htmx polling) until the download appears."""

import pytest

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def test_owner_picks_a_month_and_downloads(page):
    login(page, "owner2")
    # The section bar's link (the home page may link to receipts from a card too, depending on the date).
    page.get_by_role("navigation").get_by_role("link", name="Квитанции", exact=True).first.click()
    page.wait_for_url("**/receipts/")
    assert_fits(page)
    assert_accessible(page, "receipts list")
    options = page.get_by_label("Месяц").locator("option")
    second = options.nth(1).get_attribute("value")
    page.get_by_label("Месяц").select_option(second)
    page.wait_for_url(f"**/receipts/{second}")
    page.locator(".receipt-total").wait_for()
    assert_fits(page)
    assert_accessible(page, "receipt")
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать PDF").click()
    path = download.value.path()
    assert open(path, "rb").read(5) == b"%PDF-"
    assert download.value.suggested_filename.endswith(f"-{second}.pdf")


def test_staff_prepares_all_receipts_with_live_progress(page):
    login(page, "staff")
    page.get_by_role("link", name="Квитанции").click()
    page.get_by_label("Дом").select_option(label="ул. Амурская, д. 41")
    page.wait_for_url("**building=*")
    page.get_by_text("Квитанций: 36").wait_for()
    assert_accessible(page, "receipts back office")
    page.get_by_role("button", name="Все квитанции одним PDF").click()
    page.wait_for_url("**/manage/receipts/batches/*")
    url = page.url
    # The progress region polls every 2 s and stops when the file is ready: no reload needed.
    page.get_by_role("link", name="Скачать PDF").wait_for(timeout=60_000)
    assert page.url == url
    assert "Готово: 36 квитанций" in page.locator("#batch-progress").inner_text()
    assert_accessible(page, "batch done")
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать PDF").click()
    assert open(download.value.path(), "rb").read(5) == b"%PDF-"
