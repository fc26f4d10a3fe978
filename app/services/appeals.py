"""Appeals (обращения) to the УК: filing with photos, incoming numbers, deadlines, the status lifecycle.

ПП РФ № 416 (verify the numbers against the current text): an appeal is registered on the day it arrives and
gets an incoming number; a written reply within 10 working days, basic information by the next working day;
emergencies are localised within 30 minutes. Categories and their deadlines are configurable per organisation.
"""

import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.access import NOT_FOUND, access_for, row_get, valid_id
from app.extensions import db
from app.models import Appeal, AppealCategory, AppealCounter, AppealEvent, AppealPhoto, Building, Premises, User
from app.models.appeals import APPEAL_STATUS_LABELS, AppealStatus, DeadlineUnit
from app.models.base import utcnow
from app.services.errors import Conflict, Invalid, Locked, NotAllowed, NotFound
from app.services.mailer import outbox_enqueue
from app.services.paging import PAGE_SIZE, Page, paged
from app.services.periods import TZ
from app.services.validation import clean_multiline, clean_text, validate_all
from app.services.workcalendar import working_deadline

MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # routes read at most this + 1 byte of an upload (see read_upload)
MAX_PIXELS = 40_000_000  # larger images are refused before they are decoded (decompression bombs)
MAX_SIDE = 1600
REOPEN_DAYS = 14
# Pillow warns above MAX_IMAGE_PIXELS and refuses only above twice that; clean_photo refuses above it.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

PLACES = {
    "premises": "В квартире",
    "entrance": "Подъезд, лестница",
    "elevator": "Лифт",
    "roof": "Крыша, чердак",
    "basement": "Подвал",
    "yard": "Двор, придомовая территория",
    "facade": "Фасад, окна, двери",
    "other": "Другое",
}

DEFAULT_CATEGORIES = [
    ("EMERGENCY", "Авария: вода, отопление, электричество, канализация", DeadlineUnit.MINUTES, 30, True),
    ("REPAIR", "Заявка на ремонт", DeadlineUnit.WORKING_DAYS, 10, False),
    ("COMPLAINT", "Жалоба", DeadlineUnit.WORKING_DAYS, 10, False),
    ("INFO", "Запрос информации", DeadlineUnit.WORKING_DAYS, 1, False),
    ("OTHER", "Другое", DeadlineUnit.WORKING_DAYS, 10, False),
]

S = AppealStatus
# Every allowed transition, and who makes it. Anything else is refused.
TRANSITIONS: dict[tuple[AppealStatus, AppealStatus], str] = {
    (S.REGISTERED, S.IN_PROGRESS): "staff",
    (S.REGISTERED, S.DONE): "staff",
    (S.IN_PROGRESS, S.DONE): "staff",
    (S.REGISTERED, S.REJECTED): "staff",
    (S.IN_PROGRESS, S.REJECTED): "staff",
    (S.DONE, S.CLOSED): "owner",  # the owner confirms the result
    (S.REJECTED, S.CLOSED): "owner",
    (S.DONE, S.IN_PROGRESS): "owner",  # reopen within 14 days, with a reason
}
NEEDS_REASON = {(S.REGISTERED, S.REJECTED), (S.IN_PROGRESS, S.REJECTED), (S.DONE, S.IN_PROGRESS)}


def categories_for(organisation_id: int) -> list[AppealCategory]:
    """The organisation's categories; a new organisation starts with the defaults."""
    rows = list(
        db.session.scalars(
            select(AppealCategory)
            .where(AppealCategory.organisation_id == organisation_id, AppealCategory.active.is_(True))
            .order_by(AppealCategory.sort_order, AppealCategory.id)
        )
    )
    if rows:
        return rows
    for order, (code, name, unit, value, emergency) in enumerate(DEFAULT_CATEGORIES):
        db.session.add(
            AppealCategory(
                organisation_id=organisation_id,
                code=code,
                name=name,
                deadline_unit=unit,
                deadline_value=value,
                emergency=emergency,
                sort_order=order,
            )
        )
    try:
        db.session.commit()
    except IntegrityError:  # another request created them meanwhile
        db.session.rollback()
    return categories_for(organisation_id)


def deadline_for(category: AppealCategory, registered_at: datetime) -> datetime:
    if category.deadline_unit == DeadlineUnit.WORKING_DAYS:
        return working_deadline(registered_at, category.deadline_value)
    minutes = category.deadline_value * (60 if category.deadline_unit == DeadlineUnit.HOURS else 1)
    return registered_at + timedelta(minutes=minutes)


def deadline_text(category: AppealCategory) -> str:
    n = category.deadline_value
    if category.deadline_unit == DeadlineUnit.WORKING_DAYS:
        return f"{n} раб. дн."
    return f"{n} ч" if category.deadline_unit == DeadlineUnit.HOURS else f"{n} мин"


# --- photos ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def read_upload(file) -> Upload:
    """An uploaded file (a werkzeug FileStorage) read with a bound: a file over the limit is refused by
    clean_photo from its first MAX_PHOTO_BYTES + 1 bytes, never read into memory in full."""
    return Upload(file.filename or "", file.read(MAX_PHOTO_BYTES + 1))


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    width: int
    height: int


def clean_photo(upload: Upload, field: str = "photos") -> CleanPhoto:
    """Check by content (not by name), re-encode as JPEG, strip EXIF (location!), downscale to 1600 px."""
    name = upload.filename or "файл"
    if len(upload.data) > MAX_PHOTO_BYTES:
        raise Invalid(field, f"{name}: файл больше 10 МБ. Сожмите фото или сделайте снимок поменьше")
    if not upload.data:
        raise Invalid(field, f"{name}: пустой файл")
    too_big = Invalid(field, f"Фотография слишком большая: {name} — больше 40 мегапикселей. "
                             "Уменьшите её или сделайте снимок с меньшим разрешением")
    try:
        # The header tells the size: refuse before anything is decoded. Pillow's DecompressionBombWarning (above
        # MAX_IMAGE_PIXELS) is an error here, its DecompressionBombError (above twice that) too. catch_warnings
        # is process-wide, not per thread: the explicit size check below holds whatever another thread does.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(upload.data))
        with probe:
            kind = probe.format
            if probe.width * probe.height > MAX_PIXELS:
                raise too_big
            probe.verify()
        if kind not in {"JPEG", "PNG", "WEBP", "MPO"}:
            raise UnidentifiedImageError(kind)
        with Image.open(io.BytesIO(upload.data)) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=82, optimize=True)  # no exif= argument: metadata is dropped
            return CleanPhoto(out.getvalue(), image.width, image.height)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Invalid(field, f"{name}: это не фотография в формате JPEG или PNG") from None


def _photos(uploads: list[Upload]) -> list[CleanPhoto]:
    uploads = [u for u in uploads if u.filename or u.data]
    if len(uploads) > MAX_PHOTOS:
        raise Invalid("photos", f"Не больше {MAX_PHOTOS} фотографий")
    return [clean_photo(u) for u in uploads]


# --- filing --------------------------------------------------------------------------------------------------


def appeal_file(
    *,
    actor: User,
    premises: Premises,
    category_id: int | str | None,
    place_kind: str,
    place_detail: str | None,
    text: str,
    photos: list[Upload] = (),
    client_token: str | None = None,
    receipt_line: dict | None = None,
    now: datetime | None = None,
) -> Appeal:
    """Register an appeal: incoming number (per organisation and year), registration time, deadline.

    A repeated submit with the same client token returns the appeal created by the first one.
    `receipt_line` («Оспорить» on a receipt line) is the snapshot `receipt_explain.receipt_line_get` built from
    the owner's own statement — never what a form posted; it is stored as it was when the appeal was filed.
    """
    now = now or utcnow()
    if not access_for(actor).owns(premises):
        raise NotAllowed("Подать обращение по помещению может его собственник")
    if client_token:
        existing = db.session.scalar(
            select(Appeal).where(Appeal.author_id == actor.id, Appeal.client_token == client_token)
        )
        if existing:
            return existing
    org_id = premises.building.organisation_id
    categories = {c.id: c for c in categories_for(org_id)}

    def category():
        try:
            return categories[int(category_id)]
        except (TypeError, ValueError, KeyError):
            raise Invalid("category_id", "Выберите, что случилось") from None

    def place():
        if place_kind not in PLACES:
            raise Invalid("place_kind", "Выберите, где")
        return place_kind

    def body():
        return clean_multiline(text, "text", min_len=10, max_len=4000,
                               short="Опишите, что случилось: не меньше 10 символов")

    values = validate_all(
        {
            "category_id": category,
            "place_kind": place,
            "place_detail": lambda: (
                clean_text(place_detail, "place_detail", "уточнение", max_len=120, required=False) or None
            ),
            "text": body,
            "photos": lambda: _photos(list(photos)),
        }
    )
    cat = values["category_id"]
    local_year = now.astimezone(TZ).year
    seq = _next_number(org_id, local_year)
    appeal = Appeal(
        organisation_id=org_id,
        building_id=premises.building_id,
        premises_id=premises.id,
        author_id=actor.id,
        category_id=cat.id,
        number=f"{local_year}-{seq:06d}",
        year=local_year,
        seq=seq,
        place_kind=values["place_kind"],
        place_detail=values["place_detail"],
        text=values["text"],
        receipt_line=clean_receipt_line(receipt_line),
        registered_at=now,
        deadline_at=deadline_for(cat, now),
        updated_at=now,
        client_token=client_token,
    )
    db.session.add(appeal)
    try:
        db.session.flush()
    except IntegrityError:  # the same client token from a parallel double submit: keep the first
        db.session.rollback()
        return db.session.scalar(
            select(Appeal).where(Appeal.author_id == actor.id, Appeal.client_token == client_token)
        )
    event = AppealEvent(
        appeal_id=appeal.id,
        at=now,
        actor_id=actor.id,
        actor_role="owner",
        kind="registered",
        to_status=S.REGISTERED.value,
        text=None,
    )
    db.session.add(event)
    db.session.flush()
    for photo in values["photos"]:
        db.session.add(
            AppealPhoto(
                appeal_id=appeal.id,
                event_id=event.id,
                uploaded_by_id=actor.id,
                width=photo.width,
                height=photo.height,
                size=len(photo.data),
                data=photo.data,
                created_at=now,
            )
        )
    db.session.commit()
    return appeal


RECEIPT_LINE_KEYS = {"period": 10, "line": 20, "service": 120, "amount": 20, "volume": 30, "unit": 20,
                     "tariff": 30, "rule": 100, "basis": 1000}


def clean_receipt_line(line: dict | None) -> dict | None:
    """The disputed receipt line as stored: the known keys only, as bounded strings."""
    if not isinstance(line, dict):
        return None
    cleaned = {k: str(line[k])[:limit] for k, limit in RECEIPT_LINE_KEYS.items() if line.get(k) not in (None, "")}
    return cleaned if cleaned.get("period") and cleaned.get("service") else None


def dispute_category(categories: list[AppealCategory]) -> AppealCategory | None:
    """The category «Оспорить» preselects: one for charges/receipts if the organisation has it (code BILLING
    or a name about начисления, квитанции, оплата), else the general «Другое», else the first non-emergency one."""
    def about_billing(c: AppealCategory) -> bool:
        name = c.name.lower()
        return c.code.upper() == "BILLING" or any(w in name for w in ("начислен", "квитанц", "оплат", "перерасч"))

    for test in (about_billing, lambda c: c.code.upper() == "OTHER", lambda c: not c.emergency):
        found = next((c for c in categories if test(c)), None)
        if found:
            return found
    return None


def _next_number(organisation_id: int, year: int) -> int:
    """Take the next number under a row lock: parallel filings wait, failures roll the number back."""
    table = AppealCounter.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(
        insert(table)
        .values(organisation_id=organisation_id, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["organisation_id", "year"])
    )
    return db.session.execute(
        update(table)
        .where(table.c.organisation_id == organisation_id, table.c.year == year)
        .values(last=table.c.last + 1)
        .returning(table.c.last)
    ).scalar_one()


# --- who may do what ----------------------------------------------------------------------------------------


def _staff(actor: User, appeal: Appeal) -> bool:
    return access_for(actor).staff_of(appeal.organisation_id)


def appeal_get(*, actor: User, id: int) -> Appeal:  # noqa: A002
    """An appeal its author or the staff of its УК may open; anyone else gets NotFound."""
    appeal = row_get(Appeal, id)
    if appeal.author_id != actor.id and not _staff(actor, appeal):
        raise NotFound(NOT_FOUND)
    return appeal


def staff_appeal_get(*, actor: User, id: int) -> Appeal:  # noqa: A002
    """An appeal of the actor's УК (the staff board); its author gets NotFound here too."""
    appeal = row_get(Appeal, id)
    if not _staff(actor, appeal):
        raise NotFound(NOT_FOUND)
    return appeal


def photo_get(*, actor: User, id: int) -> AppealPhoto:  # noqa: A002
    """A photo of an appeal the actor may open; internal photos for staff only."""
    photo = row_get(AppealPhoto, id)
    appeal = appeal_get(actor=actor, id=photo.appeal_id)
    if photo.internal and not _staff(actor, appeal):
        raise NotFound(NOT_FOUND)
    return photo


def _event(appeal: Appeal, actor: User, now: datetime, **kw) -> AppealEvent:
    event = AppealEvent(
        appeal_id=appeal.id,
        at=now,
        actor_id=actor.id,
        actor_role="staff" if _staff(actor, appeal) else "owner",
        **kw,
    )
    db.session.add(event)
    return event


def _touch(appeal: Appeal, expected_version: int | None, now: datetime) -> None:
    """Optimistic concurrency: a change based on a stale page is refused, not silently merged."""
    if expected_version is not None and expected_version != appeal.version:
        raise Conflict("Пока вы смотрели, обращение изменили. Обновите страницу и повторите действие.")
    result = db.session.execute(
        update(Appeal)
        .where(Appeal.id == appeal.id, Appeal.version == appeal.version)
        .values(version=Appeal.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("Пока вы смотрели, обращение изменили. Обновите страницу и повторите действие.")
    db.session.refresh(appeal)


def allowed_transitions(actor: User, appeal: Appeal, now: datetime) -> list[AppealStatus]:
    result = []
    for (src, dst), who in TRANSITIONS.items():
        if src != appeal.status:
            continue
        if who == "staff" and _staff(actor, appeal):
            result.append(dst)
        elif who == "owner" and appeal.author_id == actor.id:
            if (src, dst) == (S.DONE, S.IN_PROGRESS) and not _reopen_open(appeal, now):
                continue
            result.append(dst)
    return result


def _reopen_open(appeal: Appeal, now: datetime) -> bool:
    return appeal.done_at is not None and now - appeal.done_at <= timedelta(days=REOPEN_DAYS)


def appeal_set_status(
    *,
    actor: User,
    appeal: Appeal,
    to: str,
    reason: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Appeal:
    now = now or utcnow()
    try:
        target = AppealStatus(to)
    except ValueError:
        raise Invalid("status", "Нет такого статуса") from None
    key = (appeal.status, target)
    who = TRANSITIONS.get(key)
    if who is None:
        raise Locked(f"Из статуса «{appeal.status_label}» нельзя перейти в «{APPEAL_STATUS_LABELS[target]}»")
    if who == "staff" and not _staff(actor, appeal):
        raise NotAllowed("Статус меняет управляющая организация")
    if who == "owner" and appeal.author_id != actor.id:
        raise NotAllowed("Это решение принимает автор обращения")
    if key == (S.DONE, S.IN_PROGRESS) and not _reopen_open(appeal, now):
        raise Locked(f"Вернуть в работу можно в течение {REOPEN_DAYS} дней после выполнения. Подайте новое обращение")
    text = clean_text(reason, "reason", "причину", max_len=1000, required=key in NEEDS_REASON) or None
    _touch(appeal, expected_version, now)
    previous = appeal.status
    appeal.status = target
    if target == S.DONE:
        appeal.done_at = now
    if target == S.CLOSED:
        appeal.closed_at = now
    if key == (S.DONE, S.IN_PROGRESS):
        appeal.reopen_count += 1
        appeal.done_at = None
    _event(appeal, actor, now, kind="status", from_status=previous.value, to_status=target.value, text=text)
    _notify_owner(appeal, now, actor)
    db.session.commit()
    return appeal


def appeal_assign(*, actor: User, appeal: Appeal, assignee_id: int | None, now: datetime | None = None) -> Appeal:
    now = now or utcnow()
    if not _staff(actor, appeal):
        raise NotAllowed("Назначает исполнителя управляющая организация")
    assignee = None
    if assignee_id not in (None, ""):  # empty: take the appeal off whoever had it
        key = valid_id(assignee_id)
        assignee = db.session.get(User, key) if key is not None else None
        if assignee is None or not access_for(assignee).staff_of(appeal.organisation_id):
            raise Invalid("assignee_id", "Выберите сотрудника своей организации")
    _touch(appeal, None, now)
    appeal.assignee_id = assignee.id if assignee else None
    _event(appeal, actor, now, kind="assign", text=assignee.full_name if assignee else "снят", internal=True)
    db.session.commit()
    return appeal


def appeal_comment(
    *,
    actor: User,
    appeal: Appeal,
    text: str,
    internal: bool = False,
    photos: list[Upload] = (),
    now: datetime | None = None,
) -> AppealEvent:
    """A public comment (owner or staff, with photos) or an internal note (staff only, never shown to owners)."""
    now = now or utcnow()
    staff = _staff(actor, appeal)
    if not staff and appeal.author_id != actor.id:
        raise NotAllowed("Комментировать может автор обращения или управляющая организация")
    if internal and not staff:
        raise NotAllowed("Внутренние заметки пишут только сотрудники")
    if appeal.status == S.CLOSED:
        raise Locked("Обращение закрыто")
    values = validate_all(
        {"text": lambda: clean_text(text, "text", "комментарий", max_len=2000), "photos": lambda: _photos(list(photos))}
    )
    _touch(appeal, None, now)
    event = _event(appeal, actor, now, kind="note" if internal else "comment", text=values["text"], internal=internal)
    db.session.flush()
    for photo in values["photos"]:
        db.session.add(
            AppealPhoto(
                appeal_id=appeal.id,
                event_id=event.id,
                uploaded_by_id=actor.id,
                internal=internal,
                width=photo.width,
                height=photo.height,
                size=len(photo.data),
                data=photo.data,
                created_at=now,
            )
        )
    if not internal and staff:
        _notify_owner(appeal, now, actor, comment=values["text"])
    db.session.commit()
    return event


def appeal_rate(
    *, actor: User, appeal: Appeal, rating: int | str, comment: str | None = None, now: datetime | None = None
) -> Appeal:
    now = now or utcnow()
    if appeal.author_id != actor.id:
        raise NotAllowed("Оценивает результат автор обращения")
    if appeal.status not in (S.DONE, S.CLOSED):
        raise Locked("Оценить можно выполненное обращение")
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    values = validate_all({
        "rating": lambda: value if 1 <= value <= 5 else _refuse("rating", "Поставьте оценку от 1 до 5"),
        "rating_comment": lambda: (
            clean_text(comment, "rating_comment", "комментарий", max_len=500, required=False) or None
        ),
    })
    _touch(appeal, None, now)
    appeal.rating, appeal.rating_comment = values["rating"], values["rating_comment"]
    _event(
        appeal,
        actor,
        now,
        kind="rating",
        text=f"{value} из 5" + (f": {appeal.rating_comment}" if appeal.rating_comment else ""),
    )
    db.session.commit()
    return appeal


def _refuse(field: str, message: str):
    raise Invalid(field, message)


def _notify_owner(appeal: Appeal, now: datetime, actor: User, comment: str | None = None) -> None:
    """A service message on every status change or public staff comment (if the owner has an email)."""
    owner = appeal.author
    if owner is None or not owner.email or owner.id == actor.id:
        return
    from app.urls import portal_url

    outbox_enqueue(
        to=owner.email,
        subject=f"Обращение № {appeal.number}: {appeal.status_label.lower()}",
        template="appeal_update",
        dedupe_key=f"appeal:{appeal.id}:v{appeal.version}",
        now=now,
        appeal=appeal,
        comment=comment,
        url=portal_url("appeals.detail", appeal_id=appeal.id),
    )


# --- reading ---------------------------------------------------------------------------------------------------


def timeline(actor: User, appeal: Appeal) -> list[tuple[AppealEvent, list[AppealPhoto]]]:
    """Events oldest first with their photos; internal notes and photos only for staff."""
    staff = _staff(actor, appeal)
    query = select(AppealEvent).where(AppealEvent.appeal_id == appeal.id)
    photos_query = select(AppealPhoto.id, AppealPhoto.event_id).where(AppealPhoto.appeal_id == appeal.id)
    if not staff:
        query = query.where(AppealEvent.internal.is_(False))
        photos_query = photos_query.where(AppealPhoto.internal.is_(False))
    by_event: dict[int | None, list] = {}
    for photo_id, event_id in db.session.execute(photos_query.order_by(AppealPhoto.id)):
        by_event.setdefault(event_id, []).append(photo_id)
    return [(e, by_event.get(e.id, [])) for e in db.session.scalars(query.order_by(AppealEvent.id))]


def my_appeals(actor: User) -> list[Appeal]:
    return list(
        db.session.scalars(select(Appeal).where(Appeal.author_id == actor.id).order_by(Appeal.registered_at.desc()))
    )


def list_signature(actor: User) -> str:
    """Changes whenever any of the actor's appeals changes: a cheap check for the polling list."""
    count, total = db.session.execute(
        select(func.count(Appeal.id), func.coalesce(func.sum(Appeal.version), 0)).where(Appeal.author_id == actor.id)
    ).one()
    return f"{count}-{total}"


@dataclass(frozen=True)
class BoardFilters:
    status: str = ""
    overdue: bool = False
    building_id: int | None = None
    category_id: int | None = None
    assignee_id: int | None = None


def board(actor: User, filters: BoardFilters, now: datetime) -> tuple[list[Appeal], dict[str, int]]:
    """Staff board, first page: appeals of the actor's organisations, overdue first, then by deadline."""
    rows, counts, _page = board_page(actor, filters, now)
    return rows, counts


def board_page(actor: User, filters: BoardFilters, now: datetime, *, page: int = 1,
               size: int = PAGE_SIZE) -> tuple[list[Appeal], dict[str, int], Page]:
    """One page of the staff board (overdue first, then by deadline, ordered in SQL) with the counts by status.

    Four queries whatever the number of appeals: counts, overdue count, the page with its category, building
    and premises joined (what `_appeal_row.html` reads), and nothing lazy per row.
    """
    access = access_for(actor)
    if not access.uk_orgs:
        return [], {}, Page(page, size)
    scope = access.uk_orgs_clause(Appeal.organisation_id)
    counts = dict(
        db.session.execute(select(Appeal.status, func.count(Appeal.id)).where(scope).group_by(Appeal.status)).all()
    )
    open_statuses = [S.REGISTERED, S.IN_PROGRESS]
    overdue = and_(Appeal.status.in_(open_statuses), Appeal.deadline_at < now)
    overdue_count = db.session.scalar(select(func.count(Appeal.id)).where(scope, overdue)) or 0
    query = select(Appeal).where(scope)
    if filters.status in {s.value for s in AppealStatus}:
        query = query.where(Appeal.status == filters.status)
    elif filters.status != "all":
        query = query.where(Appeal.status.in_(open_statuses + [S.DONE]))
    if filters.overdue:
        query = query.where(overdue)
    if filters.building_id:
        query = query.where(Appeal.building_id == filters.building_id)
    if filters.category_id:
        query = query.where(Appeal.category_id == filters.category_id)
    if filters.assignee_id:
        query = query.where(Appeal.assignee_id == filters.assignee_id)
    query = query.options(joinedload(Appeal.premises)).order_by(
        case((overdue, 0), else_=1), Appeal.deadline_at, Appeal.id)
    query, finish = paged(query, page, size)
    rows, pager = finish(list(db.session.scalars(query)))
    summary = {s.value: counts.get(s, 0) for s in AppealStatus} | {"overdue": overdue_count}
    return rows, summary, pager


def is_overdue(appeal: Appeal, now: datetime) -> bool:
    return appeal.status in (S.REGISTERED, S.IN_PROGRESS) and appeal.deadline_at < now


def colleagues(actor: User) -> list[User]:
    from app.models import StaffMembership

    access = access_for(actor)
    return list(
        db.session.scalars(
            select(User)
            .join(StaffMembership)
            .where(access.uk_orgs_clause(StaffMembership.organisation_id), User.active.is_(True))
            .order_by(User.full_name)
        )
    )


def board_choices(actor: User) -> tuple[list[Building], list[AppealCategory]]:
    """What the staff board filters by: the buildings of the actor's УК and their appeal categories."""
    access = access_for(actor)
    buildings = list(db.session.scalars(
        select(Building).where(access.uk_buildings_clause()).order_by(Building.street, Building.house)
    ))
    categories = [c for org in sorted(access.uk_orgs) for c in categories_for(org)]
    return buildings, categories
