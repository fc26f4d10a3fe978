"""The billing rules of ПП РФ № 354, one function per rule, on plain values (no database).

Every function names the paragraph it implements; docs/billing.md lists them with worked examples, and
tests/services/test_billing_rules.py checks each example. app/services/billing.py loads the data, calls
these rules for every premises of a building and writes the charges.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from app.models.housing import PremisesKind
from app.services.periods import add_months

ZERO = Decimal(0)
VOLUME = Decimal("0.001")  # volumes are kept to the meters' three decimals

# ПП 354 п. 59 (вводная часть): the average of at least 6 months of readings, or of the months the meter has
# worked if fewer, but no fewer than 3.
AVERAGE_MONTHS = 6
AVERAGE_MIN_MONTHS = 3
# ПП 354 п. 59 «а» (meter failed, lost, verification expired) and «б» (no readings handed in): how many
# periods in a row the average may be used, for residential / non-residential premises.
AVERAGE_LIMITS = {
    ("a", PremisesKind.APARTMENT): 3,
    ("a", PremisesKind.NON_RESIDENTIAL): 2,
    ("b", PremisesKind.APARTMENT): 6,
    ("b", PremisesKind.NON_RESIDENTIAL): 3,
}
RULE_METER = "ПП 354 п. 42, Прил. 2 ф. 1"
RULE_NORM_NO_METER = "ПП 354 п. 42, Прил. 2 ф. 4"
RULE_AVERAGE = {"a": "ПП 354 п. 59 «а»", "b": "ПП 354 п. 59 «б»"}
RULE_NORM_AFTER = {"a": "ПП 354 п. 60 (после п. 59 «а»)", "b": "ПП 354 п. 60 (после п. 59 «б»)"}
RULE_RECALCULATION = "ПП 354 п. 61"


def vol(value: Decimal) -> Decimal:
    return Decimal(value).quantize(VOLUME, rounding=ROUND_HALF_UP)


def months_between(start: date, end: date) -> int:
    """Whole months from the period `start` to the period `end` (both first days of a month)."""
    return (end.year - start.year) * 12 + end.month - start.month


def metered_volume(previous: Decimal, current: Decimal) -> Decimal:
    """ПП 354 п. 42 абз. 1, Прил. 2 ф. 1: the volume of the period is the difference of the readings."""
    return current - previous


def norm_volume(norm: Decimal | None, people: int, factor: Decimal | None = None) -> Decimal:
    """ПП 354 п. 42 абз. 2 (Прил. 2 ф. 4) and п. 60: норматив × residents, × the raising coefficient where
    the law applies it (п. 42 — no meter although one must be installed; п. 60 — after п. 59 «а»)."""
    volume = (norm or ZERO) * people
    return volume * factor if factor else volume


def average_limit(reason: str, kind: PremisesKind) -> int:
    """ПП 354 п. 59 «а»: up to 3 periods (2 for non-residential); «б»: up to 6 (3 for non-residential)."""
    return AVERAGE_LIMITS[reason, PremisesKind(kind)]


def average_volume(readings: Iterable[tuple[date, Decimal]], before: date) -> tuple[Decimal, list[date]] | None:
    """ПП 354 п. 59: the average monthly volume from the readings taken before `before` — over the last 6
    months of readings, or over the months the meter worked if fewer, but no fewer than 3; None if there are
    not enough readings. Returns the average and the periods whose consumption it averages."""
    usable = sorted((p, v) for p, v in readings if p < before and p >= add_months(before, -12 - AVERAGE_MONTHS))
    if len(usable) < 2:
        return None
    last_period, last_value = usable[-1]
    start = add_months(last_period, -AVERAGE_MONTHS)
    window = [x for x in usable if x[0] >= start] or usable
    first_period, first_value = window[0]
    if first_period == last_period:
        first_period, first_value = usable[-2]
    months = months_between(first_period, last_period)
    if months < AVERAGE_MIN_MONTHS:
        return None
    periods = [add_months(first_period, i) for i in range(1, months + 1)]
    return vol((last_value - first_value) / months), periods


def spread(total: Decimal, periods: list[date]) -> dict[date, Decimal]:
    """[product, with ПП 354 п. 61] The volume between two readings, spread evenly over the months it covers
    (to 0.001; the last month takes the rounding remainder, so the parts add up to the difference exactly)."""
    if not periods:
        return {}
    share = vol(total / len(periods))
    result = {p: share for p in periods[:-1]}
    result[periods[-1]] = total - share * (len(periods) - 1)
    return result


# --- one meter register for one period (п. 42, 59, 60, 61) ---------------------------------------------------


@dataclass(frozen=True)
class Billed:
    """What an earlier period billed for one meter register by the average or the норматив."""

    period: date
    volume: Decimal
    tariff: Decimal
    method: str  # average | norm


@dataclass
class RegisterResult:
    method: str  # meter | average | norm
    rule: str
    volume: Decimal  # billed for the period (with the raising coefficient, if any)
    base_volume: Decimal  # without the raising coefficient (водоотведение and СОИ use this)
    previous: tuple[date | None, Decimal] | None = None  # (period or None for the initial value, value)
    current: tuple[date, Decimal] | None = None
    average_periods: list[date] | None = None
    missing: int = 0
    reason: str | None = None  # "a" | "b" (п. 59)
    factor: Decimal | None = None
    # п. 61: months billed by the average or the норматив that a reading now settles
    settled: list[Billed] = field(default_factory=list)
    actual: dict[date, Decimal] = field(default_factory=dict)  # settled month -> actual volume
    spread_over: list[date] = field(default_factory=list)  # months sharing the difference with this one

    @property
    def billed_settled(self) -> Decimal:
        return sum((b.volume for b in self.settled), ZERO)

    @property
    def actual_settled(self) -> Decimal:
        return sum(self.actual.values(), ZERO)

    def deltas(self) -> dict[date, Decimal]:
        """Settled month -> (actual − billed) volume."""
        return {b.period: self.actual[b.period] - b.volume for b in self.settled}


def faulty_since(next_verification_on: date | None, period: date) -> date | None:
    """ПП 354 п. 59 «а», п. 81(12) «д»: a meter whose verification interval has run out is out of order from
    that date; returns the first period it is faulty in, if that is this period or earlier."""
    if next_verification_on is None or next_verification_on >= add_months(period, 1):
        return None
    return next_verification_on.replace(day=1)


def register_volume(*, period: date, readings: dict[date, Decimal], initial: Decimal, kind: PremisesKind,
                    people: int, norm: Decimal | None, factor: Decimal | None, faulty_from: date | None = None,
                    unsettled: list[Billed] = ()) -> RegisterResult:
    """The volume of one meter register for the period.

    `readings`: period -> value of the readings usable for billing (not marked «not for billing»);
    `unsettled`: the months right before this one that were billed by the average or the норматив and not yet
    recalculated (oldest first). The order of the rules:
      1. meter faulty / verification expired (п. 59 «а»): the average for up to 3 (2) periods, then the
         норматив × the raising coefficient (п. 60); its readings are not used;
      2. a reading for the period: the difference of readings (п. 42); if months before it were billed by
         the average or the норматив, the difference is spread over them and this month and they are
         recalculated (п. 61);
      3. no reading (п. 59 «б»): the average for up to 6 (3) periods, then the норматив (п. 60); a reading
         handed in late for one of the unsettled months settles the months up to it (п. 61).
    """
    kind = PremisesKind(kind)
    if faulty_from is not None:
        readings = {p: v for p, v in readings.items() if p < faulty_from}
        missing = months_between(faulty_from, period) + 1
        return _estimate(period, readings, kind, people, norm, factor, "a", missing, before=faulty_from)
    unsettled = sorted(unsettled, key=lambda b: b.period)
    run_start = unsettled[0].period if unsettled else period
    anchor = _latest(readings, run_start, initial)
    inside = sorted((p, v) for p, v in readings.items() if run_start <= p <= period)
    if period in readings:
        result = RegisterResult("meter", RULE_METER, ZERO, ZERO, current=(period, readings[period]))
    else:
        before = max((p for p in readings if p < period), default=None)
        missing = months_between(before, period) if before else 1
        result = _estimate(period, readings, kind, people, norm, factor, "b", missing, before=period)
    if not inside:
        return result
    # п. 61: readings at or after the first unsettled month: the months up to the latest one are settled.
    actual, (previous_period, previous_value) = {}, anchor
    last_segment: list[date] = []
    for p, value in inside:
        low = add_months(run_start, -1)
        if previous_period is not None and previous_period > low:
            low = previous_period
        last_segment = [add_months(low, i) for i in range(1, months_between(low, p) + 1)]
        actual.update(spread(metered_volume(previous_value, value), last_segment))
        previous_period, previous_value = p, value
    settled = [b for b in unsettled if b.period in actual]
    result.settled, result.actual = settled, {b.period: actual[b.period] for b in settled}
    if result.method == "meter":
        result.volume = result.base_volume = actual[period]
        prior = [(p, v) for p, v in inside if p < period]
        result.previous = prior[-1] if prior else anchor
        result.spread_over = last_segment if len(last_segment) > 1 else []
    return result


def _latest(readings: dict[date, Decimal], before: date, initial: Decimal) -> tuple[date | None, Decimal]:
    earlier = [p for p in readings if p < before]
    if not earlier:
        return None, initial
    p = max(earlier)
    return p, readings[p]


def _estimate(period, readings, kind, people, norm, factor, reason, missing, *, before) -> RegisterResult:
    """п. 59 (the average while allowed) or п. 60 (the норматив afterwards)."""
    average = average_volume(readings.items(), before)
    if average is not None and missing <= average_limit(reason, kind):
        value, periods = average
        return RegisterResult("average", RULE_AVERAGE[reason], value, value, average_periods=periods,
                              missing=missing, reason=reason, previous=_latest(readings, before, ZERO)
                              if readings else None)
    # п. 60: the raising coefficient only after the average months of п. 59 «а»
    applied = factor if reason == "a" and average is not None else None
    base = norm_volume(norm, people)
    rule = RULE_NORM_AFTER[reason] if average is not None else RULE_NORM_NO_METER
    return RegisterResult("norm", rule, norm_volume(norm, people, applied), base, missing=missing, reason=reason,
                          factor=applied)


# --- the other methods ---------------------------------------------------------------------------------------


def sewage_volume(water_volumes: Iterable[Decimal]) -> Decimal:
    """ПП 354 п. 42 абз. 1 (и абз. 2): водоотведение — the sum of the cold and hot water volumes of the
    premises for the period (by meters, average or норматив)."""
    return sum(water_volumes, ZERO)


def heating_norm_volume(area: Decimal, norm_per_m2: Decimal) -> Decimal:
    """ПП 354 п. 42(1), Прил. 2 ф. 2: no house heat meter — S_i × N_т (Гкал/м² a month)."""
    return area * norm_per_m2


def heating_house_volume(house_volume: Decimal, area: Decimal, total_area: Decimal) -> Decimal:
    """ПП 354 п. 42(1), Прил. 2 ф. 3: with a house heat meter (and no apartment heat meters) —
    V_д × S_i / S_об, S_об the total area of all residential and non-residential premises."""
    return house_volume * area / total_area if total_area else ZERO


def common_norm_volume(norm_per_m2: Decimal, common_area: Decimal, area: Decimal, total_area: Decimal) -> Decimal:
    """ПП 354 Прил. 2 ф. 15 (ф. 17 for electricity in the same way): the СОИ норматив × S_ои × S_i / S_об."""
    return norm_per_m2 * common_area * area / total_area if total_area else ZERO


@dataclass
class CommonResult:
    volume: Decimal
    method: str  # common_house | common_norm
    house_volume: Decimal | None
    individual_volume: Decimal | None
    cap: Decimal | None
    capped: bool


def common_volume(*, house_volume: Decimal | None, individual_volume: Decimal, area: Decimal,
                  total_area: Decimal, norm_per_m2: Decimal | None, common_area: Decimal | None,
                  over_norm: bool) -> CommonResult | None:
    """КР на СОИ of one premises (ПП 354 п. 44, Прил. 2 ф. 11–15; ЖК РФ ст. 156 ч. 9.2).

    With a house meter: (V_одпу − Σ V_помещений) × S_i / S_об, where Σ covers every residential and
    non-residential premises (ф. 11, 12, 13); a negative difference gives 0 (п. 44 абз. 3). The УК as the
    executor charges no more than the норматив (ф. 15: N × S_ои × S_i / S_об) unless the owners' meeting
    decided to distribute the whole volume (п. 44 абз. 2, ЖК ст. 156 ч. 9.2). No house meter: by the норматив.
    None when neither is possible (no house meter and no норматив or common area)."""
    cap = (common_norm_volume(norm_per_m2, common_area, area, total_area)
           if norm_per_m2 is not None and common_area else None)
    if house_volume is None:
        if cap is None:
            return None
        return CommonResult(cap, "common_norm", None, None, cap, False)
    difference = max(house_volume - individual_volume, ZERO)
    share = difference * area / total_area if total_area else ZERO
    if over_norm or cap is None or share <= cap:
        return CommonResult(share, "common_house", house_volume, individual_volume, cap, False)
    return CommonResult(cap, "common_house", house_volume, individual_volume, cap, True)


# --- texts ---------------------------------------------------------------------------------------------------


def periods_label(periods: list[date]) -> str:
    """[07.2026, 08.2026] -> «07–08.2026»; across years «11.2026–01.2027»; one month «07.2026»."""
    if not periods:
        return ""
    first, last = min(periods), max(periods)
    if first == last:
        return f"{first:%m.%Y}"
    if first.year == last.year:
        return f"{first:%m}–{last:%m.%Y}"
    return f"{first:%m.%Y}–{last:%m.%Y}"
