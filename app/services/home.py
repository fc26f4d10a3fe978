"""What the home page shows: things that need the user's attention and, for managers, building figures."""

from dataclasses import dataclass

from sqlalchemy import func, select

from app.access import access_for
from app.extensions import db
from app.models import Building, Ownership, Premises, User
from app.models.base import utcnow
from app.services.paging import PAGE_SIZE, Page, paged


@dataclass(frozen=True)
class Attention:
    text: str
    endpoint: str
    action: str
    level: str = "info"  # info | warning


def attention_items(user: User, premises: Premises | None, now=None) -> list[Attention]:
    items = []
    if premises is not None:
        items.extend(_readings_attention(premises, now or utcnow()))
    if not user.email:
        items.append(Attention(
            "Укажите электронную почту — на неё придут подтверждения и оповещения об отключениях.",
            "profile.index", "Указать почту"))
    if not user.phone:
        items.append(Attention("Укажите телефон для связи с управляющей организацией.",
                               "profile.index", "Указать телефон"))
    if premises is not None and premises.actual_residents is None:
        items.append(Attention(
            f"Сообщите, сколько человек фактически проживает: {premises.title}.",
            "apartment.index", "Указать"))
    return items


def _readings_attention(premises: Premises, now) -> list[Attention]:
    from app.formatting import date_ru
    from app.services import readings
    from app.services.periods import local_today, window_state

    state = window_state(premises.building, now)
    lines = readings.meter_lines(readings.active_meters(premises), state.period)
    items = []
    today = local_today(now)
    if state.is_open and any(line.reading is None for line in lines):
        items.append(Attention(
            f"Передайте показания счётчиков до {date_ru(state.window.last_day)} включительно.",
            "readings.index", "Передать", "warning"))
    for line in lines:
        due = line.meter.next_verification_on
        if due and due <= today:
            items.append(Attention(f"Истёк срок поверки счётчика: {line.meter.title}, № {line.meter.serial_number}.",
                                   "readings.index", "Что делать", "warning"))
        elif due and (due - today).days <= 60:
            items.append(Attention(f"Поверка счётчика «{line.meter.title}» — до {date_ru(due)}.",
                                   "readings.index", "Подробнее"))
    return items


@dataclass(frozen=True)
class BuildingStats:
    building: Building
    premises: int
    with_account: int
    pending_first_login: int


def building_stats(buildings: list[Building]) -> list[BuildingStats]:
    """Per building: premises count, premises with at least one account, accounts not yet activated."""
    if not buildings:
        return []
    ids = [b.id for b in buildings]
    premises_count = dict(
        db.session.execute(
            select(Premises.building_id, func.count(Premises.id)).where(Premises.building_id.in_(ids))
            .group_by(Premises.building_id)
        ).all()
    )
    with_account = dict(
        db.session.execute(
            select(Premises.building_id, func.count(func.distinct(Premises.id)))
            .join(Ownership, Ownership.premises_id == Premises.id)
            .where(Premises.building_id.in_(ids))
            .group_by(Premises.building_id)
        ).all()
    )
    pending = dict(
        db.session.execute(
            select(Premises.building_id, func.count(func.distinct(User.id)))
            .join(Ownership, Ownership.premises_id == Premises.id)
            .join(User, User.id == Ownership.user_id)
            .where(Premises.building_id.in_(ids), User.must_change_password.is_(True))
            .group_by(Premises.building_id)
        ).all()
    )
    return [
        BuildingStats(b, premises_count.get(b.id, 0), with_account.get(b.id, 0), pending.get(b.id, 0))
        for b in buildings
    ]


def building_stats_page(actor: User, *, page: int = 1, size: int = PAGE_SIZE) -> tuple[list[BuildingStats], Page]:
    """/manage/: the actor's buildings a page at a time (by address), with their figures: four queries a page."""
    access = access_for(actor)
    if not access.managed_buildings:
        return [], Page(page, size)
    query = select(Building).where(access.buildings_clause()).order_by(Building.street, Building.house, Building.id)
    query, finish = paged(query, page, size)
    buildings, pager = finish(list(db.session.scalars(query)))
    return building_stats(buildings), pager
