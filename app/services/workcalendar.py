"""Working days of the Russian production calendar: holidays and transferred days off come from the
maintained `holidays` package; the working Saturdays/Sundays they were transferred from are derived from it."""

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from app.services.periods import TZ

_SUBSTITUTED = re.compile(r"substituted from (\d\d)/(\d\d)/(\d{4})")


@lru_cache(maxsize=16)
def _calendar(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(days off besides weekends, weekend days that are working days) for a year."""
    days = holidays.country_holidays("RU", years=[year - 1, year, year + 1], language="en_US")
    off = frozenset(d for d in days if d.year == year)
    working = set()
    for name in days.values():
        for month, day, yr in _SUBSTITUTED.findall(name):
            source = date(int(yr), int(month), int(day))
            # A weekend day whose rest moved elsewhere and is not itself a holiday is worked (e.g. 1 Nov 2025).
            if source.year == year and source.weekday() >= 5 and source not in days:
                working.add(source)
    return off, frozenset(working)


def is_working_day(d: date) -> bool:
    off, working = _calendar(d.year)
    if d in working:
        return True
    return d.weekday() < 5 and d not in off


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` (the day of registration itself is not counted)."""
    d, left = start, n
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return d


def working_deadline(registered_at: datetime, days: int) -> datetime:
    """End of the n-th working day after registration, in Chita time (stored as UTC-aware)."""
    local_day = registered_at.astimezone(TZ).date()
    last = add_working_days(local_day, days)
    return datetime.combine(last + timedelta(days=1), time.min, TZ)
