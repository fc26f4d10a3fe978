"""Normalisation of user-typed values, shared by services and forms."""

from collections.abc import Callable
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.services.errors import Invalid


def normalize_phone(raw: str | None, field: str = "phone") -> str | None:
    """Return a Russian phone number as +7XXXXXXXXXX, None for empty input; Invalid otherwise."""
    raw = (raw or "").strip()
    if not raw:
        return None
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) == 10:  # 9141234567
        raw = "+7" + digits
    elif len(digits) == 11 and digits[0] in "78":  # 89141234567 / 79141234567
        raw = "+7" + digits[1:]
    try:
        number = phonenumbers.parse(raw, "RU")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or number.country_code != 7 or not phonenumbers.is_valid_number(number):
        raise Invalid(field, "Введите номер телефона в формате +7 914 123-45-67")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str | None) -> str:
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "RU")
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_email(raw: str | None, field: str = "email") -> str | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if len(raw) > 254:
        raise Invalid(field, "Адрес электронной почты слишком длинный")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        raise Invalid(field, "Введите адрес электронной почты в формате name@example.ru") from None
    return result.normalized


def clean_text(raw: str | None, field: str, label: str, *, max_len: int, required: bool = True) -> str:
    value = " ".join((raw or "").split())
    if required and not value:
        raise Invalid(field, f"Введите {label}")
    if len(value) > max_len:
        raise Invalid(field, f"Не больше {max_len} символов")
    return value


def validate_all(checks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run every check; return their values, or raise one Invalid carrying every failed field."""
    values, errors = {}, {}
    for name, check in checks.items():
        try:
            values[name] = check()
        except Invalid as error:
            errors.update(error.errors)
    if errors:
        raise Invalid.from_errors(errors)
    return values
