"""Notices (оповещения): posted by the УК, the council or a supplier to buildings; the owner feed with unread
marks; email to those who opted in, through the durable outbox, exactly once per recipient."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.access import access_for, valid_id
from app.extensions import db
from app.formatting import datetime_ru
from app.models import Building, ConsentRecord, CouncilMembership, Ownership, Premises, User
from app.models.audit import ConsentAction, ConsentChannel
from app.models.base import utcnow
from app.models.messaging import (
    OUTAGE_CATEGORIES,
    SERVICE_CATEGORIES,
    Notice,
    NoticeCategory,
    NoticeRead,
    NoticeRevision,
    NoticeTarget,
)
from app.models.metering import RESOURCE_LABELS, Resource
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Invalid, Locked, NotAllowed, NotFound
from app.services.mailer import outbox_enqueue
from app.services.periods import TZ
from app.services.side_writes import side_write
from app.services.validation import clean_text, validate_all

UNREAD_WINDOW = timedelta(days=30)
PAGE_SIZE = 10

# ПП 354, приложение 1 (verify against the current text): what the templates tell owners.
OUTAGE_LIMITS = {
    Resource.COLD_WATER: "Допустимый перерыв в подаче холодной воды — не более 8 часов суммарно в месяц и "
    "не более 4 часов единовременно (ПП РФ № 354, приложение 1).",
    Resource.HOT_WATER: "Допустимый перерыв в подаче горячей воды — не более 8 часов суммарно в месяц и не более "
    "4 часов единовременно; на время ежегодного ремонта — не более 14 суток (ПП РФ № 354, "
    "приложение 1).",
    Resource.HEAT: "Допустимый перерыв в отоплении — не более 24 часов суммарно в месяц; единовременно не более "
    "16 часов при температуре в помещении от +12 °C, 8 часов — от +10 до +12 °C, 4 часов — от +8 до "
    "+10 °C (ПП РФ № 354, приложение 1).",
    Resource.ELECTRICITY: "Допустимый перерыв в электроснабжении — 2 часа при двух независимых источниках питания "
    "и 24 часа при одном (ПП РФ № 354, приложение 1).",
    Resource.GAS: "Допустимый перерыв в газоснабжении — не более 4 часов суммарно в месяц (ПП РФ № 354, приложение 1).",
}


def planned_outage_template(resource: str | None) -> str:
    try:
        label = RESOURCE_LABELS[Resource(resource)].lower()
        limits = OUTAGE_LIMITS[Resource(resource)]
    except (ValueError, KeyError):
        label, limits = "коммунального ресурса", ""
    return (
        f"Уважаемые жители! В связи с плановыми работами будет прекращена подача ресурса «{label}».\n"
        "Время: с … до … .\nПричина: … .\nПросим заранее запастись водой / отключить электроприборы.\n"
        f"{limits}\nСправки по телефону: … ."
    )


@dataclass(frozen=True)
class NoticeInput:
    category: str
    title: str
    body: str
    resource: str | None = None
    starts_at: str | None = None  # 'YYYY-MM-DDTHH:MM' local (Chita) time, from <input type="datetime-local">
    ends_at: str | None = None
    valid_until: str | None = None
    urgent: bool = False
    building_ids: tuple[int, ...] = ()
    entrances: str | None = None  # "1, 3": only these entrances (with a single building)


def parse_local(raw, field: str) -> datetime | None:
    if raw is None or isinstance(raw, datetime):
        return raw
    raw = raw.strip()
    if not raw:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=TZ)
        except ValueError:
            continue
    raise Invalid(field, "Укажите дату и время в формате ДД.ММ.ГГГГ ЧЧ:ММ")


# --- who may post where ----------------------------------------------------------------------------------


def posting_buildings(actor: User) -> dict[int, tuple[str, int | None]]:
    """building id -> (role, organisation id) the actor posts in. УК staff first, then supplier, then council."""
    access = access_for(actor)
    result: dict[int, tuple[str, int | None]] = dict.fromkeys(access.council_buildings, ("council", None))
    for b_id, org_id in access.supplier_of_building.items():
        result[b_id] = ("rso", org_id)
    if access.uk_buildings:
        for b_id, org_id in db.session.execute(
            select(Building.id, Building.organisation_id).where(access.uk_buildings_clause())
        ):
            result[b_id] = ("staff", org_id)
    return result


def posting_building_list(actor: User) -> list[Building]:
    """The buildings the actor may post notices to, by address."""
    allowed = posting_buildings(actor)
    if not allowed:
        return []
    return list(db.session.scalars(
        select(Building).where(Building.id.in_(sorted(allowed))).order_by(Building.street, Building.house)))


def can_post(actor: User) -> bool:
    return bool(posting_buildings(actor))


def _clean(actor: User, data: NoticeInput, now: datetime, *, new: bool) -> dict:
    allowed = posting_buildings(actor)

    def category():
        try:
            return NoticeCategory(data.category)
        except ValueError:
            raise Invalid("category", "Выберите вид оповещения") from None

    def resource():
        if not data.resource:
            return None
        try:
            return Resource(data.resource).value
        except ValueError:
            raise Invalid("resource", "Выберите ресурс из списка") from None

    def targets():
        ids = [int(b) for b in data.building_ids]
        if not ids:
            raise Invalid("building_ids", "Выберите хотя бы один дом")
        if any(b not in allowed for b in ids):
            raise Invalid("building_ids", "В этот дом вы публиковать не можете")
        roles = {allowed[b] for b in ids}
        if len(roles) > 1:
            raise Invalid("building_ids", "Выберите дома одной организации: оповещение публикуется от её имени")
        return ids, roles.pop()

    def entrances():
        raw = (data.entrances or "").replace(";", ",").strip()
        if not raw:
            return None
        try:
            values = sorted({int(x) for x in raw.split(",") if x.strip()})
        except ValueError:
            raise Invalid("entrances", "Перечислите номера подъездов через запятую, например 1, 3") from None
        if not values or min(values) < 1 or max(values) > 40:
            raise Invalid("entrances", "Номера подъездов — от 1 до 40")
        return values

    values = validate_all(
        {
            "category": category,
            "resource": resource,
            "title": lambda: clean_text(data.title, "title", "заголовок", max_len=160),
            "body": lambda: _body(data.body),
            "starts_at": lambda: parse_local(data.starts_at, "starts_at"),
            "ends_at": lambda: parse_local(data.ends_at, "ends_at"),
            "valid_until": lambda: parse_local(data.valid_until, "valid_until"),
            "building_ids": targets,
            "entrances": entrances,
        }
    )
    errors = {}
    cat, starts, ends = values["category"], values["starts_at"], values["ends_at"]
    if cat in OUTAGE_CATEGORIES:
        if values["resource"] is None:
            errors["resource"] = "Укажите, что отключают"
        if starts is None:
            errors["starts_at"] = "Укажите, когда начнётся отключение"
        elif cat == NoticeCategory.PLANNED and new and starts < now:
            errors["starts_at"] = "Плановое отключение объявляют заранее: начало не может быть в прошлом"
    if starts and ends and ends <= starts:
        errors["ends_at"] = "Окончание должно быть позже начала"
    ids, _ = values["building_ids"]
    if values["entrances"] and len(ids) != 1:
        errors["entrances"] = "Подъезды можно указать, только если выбран один дом"
    if errors:
        raise Invalid.from_errors(errors)
    return values


def _body(raw: str | None) -> str:
    text = (raw or "").strip()
    if len(text) < 10:
        raise Invalid("body", "Напишите текст оповещения: не меньше 10 символов")
    if len(text) > 5000:
        raise Invalid("body", "Не больше 5000 символов")
    return text


def notice_publish(
    *, actor: User, data: NoticeInput, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> Notice:
    """Publish a notice and queue its emails in the same transaction (sent later by `flask mail send`)."""
    now = now or utcnow()
    if not can_post(actor):
        raise NotAllowed("Публиковать оповещения могут УК, совет дома и ресурсоснабжающие организации")
    v = _clean(actor, data, now, new=True)
    ids, (role, org_id) = v["building_ids"]
    notice = Notice(
        author_id=actor.id,
        author_role=role,
        organisation_id=org_id,
        category=v["category"],
        resource=v["resource"],
        title=v["title"],
        body=v["body"],
        starts_at=v["starts_at"],
        ends_at=v["ends_at"],
        valid_until=v["valid_until"] or v["ends_at"] or now + timedelta(days=14),
        urgent=bool(data.urgent) or v["category"] == NoticeCategory.EMERGENCY,
        published_at=now,
    )
    for b_id in ids:
        for entrance in v["entrances"] or [None]:
            notice.targets.append(NoticeTarget(building_id=b_id, entrance=entrance))
    db.session.add(notice)
    db.session.flush()
    _invalidate(building_ids=ids)
    queued = _queue_emails(notice, now)
    audit_record(
        actor=actor,
        action="notice_published",
        entity_type="notice",
        entity_id=notice.id,
        changes={"buildings": ids, "emails": queued},
        origin=origin,
        role=role,
    )
    db.session.commit()
    return notice


def may_edit(actor: User, notice: Notice) -> bool:
    """The author, or a colleague of the same organisation, may edit or withdraw (council: the author)."""
    if notice.author_id == actor.id:
        return True
    return notice.author_role in ("staff", "rso") and access_for(actor).works_for(notice.organisation_id)


def notice_for_edit(actor: User, notice: Notice) -> None:
    if not may_edit(actor, notice):
        raise NotAllowed("Изменить оповещение может его автор или сотрудник той же организации")


def notice_edit(
    *, actor: User, notice: Notice, data: NoticeInput, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> Notice:
    now = now or utcnow()
    notice_for_edit(actor, notice)
    if notice.status != "published":
        raise Locked("Оповещение отменено, изменить его нельзя")
    v = _clean(actor, data, now, new=False)
    db.session.add(NoticeRevision(notice_id=notice.id, editor_id=actor.id, at=now, snapshot=_snapshot(notice)))
    ids, _ = v["building_ids"]
    _invalidate(building_ids=[*ids, *(t.building_id for t in notice.targets)])
    notice.category, notice.resource, notice.title, notice.body = (v["category"], v["resource"], v["title"], v["body"])
    notice.starts_at, notice.ends_at = v["starts_at"], v["ends_at"]
    notice.valid_until = v["valid_until"] or v["ends_at"] or notice.valid_until
    notice.urgent = bool(data.urgent) or v["category"] == NoticeCategory.EMERGENCY
    wanted = {(b, e) for b in ids for e in (v["entrances"] or [None])}
    for target in list(notice.targets):
        if (target.building_id, target.entrance) not in wanted:
            notice.targets.remove(target)
    have = {(t.building_id, t.entrance) for t in notice.targets}
    for b, e in sorted(wanted - have, key=lambda x: (x[0], x[1] or 0)):
        notice.targets.append(NoticeTarget(building_id=b, entrance=e))
    notice.updated_at, notice.version = now, notice.version + 1
    audit_record(actor=actor, action="notice_edited", entity_type="notice", entity_id=notice.id, origin=origin)
    db.session.commit()
    return notice


def notice_withdraw(
    *, actor: User, notice: Notice, reason: str, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> Notice:
    now = now or utcnow()
    notice_for_edit(actor, notice)
    if notice.status != "published":
        raise Locked("Оповещение уже отменено")
    notice.withdrawn_reason = clean_text(reason, "reason", "причину отмены", max_len=300)
    notice.status, notice.withdrawn_at = "withdrawn", now
    _invalidate(building_ids=[t.building_id for t in notice.targets])
    audit_record(actor=actor, action="notice_withdrawn", entity_type="notice", entity_id=notice.id, origin=origin)
    db.session.commit()
    return notice


def _snapshot(notice: Notice) -> dict:
    return {
        "title": notice.title,
        "body": notice.body,
        "category": notice.category.value,
        "starts_at": notice.starts_at.isoformat() if notice.starts_at else None,
        "ends_at": notice.ends_at.isoformat() if notice.ends_at else None,
        "targets": [[t.building_id, t.entrance] for t in notice.targets],
    }


def notice_revisions(notice: Notice) -> list[NoticeRevision]:
    return list(
        db.session.scalars(
            select(NoticeRevision).where(NoticeRevision.notice_id == notice.id).order_by(NoticeRevision.id.desc())
        )
    )


# --- who sees what -----------------------------------------------------------------------------------------


def _audience_clause(user: User):
    """SQL condition on NoticeTarget for the notices this user receives."""
    clauses = []
    for o in user.ownerships:
        p = o.premises
        clauses.append(
            and_(
                NoticeTarget.building_id == p.building_id,
                or_(NoticeTarget.entrance.is_(None), NoticeTarget.entrance == p.entrance),
            )
        )
    access = access_for(user)
    buildings = access.managed_buildings | set(access.supplier_of_building)
    if buildings:
        clauses.append(NoticeTarget.building_id.in_(sorted(buildings)))
    return or_(*clauses) if clauses else None


def _visible_ids(user: User):
    clause = _audience_clause(user)
    if clause is None:
        return None
    return select(NoticeTarget.notice_id).where(clause)


def notice_get(*, actor: User, id: int) -> Notice:  # noqa: A002
    """The notice if the actor receives it (or wrote it), else NotFound (a 404)."""
    key = valid_id(id)
    notice = db.session.get(Notice, key) if key else None
    if notice is None:
        raise NotFound("Оповещение не найдено")
    if notice.author_id == actor.id:
        return notice
    ids = _visible_ids(actor)
    if ids is not None and db.session.scalar(
        select(func.count()).select_from(ids.where(NoticeTarget.notice_id == notice.id).subquery())
    ):
        return notice
    raise NotFound("Оповещение не найдено")


@dataclass
class FeedPage:
    pinned: list[Notice]
    items: list[Notice]
    read_ids: set[int]
    next_offset: int | None


def notice_feed(user: User, *, now: datetime, offset: int = 0, limit: int = PAGE_SIZE) -> FeedPage:
    """Active outages pinned on top (first page only), then every notice newest first, `limit` at a time."""
    ids = _visible_ids(user)
    if ids is None:
        return FeedPage([], [], set(), None)
    base = select(Notice).where(Notice.id.in_(ids))
    # Active outages are pinned on the first page and left out of the paged list on every page.
    pinned = list(
        db.session.scalars(
            base.where(
                Notice.status == "published",
                Notice.category.in_(list(OUTAGE_CATEGORIES)),
                or_(Notice.ends_at.is_(None), Notice.ends_at > now),
                or_(Notice.valid_until.is_(None), Notice.valid_until > now),
            ).order_by(Notice.starts_at)
        )
    )
    pinned_ids = [n.id for n in pinned]
    query = base.order_by(Notice.published_at.desc(), Notice.id.desc())
    if pinned_ids:
        query = query.where(Notice.id.notin_(pinned_ids))
    rows = list(db.session.scalars(query.offset(offset).limit(limit + 1)))
    items = rows[:limit]
    shown = [n.id for n in pinned + items]
    read = (
        set(
            db.session.scalars(
                select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id, NoticeRead.notice_id.in_(shown))
            )
        )
        if shown
        else set()
    )
    return FeedPage(pinned if offset == 0 else [], items, read, offset + limit if len(rows) > limit else None)


def _unread_key(user: User) -> str | None:
    """What an owner's or council member's unread count depends on besides the notices themselves: the
    (building, entrance) of every premises they own, their council seats, and the account's age. None for
    staff and suppliers, whose audience follows their organisation's buildings (changed elsewhere): theirs is
    counted live (they are few; owners are 20,000)."""
    if user.staff_memberships or user.is_operator:
        return None
    parts = sorted((o.premises.building_id, o.premises.entrance or 0) for o in user.ownerships)
    seats = sorted(m.building_id for m in user.council_memberships)
    created = user.created_at.isoformat() if user.created_at else ""
    return hashlib.blake2b(repr((parts, seats, created)).encode(), digest_size=16).hexdigest()


def _unread_live(user: User, now: datetime) -> tuple[int, datetime | None]:
    """The count and the oldest counted notice's publication (it leaves the window first)."""
    ids = _visible_ids(user)
    if ids is None:
        return 0, None
    since = max(user.created_at or now, now - UNREAD_WINDOW)
    count, oldest = db.session.execute(
        select(func.count(Notice.id), func.min(Notice.published_at)).where(
            Notice.id.in_(ids),
            Notice.status == "published",
            Notice.published_at >= since,
            Notice.id.notin_(select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id)),
        )
    ).one()
    if isinstance(oldest, str):  # SQLite returns min() of a timestamp as text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return count or 0, oldest


def unread_count(user: User, *, now: datetime, store: bool = True) -> int:
    """Unread published notices of the last 30 days (not older than the account), for the header badge.

    Cached on the user's row, which every request loads anyway, so a hit costs no query. The cached value
    holds while the audience key is the same, between the moment it was counted and the moment its oldest
    notice leaves the 30-day window; publish, edit, withdraw and mark-read invalidate it in their own
    transaction (_invalidate). A miss counts and stores the count on a side connection under the row's
    notices_gen, so a count raced by an invalidation is not stored (store=False: count, store nothing).
    """
    key = _unread_key(user)
    if (
        key is not None
        and user.unread_notices is not None
        and user.unread_key == key
        and user.unread_from is not None
        and user.unread_from <= now
        and (user.unread_until is None or now < user.unread_until)
    ):
        return user.unread_notices
    count, oldest = _unread_live(user, now)
    if key is not None and store:
        values = {"unread_notices": count, "unread_key": key, "unread_from": now,
                  "unread_until": oldest + UNREAD_WINDOW if oldest is not None else None}
        stored = side_write(
            update(User).where(User.id == user.id, User.notices_gen == user.notices_gen).values(**values)
        )
        if stored:  # this request asks again (badge, fragment): answer from the object
            for name, value in values.items():
                set_committed_value(user, name, value)
    return count


def _invalidate(*, building_ids=(), user_ids=()) -> None:
    """Forget the cached unread count of everyone who receives notices in these buildings (owners and
    council; staff and suppliers are counted live), in the caller's transaction."""
    who = []
    if building_ids:
        buildings = sorted(set(building_ids))
        who.append(User.id.in_(
            select(Ownership.user_id).join(Premises, Premises.id == Ownership.premises_id)
            .where(Premises.building_id.in_(buildings))
        ))
        who.append(User.id.in_(select(CouncilMembership.user_id).where(CouncilMembership.building_id.in_(buildings))))
    if user_ids:
        who.append(User.id.in_(sorted(set(user_ids))))
    if who:
        db.session.execute(
            update(User).where(or_(*who)).values(unread_notices=None, notices_gen=User.notices_gen + 1)
            .execution_options(synchronize_session=False)
        )


def notice_mark_read(*, user: User, notice: Notice, now: datetime | None = None) -> bool:
    """Mark as read (idempotent, safe under a double click). Returns True if it was unread."""
    exists = db.session.scalar(
        select(NoticeRead.id).where(NoticeRead.notice_id == notice.id, NoticeRead.user_id == user.id)
    )
    if exists:
        return False
    from sqlalchemy.exc import IntegrityError

    db.session.add(NoticeRead(notice_id=notice.id, user_id=user.id, read_at=now or utcnow()))
    _invalidate(user_ids=[user.id])
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


# --- email ---------------------------------------------------------------------------------------------------


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="notices-unsubscribe")


def unsubscribe_token(user: User) -> str:
    from flask import current_app

    return _serializer(current_app.config["SECRET_KEY"]).dumps({"u": user.id, "v": 1})


def unsubscribe(*, token: str, now: datetime | None = None, origin: Origin = NO_ORIGIN) -> User:
    """One click from the email: 'email me about new notices' off, recorded in the audit log."""
    from flask import current_app

    try:
        payload = _serializer(current_app.config["SECRET_KEY"]).loads(token)
    except BadSignature:
        raise Invalid("token", "Ссылка для отписки повреждена. Отключите письма в профиле.") from None
    user = db.session.get(User, payload.get("u"))
    if user is None:
        raise Invalid("token", "Учётная запись не найдена")
    if user.notify_new_notice:
        user.notify_new_notice = False
        audit_record(
            actor=user,
            action="notice_emails_unsubscribed",
            entity_type="user",
            entity_id=user.id,
            changes={"notify_new_notice": [True, False], "via": "email link"},
            origin=origin,
        )
    db.session.commit()
    return user


def recipients(notice: Notice) -> list[User]:
    """Owners of the target premises and council members of the target buildings who asked for emails;
    for non-service categories only with mailing consent by email in force."""
    conditions = []
    for t in notice.targets:
        cond = Premises.building_id == t.building_id
        if t.entrance is not None:
            cond = and_(cond, Premises.entrance == t.entrance)
        conditions.append(cond)
    owner_ids = select(Ownership.user_id).join(Premises, Premises.id == Ownership.premises_id).where(or_(*conditions))
    council_ids = select(CouncilMembership.user_id).where(
        CouncilMembership.building_id.in_({t.building_id for t in notice.targets})
    )
    users = list(
        db.session.scalars(
            select(User)
            .where(
                or_(User.id.in_(owner_ids), User.id.in_(council_ids)),
                User.active.is_(True),
                User.email.is_not(None),
                User.notify_new_notice.is_(True),
            )
            .order_by(User.id)
        )
    )
    if notice.category in SERVICE_CATEGORIES or not users:
        return users
    latest: dict[int, ConsentRecord] = {}
    for record in db.session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.user_id.in_([u.id for u in users]), ConsentRecord.channel == ConsentChannel.EMAIL)
        .order_by(ConsentRecord.id)
    ):
        latest[record.user_id] = record
    return [u for u in users if u.id in latest and latest[u.id].action == ConsentAction.GIVEN]


def _queue_emails(notice: Notice, now: datetime) -> int:
    from app.urls import portal_url

    count = 0
    notice_url = portal_url("notices.detail", notice_id=notice.id)
    for user in recipients(notice):
        link = portal_url("notices.unsubscribe", token=unsubscribe_token(user))
        subject = ("Срочно: " if notice.urgent else "") + f"{notice.category_label}: {notice.title}"
        if outbox_enqueue(
            to=user.email,
            subject=subject,
            template="notice",
            dedupe_key=f"notice:{notice.id}:{user.id}",
            now=now,
            headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            notice=notice,
            user=user,
            unsubscribe_url=link,
            notice_url=notice_url,
            service=notice.category in SERVICE_CATEGORIES,
        ):
            count += 1
    return count


def when(notice: Notice) -> str:
    if notice.starts_at and notice.ends_at:
        return f"с {datetime_ru(notice.starts_at)} до {datetime_ru(notice.ends_at)}"
    if notice.starts_at:
        return f"с {datetime_ru(notice.starts_at)}"
    return ""
