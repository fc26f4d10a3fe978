"""A staff member connects an authenticator app (QR + key), saves the recovery codes, logs out and logs in
again with a code; the codes are computed with pyotp, as the phone would."""

import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e


def test_enrol_totp_and_log_in_with_a_code(page):
    login(page, "staff")
    page.goto("/auth/two-factor")
    expect(page.get_by_role("heading", name="Вход с кодом из приложения")).to_be_visible()
    page.get_by_role("button", name="Подключить приложение").click()
    qr = page.get_by_role("img", name="QR-код для приложения: ключ ниже, его можно ввести вручную")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the data: URI is allowed by the CSP and decodes
    assert_fits(page)
    assert_accessible(page, "two-factor enrolment")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")

    # A wrong code: the message next to the field, the QR stays.
    page.get_by_label("Код из приложения").fill("12")
    page.get_by_role("button", name="Подтвердить").click()
    expect(page.locator("#code-error")).to_contain_text("Неверный код")
    expect(qr).to_be_visible()

    page.get_by_label("Код из приложения").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Подтвердить").click()
    expect(page.get_by_role("heading", name="Вход с кодом включён")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert_accessible(page, "recovery codes")
    page.get_by_role("link", name="Я сохранил коды").click()
    expect(page.get_by_text("Осталось кодов восстановления: 10 из 10.")).to_be_visible()

    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/auth/login")
    page.get_by_label("Логин").fill("staff")
    page.get_by_label("Пароль").fill("demo2026")
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/auth/2fa")
    assert_fits(page)
    assert_accessible(page, "login code step")
    # The code of the next 30-second step: the current one may have been spent on the enrolment.
    page.get_by_label("Код").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/home")
