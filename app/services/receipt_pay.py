"""Paying a receipt from the phone: what the receipt page shows to pay it (QR, requisites to copy, the office).

The QR itself and the reason there is none (`ReceiptData.qr_problem`) come from app/services/receipts.py.
The page never offers a QR for details that fail their checksums (ГОСТ Р 56042-2014 payee fields; the checks of
app/services/bankdetails.py), even if the receipt data did not say why: the bank app would refuse the payee.
Without valid details the owner is told to pay at the УК's office (its address, hours and phones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from app.models.orgs import Organisation
from app.services import bankdetails

INVALID_DETAILS = ("Реквизиты управляющей организации для оплаты не прошли проверку (ИНН, БИК или номер счёта), "
                   "поэтому QR-кода нет")
PURPOSE_RE = re.compile(r"\|Purpose=([^|]*)")
PHONE_SPLIT = re.compile(r"[,;]")


@dataclass(frozen=True)
class Requisite:
    key: str
    label: str
    value: str  # shown
    copy: str  # what «Копировать» puts on the clipboard (the bare value a bank app's field takes)


@dataclass(frozen=True)
class Phone:
    label: str
    display: str
    href: str  # tel:+7...


@dataclass
class PaymentView:
    show_qr: bool
    problem: str | None
    details_valid: bool
    requisites: list[Requisite]
    share_text: str
    amount: Decimal
    phones: list[Phone] = field(default_factory=list)
    office_address: str = ""
    office_hours: str = ""


def details_valid(org: Organisation) -> bool:
    """Every payee field a bank app checks: ИНН and КПП, БИК, the account's and the correspondent account's key."""
    inn, kpp, bic = org.inn or "", org.kpp or "", org.bank_bic or ""
    account, corr = org.bank_account or "", org.bank_corr_account or ""
    return (bankdetails.inn_valid(inn) and (not kpp or bankdetails.kpp_valid(kpp)) and bankdetails.bic_valid(bic)
            and bankdetails.account_key_valid(bic, account) and bankdetails.corr_account_valid(bic, corr)
            and bool((org.bank_name or "").strip()))


def tel_href(phone: str) -> str | None:
    """tel: link of a Russian phone as people write it: «+7 (3022) 12-34-56», «8 914 123 45 67», «112»."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits[0] in "78":
        return "tel:+7" + digits[1:]
    if len(digits) == 10:
        return "tel:+7" + digits
    if 2 <= len(digits) <= 6:  # short numbers of the city and services
        return "tel:" + digits
    return None


def _phones(org: Organisation) -> list[Phone]:
    result = []
    if org.ads_phone and tel_href(org.ads_phone):
        result.append(Phone("Аварийно-диспетчерская служба", org.ads_phone.strip(), tel_href(org.ads_phone)))
    for raw in PHONE_SPLIT.split(org.phones or ""):
        href = tel_href(raw)
        if href and all(p.href != href for p in result):
            result.append(Phone("Офис", raw.strip(), href))
    return result


def _money_plain(value: Decimal) -> str:
    """1458,00 — the amount as a bank app's field takes it (no spaces, no sign)."""
    return f"{value:.2f}".replace(".", ",")


def payment_view(data) -> PaymentView:
    """From ReceiptData: whether to show the QR, the reason there is none, every requisite and the share text."""
    org, statement, premises = data.organisation, data.statement, data.premises
    valid = details_valid(org)
    if not valid:  # the general reason first, then the receipt's precise one («расчётный счёт не соответствует БИК»)
        problem = INVALID_DETAILS + (f": {data.qr_problem}" if data.qr_problem else "")
    elif data.qr_problem:
        problem = data.qr_problem[:1].upper() + data.qr_problem[1:]
    else:
        problem = None
    amount = statement.amount_due if statement.amount_due > 0 else Decimal("0.00")
    match = PURPOSE_RE.search(data.qr_text or "")
    purpose = match.group(1) if match else f"Оплата ЖКУ за {statement.period:%m.%Y}, л/с {premises.account_number}"
    rows = [
        ("name", "Получатель", org.short_name or org.name),
        ("inn", "ИНН", org.inn),
        ("kpp", "КПП", org.kpp),
        ("account", "Расчётный счёт", org.bank_account),
        ("bank", "Банк", org.bank_name),
        ("bic", "БИК", org.bank_bic),
        ("corr", "Корр. счёт", org.bank_corr_account),
        ("pers_acc", "Лицевой счёт", premises.account_number),
        ("purpose", "Назначение платежа", purpose),
    ]
    requisites = [Requisite(k, label, v, v) for k, label, v in rows if v]
    if amount > 0:
        requisites.append(Requisite("sum", "Сумма", _money_plain(amount) + " ₽", _money_plain(amount)))
    share_text = "\n".join(f"{r.label}: {r.value}" for r in requisites)
    return PaymentView(
        show_qr=problem is None, problem=problem, details_valid=valid,
        requisites=requisites if valid else [], share_text=share_text if valid else "", amount=amount,
        phones=_phones(org), office_address=org.address or "", office_hours=org.office_hours or "",
    )
