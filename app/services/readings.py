"""Meter readings: owner submission, council/staff entry, the lock rule, the building board, history.

Rules (DOMAIN.md, ПП 354): readings are accepted in the monthly window; a value must be a number >= 0 with
at most 3 decimals and fit the register's digits; lower than the previous accepted reading is refused;
an unusual spike asks the owner to confirm; a meter past its verification date is not accepted from the
owner (staff may record it "not for billing"); a reading entered by the council or the УК locks that
meter's period for the owner. Every create or change keeps a revision.
"""

import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.access import access_for
from app.extensions import db
from app.formatting import date_ru, datetime_ru, number, period_ru
from app.models import Building, Meter, Premises, Reading, ReadingRevision, ReadingSubmission, User
from app.models.base import utcnow
from app.models.metering import LOCKING_SOURCES, SOURCE_LABELS, ReadingSource, Resource
from app.services.audit import primary_role
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, Locked, NotAllowed, NotFound
from app.services.mailer import outbox_enqueue
from app.services.periods import TZ, add_months, current_month, local_today, window_state

# Consumption above max(3 × usual, floor) asks for confirmation; the floor keeps tiny usages from alarming.
SPIKE_FACTOR = Decimal(3)
SPIKE_FLOOR = {
    Resource.COLD_WATER: Decimal(10),
    Resource.HOT_WATER: Decimal(8),
    Resource.ELECTRICITY: Decimal(400),
    Resource.HEAT: Decimal("1.5"),
    Resource.GAS: Decimal(40),
}
HISTORY_FOR_AVERAGE = 6
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


def field_name(meter: Meter) -> str:
    return f"m{meter.id}"


class NeedsConfirmation(Invalid):
    """Values look unusual: the owner must confirm them (messages per field, like Invalid)."""


class ReadingLocked(Invalid, Locked):
    """The owner typed a value for a register the council or the УК has already filled for the period.

    Both a Locked (the rule) and an Invalid (so the form shows the message next to that meter's field).
    """


@dataclass
class MeterLine:
    """Everything the owner form and the grid need to show for one meter register in one period."""

    meter: Meter
    reading: Reading | None = None
    previous: Reading | None = None

    @property
    def previous_value(self) -> Decimal:
        return self.previous.value if self.previous else self.meter.initial_value

    @property
    def consumption(self) -> Decimal | None:
        return None if self.reading is None else self.reading.value - self.previous_value

    @property
    def locked_for_owner(self) -> bool:
        return self.reading is not None and self.reading.source in LOCKING_SOURCES


def parse_value(raw: str | None, meter: Meter, field: str) -> Decimal:
    text = (raw or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not text:
        raise Invalid(field, "Введите показание")
    if text.startswith("-"):
        raise Invalid(field, "Показание не может быть отрицательным")
    if not _NUMBER.match(text):
        raise Invalid(field, "Введите число, например 123,456")
    whole, _, fraction = text.partition(".")
    if len(fraction) > 3:
        raise Invalid(field, "Не больше трёх знаков после запятой")
    if len(whole.lstrip("0")) > meter.digits:
        raise Invalid(field, f"На этом счётчике не больше {meter.digits} цифр до запятой")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already guarantees a number
        raise Invalid(field, "Введите число, например 123,456") from None


def verification_expired(meter: Meter, today: date) -> bool:
    return meter.next_verification_on is not None and meter.next_verification_on <= today


def active_meters(premises: Premises) -> list[Meter]:
    meters = db.session.scalars(select(Meter).where(Meter.premises_id == premises.id, Meter.archived.is_(False)))
    return sorted(meters, key=lambda m: m.sort_key)


def _readings_for(meter_ids: list[int], period: date) -> dict[int, Reading]:
    if not meter_ids:
        return {}
    rows = db.session.scalars(select(Reading).where(Reading.meter_id.in_(meter_ids), Reading.period == period))
    return {r.meter_id: r for r in rows}


def _previous_for(meter_ids: list[int], period: date) -> dict[int, Reading]:
    """The latest reading before the period, per meter, in one query.

    One index lookup per meter (the unique (meter_id, period) index read backwards, LIMIT 1), driven from the
    meters: the cost follows the number of meters asked for, not the size of their history (the old
    MAX(period) GROUP BY read every earlier reading of every meter; docs/performance.md, «Queries that scale»).
    """
    if not meter_ids:
        return {}
    latest_id = (
        select(Reading.id)
        .where(Reading.meter_id == Meter.id, Reading.period < period)
        .order_by(Reading.period.desc())
        .limit(1)
        .correlate(Meter)
        .scalar_subquery()
    )
    latest_ids = select(latest_id).where(Meter.id.in_(meter_ids))  # NULL for a meter without one: no match
    return {r.meter_id: r for r in db.session.scalars(select(Reading).where(Reading.id.in_(latest_ids)))}


def _next_for(meter: Meter, period: date) -> Reading | None:
    return db.session.scalar(
        select(Reading).where(Reading.meter_id == meter.id, Reading.period > period).order_by(Reading.period).limit(1)
    )


def meter_lines(meters: list[Meter], period: date) -> list[MeterLine]:
    ids = [m.id for m in meters]
    current, previous = _readings_for(ids, period), _previous_for(ids, period)
    return [MeterLine(m, current.get(m.id), previous.get(m.id)) for m in meters]


def usual_consumption(meter: Meter, period: date) -> Decimal | None:
    """Average monthly consumption over up to the last 6 periods before `period` (None without history)."""
    rows = list(
        db.session.execute(
            select(Reading.period, Reading.value)
            .where(Reading.meter_id == meter.id, Reading.period < period)
            .order_by(Reading.period.desc())
            .limit(HISTORY_FOR_AVERAGE + 1)
        )
    )
    if len(rows) < 2:
        return None
    rows.reverse()
    first, last = rows[0], rows[-1]
    months = (last.period.year - first.period.year) * 12 + last.period.month - first.period.month
    return (last.value - first.value) / months if months > 0 else None


def is_spike(meter: Meter, period: date, consumption: Decimal) -> bool:
    floor = SPIKE_FLOOR[meter.resource]
    usual = usual_consumption(meter, period)
    threshold = max(usual * SPIKE_FACTOR, floor) if usual is not None else floor * SPIKE_FACTOR
    return consumption > threshold


def lock_message(reading: Reading) -> str:
    who = "советом дома" if reading.source == ReadingSource.COUNCIL else "управляющей организацией"
    return (f"Показания за {period_ru(reading.period)} внесены {who} {datetime_ru(reading.entered_at)}. "
            "Изменить их можно только через управляющую организацию.")


# ---------------------------------------------------------------------------------------------------------
# Owner submission
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SubmissionResult:
    submission: ReadingSubmission
    lines: list[MeterLine] = field(default_factory=list)


def reading_submit(
    *,
    actor: User,
    premises: Premises,
    values: dict[int, str],
    confirmed: set[int] | frozenset[int] = frozenset(),
    versions: dict[int, int | None] | None = None,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> SubmissionResult:
    """The owner hands in readings of the premises' meters for the open period, all or nothing.

    `values` maps meter id -> typed text (empty = not this time). Unusual values raise NeedsConfirmation
    unless their meter id is in `confirmed`. `versions` (meter id -> version of the reading the form showed,
    None if there was none) makes a stale form fail with Conflict instead of overwriting a newer value.
    """
    now = now or utcnow()
    if not access_for(actor).owns(premises):
        raise NotAllowed("Передавать показания может только собственник помещения")
    state = window_state(premises.building, now)
    if not state.is_open:
        w = state.window
        raise Locked(f"Приём показаний закрыт. Следующий приём: с {date_ru(w.first_day)} по {date_ru(w.last_day)} "
                     "включительно (время читинское).")
    period = state.window.period
    today = local_today(now)
    lines = meter_lines(active_meters(premises), period)
    errors: dict[str, str] = {}
    locked = False
    spikes: dict[str, str] = {}
    accepted: list[tuple[MeterLine, Decimal]] = []
    for line in lines:
        meter, name = line.meter, field_name(line.meter)
        raw = (values.get(meter.id) or "").strip()
        if not raw:
            continue
        if line.locked_for_owner:
            errors[name] = lock_message(line.reading)
            locked = True
            continue
        current_version = line.reading.version if line.reading else None
        if versions is not None and versions.get(meter.id, current_version) != current_version:
            raise Conflict(_conflict_message(line.reading))
        if verification_expired(meter, today):
            errors[name] = (f"Срок поверки счётчика истёк {date_ru(meter.next_verification_on)}: показания не "
                            "принимаются к расчёту. Закажите поверку или замену и сообщите в управляющую организацию.")
            continue
        try:
            value = parse_value(raw, meter, name)
        except Invalid as error:
            errors[name] = error.message
            continue
        if value < line.previous_value:
            errors[name] = (f"Меньше предыдущего показания ({number(line.previous_value, '#,##0.###')}). "
                            "Если счётчик заменили, сообщите в управляющую организацию.")
            continue
        consumption = value - line.previous_value
        if meter.id not in confirmed and is_spike(meter, period, consumption):
            spikes[name] = (f"Расход {number(consumption, '#,##0.###')} {meter.unit} намного больше обычного. "
                            "Проверьте цифры и подтвердите.")
        accepted.append((line, value))
    if errors:
        raise (ReadingLocked if locked else Invalid).from_errors(errors)
    if not accepted:
        raise Invalid("form", "Введите показания хотя бы одного счётчика")
    if spikes:
        raise NeedsConfirmation.from_errors(spikes)

    submission = ReadingSubmission(
        number=_confirmation_number(now), premises_id=premises.id, actor_id=actor.id, period=period, at=now,
        values={str(line.meter.id): str(value) for line, value in accepted},
    )
    db.session.add(submission)
    role = primary_role(actor, premises.building_id)
    for line, value in accepted:
        expected = line.reading.version if line.reading else None
        if versions is not None:
            expected = versions.get(line.meter.id, expected)
        _write(line, period, value, ReadingSource.OWNER, actor, role, now, origin,
               expected_version=expected, not_for_billing=False)
    try:
        db.session.flush()
    except IntegrityError:  # the confirmation number collided (practically never): nothing was written
        db.session.rollback()
        raise Conflict("Не удалось сохранить показания. Отправьте их ещё раз.") from None
    result = SubmissionResult(submission, [line for line, _ in accepted])
    if actor.email:
        # A service message (proof of submission): sent without mailing consent, from the outbox.
        outbox_enqueue(to=actor.email, subject=f"Показания приняты, подтверждение № {submission.number}",
                       template="reading_confirmation", dedupe_key=f"reading-confirmation:{submission.number}",
                       now=now, submission=submission, premises=premises, lines=result.lines, user=actor)
    db.session.commit()
    return result


def _confirmation_number(now: datetime) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    tail = "".join(secrets.choice(alphabet) for _ in range(6))
    return f"{now.astimezone(TZ):%y%m%d}-{tail}"


def _write(line: MeterLine, period: date, value: Decimal, source: ReadingSource, actor: User, role: str | None,
           now: datetime, origin: Origin, *, expected_version: int | None, not_for_billing: bool) -> Reading:
    """Insert or compare-and-swap update one reading and add its revision (no commit)."""
    reading = line.reading
    if reading is None:
        reading = Reading(meter_id=line.meter.id, period=period, value=value, source=source, entered_by_id=actor.id,
                          entered_at=now, not_for_billing=not_for_billing, version=1)
        db.session.add(reading)
        try:
            db.session.flush()  # the unique (meter, period) constraint decides a race here
        except IntegrityError:
            db.session.rollback()
            current = db.session.scalar(select(Reading).where(Reading.meter_id == line.meter.id,
                                                              Reading.period == period))
            raise Conflict(_conflict_message(current)) from None
        old = None
    else:
        old = reading.value
        if old == value and reading.source == source and reading.not_for_billing == not_for_billing:
            return reading
        result = db.session.execute(
            update(Reading)
            .where(Reading.id == reading.id, Reading.version == expected_version)
            .values(value=value, source=source, entered_by_id=actor.id, entered_at=now,
                    not_for_billing=not_for_billing, version=Reading.version + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            db.session.rollback()
            current = db.session.get(Reading, reading.id)
            raise Conflict(_conflict_message(current))
        db.session.refresh(reading)
    db.session.add(ReadingRevision(reading_id=reading.id, meter_id=line.meter.id, period=period, old_value=old,
                                   new_value=value, source=source, actor_id=actor.id, actor_role=role, at=now,
                                   ip=origin.ip))
    line.reading = reading
    return reading


def _conflict_message(current: Reading | None) -> str:
    if current is None:
        return "Показание только что удалили. Обновите страницу."
    return (f"Пока вы вводили, показание изменили (обновите страницу): сейчас {number(current.value, '#,##0.###')} "
            f"({SOURCE_LABELS[current.source]}, {datetime_ru(current.entered_at)}). Проверьте и введите снова.")


# ---------------------------------------------------------------------------------------------------------
# Council and УК staff
# ---------------------------------------------------------------------------------------------------------


def entry_source(actor: User, building: Building) -> ReadingSource:
    access = access_for(actor)
    return ReadingSource.COUNCIL if access.on_council_of(building) and not access.uk_manages(building) \
        else ReadingSource.STAFF


def submission_get(*, actor: User, number: str) -> ReadingSubmission:
    """An owner's confirmation of handed-in readings, for the owners of that premises only."""
    submission = db.session.scalar(select(ReadingSubmission).where(ReadingSubmission.number == (number or "")[:20]))
    if submission is None or not access_for(actor).owns(submission.premises_id):
        raise NotFound("Подтверждение не найдено")
    return submission


@dataclass
class EntryResult:
    line: MeterLine
    not_for_billing: bool
    warning: str | None = None


def reading_enter(
    *,
    actor: User,
    meter: Meter,
    period: date,
    value: str,
    expected_version: int | None,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> EntryResult:
    """Council or УК staff enter one register's reading (a grid cell). Locks the period for the owner."""
    result = _enter(actor=actor, meter=meter, period=period, raw=value, expected_version=expected_version,
                    now=now or utcnow(), origin=origin)
    db.session.commit()
    return result


def readings_enter_bulk(
    *, actor: User, period: date, values: dict[int, str], now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> list[EntryResult]:
    """Several registers at once, in one transaction (no concurrency check: used by imports and scripts)."""
    now = now or utcnow()
    results = []
    errors = {}
    for meter_id, raw in values.items():
        meter = db.session.get(Meter, meter_id)
        if meter is None:
            raise Invalid(f"m{meter_id}", "Нет такого счётчика")
        existing = _readings_for([meter.id], period).get(meter.id)
        try:
            results.append(_enter(actor=actor, meter=meter, period=period, raw=raw,
                                  expected_version=existing.version if existing else None, now=now, origin=origin))
        except Invalid as error:
            errors.update(error.errors)
    if errors:
        db.session.rollback()
        raise Invalid.from_errors(errors)
    db.session.commit()
    return results


def _enter(*, actor: User, meter: Meter, period: date, raw, expected_version: int | None, now: datetime,
           origin: Origin) -> EntryResult:
    building = db.session.get(Building, meter.building_id)
    if not access_for(actor).manages(building):
        raise NotAllowed("Вносить показания этого дома может только совет дома или управляющая организация")
    if meter.archived:
        raise Locked("Счётчик снят с учёта")
    name = field_name(meter)
    if period > current_month(now):
        raise Invalid(name, "Нельзя вносить показания за будущий месяц")
    (line,) = meter_lines([meter], period)
    current_version = line.reading.version if line.reading else None
    if current_version != expected_version:
        raise Conflict(_conflict_message(line.reading))
    value = raw if isinstance(raw, Decimal) else parse_value(str(raw), meter, name)
    if value < line.previous_value:
        raise Invalid(name, f"Меньше предыдущего ({number(line.previous_value, '#,##0.###')}). "
                            "Если счётчик заменён, оформите замену в карточке помещения.")
    following = _next_for(meter, period)
    if following is not None and value > following.value:
        raise Invalid(name, f"Больше показания за {period_ru(following.period)} "
                            f"({number(following.value, '#,##0.###')})")
    not_for_billing = verification_expired(meter, local_today(now))
    source = entry_source(actor, building)
    _write(line, period, value, source, actor, source.value, now, origin, expected_version=expected_version,
           not_for_billing=not_for_billing)
    warning = None
    consumption = value - line.previous_value
    if is_spike(meter, period, consumption):
        warning = f"Расход {number(consumption, '#,##0.###')} {meter.unit} намного больше обычного"
    return EntryResult(line, not_for_billing, warning)


# ---------------------------------------------------------------------------------------------------------
# Building board, grid rows, history
# ---------------------------------------------------------------------------------------------------------


@dataclass
class BoardRow:
    premises: Premises
    lines: list[MeterLine]

    @property
    def status(self) -> str:
        """'none' (no meters), 'done' (every register has a reading), 'partial', 'missing'."""
        if not self.lines:
            return "none"
        have = sum(1 for line in self.lines if line.reading is not None)
        return "done" if have == len(self.lines) else ("partial" if have else "missing")


@dataclass
class EntranceProgress:
    entrance: int | None
    done: int = 0
    total: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def board_rows(building: Building, period: date, *, entrance: int | None = None,
               resources: set[Resource] | None = None) -> list[BoardRow]:
    """Every premises of the building with its registers and the period's readings, in four queries."""
    premises_query = select(Premises).where(Premises.building_id == building.id)
    if entrance:
        premises_query = premises_query.where(Premises.entrance == entrance)
    premises = sorted(db.session.scalars(premises_query), key=lambda p: p.sort_key)
    meter_query = select(Meter).where(Meter.building_id == building.id, Meter.premises_id.is_not(None),
                                      Meter.archived.is_(False))
    if resources is not None:
        meter_query = meter_query.where(Meter.resource.in_(resources))
    meters = sorted(db.session.scalars(meter_query), key=lambda m: m.sort_key)
    lines = meter_lines(meters, period)
    by_premises: dict[int, list[MeterLine]] = defaultdict(list)
    for line in lines:
        by_premises[line.meter.premises_id].append(line)
    return [BoardRow(p, by_premises.get(p.id, [])) for p in premises]


def board_progress(rows: "list[BoardRow] | list[BoardTile]") -> tuple[EntranceProgress, list[EntranceProgress]]:
    total = EntranceProgress(None)
    entrances: dict[int | None, EntranceProgress] = {}
    for row in rows:
        if row.status == "none":
            continue
        bucket = entrances.setdefault(row.premises.entrance, EntranceProgress(row.premises.entrance))
        for p in (bucket, total):
            p.total += 1
            p.done += row.status == "done"
    return total, [entrances[k] for k in sorted(entrances, key=lambda e: (e is None, e or 0))]


@dataclass
class BoardTile:
    """One premises on the owners' board: how many active registers it has and how many have the period's reading.

    The owners' view shows done / not done only (152-ФЗ: no names, no values), so it needs counts, not readings.
    """

    premises: Premises
    meters: int
    done: int
    lines: tuple = ()

    @property
    def status(self) -> str:
        """The same four states as BoardRow.status."""
        if not self.meters:
            return "none"
        return "done" if self.done == self.meters else ("partial" if self.done else "missing")


def board_tiles(building: Building, period: date, *, resources: set[Resource] | None = None) -> list[BoardTile]:
    """The owners' board of a building in one aggregate query: premises with counts of registers and readings."""
    meter_on = (Meter.premises_id == Premises.id) & (Meter.building_id == building.id) & Meter.archived.is_(False)
    if resources is not None:
        meter_on = meter_on & Meter.resource.in_(resources)
    counts = (
        select(Premises.id.label("premises_id"), func.count(Meter.id).label("meters"),
               func.count(Reading.id).label("done"))
        .outerjoin(Meter, meter_on)
        .outerjoin(Reading, (Reading.meter_id == Meter.id) & (Reading.period == period))
        .where(Premises.building_id == building.id)
        .group_by(Premises.id)
        .subquery()
    )
    # Grouped in a subquery: Premises joins its building eagerly, and PostgreSQL won't group those columns.
    query = select(Premises, counts.c.meters, counts.c.done).join(counts, counts.c.premises_id == Premises.id)
    tiles = [BoardTile(p, int(meters), int(done)) for p, meters, done in db.session.execute(query)]
    return sorted(tiles, key=lambda t: t.premises.sort_key)


@dataclass
class HistoryPoint:
    period: date
    value: Decimal
    consumption: Decimal | None
    source: ReadingSource
    not_for_billing: bool


def meter_history(meter: Meter, *, until: date, months: int = 24) -> list[HistoryPoint]:
    """The readings of the last `months` periods up to `until`, oldest first, with monthly consumption."""
    since = add_months(until, -months + 1)
    rows = list(db.session.scalars(
        select(Reading).where(Reading.meter_id == meter.id, Reading.period <= until,
                              Reading.period >= add_months(since, -1)).order_by(Reading.period)))
    points, previous = [], None
    for r in rows:
        consumption = None if previous is None else r.value - previous.value
        if r.period >= since:
            points.append(HistoryPoint(r.period, r.value, consumption, r.source, r.not_for_billing))
        previous = r
    return points


def meter_revisions(meter: Meter, limit: int = 100) -> list[ReadingRevision]:
    return list(db.session.scalars(
        select(ReadingRevision).where(ReadingRevision.meter_id == meter.id)
        .order_by(ReadingRevision.id.desc()).limit(limit)))


@dataclass(frozen=True)
class ChartBar:
    x: int
    y: int
    height: int
    label: str
    title: str


def history_chart(points: list[HistoryPoint], *, height: int = 80, bar: int = 10, gap: int = 4) -> list[ChartBar]:
    """Monthly consumption as bars for a small inline SVG (no JavaScript): heights scaled to `height`."""
    usable = [p for p in points if p.consumption is not None]
    top = max((p.consumption for p in usable), default=Decimal(0))
    bars = []
    for i, p in enumerate(usable):
        h = int(round(height * p.consumption / top)) if top > 0 else 0
        bars.append(ChartBar(x=i * (bar + gap), y=height - h, height=max(h, 1), label=f"{p.period:%m.%y}",
                             title=f"{period_ru(p.period)}: {number(p.consumption, '#,##0.###')}"))
    return bars
