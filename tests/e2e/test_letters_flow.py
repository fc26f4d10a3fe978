"""Staff issue credential letters for one entrance of the demo building and download one PDF; an owner logs
in with a password read from that PDF and must replace it."""

import io
import re

import pytest
from pypdf import PdfReader

from tests.e2e.conftest import assert_accessible, assert_fits, login

pytestmark = pytest.mark.e2e

PASSWORD = re.compile(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}")


def test_letters_for_an_entrance_then_first_login(page):
    login(page, "staff")
    page.get_by_role("link", name="Управление").click()
    page.get_by_role("link", name="ул. Бабушкина, д. 108").click()
    page.get_by_role("link", name="Письма с доступом для собственников").click()
    page.get_by_role("heading", name="Письма с доступом").wait_for()
    page.get_by_label("Подъезд").select_option("2")
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(re.compile(r"entrance=2"))
    assert_fits(page)
    assert_accessible(page, "letters")
    button = page.get_by_role("button", name=re.compile(r"Выдать доступ и скачать письма \(\d+\)"))
    count = int(re.search(r"\((\d+)\)", button.inner_text()).group(1))
    assert count > 0
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename.endswith("-podezd-2.pdf")
    with open(download.value.path(), "rb") as f:
        pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(f.read())).pages]
    assert len(pages) == count
    first = pages[0]
    login_name = re.search(r"Логин (\S+)", first).group(1)
    full_name = re.search(r"собственника (.+?) 672039, г. Чита", first).group(1)
    flat = re.search(r"ул. Бабушкина, д. 108, кв. (\d+), лицевой счёт", first).group(1)
    assert PASSWORD.search(first)

    # Issued once: nothing is left to issue for this entrance. The owner "lost" the letter: a new password.
    page.reload()
    assert page.get_by_text("Всем собственникам из реестра доступ уже выдан.").is_visible()
    page.get_by_role("checkbox", name=f"Новый пароль: кв. {flat}, {full_name}", exact=True).check()
    with page.expect_download() as again:
        page.get_by_role("button", name="Выдать новые пароли и скачать письма").click()
    with open(again.value.path(), "rb") as f:
        (letter,) = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(f.read())).pages]
    assert login_name in letter
    password = PASSWORD.search(letter).group(0)
    assert password != PASSWORD.search(first).group(0)

    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/auth/login")
    page.get_by_label("Логин").fill(login_name)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/auth/password")
    page.get_by_label("Текущий пароль").fill(password)
    page.get_by_label("Новый пароль", exact=True).fill("зелёный трамвай едет")
    page.get_by_label("Новый пароль ещё раз").fill("зелёный трамвай едет")
    page.get_by_role("button", name="Сохранить пароль").click()
    page.wait_for_url("**/profile/")
    assert "Пароль изменён" in page.locator("#flash").inner_text()
