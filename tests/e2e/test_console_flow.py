"""The operator brings a new УК into service: the organisation with checked bank details, a building,
its first admin — at 360 px, with the axe check on every page."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def test_operator_onboards_an_organisation(page):
    login(page, "admin")
    expect(page.get_by_role("region", name="Консоль оператора")).to_be_visible()
    assert_accessible(page, "operator home")
    page.get_by_role("navigation", name="Разделы").get_by_role("link", name="Консоль").click()
    page.get_by_role("link", name="Добавить организацию").first.click()
    page.get_by_role("heading", name="Новая организация").wait_for()
    assert_fits(page)
    assert_accessible(page, "organisation form")

    page.get_by_label("Вид организации").select_option("tszh")
    page.get_by_label("Полное наименование").fill("Товарищество собственников жилья «Берёзка»")
    page.get_by_label("Краткое наименование").fill("ТСЖ «Берёзка»")
    page.get_by_label("ИНН").fill("7536123457")  # the check digit is wrong
    page.get_by_label("КПП").fill("753601001")
    page.get_by_label("ОГРН или ОГРНИП").fill("1117746358608")
    page.get_by_label("Адрес", exact=True).fill("672000, г. Чита, ул. Берёзовая, д. 5")
    page.get_by_label("Телефон аварийно-диспетчерской службы (АДС)").fill("+7 3022 21-00-00")
    page.get_by_label("Наименование банка").fill("ПАО СБЕРБАНК")
    page.get_by_label("БИК банка").fill("047601637")
    page.get_by_label("Расчётный счёт").fill("40702810974000012345")  # does not fit the БИК
    page.get_by_label("Корреспондентский счёт").fill("30101810500000000637")
    page.get_by_role("button", name="Добавить организацию").click()
    page.locator(".error-summary").wait_for()
    assert page.title().startswith("Ошибка:")
    expect(page.locator("#inn-error")).to_contain_text("контрольные цифры")
    expect(page.locator("#bank_account-error")).to_contain_text("контрольный ключ")
    assert page.get_by_label("Краткое наименование").input_value() == "ТСЖ «Берёзка»"
    assert_fits(page)
    assert_accessible(page, "organisation form with errors")

    page.get_by_label("ИНН").fill("7536111107")
    page.get_by_label("Расчётный счёт").fill("40702810674000012345")
    page.get_by_role("button", name="Добавить организацию").click()
    page.get_by_role("heading", name="ТСЖ «Берёзка»").wait_for()
    expect(page.locator("#flash")).to_contain_text("добавлена")
    assert_fits(page)
    assert_accessible(page, "organisation card")

    page.get_by_role("link", name="Добавить дом").click()
    page.get_by_label("Улица").fill("ул. Берёзовая")
    page.get_by_label("Дом, корпус, строение").fill("5")
    page.get_by_label("Код дома в ФИАС (ГАР)").fill("2c8bb2a6-0f1e-4a5b-9c3d-1e2f3a4b5c6d")
    page.get_by_label("Подъездов").fill("3")
    page.get_by_label("Холодная вода").select_option(index=1)
    assert_fits(page)
    assert_accessible(page, "building form")
    page.get_by_role("button", name="Добавить дом").click()
    expect(page.locator("#flash")).to_contain_text("ул. Берёзовая, д. 5")

    staff = page.get_by_role("region", name="Добавить сотрудника")
    staff.get_by_label("ФИО сотрудника").fill("Берёзова Ольга Ивановна")
    staff.get_by_label("Логин").fill("berezova")
    staff.get_by_label("Роль").select_option("admin")
    staff.get_by_role("button", name="Создать учётную запись").click()
    page.get_by_role("heading", name="Учётная запись создана").wait_for()
    assert_fits(page)
    assert_accessible(page, "issued")
    password = page.locator("dd.mono.big").inner_text()
    assert len(password) == 14

    # The new admin logs in, changes the temporary password and finds their organisation in the console.
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/auth/login")
    page.get_by_label("Логин").fill("berezova")
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/auth/password")
    page.get_by_label("Текущий пароль").fill(password)
    page.get_by_label("Новый пароль", exact=True).fill("берёзовая роща шумит")
    page.get_by_label("Новый пароль ещё раз").fill("берёзовая роща шумит")
    page.get_by_role("button", name="Сохранить пароль").click()
    page.wait_for_url("**/profile/")
    page.goto("/console/")
    page.get_by_role("link", name="ТСЖ «Берёзка»").click()
    expect(page.get_by_role("region", name="Дома")).to_contain_text("ул. Берёзовая, д. 5")
    assert_fits(page)
    assert_accessible(page, "admin's organisation card")


def test_operator_searches_organisations_and_opens_moderation(page):
    login(page, "admin")
    page.goto("/console/organisations")
    assert_fits(page)
    assert_accessible(page, "organisations")
    rows = page.locator("#organisations-list tbody tr")
    total = rows.count()
    page.get_by_label("Вид").select_option("rso")  # htmx swaps the list without a reload
    page.wait_for_url("**kind=rso**")
    expect(rows).not_to_have_count(total)
    page.goto("/console/moderation")
    assert_fits(page)
    assert_accessible(page, "moderation")
    page.get_by_label("Показать").select_option("hidden")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url("**view=hidden**")
    assert_accessible(page, "moderation, hidden")
