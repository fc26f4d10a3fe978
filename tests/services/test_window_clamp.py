"""A reading window whose days run past the month's end ends on the month's last day (1st–31st = whole month)."""

from datetime import UTC, date, datetime

import pytest

from app.services.periods import window_for, window_state
from tests import factories as F


@pytest.mark.parametrize(("period", "last"), [(date(2027, 2, 1), 28), (date(2028, 2, 1), 29), (date(2027, 4, 1), 30),
                                              (date(2027, 3, 1), 31)])
def test_whole_month_window(db, period, last):
    building = F.BuildingFactory(reading_start_day=1, reading_end_day=31)
    w = window_for(building, period)
    assert (w.first_day, w.last_day) == (period, period.replace(day=last))


def test_whole_month_window_is_open_on_the_last_evening_and_the_first_night(db):
    building = F.BuildingFactory(reading_start_day=1, reading_end_day=31)
    assert window_state(building, datetime(2027, 2, 28, 14, 59, tzinfo=UTC)).is_open  # 23:59 in Chita
    assert window_state(building, datetime(2027, 2, 28, 15, 0, tzinfo=UTC)).is_open  # 00:00 on 1 March
    assert window_state(building, datetime(2027, 2, 28, 15, 0, tzinfo=UTC)).period == date(2027, 3, 1)


def test_a_window_starting_past_the_month_end_is_its_last_day(db):
    building = F.BuildingFactory(reading_start_day=30, reading_end_day=31)
    w = window_for(building, date(2027, 2, 1))
    assert w.first_day == w.last_day == date(2027, 2, 28)
