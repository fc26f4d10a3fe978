"""Payments from the bank over HTTP: permission matrix of every route, upload → preview → confirm, unmatched
payments booked or dismissed, CSRF on every form."""

import io
import re
from decimal import Decimal

import pytest
from freezegun import freeze_time

from app.models import AuditLog, Payment, TabularImport
from app.models.billing import UnmatchedPayment
from app.services import payments_import as svc
from tests.conftest import login_as
from tests.services.test_payments_import import NOW, basic, line, registry

PAGE = "/manage/payments"
CONFIRM = "/manage/payments/confirm"
ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]
GATE = {"anon": 302, "owner": 403, "neighbour": 403, "council": 403, "rso": 403, "operator": 403}


@pytest.fixture(autouse=True)
def _frozen():
    with freeze_time("2026-11-25 02:00:00"):  # 25 November, 11:00 in Chita
        yield


def norm(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def client_for(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


def upload(c, world, content, *, filename="reestr.txt", bank="sber", organisation=None):
    data = {"organisation": str(organisation or world.uk.id), "bank": bank, "file": (io.BytesIO(content), filename)}
    return c.post(PAGE, data=data, content_type="multipart/form-data")


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return match[1]


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', html, re.S)
    text = norm(re.sub(r"<[^>]+>", "", match[1])).strip() if match else ""
    return text.removeprefix("Ошибка:").strip()


@pytest.fixture
def unmatched(world, db):
    imp = svc.payments_import_preview(actor=world.staff, organisation_id=world.uk.id, bank="sber", filename="r.txt",
                                      content=basic(world), now=NOW).imp
    svc.payments_import_apply(actor=world.staff, imp=imp, now=NOW)
    return db.session.query(UnmatchedPayment).one()


@pytest.fixture
def foreign_unmatched(world, db):
    """An unmatched payment of the other УК."""
    content = registry([line("55550000", "10,00", op="X1")])
    imp = svc.payments_import_preview(actor=world.staff_other, organisation_id=world.uk_other.id, bank="sber",
                                      filename="r.txt", content=content, now=NOW).imp
    svc.payments_import_apply(actor=world.staff_other, imp=imp, now=NOW)
    return db.session.query(UnmatchedPayment).filter_by(organisation_id=world.uk_other.id).one()


# --- permission matrix ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, unmatched, foreign_unmatched, role):
    urls = {
        PAGE: 200, PAGE + "/example.txt": 200, PAGE + "/unmatched": 200,
        f"{PAGE}/unmatched/{unmatched.id}": 404 if role == "staff_other" else 200,
        f"{PAGE}/unmatched/{unmatched.id}?q=Ленина": 404 if role == "staff_other" else 200,
        f"{PAGE}/unmatched/{foreign_unmatched.id}": 200 if role == "staff_other" else 404,
        f"{PAGE}/unmatched/999999": 404, f"{PAGE}/unmatched/abc": 404,
    }
    c = client_for(app, world, role)
    for url, expected in urls.items():
        assert c.get(url).status_code == GATE.get(role, expected), (role, url)


def test_the_unmatched_list_shows_only_the_own_uk(app, world, unmatched, foreign_unmatched):
    html = login_as(app.test_client(), world.staff).get(PAGE + "/unmatched").get_data(as_text=True)
    assert "77770001" in html and "55550000" not in html
    html = login_as(app.test_client(), world.staff_other).get(PAGE + "/unmatched").get_data(as_text=True)
    assert "55550000" in html and "77770001" not in html


@pytest.mark.parametrize("role", ROLES)
def test_upload_and_confirm_matrix(app, world, db, role):
    r = upload(client_for(app, world, role), world, basic(world))
    expected = GATE.get(role, 404 if role == "staff_other" else 200)  # staff_other names another organisation
    assert r.status_code == expected
    imp = svc.payments_import_preview(actor=world.staff, organisation_id=world.uk.id, bank="sber", filename="r.txt",
                                      content=basic(world)).imp
    r = client_for(app, world, role).post(CONFIRM, data={"import_id": imp.id})
    assert r.status_code == GATE.get(role, 404 if role == "staff_other" else 303)
    assert db.session.query(Payment).count() == (0 if role not in ("staff", "ukadmin") else 2)


@pytest.mark.parametrize("role", ROLES)
def test_book_and_dismiss_matrix(app, world, db, unmatched, role):
    c = client_for(app, world, role)
    r = c.post(f"{PAGE}/unmatched/{unmatched.id}/book", data={"premises_id": world.p3.id})
    assert r.status_code == GATE.get(role, 404 if role == "staff_other" else 303), role
    r = c.post(f"{PAGE}/unmatched/{unmatched.id}/dismiss", data={"note": "возврат"})
    # after booking the payment is resolved: dismissing it is a conflict
    assert r.status_code == GATE.get(role, 404 if role == "staff_other" else 409), role
    db.session.expire_all()
    booked = db.session.get(UnmatchedPayment, unmatched.id).payment_id is not None
    assert booked == (role in ("staff", "ukadmin"))


def test_staff_cannot_book_another_uks_payment_or_to_another_uks_flat(app, world, db, unmatched,
                                                                      foreign_unmatched):
    c = login_as(app.test_client(), world.staff)
    assert c.post(f"{PAGE}/unmatched/{foreign_unmatched.id}/book",
                  data={"premises_id": world.p1.id}).status_code == 404
    assert c.post(f"{PAGE}/unmatched/{foreign_unmatched.id}/dismiss", data={"note": "x"}).status_code == 404
    assert c.post(f"{PAGE}/unmatched/{unmatched.id}/book", data={"premises_id": world.p_other.id}).status_code == 404
    assert db.session.query(UnmatchedPayment).filter(UnmatchedPayment.resolved_at.is_not(None)).count() == 0
    # the search never offers another УК's flat
    html = c.get(f"{PAGE}/unmatched/{unmatched.id}?q={world.p_other.account_number}").get_data(as_text=True)
    assert world.p_other.account_number not in html.split("Ничего не найдено")[0].split('id="premises-search"')[1]


# --- the flow -------------------------------------------------------------------------------------------------


def test_upload_preview_confirm(app, world, db):
    c = login_as(app.test_client(), world.staff)
    page = c.get(PAGE).get_data(as_text=True)
    assert 'name="organisation"' in page and "Сбербанк" in page
    r = upload(c, world, basic(world))
    assert r.status_code == 200
    html = norm(r.get_data(as_text=True))
    assert "Будут зачислены: 2 на 3 850,50 ₽" in html
    assert "Лицевой счёт не найден: 1 на 800,00 ₽" in html
    assert "Итог банка: 3 на 4 650,50 ₽" in html
    assert db.session.query(Payment).count() == 0
    r = c.post(CONFIRM, data={"import_id": hidden(html, "import_id")})
    assert r.status_code == 303 and r.headers["Location"].endswith("/manage/payments/unmatched")
    flashed = norm(c.get(r.headers["Location"]).get_data(as_text=True))
    assert "зачислено платежей — 2 на 3 850,50 ₽; не найден лицевой счёт — 1 на 800,00 ₽" in flashed
    assert db.session.query(Payment).count() == 2
    assert "Платежи без лицевого счёта: 1 на 800,00 ₽" in norm(c.get(PAGE).get_data(as_text=True))
    # the same registry again: «уже загружено», nothing to confirm
    html = norm(upload(c, world, basic(world)).get_data(as_text=True))
    assert html.count("уже загружено") == 3 and "Зачислить платежи" not in html
    assert "уже загружены — зачислять нечего" in html
    # confirming the applied preview again
    imp = db.session.query(TabularImport).order_by(TabularImport.id).first()
    r = c.post(CONFIRM, data={"import_id": imp.id})
    assert r.status_code == 409 and "уже загружен" in r.get_data(as_text=True)


def test_the_receipts_page_links_to_the_payments(app, world):
    html = login_as(app.test_client(), world.staff).get("/manage/receipts").get_data(as_text=True)
    assert 'href="/manage/payments"' in html


def test_a_footer_mismatch_is_shown_next_to_the_file(app, world, db):
    c = login_as(app.test_client(), world.staff)
    content = registry([line(world.p1.account_number, "100,00", op="1")], footer="=2;200,00")
    r = upload(c, world, content)
    assert r.status_code == 422
    message = field_error(r.get_data(as_text=True), "file")
    assert "Итоговая строка реестра не сходится" in message and "в ней 2 платежа, а в файле 1 платёж" in message
    assert db.session.query(TabularImport).count() == 0


def test_a_file_with_bad_lines_is_listed_and_cannot_be_confirmed(app, world, db):
    c = login_as(app.test_client(), world.staff)
    content = registry([line(world.p1.account_number, "100,00", op="1", day="31-11-2026")], footer="=1;100,00")
    r = upload(c, world, content)
    html = norm(r.get_data(as_text=True))
    assert r.status_code == 422 and "Строка 1:" in html and "не дата" in html
    assert "Зачислить платежи" not in html and "<title>Ошибка:" in html
    imp = db.session.query(TabularImport).one()
    r = c.post(CONFIRM, data={"import_id": imp.id})
    assert r.status_code == 409 and db.session.query(Payment).count() == 0


def test_missing_file_and_bad_bank(app, world):
    c = login_as(app.test_client(), world.staff)
    r = c.post(PAGE, data={"organisation": world.uk.id, "bank": "sber"}, content_type="multipart/form-data")
    assert r.status_code == 422 and field_error(r.get_data(as_text=True), "file") == "Выберите файл реестра платежей"
    r = upload(c, world, basic(world), bank="nope")
    assert r.status_code == 422 and "Выберите банк" in field_error(r.get_data(as_text=True), "bank")
    assert upload(c, world, basic(world), organisation=world.uk_other.id).status_code == 404


def test_booking_an_unmatched_payment_with_the_search(app, world, db, unmatched):
    c = login_as(app.test_client(), world.staff)
    url = f"{PAGE}/unmatched/{unmatched.id}"
    html = norm(c.get(url).get_data(as_text=True))
    assert "Платёж 800,00 ₽" in html and "НЕИЗВЕСТНЫЙ ПЛАТЕЛЬЩИК" in html
    # htmx asks for the results region only
    r = c.get(url + "?q=Ленина+кв+3", headers={"HX-Request": "true", "HX-Target": "premises-search"})
    fragment = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in fragment and 'id="premises-search"' in fragment
    assert "HX-Target" in r.headers.get("Vary", "")
    assert world.p3.account_number in fragment and world.p1.account_number not in fragment
    r = c.get(url + "?q=Чкалова", headers={"HX-Request": "true", "HX-Target": "premises-search"})
    assert "Ничего не найдено" in r.get_data(as_text=True)
    r = c.post(url + "/book", data={"premises_id": world.p3.id})
    assert r.status_code == 303
    flashed = norm(c.get(r.headers["Location"]).get_data(as_text=True))
    assert f"Платёж 800,00 ₽ зачислен: ул. Ленина, д. 1, кв. 3, л/с {world.p3.account_number}" in flashed
    payment = db.session.query(Payment).filter_by(premises_id=world.p3.id).one()
    assert payment.amount == Decimal("800.00")
    assert "Неразобранных платежей нет" in flashed and "зачислен" in flashed
    # the page of a resolved payment shows it resolved, with no forms
    html = c.get(url).get_data(as_text=True)
    assert "уже разобран" in html and "/book" not in html


def test_dismissing_needs_a_note_and_keeps_what_was_typed(app, world, db, unmatched):
    c = login_as(app.test_client(), world.staff)
    url = f"{PAGE}/unmatched/{unmatched.id}/dismiss"
    r = c.post(url, data={"note": "   "})
    assert r.status_code == 422 and "почему" in field_error(r.get_data(as_text=True), "note")
    r = c.post(url, data={"note": "x" * 301})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "x" * 301 in html  # what was typed is kept
    r = c.post(url, data={"note": "Возвращён плательщику"})
    assert r.status_code == 303
    assert db.session.get(UnmatchedPayment, unmatched.id).resolution_note == "Возвращён плательщику"
    assert db.session.query(AuditLog).filter_by(action="unmatched_payment_dismissed").count() == 1


def test_csrf_is_checked_on_every_form(app_factory, world, db, unmatched):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        c = login_as(app.test_client(), world.staff)
        imp = svc.payments_import_preview(actor=world.staff, organisation_id=world.uk.id, bank="sber",
                                          filename="r.txt", content=registry([line(world.p1.account_number, "5,00",
                                                                                   op="Z")])).imp
        assert upload(c, world, basic(world)).status_code in (400, 422)
        assert c.post(CONFIRM, data={"import_id": imp.id}).status_code in (400, 422)
        assert c.post(f"{PAGE}/unmatched/{unmatched.id}/book", data={"premises_id": world.p1.id}).status_code \
            in (400, 422)
        assert c.post(f"{PAGE}/unmatched/{unmatched.id}/dismiss", data={"note": "x"}).status_code in (400, 422)
    assert db.session.query(Payment).count() == 2  # only the fixture's
    assert db.session.query(UnmatchedPayment).filter(UnmatchedPayment.resolved_at.is_not(None)).count() == 0


def test_the_example_is_a_registry_that_reads(app, world):
    r = login_as(app.test_client(), world.staff).get(PAGE + "/example.txt")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    assert r.data.decode("cp1251").splitlines()[-1].startswith("=2;")
