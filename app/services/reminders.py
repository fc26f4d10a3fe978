"""Email reminders put in the outbox by the job engine (app/jobs.py: hourly 10:00–20:00 Asia/Chita) or by
`flask readings remind` by hand (both under one lease; every run may repeat safely).

- Readings (a mailing: needs the owner's email consent in force, 152-ФЗ ст. 9): to owners of premises where some
  active meter still has no reading for the period, 3 days before the window closes (the window is the
  building's, app/services/periods.py; Asia/Chita dates) and on its last day. A meter that already has a reading
  (the owner's, or one entered by the council or the УК, which locks it) or whose verification has expired
  (the owner cannot submit it) is not asked for.
- Verification (a service message under the management contract: no consent needed): 60 and 30 days before a
  meter's next verification date, to the owners of its premises.

Each message has a dedupe key, so a second run the same day (or a catch-up run the next day) sends nothing
twice; a run that missed the exact day still sends the reminder while it is due (e.g. "3 days before" on the
second-to-last day).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, or_, select

from app.extensions import db
from app.formatting import date_ru
from app.models import Building, ConsentRecord, Meter, OutboxMessage, Ownership, Premises, Reading, User
from app.models.audit import ConsentAction, ConsentChannel
from app.models.base import utcnow
from app.services.mailer import outbox_enqueue
from app.services.periods import Window, current_month, local_today, window_for

REMIND_DAYS_BEFORE_CLOSE = 3
VERIFICATION_DAYS = (60, 30)  # stages, largest first


@dataclass
class RemindReport:
    readings: int = 0  # messages queued now
    verification: int = 0
    already_queued: int = 0  # due, but queued by an earlier run

    @property
    def queued(self) -> int:
        return self.readings + self.verification


def reminders_enqueue(*, now: datetime | None = None) -> RemindReport:
    """Queue every reminder due at `now` (both kinds), in one transaction."""
    now = now or utcnow()
    report = RemindReport()
    _reading_reminders(now, report)
    _verification_reminders(now, report)
    db.session.commit()
    return report


def reading_stage(window: Window, today: date) -> str | None:
    """'soon' from 3 days before the window closes, 'last' on its last day, else None."""
    if not window.first_day <= today <= window.last_day:
        return None
    if today == window.last_day:
        return "last"
    days_left = (window.last_day - today).days + 1  # today included: the window closes at midnight
    return "soon" if days_left <= REMIND_DAYS_BEFORE_CLOSE else None


def verification_stage(due: date, today: date) -> int | None:
    """60 while 31–60 days remain, 30 while 1–30 remain (a catch-up run still reminds), else None."""
    days_left = (due - today).days
    stage = None
    for days in VERIFICATION_DAYS:
        if 0 < days_left <= days:
            stage = days
    return stage


def _email_consenting(user_ids: set[int]) -> set[int]:
    """Users whose latest email consent record is "given" (as profile.consent_given, for many at once)."""
    if not user_ids:
        return set()
    latest = (
        select(func.max(ConsentRecord.id).label("id"))
        .where(ConsentRecord.user_id.in_(user_ids), ConsentRecord.channel == ConsentChannel.EMAIL)
        .group_by(ConsentRecord.user_id)
        .subquery()
    )
    return set(db.session.scalars(
        select(ConsentRecord.user_id).join(latest, ConsentRecord.id == latest.c.id)
        .where(ConsentRecord.action == ConsentAction.GIVEN)))


def _owners_with_email(premises_ids) -> list[tuple[User, int]]:
    """(owner, premises id) for active owners with an email address."""
    if not premises_ids:
        return []
    return list(db.session.execute(
        select(User, Ownership.premises_id).join(Ownership, Ownership.user_id == User.id)
        .where(Ownership.premises_id.in_(premises_ids), User.email.is_not(None), User.email != "",
               User.active.is_(True))
        .order_by(User.id, Ownership.premises_id)).tuples())


@dataclass
class _Letter:
    user: User
    items: dict[int, list[Meter]] = field(default_factory=dict)  # premises id -> meters


def _reading_reminders(now: datetime, report: RemindReport) -> None:
    today, period = local_today(now), current_month(now)
    due: dict[int, tuple[Window, str]] = {}
    for building in db.session.scalars(select(Building)):
        window = window_for(building, period)
        stage = reading_stage(window, today)
        if stage:
            due[building.id] = (window, stage)
    if not due:
        return
    has_reading = exists().where(Reading.meter_id == Meter.id, Reading.period == period)
    missing: dict[int, list[Meter]] = defaultdict(list)
    premises: dict[int, Premises] = {}
    for meter, place in db.session.execute(
            select(Meter, Premises).join(Premises, Premises.id == Meter.premises_id)
            .where(Meter.building_id.in_(due), Meter.archived.is_(False), ~has_reading,
                   or_(Meter.next_verification_on.is_(None), Meter.next_verification_on > today))
            .order_by(Meter.resource, Meter.serial_number, Meter.zone)):
        missing[place.id].append(meter)
        premises[place.id] = place
    owners = _owners_with_email(missing)
    consenting = _email_consenting({user.id for user, _ in owners})
    letters: dict[tuple[int, date, str], _Letter] = {}
    for user, premises_id in owners:
        if user.id not in consenting:
            continue
        window, stage = due[premises[premises_id].building_id]
        letter = letters.setdefault((user.id, window.last_day, stage), _Letter(user))
        letter.items[premises_id] = missing[premises_id]
    keyed = {f"reading-reminder:{user_id}:{period:%Y-%m}:{stage}:{last_day:%d}": (last_day, stage, letter)
             for (user_id, last_day, stage), letter in letters.items()}
    for key in _new_keys(keyed, report):
        last_day, stage, letter = keyed[key]
        window = due[premises[next(iter(letter.items))].building_id][0]
        subject = (f"Сегодня последний день приёма показаний ({date_ru(last_day)})" if stage == "last"
                   else f"Передайте показания счётчиков до {date_ru(last_day)} включительно")
        outbox_enqueue(
            to=letter.user.email, subject=subject, template="reading_reminder", now=now, dedupe_key=key,
            user=letter.user, stage=stage, window=window, days_left=(last_day - today).days + 1,
            items=[(premises[pid], meters) for pid, meters in letter.items.items()],
        )
        report.readings += 1


def _verification_reminders(now: datetime, report: RemindReport) -> None:
    today = local_today(now)
    horizon = today + timedelta(days=max(VERIFICATION_DAYS))
    meters: dict[int, list[Meter]] = defaultdict(list)
    premises: dict[int, Premises] = {}
    for meter, place in db.session.execute(
            select(Meter, Premises).join(Premises, Premises.id == Meter.premises_id)
            .where(Meter.archived.is_(False), Meter.next_verification_on > today,
                   Meter.next_verification_on <= horizon)
            .order_by(Meter.next_verification_on, Meter.resource, Meter.serial_number, Meter.zone)):
        meters[place.id].append(meter)
        premises[place.id] = place
    keyed: dict[str, tuple[User, Premises, date, list[Meter]]] = {}
    for user, premises_id in _owners_with_email(meters):
        by_date: dict[date, list[Meter]] = defaultdict(list)
        for meter in meters[premises_id]:
            by_date[meter.next_verification_on].append(meter)
        for due_on, group in by_date.items():
            stage = verification_stage(due_on, today)
            key = f"verification-reminder:{user.id}:{premises_id}:{due_on.isoformat()}:{stage}"
            keyed[key] = (user, premises[premises_id], due_on, group)
    for key in _new_keys(keyed, report):
        user, place, due_on, group = keyed[key]
        outbox_enqueue(
            to=user.email, subject=f"Срок поверки счётчика истекает {date_ru(due_on)}",
            template="verification_reminder", now=now, dedupe_key=key, user=user, premises=place, meters=group,
            due_on=due_on, days_left=(due_on - today).days, uk=place.building.organisation,
        )
        report.verification += 1


def _new_keys(keyed: dict[str, object], report: RemindReport) -> list[str]:
    """The dedupe keys not in the outbox yet, in order (one query; the outbox's unique key still guards a
    concurrent run). Counts the others as already queued."""
    if not keyed:
        return []
    existing = set(db.session.scalars(select(OutboxMessage.dedupe_key)
                                      .where(OutboxMessage.dedupe_key.in_(list(keyed)))))
    report.already_queued += len(existing)
    return [key for key in keyed if key not in existing]
