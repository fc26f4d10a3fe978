"""Russian formatting through Babel: money, dates, periods; all times shown in Asia/Chita."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from app.services.validation import format_phone

LOCALE = "ru_RU"
TZ = ZoneInfo("Asia/Chita")


def money(value) -> str:
    if value is None:
        return ""
    return format_currency(Decimal(value), "RUB", locale=LOCALE)


def number(value, fmt: str = "#,##0.##") -> str:
    if value is None:
        return ""
    return format_decimal(Decimal(value), format=fmt, locale=LOCALE)


def local(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TZ)


def date_ru(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value).date()
    return format_date(value, "dd.MM.yyyy", locale=LOCALE)


def datetime_ru(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(local(value), "dd.MM.yyyy HH:mm", tzinfo=TZ, locale=LOCALE)


def deadline_ru(value: datetime | None) -> str:
    """A deadline at local midnight reads as 'до 04.12.2026 включительно', otherwise date and time."""
    if value is None:
        return ""
    local_value = local(value)
    if local_value.hour == 0 and local_value.minute == 0:
        return f"до {date_ru(local_value.date() - timedelta(days=1))} включительно"
    return f"до {datetime_ru(value)}"


def period_ru(value: date | None) -> str:
    """'ноябрь 2026' (nominative month name)."""
    if value is None:
        return ""
    return format_date(value, "LLLL yyyy", locale=LOCALE)


def register(app) -> None:
    app.add_template_filter(money)
    app.add_template_filter(number)
    app.add_template_filter(date_ru)
    app.add_template_filter(datetime_ru)
    app.add_template_filter(period_ru)
    app.add_template_filter(deadline_ru)
    app.add_template_filter(format_phone, "phone")
