"""Owner edits the profile inline (click-to-edit with htmx) on a 360 px phone screen."""

import pytest

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def test_owner_edits_contacts_inline(page):
    login(page, "owner")
    assert_accessible(page, "home")
    page.get_by_role("link", name="Мой профиль").click()
    page.wait_for_url("**/profile/")
    assert_fits(page)
    assert_accessible(page, "profile")
    url_before = page.url

    contacts = page.locator("#profile-contacts")
    contacts.get_by_role("link", name="Изменить контакты").click()
    phone = contacts.get_by_label("Телефон")
    phone.wait_for()
    assert page.url == url_before  # swapped in place, no navigation
    assert phone.evaluate("el => el === document.activeElement")  # focus moved into the form

    phone.fill("12-34")
    contacts.get_by_label("Электронная почта").fill("anna@")
    contacts.get_by_role("button", name="Сохранить").click()
    error = contacts.locator("#phone-error")
    error.wait_for()
    assert "Введите номер телефона" in error.inner_text()
    assert "Введите адрес электронной почты" in contacts.locator("#email-error").inner_text()
    assert phone.input_value() == "12-34"  # nothing typed is lost
    assert contacts.get_by_label("Электронная почта").input_value() == "anna@"
    assert phone.evaluate("el => el === document.activeElement")
    assert_fits(page)
    assert_accessible(page, "profile with errors")

    phone.fill("8 914 765-43-21")
    contacts.get_by_label("Электронная почта").fill("anna@example.ru")
    contacts.get_by_role("button", name="Сохранить").click()
    contacts.get_by_text("+7 914 765-43-21").wait_for()
    assert "anna@example.ru" in contacts.inner_text()
    assert "Изменения сохранены" in page.locator("#flash").inner_text()
    assert page.url == url_before

    page.reload()
    assert "+7 914 765-43-21" in page.locator("#profile-contacts").inner_text()


def test_cancel_returns_to_view_mode(page):
    login(page, "owner")
    page.goto("/profile/")
    prefs = page.locator("#profile-preferences")
    prefs.get_by_role("link", name="Изменить уведомления и рассылки").click()
    prefs.get_by_label("Согласен(на) получать информационные рассылки по SMS").check()
    prefs.get_by_role("link", name="Отмена").click()
    prefs.get_by_role("link", name="Изменить уведомления и рассылки").wait_for()
    assert "согласия нет" in prefs.inner_text()


def test_consent_given_inline_is_shown_with_time(page):
    login(page, "owner")
    page.goto("/profile/")
    prefs = page.locator("#profile-preferences")
    prefs.get_by_role("link", name="Изменить уведомления и рассылки").click()
    prefs.get_by_label("Согласен(на) получать информационные рассылки по электронной почте").check()
    prefs.get_by_role("button", name="Сохранить").click()
    prefs.get_by_text("согласие дано").wait_for()
    assert_accessible(page, "profile after consent")
