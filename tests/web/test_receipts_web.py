"""Receipts over HTTP: owners see only their premises' receipts (HTML and PDF); staff back office."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from app.models import ReceiptBatch, Service, Statement, Tariff
from app.services import billing
from tests.conftest import login_as
from tests.factories import OwnershipFactory, UserFactory

OCT = date(2026, 10, 1)


@pytest.fixture(autouse=True)
def _frozen():
    with freeze_time("2026-11-22 03:00:00"):
        yield


@pytest.fixture
def closed(world, db):
    s = Service(organisation_id=world.uk.id, code="MAINT", name="Содержание жилого помещения", unit="м²",
                method="area")
    s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=Decimal("30"))]
    db.session.add(s)
    db.session.commit()
    for building in (world.building, world.building2):
        billing.period_close(actor=world.staff, building=building, period=OCT,
                             now=datetime(2026, 11, 1, tzinfo=UTC))
    return s


def norm(text: str) -> str:
    """Babel separates thousands and the currency sign with no-break spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def owner_on_p1(app, world):
    c = login_as(app.test_client(), world.owner)
    c.post("/apartment/switch", data={"premises_id": world.p1.id})
    return c


def test_owner_list_detail_pdf(app, world, closed):
    c = owner_on_p1(app, world)
    page = norm(c.get("/receipts/").text)
    assert "октябрь 2026" in page and "1 458,00 ₽" in page and "не оплачено" in page
    assert "К оплате сейчас" in page
    detail = c.get("/receipts/2026-10")
    assert detail.status_code == 200 and "Содержание жилого помещения" in detail.text
    assert "Оплатить до 16.11.2026" in detail.text
    pdf = c.get("/receipts/2026-10.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["X-Receipt-Cache"] == "miss"
    assert "attachment" in pdf.headers["Content-Disposition"]
    again = c.get("/receipts/2026-10.pdf?print=1")
    assert again.headers["X-Receipt-Cache"] == "hit" and "inline" in again.headers["Content-Disposition"]
    assert c.get("/receipts/?period=2026-10").headers["Location"] == "/receipts/2026-10"
    assert "1 458,00 ₽" in norm(c.get("/home").text)  # current debt on the home page


def test_missing_or_bad_month_is_404(app, world, closed):
    c = owner_on_p1(app, world)
    for path in ("/receipts/2026-09", "/receipts/2026-09.pdf", "/receipts/nonsense", "/receipts/2026-13.pdf"):
        assert c.get(path).status_code == 404


def test_another_owner_never_gets_the_receipt(app, world, closed, db):
    # The neighbour can only ever reach their own premises: the URL carries no premises id to tamper with.
    c = login_as(app.test_client(), world.neighbour)
    html = c.get("/receipts/2026-10").text
    assert world.p2.account_number in html and world.p1.account_number not in html
    assert c.post("/apartment/switch", data={"premises_id": world.p1.id}).status_code == 404
    other = login_as(app.test_client(), world.owner_other)
    assert other.get("/receipts/2026-10").status_code == 404  # no statement for their building
    assert other.get("/receipts/2026-10.pdf").status_code == 404


def test_staff_premises_receipt_and_council_only_if_allowed(app, world, closed, db):
    path = f"/manage/premises/{world.p1.id}/receipts/2026-10.pdf"
    assert login_as(app.test_client(), world.staff).get(path).status_code == 200
    assert login_as(app.test_client(), world.staff_other).get(path).status_code == 404
    assert login_as(app.test_client(), world.owner).get(path).status_code == 403
    council = login_as(app.test_client(), world.council)
    assert council.get(path).status_code == 404
    world.uk.settings = {**world.uk.settings, "council_sees_receipts": True}
    db.session.commit()
    assert council.get(path).status_code == 200


def test_co_owners_both_see_the_receipt(app, world, closed, db):
    co = UserFactory(login="coowner", full_name="Иванов Пётр")
    OwnershipFactory(user=co, premises=world.p1, share_num=1, share_den=2)
    db.session.commit()
    r = login_as(app.test_client(), co).get("/receipts/2026-10.pdf")
    assert r.status_code == 200


def test_back_office_close_and_batch_with_polling(app, world, closed, db):
    c = login_as(app.test_client(), world.staff)
    page = c.get("/manage/receipts", query_string={"building": world.building.id, "period": "2026-10"})
    assert page.status_code == 200 and "Квитанций: 3" in page.text
    r = c.post("/manage/receipts/close", data={"building": world.building.id, "period": "2026-10"})
    assert r.status_code == 303
    assert "Период закрыт" in c.get(r.headers["Location"]).text
    r = c.post("/manage/receipts/batches", data={"building": world.building.id, "period": "2026-10"})
    assert r.status_code == 303
    batch = db.session.query(ReceiptBatch).one()
    assert batch.status == "done"  # JOBS_URL=immediate in tests
    poll = c.get(r.headers["Location"], headers={"HX-Request": "true", "HX-Target": "batch-progress"})
    assert poll.status_code == 286 and "Скачать PDF" in poll.text and "<html" not in poll.text
    pdf = c.get(f"/manage/receipts/batches/{batch.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_polling_continues_while_running(app, world, closed, db):
    batch = ReceiptBatch(building_id=world.building.id, period=OCT, total=3, status="running", done=1)
    db.session.add(batch)
    db.session.commit()
    c = login_as(app.test_client(), world.staff)
    poll = c.get(f"/manage/receipts/batches/{batch.id}", headers={"HX-Request": "true",
                                                                   "HX-Target": "batch-progress"})
    assert poll.status_code == 200 and 'hx-trigger="every 2s"' in poll.text and "1 из 3" in poll.text


@pytest.mark.parametrize(("role", "status"), [("council", 403), ("owner", 403), ("rso", 403),
                                              ("staff_other", 404), ("ukadmin", 200)])
def test_back_office_permissions(app, world, closed, db, role, status):
    batch = ReceiptBatch(building_id=world.building.id, period=OCT, total=3, status="done", pdf=b"%PDF-1.7")
    db.session.add(batch)
    db.session.commit()
    c = login_as(app.test_client(), world.by_role(role))
    assert c.get(f"/manage/receipts/batches/{batch.id}").status_code == status
    assert c.get(f"/manage/receipts/batches/{batch.id}.pdf").status_code == status
    if role == "staff_other":
        assert c.get("/manage/receipts", query_string={"building": world.building.id}).status_code == 404
        assert c.post("/manage/receipts/close", data={"building": world.building.id}).status_code == 404


def test_no_statement_means_no_batch(app, world, closed, db):
    c = login_as(app.test_client(), world.staff)
    r = c.post("/manage/receipts/batches", data={"building": world.building.id, "period": "2026-09"})
    assert r.status_code == 303
    assert "квитанций нет" in c.get(r.headers["Location"]).text
    assert db.session.query(Statement).filter_by(period=date(2026, 9, 1)).count() == 0


# --- pay from the phone, explain the receipt, «Оспорить» ------------------------------------------------------

import io  # noqa: E402

import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402

from app.models import Appeal, AppealCategory, Charge  # noqa: E402
from app.services import receipts  # noqa: E402
from tests.factories import MeterFactory  # noqa: E402

VALID = {"inn": "7536123455", "kpp": "753601001", "bank_name": "ЧИТИНСКОЕ ОТДЕЛЕНИЕ N8600 ПАО СБЕРБАНК",
         "bank_bic": "047601637", "bank_account": "40702810674000012345",
         "bank_corr_account": "30101810500000000637"}


@pytest.fixture
def explained(world, db, closed):
    """October closed for the УК's buildings with valid bank details; p1 also has a cold-water line computed
    from its meter, a line imported without a basis, and пени with their basis."""
    for key, value in VALID.items():
        setattr(world.uk, key, value)
    world.uk.ads_phone, world.uk.phones = "+7 (3022) 35-00-00", "+7 3022 12-34-56"
    world.uk.office_hours = "пн–пт 9:00–18:00"
    meter = MeterFactory(premises=world.p1, serial_number="ВС-77")
    water = Service(organisation_id=world.uk.id, code="CW", name="Холодное водоснабжение", unit="м³",
                    method="meter", resource="cold_water", sort_order=10)
    intercom = Service(organisation_id=world.uk.id, code="INTERCOM", name="Домофон", unit="шт", method="fixed",
                       sort_order=20)
    db.session.add_all([water, intercom])
    db.session.flush()
    db.session.add(Charge(
        premises_id=world.p1.id, period=OCT, service_id=water.id, volume=Decimal("10.5"), tariff=Decimal("46.48"),
        amount=Decimal("488.04"), total=Decimal("488.04"), source="computed", note="по счётчику",
        basis={"rule": "ПП 354 п. 42", "method": "meter", "text": "Объём по показаниям счётчика за октябрь",
               "meters": [{"meter_id": meter.id, "serial": "ВС-77", "method": "meter", "volume": "10.500",
                           "previous": {"period": "2026-09-01", "value": "100.000"},
                           "current": {"period": "2026-10-01", "value": "110.500"},
                           "average_periods": None, "missing": 0}],
               "norm": None, "common": None, "recalculation": None}))
    db.session.add(Charge(
        premises_id=world.p1.id, period=OCT, service_id=intercom.id, volume=Decimal("1"), tariff=Decimal("50"),
        amount=Decimal("50"), total=Decimal("50"), source="import", note="из расчётной системы УК", basis=None))
    statement = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one()
    statement.penalty = Decimal("12.31")
    statement.penalty_basis = {"rule": "ЖК РФ ст. 155 ч. 14", "text": "Пени на долг за июль",
                               "items": [{"period": "2026-07-01", "debt": "1000.00", "from": "2026-11-10",
                                          "to": "2026-11-19", "days": 10, "fraction": "1/130", "rate": "16",
                                          "amount": "12.31"}]}
    db.session.commit()
    return {"water": water, "intercom": intercom, "meter": meter, "maint": closed}


def test_receipt_page_puts_paying_first(app, world, explained):
    c = owner_on_p1(app, world)
    html = norm(c.get("/receipts/2026-10").text)
    amount, due = html.index("Итого к оплате"), html.index("Оплатить до 16.11.2026")  # the 15th (a Sunday) → Monday
    qr, requisites = html.index('src="/receipts/2026-10/qr.png"'), html.index("Реквизиты")
    assert amount < due < qr < requisites < html.index("Начисления</h2>")
    for label, value in [("Получатель", world.uk.short_name), ("ИНН", "7536123455"), ("КПП", "753601001"),
                         ("Расчётный счёт", "40702810674000012345"), ("Банк", VALID["bank_name"]),
                         ("БИК", "047601637"), ("Корр. счёт", "30101810500000000637"),
                         ("Лицевой счёт", world.p1.account_number),
                         ("Назначение платежа", f"л/с {world.p1.account_number}")]:
        assert f">{label}</dt>" in html, label
        assert value in html, value
    # every requisite has its copy button (shown by pay.js; without JS the values stay selectable)
    assert html.count('data-copy="req-') == 10 and html.count(">Копировать</button>") == 10
    assert 'data-copy-text="40702810674000012345"' in html
    assert "отсканируйте с экрана компьютера" not in html
    assert 'id="pay-share" hidden' in html and "Оплатить</button>" in html
    assert '<script src="/static/js/pay.js' in html and "<script>" not in html


def test_qr_png_decodes_to_the_receipts_payment_text(app, world, explained):
    c = owner_on_p1(app, world)
    r = c.get("/receipts/2026-10/qr.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert "private" in r.headers["Cache-Control"]
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.data)))
    assert [code.format.name for code in codes] == ["QRCode"]
    expected = receipts.receipt_data(world.p1, OCT).qr_text
    decoded = codes[0].bytes.decode(receipts.QR_ENCODINGS[codes[0].bytes[:7].decode()])  # as a bank app reads it
    assert decoded == expected and f"PersAcc={world.p1.account_number}" in expected


ANON_REDIRECT = 302


@pytest.mark.parametrize("role", ["anon", "owner", "neighbour", "owner_other", "council", "staff", "ukadmin",
                                  "staff_other", "rso", "operator"])
def test_receipt_and_qr_permissions(app, world, explained, role):
    """Each user only ever reaches the statement of their own current premises: the URL names no premises."""
    user = world.owner_other if role == "owner_other" else None if role == "anon" else world.by_role(role)
    c = app.test_client() if user is None else login_as(app.test_client(), user)
    if role == "owner":
        c.post("/apartment/switch", data={"premises_id": world.p1.id})
    page, png = c.get("/receipts/2026-10"), c.get("/receipts/2026-10/qr.png")
    own = {"owner": world.p1, "neighbour": world.p2, "council": world.p3}.get(role)
    if role == "anon":
        assert page.status_code == png.status_code == ANON_REDIRECT
        return
    if own is None:  # staff, РСО, operator own nothing here; the other УК's owner has no October statement
        assert page.status_code == png.status_code == 404
        return
    assert page.status_code == png.status_code == 200
    text = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))[0].text
    assert f"PersAcc={own.account_number}|" in text
    others = {world.p1, world.p2, world.p3} - {own}
    assert all(p.account_number not in page.text and f"PersAcc={p.account_number}|" not in text for p in others)


def test_no_statement_or_bad_period_no_qr(app, world, explained):
    c = owner_on_p1(app, world)
    for path in ("/receipts/2026-09/qr.png", "/receipts/nonsense/qr.png", "/receipts/2026-13/qr.png"):
        assert c.get(path).status_code == 404


def _with_problem(monkeypatch, problem):
    real = receipts.receipt_data

    def receipt_data(premises, period):
        data = real(premises, period)
        data.qr_problem = problem
        return data

    monkeypatch.setattr(receipts, "receipt_data", receipt_data)


def test_qr_problem_with_valid_details_keeps_the_requisites(app, world, explained, monkeypatch):
    _with_problem(monkeypatch, "QR-код не помещается в допустимый размер")
    c = owner_on_p1(app, world)
    html = c.get("/receipts/2026-10").text
    assert "QR-кода для оплаты нет" in html and "QR-код не помещается в допустимый размер" in html
    assert "сообщено" not in html  # nothing is sent to the УК: the page must not claim it
    assert "qr.png\"" not in html.replace('href="/receipts/2026-10/qr.png"', "") and "<img" not in html
    assert "Реквизиты для оплаты вручную" in html and "40702810674000012345" in html
    assert c.get("/receipts/2026-10/qr.png").status_code == 404


def test_invalid_details_never_give_a_qr_and_send_to_the_office(app, world, explained, db):
    world.uk.bank_account = "40702810974000012345"  # control key fails for the БИК
    db.session.commit()
    c = owner_on_p1(app, world)
    html = c.get("/receipts/2026-10").text
    assert "QR-кода для оплаты нет" in html and "не прошли проверку" in html
    assert "<img" not in html and "40702810974000012345" not in html and "Копировать" not in html
    assert "оплатите квитанцию в офисе управляющей организации" in html and "пн–пт 9:00–18:00" in html
    assert 'href="tel:+73022350000"' in html and 'href="tel:+73022123456"' in html
    assert c.get("/receipts/2026-10/qr.png").status_code == 404


def test_every_line_explains_itself(app, world, explained):
    c = owner_on_p1(app, world)
    html = norm(c.get("/receipts/2026-10").text)
    assert html.count('<details class="explain">') == 4  # содержание, ХВС, домофон, пени
    water = html[html.index(f'id="line-{explained["water"].id}"'):]
    water = water[:water.index("Оспорить")]
    assert "Объём по показаниям счётчика за октябрь" in water and "Основание: ПП 354 п. 42" in water
    assert f'href="/readings/meters/{explained["meter"].id}"' in water
    assert "100 (сентябрь 2026) → 110,5 (октябрь 2026)" in water and "объём 10,5 м³" in water
    assert "из расчётной системы УК" in html  # the imported line shows its note
    assert "Долг за июль 2026 1 000,00 ₽: с 10.11.2026 по 19.11.2026, 10 дн. × 1/130 ставки 16 % = 12,31 ₽" in html
    assert "Основание: ЖК РФ ст. 155 ч. 14" in html
    for key in (explained["water"].id, explained["intercom"].id, explained["maint"].id, "penalty"):
        assert f'href="/appeals/new?period=2026-10&amp;line={key}"' in html


def test_dispute_a_line_files_an_appeal_with_it(app, world, explained, db):
    c = owner_on_p1(app, world)
    water = explained["water"]
    form = c.get(f"/appeals/new?period=2026-10&line={water.id}")
    assert form.status_code == 200
    html = norm(form.text)
    assert "Оспариваемая строка квитанции" in html and "Холодное водоснабжение" in html and "488,04 ₽" in html
    assert "Объём по показаниям счётчика за октябрь" in html
    assert "Прошу проверить начисление «Холодное водоснабжение» за октябрь 2026 (488,04 ₽):" in html
    other = db.session.query(AppealCategory).filter_by(organisation_id=world.uk.id, code="OTHER").one()
    assert f'<option selected value="{other.id}">' in html  # no billing category here: the general one
    r = c.post("/appeals/new", data={"category_id": other.id, "place_kind": "premises", "line_period": "2026-10",
                                     "line": str(water.id), "text": "Прошу проверить: счётчик показывает 105,2"})
    assert r.status_code == 303
    appeal = db.session.query(Appeal).one()
    assert appeal.receipt_line == {"period": "2026-10-01", "line": str(water.id), "service": "Холодное водоснабжение",
                                   "amount": "488.04", "volume": "10.5", "unit": "м³", "tariff": "46.48",
                                   "rule": "ПП 354 п. 42", "basis": "Объём по показаниям счётчика за октябрь"}
    page = norm(c.get(r.headers["Location"]).text)
    assert "Оспариваемая строка квитанции" in page and "488,04 ₽" in page and "10,5 м³ × 46,48 ₽" in page
    staff_page = norm(login_as(app.test_client(), world.staff).get(r.headers["Location"]).text)
    assert "Оспариваемая строка квитанции" in staff_page and "Холодное водоснабжение" in staff_page
    assert login_as(app.test_client(), world.staff_other).get(r.headers["Location"]).status_code == 404
    assert login_as(app.test_client(), world.neighbour).get(r.headers["Location"]).status_code == 404


def test_dispute_the_penalty_line(app, world, explained, db):
    c = owner_on_p1(app, world)
    html = norm(c.get("/appeals/new?period=2026-10&line=penalty").text)
    assert "Пени" in html and "12,31 ₽" in html and "Пени на долг за июль" in html


def test_a_refused_dispute_keeps_the_line_and_stores_nothing(app, world, explained, db):
    c = owner_on_p1(app, world)
    water = explained["water"]
    r = c.post("/appeals/new", data={"category_id": "", "place_kind": "premises", "line_period": "2026-10",
                                     "line": str(water.id), "text": "коротко"})
    assert r.status_code == 422
    assert "Оспариваемая строка квитанции" in r.text and f'name="line" type="hidden" value="{water.id}"' in r.text
    assert db.session.query(Appeal).count() == 0


@pytest.mark.parametrize("query", ["period=2026-09&line={water}", "period=2026-10&line=999999",
                                   "period=2026-10&line=abc", "period=nonsense&line={water}", "period=2026-10",
                                   "line={water}", "period=2026-10&line={other_service}"])
def test_a_forged_line_is_404(app, world, explained, db, query):
    """The neighbour has October too but no cold-water line: the owner's line is not theirs to attach; a period
    without a statement, an unknown service or half a reference is nothing either."""
    other_org_service = Service(organisation_id=world.uk_other.id, code="X", name="Чужая", unit="шт",
                                method="fixed")
    db.session.add(other_org_service)
    db.session.commit()
    q = query.format(water=explained["water"].id, other_service=other_org_service.id)
    neighbour = login_as(app.test_client(), world.neighbour)
    assert neighbour.get(f"/appeals/new?{q}").status_code == 404
    data = dict(pair.split("=") for pair in q.split("&"))
    r = neighbour.post("/appeals/new", data={"category_id": "1", "place_kind": "premises", "text": "Проверьте строку",
                                             "line_period": data.get("period", ""), "line": data.get("line", "")})
    assert r.status_code == 404
    assert db.session.query(Appeal).count() == 0
    # …while the owner of p1 may attach the cold-water line
    assert owner_on_p1(app, world).get(f"/appeals/new?period=2026-10&line={explained['water'].id}").status_code == 200


@pytest.mark.parametrize(("role", "status"), [("anon", 302), ("owner", 200), ("neighbour", 200), ("council", 200),
                                              ("staff", 403), ("ukadmin", 403), ("staff_other", 403), ("rso", 403),
                                              ("operator", 403)])
def test_dispute_form_permissions(app, world, explained, role, status):
    """The содержание line exists on every October statement of the building: each owner gets their own line;
    those without premises get the appeals form's usual refusal."""
    c = app.test_client() if role == "anon" else login_as(app.test_client(), world.by_role(role))
    r = c.get(f"/appeals/new?period=2026-10&line={explained['maint'].id}")
    assert r.status_code == status
    if status == 200:
        own = {"owner": world.p1, "neighbour": world.p2, "council": world.p3}[role]
        charge = db_charge(own, explained["maint"])
        assert norm(f"{charge.total:,.2f}".replace(",", " ").replace(".", ",")) in norm(r.text)


def db_charge(premises, service):
    from app.extensions import db

    return db.session.query(Charge).filter_by(premises_id=premises.id, period=OCT, service_id=service.id).one()


@pytest.mark.parametrize("period", ["2026-10%0A", "2026-1_0", "2026-%D9%A1%D9%A0", "2026-10%20", "+2026-10"])
def test_a_period_that_int_would_take_is_not_found_not_500(app, world, explained, period):
    """int() accepts "10\\n", "1_0" and Arabic-Indic digits; such a period reached the Content-Disposition header."""
    c = owner_on_p1(app, world)
    for url in (f"/receipts/{period}", f"/receipts/{period}.pdf", f"/receipts/{period}/qr.png"):
        assert c.get(url).status_code == 404, url
