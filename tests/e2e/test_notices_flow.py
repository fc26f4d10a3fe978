"""Notices and announcements in a real browser at 360 px."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def unread(page) -> int:
    text = page.locator("#notices-unread").inner_text().strip()
    match = re.match(r"\d+", text)
    return int(match.group(0)) if match else 0


def test_feed_loads_more_and_counter_drops_after_reading(page):
    login(page, "owner2")
    page.get_by_role("link", name=re.compile("^Оповещения")).click()
    page.wait_for_url("**/notices/")
    assert_fits(page)
    assert_accessible(page, "notices feed")
    before = unread(page)
    assert before > 0
    count = page.locator("#notices-feed article").count()
    page.get_by_role("link", name="Показать ещё").click()
    # (no page.wait_for_function: its string predicates need eval, which our CSP rightly forbids)
    page.locator("#notices-feed article").nth(count).wait_for()
    assert page.url.endswith("/notices/")  # loaded in place
    first_unread = page.locator("article.notice-unread h2 a").first
    title = first_unread.inner_text()
    first_unread.click()  # opens inline and marks it read
    page.locator("article", has_text=title).locator(".notice-body").wait_for()
    expect(page.locator("#notices-unread")).to_contain_text(str(before - 1))
    assert unread(page) == before - 1
    assert page.url.endswith("/notices/")
    assert_accessible(page, "notices after reading")


def test_announcement_with_an_error_keeps_the_text(page):
    login(page, "owner")
    page.get_by_role("link", name="Объявления").click()
    page.get_by_role("link", name="Подать объявление").click()
    page.get_by_label("Текст").fill("Отдам книжный шкаф, самовывоз с 5 этажа, лифт работает.")
    page.get_by_label("Сколько дней показывать").fill("45")
    page.get_by_role("button", name="Опубликовать").click()
    page.locator(".error-summary").wait_for()
    assert page.get_by_label("Текст").input_value() == "Отдам книжный шкаф, самовывоз с 5 этажа, лифт работает."
    assert "Введите заголовок" in page.locator("#title-error").inner_text()
    assert "от 1 до 30" in page.locator("#days-error").inner_text()
    assert_fits(page)
    assert_accessible(page, "announcement form with errors")
    page.get_by_label("Заголовок").fill("Отдам книжный шкаф")
    page.get_by_label("Сколько дней показывать").fill("10")
    page.get_by_role("button", name="Опубликовать").click()
    page.get_by_role("heading", name="Отдам книжный шкаф").wait_for()
    assert "Объявление опубликовано" in page.locator("#flash").inner_text()
    page.get_by_role("link", name="Объявления").first.click()
    page.get_by_label("Поиск").fill("книжный")
    page.wait_for_url("**q=*")
    assert page.locator("#announcements-list article").count() == 1
    assert_accessible(page, "announcements search")
