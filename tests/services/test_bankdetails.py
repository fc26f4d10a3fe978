"""Requisites checks (app/services/bankdetails.py) on worked examples; see docs/bank-details.md."""

import pytest

from app.services import bankdetails as bd
from app.services.errors import Invalid

SBER_CHITA_BIC = "047601637"
SBER_CHITA_CORR = "30101810500000000637"


@pytest.mark.parametrize("inn", ["7707083893", "7536095840", "7536123455", "500100732259"])
def test_valid_inn(inn):
    assert bd.inn_valid(inn)
    assert bd.clean_inn(f" {inn[:4]} {inn[4:]} ") == inn


def test_demo_inn_fails_its_check_digit():
    """The demo's ИНН 7536123457: 7·2+5·4+3·10+6·3+1·5+2·9+3·4+4·6+5·8 = 181; 181 mod 11 = 5 ≠ 7."""
    assert not bd.inn_valid("7536123457")
    with pytest.raises(Invalid) as error:
        bd.clean_inn("7536123457")
    assert error.value.field == "inn"
    assert "контрольные цифры" in error.value.message


@pytest.mark.parametrize(("raw", "message"), [
    ("", "Введите ИНН"),
    ("12345", "10 цифр"),
    ("75361234571", "10 цифр"),
    ("753612345a", "10 цифр"),
    ("٧٥٣٦١٢٣٤٥٥", "10 цифр"),  # Arabic-Indic digits are no ИНН
    ("500100732258", "контрольные цифры"),  # 12 digits, second check digit wrong
    ("500100732269", "контрольные цифры"),  # first check digit wrong
])
def test_invalid_inn_messages(raw, message):
    with pytest.raises(Invalid) as error:
        bd.clean_inn(raw)
    assert message in error.value.message


@pytest.mark.parametrize(("kpp", "ok"), [("753601001", True), ("7536AB001", True), ("77010100Z", False),
                                         ("7536ab001", True), ("75360100", False), ("75360100111", False),
                                         ("7536ЖЖ001", False)])
def test_kpp_format(kpp, ok):
    if ok:
        assert bd.clean_kpp(kpp) == kpp.upper()
    else:
        with pytest.raises(Invalid, match="9 знаков"):
            bd.clean_kpp(kpp)
    assert bd.clean_kpp("") is None


@pytest.mark.parametrize("ogrn", ["1027700132195", "1037739010891", "1117746358608", "304500116000157"])
def test_valid_ogrn_and_ogrnip(ogrn):
    assert bd.ogrn_valid(ogrn)


def test_ogrn_check_digit_worked_example():
    """1117746358608: 111774635860 mod 11 = 8, 8 mod 10 = 8 — the 13th digit."""
    assert 111774635860 % 11 % 10 == 8
    assert not bd.ogrn_valid("1117746358607")
    with pytest.raises(Invalid, match="контрольная цифра"):
        bd.clean_ogrn("1117746358607")
    with pytest.raises(Invalid, match="13 цифр"):
        bd.clean_ogrn("11177463586")
    assert not bd.ogrn_valid("304500116000158")  # ОГРНИП: 30450011600015 mod 13 = 7 → 7


@pytest.mark.parametrize(("bic", "ok"), [("047601637", True), ("044525225", True), ("147601637", False),
                                         ("04760163", False), ("0476016370", False), ("04760163x", False)])
def test_bic_format(bic, ok):
    assert bd.bic_valid(bic) is ok
    if not ok:
        with pytest.raises(Invalid, match="9 цифр, начинается с 04"):
            bd.clean_bic(bic)


def test_account_key_examples_of_the_bank_of_russia():
    """Порядок расчёта контрольного ключа (ЦБ РФ № 515), its examples: a client's account in a credit
    institution (БИК 049805746 → 746) and a correspondent account opened in a РКЦ (→ 005)."""
    assert bd.account_key_valid("049805746", "40602810700000000025")
    assert not bd.account_key_valid("049805746", "40602810000000000025")
    assert bd.corr_account_valid("049805746", "30101810800000000746")
    assert not bd.corr_account_valid("049805746", "30101810000000000746")


def test_account_in_a_rkc_uses_digits_5_and_6():
    """An account opened in a division of the Bank of Russia (БИК ending 000): «0» + digits 5–6."""
    assert bd.is_bank_of_russia_division("047601000")
    assert bd.account_key_valid("047601000", "40101810200000010001")
    assert not bd.account_key_valid("047601000", "40101810300000010001")


def test_sberbank_chita_pair_and_the_demo_account():
    assert bd.corr_account_valid(SBER_CHITA_BIC, SBER_CHITA_CORR)
    # The demo's settlement account does not fit its БИК; with the key 6 it would.
    assert not bd.account_key_valid(SBER_CHITA_BIC, "40702810974000012345")
    assert bd.account_key_valid(SBER_CHITA_BIC, "40702810674000012345")
    with pytest.raises(Invalid) as error:
        bd.clean_account("40702810974000012345", SBER_CHITA_BIC)
    assert error.value.field == "bank_account"
    assert "контрольный ключ" in error.value.message
    assert bd.clean_account("4070 2810 6740 0001 2345", SBER_CHITA_BIC) == "40702810674000012345"


def test_correspondent_account_rules():
    with pytest.raises(Invalid, match="30101"):
        bd.clean_corr_account("30101810500000000638", SBER_CHITA_BIC)  # last digits are not the БИК's
    with pytest.raises(Invalid, match="30101"):
        bd.clean_corr_account("30101810600000000637", SBER_CHITA_BIC)  # wrong key
    with pytest.raises(Invalid, match="20 цифр"):
        bd.clean_corr_account("3010181050000000063", SBER_CHITA_BIC)
    assert bd.clean_corr_account(SBER_CHITA_CORR, SBER_CHITA_BIC) == SBER_CHITA_CORR


def test_account_length_and_empty():
    with pytest.raises(Invalid, match="20 цифр"):
        bd.clean_account("4070281067400001234", SBER_CHITA_BIC)
    assert bd.clean_account("", SBER_CHITA_BIC) is None
    with pytest.raises(Invalid, match="Введите расчётный счёт"):
        bd.clean_account("", SBER_CHITA_BIC, required=True)
