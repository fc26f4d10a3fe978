"""Paying from the phone: which requisites the page offers to copy, and never a QR for invalid details."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from app.models import Premises, Statement
from app.models.orgs import Organisation
from app.services import receipt_pay as pay

VALID = dict(name="Общество с ограниченной ответственностью «УК Тест»", short_name="ООО «УК Тест»",
             inn="7536123455", kpp="753601001", bank_name="ЧИТИНСКОЕ ОТДЕЛЕНИЕ N8600 ПАО СБЕРБАНК",
             bank_bic="047601637", bank_account="40702810674000012345", bank_corr_account="30101810500000000637",
             address="г. Чита, ул. Ленина, 1", phones="+7 3022 12-34-56; 8 (914) 000-11-22", ads_phone="112",
             office_hours="пн–пт 9–18")


@dataclass
class Data:
    organisation: Organisation
    statement: Statement
    premises: Premises
    qr_text: str = "ST00012|Name=x|Purpose=Оплата ЖКУ за 10.2026, л/с 90000240|PersAcc=90000240"
    qr_problem: str | None = None


def data(org=None, amount="1458.00", **kw):
    return Data(organisation=org or Organisation(**VALID),
                statement=Statement(period=date(2026, 10, 1), amount_due=Decimal(amount)),
                premises=Premises(account_number="90000240"), **kw)


def test_valid_details_give_the_qr_and_every_requisite():
    view = pay.payment_view(data())
    assert view.show_qr and view.problem is None and view.details_valid
    assert [(r.label, r.copy) for r in view.requisites] == [
        ("Получатель", "ООО «УК Тест»"), ("ИНН", "7536123455"), ("КПП", "753601001"),
        ("Расчётный счёт", "40702810674000012345"), ("Банк", "ЧИТИНСКОЕ ОТДЕЛЕНИЕ N8600 ПАО СБЕРБАНК"),
        ("БИК", "047601637"), ("Корр. счёт", "30101810500000000637"), ("Лицевой счёт", "90000240"),
        ("Назначение платежа", "Оплата ЖКУ за 10.2026, л/с 90000240"), ("Сумма", "1458,00")]
    assert "Расчётный счёт: 40702810674000012345" in view.share_text and "Сумма: 1458,00 ₽" in view.share_text


def test_nothing_to_pay_has_no_sum():
    view = pay.payment_view(data(amount="-10.00"))
    assert view.amount == 0 and "sum" not in {r.key for r in view.requisites}


@pytest.mark.parametrize(("field", "value"), [
    ("inn", "7536123456"), ("bank_account", "40702810974000012345"), ("bank_bic", "147601637"),
    ("bank_corr_account", "30101810500000000638"), ("kpp", "75360100"), ("bank_name", " "), ("bank_account", None),
])
def test_invalid_details_no_qr_no_requisites(field, value):
    view = pay.payment_view(data(Organisation(**(VALID | {field: value}))))
    assert not view.show_qr and view.problem == pay.INVALID_DETAILS and not view.details_valid
    assert view.requisites == [] and view.share_text == ""
    assert [p.href for p in view.phones] == ["tel:112", "tel:+73022123456", "tel:+79140001122"]
    assert view.office_address == "г. Чита, ул. Ленина, 1" and view.office_hours == "пн–пт 9–18"


def test_the_receipts_reason_wins_and_valid_details_stay_for_manual_payment():
    view = pay.payment_view(data(qr_problem="QR-код слишком длинный"))
    assert not view.show_qr and view.problem == "QR-код слишком длинный" and len(view.requisites) == 10


def test_purpose_without_a_qr_text():
    view = pay.payment_view(data(qr_text=""))
    assert next(r.value for r in view.requisites if r.key == "purpose") == "Оплата ЖКУ за 10.2026, л/с 90000240"


@pytest.mark.parametrize(("phone", "href"), [
    ("+7 (3022) 35-00-00", "tel:+73022350000"), ("8 914 123 45 67", "tel:+79141234567"),
    ("3022350000", "tel:+73022350000"), ("112", "tel:112"), ("доб. 1", None), ("", None), ("1234567890123", None),
])
def test_tel_href(phone, href):
    assert pay.tel_href(phone) == href
