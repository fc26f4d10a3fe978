"""A real УК comes into service, end to end, in a browser at 360 px: the operator creates the organisation with
checked bank details, its building and its first admin; the admin imports 200 flats from the shipped template,
prints every credential letter in one PDF; an owner logs in with a password from that PDF and replaces it."""

import io
import re

import pytest
from pypdf import PdfReader

from tests.e2e.conftest import assert_accessible, assert_fits, import_template, login

pytestmark = pytest.mark.e2e

PASSWORD = re.compile(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}")
FLATS = 200


def _template_with_flats(base_url: str, cookies, building_id: int) -> bytes:
    """The template as the УК downloads it, its example rows replaced by 200 flats in 5 entrances."""
    book = import_template(base_url, cookies, building_id)
    sheet = book["Помещения"]
    for n in range(1, FLATS + 1):
        entrance, floor = 1 + (n - 1) // 40, 1 + ((n - 1) % 40) // 4
        sheet.append([str(n), "квартира", entrance, floor, 1 + n % 3, 30 + n % 50 + 0.4, None, None,
                      f"77{n:06d}", f"Собственник Номер {n}", "1", None, None, 1 + n % 4])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_new_uk_from_nothing_to_the_first_owner_login(page, base_url, tmp_path):
    # 1. The operator: organisation (a wrong account key is caught), building, first admin.
    login(page, "admin")
    page.goto("/console/organisations/new")
    page.get_by_label("Вид организации").select_option("uk")
    page.get_by_label("Полное наименование").fill("Общество с ограниченной ответственностью «УК «Ингода»")
    page.get_by_label("Краткое наименование").fill("ООО «УК «Ингода»")
    page.get_by_label("ИНН").fill("7536098760")
    page.get_by_label("КПП").fill("753601001")
    page.get_by_label("ОГРН или ОГРНИП").fill("1027500000000")
    page.get_by_label("Адрес", exact=True).fill("672000, г. Чита, ул. Ингодинская, д. 1")
    page.get_by_label("Телефон аварийно-диспетчерской службы (АДС)").fill("+7 3022 22-22-22")
    page.get_by_label("Наименование банка").fill("ПАО СБЕРБАНК")
    page.get_by_label("БИК банка").fill("047601637")
    page.get_by_label("Расчётный счёт").fill("40702810974000054321")
    page.get_by_label("Корреспондентский счёт").fill("30101810500000000637")
    page.get_by_role("button", name="Добавить организацию").click()
    page.locator("#bank_account-error").wait_for()
    page.get_by_label("Расчётный счёт").fill("40702810274000054321")
    page.get_by_role("button", name="Добавить организацию").click()
    page.get_by_role("heading", name="ООО «УК «Ингода»").wait_for()

    page.get_by_role("link", name="Добавить дом").click()
    page.get_by_label("Улица").fill("ул. Ингодинская")
    page.get_by_label("Дом, корпус, строение").fill("200")
    page.get_by_label("Подъездов").fill("5")
    page.get_by_role("button", name="Добавить дом").click()
    page.locator("#flash").get_by_text("ул. Ингодинская, д. 200").wait_for()

    staff = page.get_by_role("region", name="Добавить сотрудника")
    staff.get_by_label("ФИО сотрудника").fill("Ингодина Мария Петровна")
    staff.get_by_label("Логин").fill("ingoda.admin")
    staff.get_by_label("Роль").select_option("admin")
    staff.get_by_role("button", name="Создать учётную запись").click()
    page.get_by_role("heading", name="Учётная запись создана").wait_for()
    temporary = page.locator("dd.mono.big").inner_text()
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/auth/login")

    # 2. The admin: first login, password change, the building page.
    page.get_by_label("Логин").fill("ingoda.admin")
    page.get_by_label("Пароль").fill(temporary)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/auth/password")
    page.get_by_label("Текущий пароль").fill(temporary)
    page.get_by_label("Новый пароль", exact=True).fill("ингода течёт в шилку")
    page.get_by_label("Новый пароль ещё раз").fill("ингода течёт в шилку")
    page.get_by_role("button", name="Сохранить пароль").click()
    page.wait_for_url("**/profile/")
    page.get_by_role("navigation", name="Разделы").get_by_role("link", name="Управление").click()
    page.get_by_role("link", name="ул. Ингодинская, д. 200").click()
    building_id = int(re.search(r"/manage/buildings/(\d+)", page.url).group(1))

    # 3. 200 flats from the shipped template: preview, then all of them at once.
    page.get_by_role("link", name="Загрузить помещения и собственников из файла").click()
    path = tmp_path / "Помещения.xlsx"
    path.write_bytes(_template_with_flats(base_url, page.context.cookies(), building_id))
    page.get_by_label("Файл XLSX или CSV").set_input_files(str(path))
    page.get_by_role("button", name="Проверить файл").click()
    page.get_by_role("heading", name="Проверка файла").wait_for()
    summary = page.locator("#totals-h").locator("xpath=..").inner_text()
    assert f"Помещения: новых — {FLATS}" in summary and "Строк с ошибками: 0" in summary, summary
    assert_fits(page)
    page.get_by_role("button", name="Загрузить").click()
    page.wait_for_url(f"**/manage/buildings/{building_id}")
    assert f"новых помещений — {FLATS}" in page.locator("body").inner_text()

    # 4. Every letter in one PDF, one page each.
    page.get_by_role("link", name="Письма с доступом для собственников").click()
    page.get_by_role("heading", name="Письма с доступом").wait_for()
    assert_fits(page)
    assert_accessible(page, "letters of a new building")
    button = page.get_by_role("button", name=f"Выдать доступ и скачать письма ({FLATS})")
    with page.expect_download(timeout=120_000) as download:
        button.click()
    with open(download.value.path(), "rb") as f:
        pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(f.read())).pages]
    assert len(pages) == FLATS
    letter = next(p for p in pages if "кв. 137," in p)
    owner_login = re.search(r"Логин (\S+)", letter).group(1)
    password = PASSWORD.search(letter).group(0)
    assert "Собственник Номер 137" in letter

    # 5. The owner of кв. 137 logs in with the letter and must replace the password.
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/auth/login")
    page.get_by_label("Логин").fill(owner_login)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url("**/auth/password")
    page.get_by_label("Текущий пароль").fill(password)
    page.get_by_label("Новый пароль", exact=True).fill("мой дом на ингодинской")
    page.get_by_label("Новый пароль ещё раз").fill("мой дом на ингодинской")
    page.get_by_role("button", name="Сохранить пароль").click()
    page.wait_for_url("**/profile/")
    page.get_by_role("navigation", name="Разделы").get_by_role("link", name="Квартира").click()
    assert "кв. 137" in page.locator("body").inner_text()
    assert_fits(page)
