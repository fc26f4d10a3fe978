"""Announcements (объявления) any user posts for other portal users, with reports and moderation.

The author is shown as the name they choose plus the street of their building, never the apartment number
(152-ФЗ: data shown to other users is minimal and chosen by the owner).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, true
from sqlalchemy.exc import IntegrityError

from app.access import MAX_ID, NOT_FOUND, access_for, row_get
from app.extensions import db
from app.models import Announcement, AnnouncementReport, Building, User
from app.models.base import utcnow
from app.models.messaging import AnnouncementCategory
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Invalid, Locked, NotAllowed, NotFound
from app.services.validation import clean_multiline, clean_text, validate_all

MAX_DAYS = 30
DAILY_LIMIT = 5
PAGE_SIZE = 20


@dataclass(frozen=True)
class AnnouncementInput:
    category: str
    title: str
    body: str
    author_name: str
    contact: str | None = None
    scope: str = "building"
    days: str | int = 14


def author_buildings(actor: User) -> list[Building]:
    """Buildings the actor belongs to (owned premises, council, or the УК's buildings for staff)."""
    query = select(Building).where(access_for(actor).member_buildings_clause())
    return list(db.session.scalars(query.order_by(Building.street, Building.house)))


def may_post(actor: User) -> bool:
    """Announcements are posted by people who belong to a building (suppliers and the operator do not)."""
    access = access_for(actor)
    return bool(access.owned_buildings or access.managed_buildings)


def _home_building(actor: User) -> Building:
    buildings = author_buildings(actor)
    own = [p.building for p in actor.premises_list]
    building = own[0] if own else (buildings[0] if buildings else None)
    if building is None:
        raise NotAllowed("Объявления публикуют жители и сотрудники обслуживающих организаций")
    return building


def _clean(data: AnnouncementInput) -> dict:
    def category():
        try:
            return AnnouncementCategory(data.category)
        except ValueError:
            raise Invalid("category", "Выберите рубрику") from None

    def body():
        return clean_multiline(data.body, "body", min_len=10, max_len=3000,
                               short="Напишите текст объявления: не меньше 10 символов")

    def scope():
        if data.scope not in ("building", "portal"):
            raise Invalid("scope", "Выберите, кому показывать")
        return data.scope

    def days():
        try:
            value = int(str(data.days).strip())
        except ValueError:
            value = 0
        if not 1 <= value <= MAX_DAYS:
            raise Invalid("days", f"Срок показа — от 1 до {MAX_DAYS} дней")
        return value

    return validate_all({
        "category": category,
        "title": lambda: clean_text(data.title, "title", "заголовок", max_len=120),
        "body": body,
        "author_name": lambda: clean_text(data.author_name, "author_name", "имя для подписи", max_len=60),
        "contact": lambda: clean_text(data.contact, "contact", "контакт", max_len=120, required=False) or None,
        "scope": scope,
        "days": days,
    })


def announcement_create(*, actor: User, data: AnnouncementInput, now: datetime | None = None,
                        origin: Origin = NO_ORIGIN) -> Announcement:
    now = now or utcnow()
    building = _home_building(actor)
    values = _clean(data)
    today = db.session.scalar(select(func.count(Announcement.id)).where(
        Announcement.author_id == actor.id, Announcement.created_at >= now - timedelta(days=1)))
    if today >= DAILY_LIMIT:
        raise Invalid("title", f"Не больше {DAILY_LIMIT} объявлений в сутки. Попробуйте завтра")
    item = Announcement(author_id=actor.id, author_name=values["author_name"], author_street=building.street,
                        category=values["category"], title=values["title"], body=values["body"],
                        contact=values["contact"], scope=values["scope"], building_id=building.id, created_at=now,
                        expires_at=now + timedelta(days=values["days"]))
    db.session.add(item)
    db.session.commit()
    return item


def announcement_update(*, actor: User, item: Announcement, data: AnnouncementInput,
                        now: datetime | None = None) -> Announcement:
    now = now or utcnow()
    if item.author_id != actor.id:
        raise NotAllowed("Изменить объявление может только автор")
    if item.status == "deleted":
        raise Locked("Объявление удалено")
    values = _clean(data)
    item.category, item.title, item.body = values["category"], values["title"], values["body"]
    item.author_name, item.contact, item.scope = values["author_name"], values["contact"], values["scope"]
    item.expires_at = now + timedelta(days=values["days"])
    item.updated_at = now
    db.session.commit()
    return item


def announcement_delete(*, actor: User, item: Announcement) -> None:
    if item.author_id != actor.id:
        raise NotAllowed("Удалить объявление может только автор")
    item.status = "deleted"
    db.session.commit()


def announcement_report(*, actor: User, item: Announcement, reason: str, now: datetime | None = None) -> bool:
    """A user reports an announcement to moderators; once per user. Returns False if already reported."""
    if item.author_id == actor.id:
        raise Invalid("reason", "Своё объявление можно изменить или удалить")
    text = clean_text(reason, "reason", "что не так с объявлением", max_len=300)
    db.session.add(AnnouncementReport(announcement_id=item.id, reporter_id=actor.id, reason=text,
                                      created_at=now or utcnow()))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def can_moderate(actor: User, item: Announcement) -> bool:
    """The council of the author's building, the УК that manages it, or the operator (portal-wide)."""
    access = access_for(actor)
    return access.operator or access.manages(item.building)


def _moderated_clause(actor: User):
    """Announcements the actor moderates: every one for the operator, else those of managed buildings."""
    access = access_for(actor)
    return true() if access.operator else access.buildings_clause(Announcement.building_id)


def announcement_hide(*, actor: User, item: Announcement, reason: str, now: datetime | None = None,
                      origin: Origin = NO_ORIGIN) -> Announcement:
    if not can_moderate(actor, item):
        raise NotAllowed("Скрывать объявления этого дома может совет дома или управляющая организация")
    item.hidden_reason = clean_text(reason, "reason", "причину — её увидит автор", max_len=300)
    item.status, item.hidden_by_id, item.hidden_at = "hidden", actor.id, now or utcnow()
    audit_record(actor=actor, action="announcement_hidden", entity_type="announcement", entity_id=item.id,
                 changes={"reason": item.hidden_reason}, origin=origin)
    db.session.commit()
    return item


def _visible_clause(actor: User, now: datetime):
    """What the actor reads in the list: active, not expired, portal-wide or of a building they belong to."""
    return (Announcement.status == "active") & (Announcement.expires_at > now) & or_(
        Announcement.scope == "portal", access_for(actor).member_buildings_clause(Announcement.building_id))


def announcement_get(*, actor: User, id: int, now: datetime | None = None) -> Announcement:  # noqa: A002
    """An announcement the actor may open: their own, one they moderate (hidden ones too), or one in their
    list; anyone else (and everyone, once it is deleted) gets NotFound."""
    item = row_get(Announcement, id)
    if item.status == "deleted":
        raise NotFound(NOT_FOUND)
    if item.author_id == actor.id or can_moderate(actor, item):
        return item
    visible = db.session.scalar(select(Announcement.id).where(Announcement.id == item.id,
                                                              _visible_clause(actor, now or utcnow())))
    if not visible:
        raise NotFound(NOT_FOUND)
    return item


def own_announcement_get(*, actor: User, id: int, now: datetime | None = None) -> Announcement:  # noqa: A002
    """An announcement to edit: NotFound as announcement_get, NotAllowed when the actor sees it but is not
    its author."""
    item = announcement_get(actor=actor, id=id, now=now)
    if item.author_id != actor.id:
        raise NotAllowed("Изменить объявление может только автор")
    return item


def announcement_list(actor: User, *, now: datetime, category: str | None = None, scope: str | None = None,
                      q: str | None = None, offset: int = 0, limit: int = PAGE_SIZE
                      ) -> tuple[list[Announcement], int | None]:
    offset = min(max(offset, 0), MAX_ID)
    query = select(Announcement).where(_visible_clause(actor, now))
    if category in {c.value for c in AnnouncementCategory}:
        query = query.where(Announcement.category == category)
    if scope in ("building", "portal"):
        query = query.where(Announcement.scope == scope)
    if q and q.strip():
        like = f"%{q.strip().lower()[:60]}%"
        query = query.where(or_(func.lower(Announcement.title).like(like), func.lower(Announcement.body).like(like)))
    rows = list(db.session.scalars(query.order_by(Announcement.created_at.desc(), Announcement.id.desc())
                                   .offset(offset).limit(limit + 1)))
    return rows[:limit], (offset + limit if len(rows) > limit else None)


def my_announcements(actor: User) -> list[Announcement]:
    return list(db.session.scalars(select(Announcement).where(Announcement.author_id == actor.id,
                                                              Announcement.status != "deleted")
                                   .order_by(Announcement.created_at.desc())))


def reported(actor: User) -> list[tuple[Announcement, int]]:
    """Active announcements with reports, for their moderators (most reported first)."""
    scope = _moderated_clause(actor)
    counts = dict(db.session.execute(
        select(AnnouncementReport.announcement_id, func.count(AnnouncementReport.id))
        .join(Announcement, Announcement.id == AnnouncementReport.announcement_id)
        .where(scope, Announcement.status == "active")
        .group_by(AnnouncementReport.announcement_id)
    ).all())
    if not counts:
        return []
    items = db.session.scalars(select(Announcement).where(Announcement.id.in_(counts)))
    rows = [(a, counts[a.id]) for a in items]
    return sorted(rows, key=lambda row: (-row[1], row[0].id))


MODERATION_VIEWS = ("reported", "hidden")


def moderation_list(actor: User, *, view: str = "reported", offset: int = 0, limit: int = PAGE_SIZE
                    ) -> tuple[list[tuple[Announcement, int]], int | None]:
    """One page of the moderation queue across every building the actor moderates (the operator: the whole
    portal): 'reported' — active announcements with reports, most reported first; 'hidden' — hidden ones,
    newest first. Two queries a page, whatever its size."""
    if view not in MODERATION_VIEWS:
        view = "reported"
    offset = min(max(offset, 0), MAX_ID)
    reports = (select(AnnouncementReport.announcement_id.label("announcement_id"),
                      func.count(AnnouncementReport.id).label("n"))
               .group_by(AnnouncementReport.announcement_id).subquery())
    query = (select(Announcement, func.coalesce(reports.c.n, 0))
             .outerjoin(reports, reports.c.announcement_id == Announcement.id)
             .where(_moderated_clause(actor)))
    if view == "reported":
        query = (query.where(Announcement.status == "active", reports.c.n > 0)
                 .order_by(reports.c.n.desc(), Announcement.id))
    else:
        query = query.where(Announcement.status == "hidden").order_by(Announcement.hidden_at.desc(),
                                                                      Announcement.id.desc())
    rows = [(item, int(n)) for item, n in db.session.execute(query.offset(offset).limit(limit + 1)).all()]
    return rows[:limit], (offset + limit if len(rows) > limit else None)
