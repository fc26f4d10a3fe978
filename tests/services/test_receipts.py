"""The ЕПД (Приказ Минстроя № 43/пр): every section, the ГОСТ Р 56042-2014 payment QR decoded from the rendered
page, the ГИС ЖКХ payment document identifier, instalments (ПП 354 п. 72) and the PDF cache's budget."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader
from sqlalchemy import event

from app.models import Charge, Payment, ReceiptPdf, Service, Statement, Tariff
from app.models.billing import Instalment
from app.services import bankdetails, billing, gis_ids, organisations, receipt_batches, receipts
from app.services.errors import NotFound
from tests.factories import INVALID_ACCOUNT, MeterFactory, OrganisationFactory, ReadingFactory

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
CLOSE_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 1 Dec, 09:00 in Chita
D = Decimal
ZERO, OPENING = D("0"), D("1200.00")


def qr_fields(text: str) -> tuple[str, list[tuple[str, str]]]:
    header, *pairs = text.split("|")
    return header, [tuple(p.split("=", 1)) for p in pairs]


def decode_pdf_qr(pdf: bytes) -> list[str]:
    """The texts of the QR codes on the first page, rendered at 144 dpi and read by an independent decoder
    (the bytes decoded by the encoding the ST0001x header names, as a bank app does)."""
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=2).to_pil()
    codes = zxingcpp.read_barcodes(image)
    assert all(c.format.name == "QRCode" for c in codes)
    return [c.bytes.decode(receipts.QR_ENCODINGS[c.bytes[:7].decode()]) for c in codes]


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages).replace("\u00a0", " ")


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


# --- an ordinary flat: 12 lines, 4 meters, a house meter ----------------------------------------------------

SERVICES = [  # code, name, unit, method, rate, resource, norm per person, norm per m²
    ("MAINT", "Содержание жилого помещения", "м²", "area", "30.15", None, None, None),
    ("REPAIR", "Текущий ремонт", "м²", "area", "4.10", None, None, None),
    ("CW", "Холодное водоснабжение", "м³", "meter", "48.72", "cold_water", "3.9", None),
    ("HW", "Горячее водоснабжение", "м³", "meter", "245.10", "hot_water", "3.0", None),
    ("SEW", "Водоотведение", "м³", "sewage", "41.00", None, None, None),
    ("EL1", "Электроэнергия, день", "кВт·ч", "meter", "4.90", "electricity", "70", None),
    ("EL2", "Электроэнергия, ночь", "кВт·ч", "meter", "2.45", "electricity", "30", None),
    ("HEAT", "Отопление", "Гкал", "heating", "3120.50", None, None, "0.0198"),
    ("CW_SOI", "ХВС на СОИ", "м³", "common", "48.72", "cold_water", None, "0.0300"),
    ("EL_SOI", "Электроэнергия на СОИ", "кВт·ч", "common", "4.90", "electricity", None, "0.5500"),
    ("TKO", "Обращение с ТКО", "чел.", "residents", "176.70", None, None, None),
    ("DOOR", "Домофон", "шт.", "fixed", "55", None, None, None),
]
VOLUMES = {"MAINT": "48.6", "REPAIR": "48.6", "CW": "5", "HW": "3", "SEW": "8", "EL1": "120", "EL2": "60",
           "HEAT": "0.9623", "CW_SOI": "0.1242", "EL_SOI": "2.2770", "TKO": "2", "DOOR": "1"}


def make_services(world, db):
    services = {}
    for order, (code, name, unit, method, rate, resource, per_person, per_m2) in enumerate(SERVICES):
        s = Service(organisation_id=world.uk.id, code=code, name=name, unit=unit, method=method, resource=resource,
                    norm_per_person=D(per_person) if per_person else None,
                    norm_per_m2=D(per_m2) if per_m2 else None, sort_order=order)
        s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=D(rate))]
        db.session.add(s)
        services[code] = s
    db.session.flush()
    return services


def make_statement(world, db, services, *, period=OCT, recalculation=None, paid=ZERO, opening=OPENING,
                   penalty=ZERO):
    charges = []
    for code, s in services.items():
        volume = D(VOLUMES[code])
        tariff = s.tariffs[0].rate
        amount = (volume * tariff).quantize(D("0.01"))
        recalc, reason, basis = D("0"), None, None
        if recalculation and code == recalculation[0]:
            recalc, reason, basis = recalculation[1], None, {"rule": "ПП 354 п. 61", "method": "meter",
                                                             "recalculation": recalculation[2]}
        charges.append(Charge(premises_id=world.p1.id, period=period, service_id=s.id, volume=volume, tariff=tariff,
                              amount=amount, recalculation=recalc, recalculation_reason=reason, benefit=D("0"),
                              total=amount + recalc, note="", source="computed", basis=basis))
    db.session.add_all(charges)
    charged = sum(c.total for c in charges)
    statement = Statement(premises_id=world.p1.id, period=period, opening_balance=opening, charged=charged,
                          paid=paid, penalty=penalty, amount_due=opening + charged + penalty - paid,
                          issued_at=CLOSE_AT, due_date=billing.due_date(OCT))
    db.session.add(statement)
    db.session.commit()
    return statement


@pytest.fixture
def flat(world, db):
    """Кв. 1 with 4 meters (cold, hot, electricity day/night), a house cold-water meter, 12 lines."""
    world.p1.els, world.p1.igku = "75АА533315", "75АА533315-01"
    world.building.common_area = D("812.40")
    world.uk.ads_phone, world.uk.office_hours = "+7 3022 11-22-33", "пн–пт 9:00–18:00, обед 13–14"
    for resource, zone, serial, values in [("cold_water", None, "ХВ-101", (210, 215)),
                                           ("hot_water", None, "ГВ-102", (120, 123)),
                                           ("electricity", "T1", "ЭЛ-103", (5000, 5120)),
                                           ("electricity", "T2", "ЭЛ-103", (2000, 2060))]:
        meter = MeterFactory(premises=world.p1, building_id=world.building.id, resource=resource, zone=zone,
                             serial_number=serial)
        ReadingFactory(meter=meter, period=date(2026, 9, 1), value=D(values[0]))
        ReadingFactory(meter=meter, period=OCT, value=D(values[1]))
    house = MeterFactory(premises=None, building_id=world.building.id, resource="cold_water", serial_number="ОДПУ-7",
                         digits=7)
    ReadingFactory(meter=house, period=date(2026, 9, 1), value=D("45100"), source="staff")
    ReadingFactory(meter=house, period=OCT, value=D("45390"), source="staff")
    db.session.add(Payment(premises_id=world.p1.id, paid_on=date(2026, 10, 7), amount=D("1500.00")))
    services = make_services(world, db)
    statement = make_statement(world, db, services, paid=D("1500.00"), recalculation=(
        "CW", D("-974.40"), {"rule": "ПП 354 п. 61", "periods": ["07.2026", "08.2026"], "billed": "40",
                             "actual": "20", "amount": "-974.40",
                             "text": "Показания после месяцев по среднему: объём 20 м³ был начислен дважды"}))
    return statement


def test_ordinary_flat_is_one_page_with_every_section(world, flat, db):
    pdf, cached = receipts.receipt_pdf(world.p1, OCT, now=CLOSE_AT)
    assert not cached and page_count(pdf) == 1
    text = pdf_text(pdf)
    expected = [
        # 1) payer and executor
        "октябрь 2026", "Иванова Анна Петровна", "ул. Ленина, д. 1, кв. 1", "48,6 м²", "зарегистрировано 2 чел.",
        world.uk.name, "672000, г. Чита, ул. Ленина, д. 1", "+7 3022 00-00-00", "+7 3022 11-22-33",
        "пн–пт 9:00–18:00",
        # 2) payment details
        "40702810674000012345", "ПАО СБЕРБАНК", "047601637", "30101810500000000637", world.uk.inn, "753601001",
        world.p1.account_number, "75АА533315", "75АА533315-01", "75АА533315-01-1026", "Задолженность на начало",
        "1 200,00", "Последняя оплата", "07.10.2026", "Итого к оплате", "16.11.2026",
        # 3) calculation: individual and СОИ columns, recalculation
        "индив.", "на СОИ", "ХВС на СОИ", "Электроэнергия на СОИ", "Водоотведение", "Отопление", "Домофон",
        "-974,40",
        # 4) reference: norms, meters, house meter, areas
        "Норматив потребления", "3,9 м³/чел. в месяц", "0,0198 Гкал/м² в месяц", "ХВ-101", "ЭЛ-103",
        "ОДПУ-7", "45 390", "290", "812,4", "Общая площадь помещений дома",
        # 5) recalculations with reason
        "Сведения о перерасчётах", "начислен дважды", "ПП 354 п. 61", "07.2026, 08.2026",
        # 6) instalments
        "рассрочки", "Рассрочек нет",
    ]
    for fragment in expected:
        assert fragment in text, fragment
    # the factory organisation keeps the default window (20–25)
    assert "Показания приборов учёта принимаются с 20-го по 25-е число месяца включительно" in text


def test_common_property_line_goes_to_the_soi_columns(world, flat):
    data = receipts.receipt_data(world.p1, OCT)
    by_code = {line.service.code: line for line in data.calc}
    soi, cw = by_code["CW_SOI"], by_code["CW"]
    assert (soi.volume_individual, soi.volume_common) == (None, D("0.1242"))
    assert (soi.amount_individual, soi.amount_common) == (None, D("6.05"))  # 0.1242 × 48.72 = 6.051
    assert (cw.volume_individual, cw.volume_common, cw.amount_common) == (D("5"), None, None)
    assert len(data.lines) == 4 and [h.meter.serial_number for h in data.house_lines] == ["ОДПУ-7"]
    assert data.house_lines[0].consumption == D("290")
    assert data.building_area == D("145.80")  # three flats of 48.60 m² in ул. Ленина, 1
    assert data.common_area == D("812.40")
    assert data.last_payment_on == date(2026, 10, 7)


def test_qr_has_every_field_in_order_and_fits_a_low_version(world, flat):
    data = receipts.receipt_data(world.p1, OCT)
    header, fields = qr_fields(data.qr_text)
    assert header == "ST00011"
    assert [k for k, _ in fields[:5]] == ["Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc"]
    values = dict(fields)
    kopecks = int(flat.amount_due * 100)
    assert values == {
        "Name": "ООО «УК Тест»", "PersonalAcc": "40702810674000012345", "BankName": "ПАО СБЕРБАНК",
        "BIC": "047601637", "CorrespAcc": "30101810500000000637", "PayeeINN": world.uk.inn, "KPP": "753601001",
        "Sum": str(kopecks), "Purpose": f"ЖКУ 10.2026 ЛС {world.p1.account_number}",
        "PersAcc": world.p1.account_number, "PaymPeriod": "102026", "LastName": "Иванова", "FirstName": "Анна",
        "MiddleName": "Петровна", "PayerAddress": "ул. Ленина, д. 1", "Flat": "1", "DocIdx": "75АА533315-01-1026",
    }
    # Budget: ≤ 360 bytes in windows-1251 and QR version ≤ 14 at level M: 73 modules + 4 of quiet zone on
    # the printed 34 mm are 0,44 mm a module (phone cameras read 0,3 mm at 20 cm). Was 350–384 bytes in UTF-8
    # without the payer's full name, address and ИПД (version 15); the same fields in UTF-8 are 412 bytes.
    assert len(receipts.qr_bytes(data.qr_text)) <= 360
    assert receipts.qr_version(data.qr_text) <= 14
    assert receipts.qr_module_mm(data.qr_text) >= 0.44


def test_qr_of_long_but_real_details_stays_readable(world, flat, db):
    # The demo's bank name is 37 characters; the field allows 45. With a long payee and payer name, a ИПД and
    # a big sum the text is 441 bytes — version 16 at level M; it falls back to level L (version 14), so a
    # module stays ≥ 0,42 mm at the printed size.
    world.uk.bank_name = "ЧИТИНСКОЕ ОТДЕЛЕНИЕ N8600 ПАО СБЕРБАНК РОССИИ"[:45]
    world.uk.short_name = "ООО «Управляющая компания «Северный»"
    world.owner.full_name = "Константинопольская Александра Александровна"
    world.building.street = "ул. Бабушкина"
    world.p1.number = "108а"
    flat.amount_due = D("123456.78")
    db.session.commit()
    text = receipts.receipt_data(world.p1, OCT).qr_text
    assert len(receipts.qr_bytes(text)) == 441
    assert receipts.qr_version(text) <= 15 and receipts._qr(text).error == "L"
    assert receipts.qr_module_mm(text) >= 0.42
    pdf, _ = receipts.receipt_pdf(world.p1, OCT)
    assert decode_pdf_qr(pdf) == [text]


def test_qr_decoded_from_the_rendered_pdf_validates_the_payee(world, flat):
    pdf, _ = receipts.receipt_pdf(world.p1, OCT, now=CLOSE_AT)
    codes = decode_pdf_qr(pdf)
    assert len(codes) == 1
    header, fields = qr_fields(codes[0])
    values = dict(fields)
    assert header == "ST00011"
    # What a bank app checks before it offers to pay
    assert bankdetails.inn_valid(values["PayeeINN"])
    assert bankdetails.kpp_valid(values["KPP"])
    assert bankdetails.bic_valid(values["BIC"])
    assert bankdetails.account_key_valid(values["BIC"], values["PersonalAcc"])
    assert bankdetails.corr_account_valid(values["BIC"], values["CorrespAcc"])
    assert int(values["Sum"]) == int(flat.amount_due * 100) and flat.amount_due > 0
    assert codes[0] == receipts.receipt_data(world.p1, OCT).qr_text


def test_invalid_payee_details_print_no_qr_and_say_why(world, db):
    bad = OrganisationFactory(short_name="ООО «Ошибка»", invalid_bank=True)
    assert bad.bank_account == INVALID_ACCOUNT
    world.building.organisation = bad
    services = {}
    s = Service(organisation_id=bad.id, code="MAINT", name="Содержание", unit="м²", method="area", sort_order=1)
    s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=D("30"))]
    db.session.add(s)
    db.session.flush()
    services["MAINT"] = s
    make_statement(world, db, services)
    data = receipts.receipt_data(world.p1, OCT)
    assert data.qr_text == ""
    assert data.qr_problem == "расчётный счёт не соответствует БИК (не сходится контрольный ключ)"
    pdf, _ = receipts.receipt_pdf(world.p1, OCT)
    assert decode_pdf_qr(pdf) == []
    text = pdf_text(pdf)
    assert "QR-код не напечатан" in text and "не сходится контрольный ключ" in text


@pytest.mark.parametrize("change, problem", [
    ({"inn": "7536123456"}, "ИНН получателя не проходит проверку контрольных цифр"),
    ({"bank_bic": "147601637"}, "БИК банка указан с ошибкой"),
    ({"bank_corr_account": "30101810500000000638"}, "корреспондентский счёт не соответствует БИК"),
    ({"bank_name": None}, "в реквизитах организации не указаны: наименование банка"),
    ({}, None),
])
def test_payee_problem_names_the_failing_check(world, change, problem):
    for name, value in change.items():
        setattr(world.uk, name, value)
    assert receipts.payee_problem(world.uk) == problem


def test_overpayment_is_labelled_and_has_no_sum_in_the_qr(world, db):
    services = make_services(world, db)
    make_statement(world, db, {"DOOR": services["DOOR"]}, opening=D("-500.00"))
    data = receipts.receipt_data(world.p1, OCT)
    assert data.overpaid and data.statement.amount_due == D("-445.00")
    assert "Sum" not in dict(qr_fields(data.qr_text)[1])
    text = pdf_text(receipts.receipt_pdf(world.p1, OCT)[0])
    assert "Аванс на начало периода" in text and "Переплата" in text and "445,00" in text
    assert "Итого к оплате" not in text


def test_penalty_is_summarised_from_its_basis(world, db):
    services = make_services(world, db)
    statement = make_statement(world, db, {"DOOR": services["DOOR"]}, penalty=D("12.34"))
    statement.penalty_basis = {"rule": "ЖК РФ ст. 155 ч. 14", "text": "Пени за просрочку (ЖК РФ ст. 155 ч. 14)",
                               "items": [{"period": "07.2026", "debt": "3000.00", "from": "2026-09-09",
                                          "to": "2026-10-31", "days": 53, "fraction": "1/300", "rate": "21",
                                          "amount": "12.34"}]}
    db.session.commit()
    text = pdf_text(receipts.receipt_pdf(world.p1, OCT)[0])
    assert "Пени за просрочку (ЖК РФ ст. 155 ч. 14). Начислены на долг за 1 период (07.2026)." in text
    statement.penalty_basis = {**statement.penalty_basis, "text": "Пени (ЖК РФ ст. 155 ч. 14): 12,34 ₽.\nДолг за…",
                               "items": [{"period": "2025-12-01"}, {"period": "2026-07-01"}, {"period": "2026-02-01"}]}
    statement.version += 1
    db.session.commit()
    text = pdf_text(receipts.receipt_pdf(world.p1, OCT)[0])
    assert ("Пени (ЖК РФ ст. 155 ч. 14): 12,34 ₽. Начислены на долг за 3 периода (12.2025–07.2026); расчёт по "
            "каждому периоду — в личном кабинете.") in text and "Долг за…" not in text


def test_reading_window_sentence_follows_the_building(world, db):
    building = world.building
    said = "Показания приборов учёта принимаются "
    assert receipts.reading_window_text(building) == said + "с 20-го по 25-е число месяца включительно"
    world.uk.settings = {"reading_window": {"start_day": 1, "end_day": 28}}
    assert receipts.reading_window_text(building) == said + "с 1-го по 28-е число месяца включительно"
    building.reading_start_day, building.reading_end_day = 15, 31
    assert receipts.reading_window_text(building) == said + "с 15-го по последний день месяца включительно"
    building.reading_start_day = 1
    assert receipts.reading_window_text(building) == "Показания приборов учёта принимаются в течение всего месяца"


# --- instalments (ПП 354 п. 72) -------------------------------------------------------------------------------

def test_instalment_parts_with_interest_on_the_unpaid_principal(world, db):
    # 12 000 ₽ over 12 months at 10 % a year: part 1 000 ₽; interest 12 000 × 10 % / 12 = 100,00 ₽ in the first
    # month, 1 000 × 10 % / 12 = 8,33 ₽ in the last.
    plan = Instalment(premises_id=world.p1.id, period_from=date(2026, 1, 1), months=12, principal=D("12000"),
                      rate_percent=D("10"))
    first = receipts.instalment_part(plan, date(2026, 1, 1))
    assert (first.number, first.principal_part, first.interest, first.due, first.remaining) == (
        1, D("1000.00"), D("100.00"), D("1100.00"), D("11000.00"))
    last = receipts.instalment_part(plan, date(2026, 12, 1))
    assert (last.number, last.principal_part, last.interest, last.remaining) == (12, D("1000.00"), D("8.33"), 0)
    assert receipts.instalment_part(plan, date(2025, 12, 1)) is None
    assert receipts.instalment_part(plan, date(2027, 1, 1)) is None


def test_instalment_last_part_takes_the_rounding_kopecks(world):
    plan = Instalment(premises_id=world.p1.id, period_from=date(2026, 10, 1), months=3, principal=D("1000"),
                      rate_percent=D("0"))
    parts = [receipts.instalment_part(plan, date(2026, m, 1)) for m in (10, 11, 12)]
    assert [p.principal_part for p in parts] == [D("333.33"), D("333.33"), D("333.34")]
    assert sum(p.principal_part for p in parts) == D("1000") and parts[-1].remaining == 0
    assert all(p.interest == 0 for p in parts)


def test_instalment_is_printed_in_section_6(world, db):
    services = make_services(world, db)
    make_statement(world, db, {"HEAT": services["HEAT"]})
    db.session.add(Instalment(premises_id=world.p1.id, service_id=services["HEAT"].id, period_from=date(2026, 9, 1),
                              months=6, principal=D("6000"), rate_percent=D("12")))
    db.session.commit()
    data = receipts.receipt_data(world.p1, OCT)
    assert [(i.number, i.principal_part, i.interest, i.remaining) for i in data.instalments] == [
        (2, D("1000.00"), D("50.00"), D("4000.00"))]  # 5 000 unpaid × 12 % / 12 = 50,00
    text = pdf_text(receipts.receipt_pdf(world.p1, OCT)[0])
    assert "2 из 6" in text and "1 050,00" in text and "Рассрочек нет" not in text


# --- the ГИС ЖКХ payment document identifier ------------------------------------------------------------------

def test_payment_document_id_from_els_and_period(world):
    world.p1.els = "75аа533315"
    assert gis_ids.payment_document_id(premises=world.p1, period=NOV) == "75АА533315-01-1126"
    assert gis_ids.payment_document_id(premises=world.p1, period=date(2027, 1, 1)) == "75АА533315-01-0127"
    assert len(gis_ids.payment_document_id(premises=world.p1, period=NOV)) == 18
    assert gis_ids.payment_document_id(premises=world.p1, period=NOV, number=2) == "75АА533315-02-1126"


@pytest.mark.parametrize("els", [None, "", "75АА53331", "75АА5333150", "75АА-33315"])
def test_no_payment_document_id_without_a_valid_els(world, els):
    world.p1.els = els
    assert gis_ids.payment_document_id(premises=world.p1, period=NOV) is None


def test_the_statements_own_identifier_wins(world, flat, db):
    flat.payment_document_id = "75АА533315-02-1026"  # confirmed by the ГИС ЖКХ (e.g. a second document)
    db.session.commit()
    data = receipts.receipt_data(world.p1, OCT)
    assert data.document_id == flat.payment_document_id
    assert dict(qr_fields(data.qr_text)[1])["DocIdx"] == flat.payment_document_id


def test_no_els_no_identifier_in_the_qr(world, db):
    services = make_services(world, db)
    make_statement(world, db, {"DOOR": services["DOOR"]})
    data = receipts.receipt_data(world.p1, OCT)
    assert data.document_id is None and "DocIdx" not in data.qr_text


# --- the PDF cache ----------------------------------------------------------------------------------------------

@pytest.fixture
def count_queries(db):
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    yield statements
    event.remove(db.engine, "before_cursor_execute", before)


def test_cached_receipt_is_one_query_and_builds_no_data(world, flat, db, count_queries, monkeypatch):
    first, cached = receipts.receipt_pdf(world.p1, OCT)
    assert not cached
    assert db.session.query(ReceiptPdf).one().data_hash == receipts.cache_key(
        statement_id=flat.id, version=1, details_version=1, window=(None, None))
    premises = world.p1
    premises_id = premises.id  # loaded now: the count is the receipt's own
    count_queries.clear()
    monkeypatch.setattr(receipts, "receipt_data", lambda *a, **k: pytest.fail("a cache hit builds no data"))
    again, cached = receipts.receipt_pdf(premises, OCT)
    assert cached and again == first
    assert len(count_queries) == 1, count_queries
    assert premises_id == premises.id


def test_cache_rebuilds_when_statement_details_window_or_template_change(world, flat, db, monkeypatch):
    def miss():
        return not receipts.receipt_pdf(world.p1, OCT)[1]

    assert miss() and not miss()
    flat.version = 2  # re-issued
    db.session.commit()
    assert miss() and not miss()
    world.uk.details_version += 1
    db.session.commit()
    assert miss() and not miss()
    world.building.reading_start_day, world.building.reading_end_day = 1, 28
    db.session.commit()
    assert miss() and not miss()
    monkeypatch.setattr(receipts, "TEMPLATE_VERSION", "test")
    assert miss() and not miss()
    assert db.session.query(ReceiptPdf).count() == 1


def test_changing_printed_details_bumps_details_version(world, db):
    org = world.uk
    before = org.details_version
    data = organisations.OrganisationInput(
        org_type="uk", name=org.name, short_name=org.short_name, inn=org.inn, kpp=org.kpp, address=org.address,
        phones=org.phones, bank_name=org.bank_name, bank_bic=org.bank_bic, bank_account=org.bank_account,
        bank_corr_account=org.bank_corr_account, reading_start_day="20", reading_end_day="25")
    organisations.organisation_update(actor=world.operator, org=org, data=data)
    settled = org.details_version  # a first save may normalise the settings (the window), which is printed
    organisations.organisation_update(actor=world.operator, org=org, data=data)
    assert org.details_version == settled  # nothing changed: cached receipts stay valid
    organisations.organisation_update(actor=world.operator, org=org, data=organisations.OrganisationInput(
        **{**data.__dict__, "phones": "+7 3022 99-99-99"}))
    assert org.details_version == settled + 1 > before - 1
    organisations.organisation_update(actor=world.operator, org=org, data=organisations.OrganisationInput(
        **{**data.__dict__, "phones": "+7 3022 99-99-99", "reading_end_day": "27"}))
    assert org.details_version == settled + 2


def test_no_statement_no_receipt(world):
    with pytest.raises(NotFound):
        receipts.receipt_pdf(world.p1, NOV)
    with pytest.raises(NotFound):
        receipts.receipt_data(world.p1, NOV)


# --- receipts of a closed period (moved from tests/services/test_billing.py) -----------------------------------

@pytest.fixture
def tariffs(world, db):
    services = [
        ("MAINT", "Содержание жилого помещения", "м²", "area", "30.15", None, None, 1),
        ("CW", "Холодное водоснабжение", "м³", "meter", "48.72", "cold_water", "3.9", 2),
        ("TKO", "Обращение с ТКО", "чел.", "residents", "176.70", None, None, 5),
        ("DOOR", "Домофон", "шт.", "fixed", "55", None, None, 6),
    ]
    rows = []
    for code, name, unit, method, rate, resource, norm, order in services:
        s = Service(organisation_id=world.uk.id, code=code, name=name, unit=unit, method=method, resource=resource,
                    norm_per_person=D(norm) if norm else None, sort_order=order)
        s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=D(rate))]
        rows.append(s)
    db.session.add_all(rows)
    db.session.commit()


@pytest.fixture
def closed(world, tariffs, db):
    meter = MeterFactory(premises=world.p1, building_id=world.building.id, resource="cold_water",
                         serial_number="ВС-1")
    for month, value in [(4, 100), (5, 104), (6, 108), (7, 112), (8, 116), (9, 120), (10, 125)]:
        ReadingFactory(meter=meter, period=date(2026, month, 1), value=D(value))
    db.session.commit()
    billing.period_close(actor=world.staff, building=world.building, period=OCT, now=CLOSE_AT)
    return db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one()


def test_closed_period_receipt_text_and_qr(world, closed):
    pdf, cached = receipts.receipt_pdf(world.p1, OCT, now=CLOSE_AT)
    assert not cached and pdf.startswith(b"%PDF") and page_count(pdf) == 1
    text = pdf_text(pdf)
    for expected in ("Иванова Анна Петровна", "ул. Ленина, д. 1, кв. 1", "октябрь 2026", world.p1.account_number,
                     "Содержание жилого помещения", "Холодное водоснабжение", "Обращение с ТКО", "Домофон",
                     "Итого к оплате", "16.11.2026", "ВС-1"):
        assert expected in text, expected
    total = f"{closed.amount_due:,.2f}".replace(",", " ").replace(".", ",")
    assert total in text
    codes = decode_pdf_qr(pdf)
    assert len(codes) == 1 and f"|Sum={int(closed.amount_due * 100)}|" in codes[0]


def test_batch_renders_all_receipts_of_the_building(world, closed, db):
    batch = receipt_batches.batch_create(actor=world.staff, building=world.building, period=OCT)
    assert (batch.status, batch.total) == ("queued", 3)
    done = receipt_batches.batch_run(batch.id, chunk=2)
    assert (done.status, done.done) == ("done", 3)
    assert page_count(done.pdf) == 3
