"""Reporting periods and reading windows, in Asia/Chita local time."""

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.models import Building

TZ = ZoneInfo("Asia/Chita")
DEFAULT_WINDOW = (20, 25)


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(period: date, months: int) -> date:
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_today(now: datetime) -> date:
    return now.astimezone(TZ).date()


def current_month(now: datetime) -> date:
    return month_start(local_today(now))


_PERIOD_RE = re.compile(r"([0-9]{4})-([0-9]{2})")


def parse_period(raw: str | None) -> date | None:
    """'2026-11' -> date(2026, 11, 1); None for anything else (strictly ASCII ГГГГ-ММ: int() alone would take
    "10\n", "1_0" or Arabic-Indic digits, which then break a response header)."""
    match = _PERIOD_RE.fullmatch(raw or "")
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), 1)
    except ValueError:
        return None


def window_days(building: Building) -> tuple[int, int]:
    if building.reading_start_day and building.reading_end_day:
        return building.reading_start_day, building.reading_end_day
    settings = (building.organisation.settings or {}).get("reading_window") or {}
    start, end = settings.get("start_day"), settings.get("end_day")
    if isinstance(start, int) and isinstance(end, int) and 1 <= start <= end <= 28:
        return start, end
    return DEFAULT_WINDOW


@dataclass(frozen=True)
class Window:
    period: date
    first_day: date
    last_day: date
    opens_at: datetime  # aware
    closes_at: datetime  # aware, exclusive: midnight after the last day

    def contains(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at


def window_for(building: Building, period: date) -> Window:
    """The window of a month; days past the month's end mean its last day (a 1st-31st window is the whole
    month in February too)."""
    start, end = window_days(building)
    days_in_month = calendar.monthrange(period.year, period.month)[1]
    first, last = period.replace(day=min(start, days_in_month)), period.replace(day=min(end, days_in_month))
    opens = datetime.combine(first, time.min, TZ)
    closes = datetime.combine(last + timedelta(days=1), time.min, TZ)
    return Window(period, first, last, opens, closes)


@dataclass(frozen=True)
class WindowState:
    is_open: bool
    window: Window  # the open window, or the next one to open
    previous: Window  # the last window that has closed (or is open)

    @property
    def period(self) -> date:
        """The period an owner is working with now: the open one, or the last closed one."""
        return self.window.period if self.is_open else self.previous.period


def window_state(building: Building, now: datetime) -> WindowState:
    this_month = window_for(building, current_month(now))
    if this_month.contains(now):
        return WindowState(True, this_month, this_month)
    if now < this_month.opens_at:
        return WindowState(False, this_month, window_for(building, add_months(this_month.period, -1)))
    return WindowState(False, window_for(building, add_months(this_month.period, 1)), this_month)
