"""Checks of an organisation's requisites: ИНН, КПП, ОГРН/ОГРНИП, БИК, settlement and correspondent accounts.

Pure functions, no database. Each `*_valid` answers a yes/no question about an already-normalised string;
each `clean_*` takes what the user typed (spaces and dashes allowed), returns the bare digits (None for an
empty optional value) or raises `Invalid(field, <Russian message>)` naming the field. The rules and their
sources are written up in docs/bank-details.md.

Sources (details and worked examples in docs/bank-details.md):
- ИНН: Приказ ФНС России от 29.06.2012 № ММВ-7-6/435@ (the ИНН structure: 10 digits for an organisation,
  12 for a person or individual entrepreneur, the last one or two being check digits); the check-digit
  weights are the ones the ФНС software uses (2 4 10 3 5 9 4 6 8; 7 2 4 10 3 5 9 4 6 8 and
  3 7 2 4 10 3 5 9 4 6 8; sum mod 11 mod 10), published widely but not in the order's text — verify.
- КПП: the same order — 9 characters NNNNPPXXX: tax office code (4 digits), reason code (2 digits or
  capital Latin letters A–Z), serial number (3 digits).
- ОГРН / ОГРНИП: 13 / 15 digits, the last is the check digit — the first 12 (14) digits as a number mod 11
  (mod 13), then mod 10 (Правила ведения ЕГРЮЛ, ПП РФ от 19.06.2002 № 438, and ЕГРИП, ПП РФ от 16.10.2003
  № 630, with the ФНС orders on the registers — verify the act in force).
- БИК: 9 digits, «04» (the Russian Federation) first; digits 7–9 are the conditional number of the credit
  institution, 000–049 for divisions of the Bank of Russia (Положение Банка России № 225-П on the БИК
  directory — verify against the act in force).
- Account control key: «Порядок расчета контрольного ключа в номере лицевого счета» (утв. ЦБ РФ 08.09.1997
  № 515), kept by the chart of accounts of credit institutions (Положение Банка России от 27.02.2017
  № 579-П: 20-digit account numbers, the key in the 9th position). See `account_key_valid`.
"""

from __future__ import annotations

import re

from app.services.errors import Invalid

_SEPARATORS = re.compile(r"[\s\-]")

INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
INN12_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
ACCOUNT_WEIGHTS = (7, 1, 3)
KPP_RE = re.compile(r"^\d{4}[0-9A-Z]{2}\d{3}$")

# The conditional number of a Bank of Russia division (РКЦ, ГРКЦ, field office) in digits 7–9 of its БИК;
# credit institutions have 050–999 (Положение № 225-П, п. 2.3 — verify against the current БИК directory rules).
BANK_OF_RUSSIA_DIVISION_MAX = 49


def _digits(raw: str | None) -> str:
    return _SEPARATORS.sub("", raw or "")


_ASCII_DIGITS = re.compile(r"[0-9]+")


def _is_digits(value: str) -> bool:
    """Only the ASCII digits 0-9 (str.isdigit() also accepts other scripts' digits and superscripts)."""
    return bool(_ASCII_DIGITS.fullmatch(value))


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


# --- yes/no checks on bare strings --------------------------------------------------------------------------

def inn_valid(inn: str) -> bool:
    """10 digits (organisation) or 12 digits (person, individual entrepreneur) with correct check digits."""
    if not _is_digits(inn):
        return False
    if len(inn) == 10:
        return _check_digit(inn[:9], INN10_WEIGHTS) == int(inn[9])
    if len(inn) == 12:
        return (_check_digit(inn[:10], INN12_WEIGHTS_11) == int(inn[10])
                and _check_digit(inn[:11], INN12_WEIGHTS_12) == int(inn[11]))
    return False


def kpp_valid(kpp: str) -> bool:
    return bool(KPP_RE.match(kpp))


def ogrn_valid(ogrn: str) -> bool:
    """ОГРН (13 digits: first 12 as a number mod 11, mod 10) or ОГРНИП (15 digits: first 14 mod 13, mod 10)."""
    if not _is_digits(ogrn):
        return False
    if len(ogrn) == 13:
        return int(ogrn[:12]) % 11 % 10 == int(ogrn[12])
    if len(ogrn) == 15:
        return int(ogrn[:14]) % 13 % 10 == int(ogrn[14])
    return False


def bic_valid(bic: str) -> bool:
    return len(bic) == 9 and _is_digits(bic) and bic.startswith("04")


def is_bank_of_russia_division(bic: str) -> bool:
    """The БИК belongs to a division of the Bank of Russia (a РКЦ), not to a credit institution."""
    return int(bic[6:9]) <= BANK_OF_RUSSIA_DIVISION_MAX


def _key_sum_ok(prefix: str, account: str) -> bool:
    digits = prefix + account
    total = sum(int(d) * ACCOUNT_WEIGHTS[i % 3] for i, d in enumerate(digits))
    return total % 10 == 0


def account_key_valid(bic: str, account: str) -> bool:
    """The control key (9th digit) of a 20-digit account opened with the bank of this БИК.

    «Порядок расчета контрольного ключа в номере лицевого счета» (утв. ЦБ РФ 08.09.1997 № 515), пп. 2–4:
    the key is computed over 23 digits — the conditional number of the institution where the account is
    opened (3 digits) followed by the 20 digits of the account — with the weights 7, 1, 3 repeated; the
    account is correct when the sum of the products is divisible by 10 (checking form of step 4: the key
    computed with K = 0 is «the last digit of the sum × 3», which is the same as requiring the full sum with
    the key in place to end in 0). The conditional number is:
    - for an account opened in a credit institution: digits 7–9 of its БИК;
    - for an account opened in a РКЦ (a division of the Bank of Russia): «0» + digits 5–6 of the БИК.
    The example of the Порядок: БИК 049805746, account 40602810700000000025 — valid.
    """
    if not (bic_valid(bic) and len(account) == 20 and _is_digits(account)):
        return False
    prefix = "0" + bic[4:6] if is_bank_of_russia_division(bic) else bic[6:9]
    return _key_sum_ok(prefix, account)


def corr_account_valid(bic: str, corr: str) -> bool:
    """A credit institution's correspondent account (30101…) is opened in a РКЦ: the key is checked with
    «0» + digits 5–6 of the БИК (Порядок № 515, example 1: БИК 049805000 → 005, account
    30101810800000000746), and its last three digits are those of the БИК. A Bank of Russia division itself
    has no correspondent account."""
    if not (bic_valid(bic) and len(corr) == 20 and _is_digits(corr)):
        return False
    if not corr.startswith("30101") or corr[-3:] != bic[-3:]:
        return False
    return _key_sum_ok("0" + bic[4:6], corr)


# --- cleaning what the user typed ---------------------------------------------------------------------------

def clean_inn(raw: str | None, field: str = "inn", *, required: bool = True) -> str | None:
    inn = _digits(raw)
    if not inn:
        if required:
            raise Invalid(field, "Введите ИНН")
        return None
    if not _is_digits(inn) or len(inn) not in (10, 12):
        raise Invalid(field, "ИНН — 10 цифр для организации или 12 цифр для индивидуального предпринимателя")
    if not inn_valid(inn):
        raise Invalid(field, "ИНН введён с ошибкой: не сходятся контрольные цифры. Сверьте со свидетельством")
    return inn


def clean_kpp(raw: str | None, field: str = "kpp", *, required: bool = False) -> str | None:
    kpp = _digits(raw).upper()
    if not kpp:
        if required:
            raise Invalid(field, "Введите КПП")
        return None
    if not kpp_valid(kpp):
        raise Invalid(field, "КПП — 9 знаков: 4 цифры, 2 цифры или заглавные латинские буквы, 3 цифры")
    return kpp


def clean_ogrn(raw: str | None, field: str = "ogrn", *, required: bool = False) -> str | None:
    ogrn = _digits(raw)
    if not ogrn:
        if required:
            raise Invalid(field, "Введите ОГРН")
        return None
    if not _is_digits(ogrn) or len(ogrn) not in (13, 15):
        raise Invalid(field, "ОГРН — 13 цифр, ОГРНИП — 15 цифр")
    if not ogrn_valid(ogrn):
        raise Invalid(field, "ОГРН введён с ошибкой: не сходится контрольная цифра. Сверьте с выпиской ЕГРЮЛ")
    return ogrn


def clean_bic(raw: str | None, field: str = "bank_bic", *, required: bool = False) -> str | None:
    bic = _digits(raw)
    if not bic:
        if required:
            raise Invalid(field, "Введите БИК банка")
        return None
    if not bic_valid(bic):
        raise Invalid(field, "БИК — 9 цифр, начинается с 04")
    return bic


def _clean_account(raw: str | None, field: str, label: str, required: bool) -> str | None:
    account = _digits(raw)
    if not account:
        if required:
            raise Invalid(field, f"Введите {label}")
        return None
    if not _is_digits(account) or len(account) != 20:
        raise Invalid(field, "Номер счёта — 20 цифр")
    return account


def clean_account(raw: str | None, bic: str | None, field: str = "bank_account", *,
                  required: bool = False) -> str | None:
    """A settlement account; its control key is checked against the БИК when the БИК is valid."""
    account = _clean_account(raw, field, "расчётный счёт", required)
    if account and bic and bic_valid(bic) and not account_key_valid(bic, account):
        raise Invalid(field, "Расчётный счёт не соответствует БИК: не сходится контрольный ключ. "
                             "Сверьте счёт и БИК с договором банковского счёта")
    return account


def clean_corr_account(raw: str | None, bic: str | None, field: str = "bank_corr_account", *,
                       required: bool = False) -> str | None:
    account = _clean_account(raw, field, "корреспондентский счёт", required)
    if account and bic and bic_valid(bic) and not corr_account_valid(bic, account):
        raise Invalid(field, "Корреспондентский счёт не соответствует БИК: он начинается с 30101, "
                             "оканчивается тремя последними цифрами БИК и проходит проверку ключа")
    return account
