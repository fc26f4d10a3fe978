"""Normalisation of user-typed values, shared by services and forms.

One rule for characters in typed text (used by services here and by every form through app/forms.py):
- never allowed: NUL and the other C0 control characters, DEL and the C1 controls (U+0080..U+009F);
  PostgreSQL refuses NUL in text (a 500 before this rule) and SQLite stored it silently;
- single-line fields also refuse line breaks (CR, LF, U+2028, U+2029): a browser never sends them from
  an <input>, and in a name or a subject they could split a header or a CSV line; tab is allowed (pasted
  text often has one, and it is folded into a space);
- multi-line text (textarea) keeps tab, CR and LF; U+2028/U+2029 are allowed there (they are line breaks
  pasted from word processors, harmless in HTML).
"""

import re
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


BAD_CHARACTERS = "Поле содержит недопустимые символы"
_BAD_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BAD_SINGLE_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def has_bad_characters(value: str | None, *, multiline: bool = False) -> bool:
    """True if the text holds a character no field accepts (see the module docstring)."""
    if not value:
        return False
    return (_BAD_MULTI_LINE if multiline else _BAD_SINGLE_LINE).search(value) is not None


def check_characters(raw: str | None, field: str, *, multiline: bool = False) -> str | None:
    """The value unchanged, or Invalid(field, «Поле содержит недопустимые символы»)."""
    if has_bad_characters(raw, multiline=multiline):
        raise Invalid(field, BAD_CHARACTERS)
    return raw


def clean_text(raw: str | None, field: str, label: str, *, max_len: int, required: bool = True) -> str:
    """One line of text: whitespace (tab and line breaks included) folded into single spaces."""
    check_characters(raw, field, multiline=True)  # line breaks are folded below, so only the rest is refused
    value = " ".join((raw or "").split())
    if required and not value:
        raise Invalid(field, f"Введите {label}")
    if len(value) > max_len:
        raise Invalid(field, f"Не больше {max_len} символов")
    return value


def clean_multiline(raw: str | None, field: str, *, min_len: int, max_len: int, short: str) -> str:
    """Multi-line text (a description, a comment): trimmed, line breaks kept; `short` is the message when
    fewer than min_len characters were typed."""
    value = (check_characters(raw, field, multiline=True) or "").strip()
    if len(value) < min_len:
        raise Invalid(field, short)
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
