"""Staff issue an account; the new owner logs in with the temporary password and must replace it."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def test_axe_check_can_fail(page):
    """Guard against a silently broken accessibility check (e.g. blocked by the CSP)."""
    from axe_playwright_python.sync_playwright import Axe

    page.goto("/auth/login")
    page.evaluate("document.querySelector('label[for=login]').remove()")
    assert Axe().run(page).violations_count > 0


def test_issue_account_then_first_login(page):
    login(page, "staff")
    page.get_by_role("link", name="Управление").click()
    page.get_by_role("link", name="ул. Бабушкина, д. 108").click()
    assert_fits(page)
    assert_accessible(page, "building")
    # htmx filter: choosing "не выдан" narrows the table without a reload.
    page.get_by_label("Доступ").select_option("none")
    page.wait_for_url(re.compile(r"access=none"))
    caption = page.locator("#premises-table caption")
    count = int(re.search(r"\d+", caption.inner_text()).group(0))
    assert 0 < count < 120
    page.locator("#premises-table tbody a").first.click()
    page.get_by_role("heading", name="Выдать доступ собственнику").wait_for()
    assert_accessible(page, "premises")

    issue = page.get_by_role("region", name="Выдать доступ собственнику")
    issue.get_by_label("Доля в праве").fill("1/3")
    issue.get_by_role("button", name="Выдать доступ").click()
    page.locator(".error-summary").wait_for()
    assert "Введите ФИО собственника" in page.locator("#full_name-error").inner_text()
    issue = page.get_by_role("region", name="Выдать доступ собственнику")
    assert issue.get_by_label("Доля в праве").input_value() == "1/3"
    assert page.title().startswith("Ошибка:")
    assert_accessible(page, "issue with errors")

    issue.get_by_label("ФИО собственника").fill("Лебедева Татьяна Андреевна")
    issue.get_by_role("button", name="Выдать доступ").click()
    page.get_by_role("heading", name="Доступ выдан").wait_for()
    assert_accessible(page, "issued")
    login_name = page.locator("dd.mono").first.inner_text()
    password = page.locator("dd.mono.big").inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Скачать письмо для печати (PDF)").click()
    assert download.value.suggested_filename == f"dostup-{login_name}.pdf"

    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/auth/login")
    page.get_by_label("Логин").fill(login_name)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/auth/password")
    assert_accessible(page, "forced change")
    page.get_by_label("Текущий пароль").fill(password)
    page.get_by_label("Новый пароль", exact=True).fill("qwerty123")
    page.get_by_label("Новый пароль ещё раз").fill("qwerty123")
    page.get_by_role("button", name="Сохранить пароль").click()
    assert "распространён" in page.locator("#new_password-error").inner_text()
    page.get_by_label("Текущий пароль").fill(password)
    page.get_by_label("Новый пароль", exact=True).fill("синий трамвай едет")
    page.get_by_label("Новый пароль ещё раз").fill("синий трамвай едет")
    page.get_by_role("button", name="Сохранить пароль").click()
    page.wait_for_url("**/profile/")
    assert "Пароль изменён" in page.locator("#flash").inner_text()


def test_owner_switches_premises_with_the_header_select(page):
    login(page, "owner")
    page.goto("/apartment/")
    heading = page.get_by_role("heading", level=1).inner_text()
    page.get_by_label("Помещение").select_option(index=1)
    expect(page.get_by_role("heading", level=1)).not_to_have_text(heading)
    assert "Выбрано помещение" in page.locator("#flash").inner_text()
    assert page.url.endswith("/apartment/")
    assert_fits(page)
    assert_accessible(page, "apartment")


def test_owner_edits_apartment_fields_without_javascript(browser, base_url):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 320, "height": 640},
                                  base_url=base_url, locale="ru-RU")
    page = context.new_page()
    login(page, "owner2")
    page.goto("/apartment/")
    page.get_by_role("link", name="Изменить сведения от собственника").click()
    page.wait_for_url("**/apartment/owner-fields/edit")
    page.get_by_label("Сколько человек фактически проживает").fill("-2")
    page.get_by_role("button", name="Сохранить").click()
    assert "от 0 до 50" in page.locator("#actual_residents-error").inner_text()
    assert page.get_by_label("Сколько человек фактически проживает").input_value() == "-2"
    page.get_by_label("Сколько человек фактически проживает").fill("2")
    page.get_by_role("button", name="Сохранить").click()
    page.wait_for_url("**/apartment/")
    assert "2 чел." in page.locator("#apartment-owner-fields").inner_text()
    assert_fits(page, 320)
    context.close()


def test_staff_request_link_then_owner_accepts_in_profile(page):
    """Linking an existing login asks the owner: nothing is shared until they accept in «Мой профиль»."""
    login(page, "staff")
    page.get_by_role("link", name="Управление").click()
    page.get_by_role("link", name="ул. Бабушкина, д. 108").click()
    page.get_by_label("Доступ").select_option("none")
    page.wait_for_url(re.compile(r"access=none"))
    page.locator("#premises-table tbody a").first.click()
    title = page.get_by_role("heading", level=1).inner_text()
    link = page.get_by_role("region", name="Добавить помещение к существующей учётной записи")
    link.get_by_label("Логин собственника").fill("owner2")
    link.get_by_role("button", name="Отправить запрос").click()
    expect(page.locator("#flash")).to_contain_text("владелец увидит запрос в личном кабинете")
    link = page.get_by_role("region", name="Добавить помещение к существующей учётной записи")
    expect(link).to_contain_text("owner2")
    expect(link).to_contain_text("не принят")
    assert "Петров Андрей Сергеевич" not in link.inner_text()  # the owner's name is never shown
    assert_fits(page)
    assert_accessible(page, "premises with a pending request")
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/auth/login")

    login(page, "owner2")
    page.get_by_role("link", name="Мой профиль").click()
    requests = page.get_by_role("region", name="Запросы на добавление помещения")
    expect(requests).to_contain_text("ул. Бабушкина, д. 108, " + title.lower())
    expect(requests).to_contain_text("Морозова Ольга Сергеевна")
    assert_fits(page)
    assert_accessible(page, "profile with a request")
    requests.get_by_role("button", name="Принять").click()
    expect(page.locator("#flash")).to_contain_text("Помещение добавлено")
    expect(page.get_by_role("region", name="Запросы на добавление помещения")).to_have_count(0)
    page.goto("/apartment/")
    options = page.get_by_label("Помещение").locator("option").all_inner_texts()
    assert any(title.lower() in o for o in options), options
