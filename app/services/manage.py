"""Back-office views: premises with their owners' account states; the account-authority log."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select, true

from app.access import access_for
from app.extensions import db
from app.formatting import TZ
from app.models import (
    AuditLog,
    Building,
    Organisation,
    Ownership,
    OwnershipLinkRequest,
    Premises,
    StaffMembership,
    User,
)
from app.models.base import utcnow
from app.services.errors import Invalid, NotAllowed
from app.services.validation import validate_all

ACCOUNT_STATUS_LABELS = {
    "active": "вход выполнен",
    "pending": "ждёт первого входа",
    "expired": "временный пароль истёк",
    "disabled": "отключена",
}


def account_status(user: User, now: datetime | None = None) -> str:
    now = now or utcnow()
    if not user.active:
        return "disabled"
    if user.must_change_password:
        if user.temp_password_expires_at and user.temp_password_expires_at < now:
            return "expired"
        return "pending"
    return "active"


@dataclass
class PremisesRow:
    premises: Premises
    owners: list[tuple[User, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.owners:
            return "none"
        statuses = {s for _, s in self.owners}
        return "active" if "active" in statuses else "pending"


def building_premises_rows(building: Building, *, entrance: int | None = None, status: str = "") -> list[PremisesRow]:
    """All premises of a building with owners and account states, in two queries."""
    query = select(Premises).where(Premises.building_id == building.id)
    if entrance:
        query = query.where(Premises.entrance == entrance)
    rows = {p.id: PremisesRow(p) for p in db.session.scalars(query)}
    if rows:
        pairs = db.session.execute(
            select(Ownership.premises_id, User)
            .join(User, User.id == Ownership.user_id)
            .where(Ownership.premises_id.in_(rows.keys()))
            .order_by(User.full_name)
        ).all()
        now = utcnow()
        for premises_id, user in pairs:
            rows[premises_id].owners.append((user, account_status(user, now)))
    result = sorted(rows.values(), key=lambda r: r.premises.sort_key)
    if status in {"none", "pending", "active"}:
        result = [r for r in result if r.status == status]
    return result


# --- the account-authority log (/manage/audit) --------------------------------------------------------------

AUDIT_ACTION_LABELS = {
    "account_issued": "выдан доступ (новая учётная запись)",
    "password_reset": "выдан новый пароль",
    "letter_printed": "напечатано письмо с паролем",
    "account_deactivated": "учётная запись отключена",
    "account_activated": "учётная запись включена",
    "link_requested": "отправлен запрос на добавление помещения",
    "link_accepted": "собственник принял запрос",
    "link_declined": "собственник отклонил запрос",
    "link_withdrawn": "запрос отозван",
    "link_expired": "срок запроса истёк",
    "ownership_removed": "доступ к помещению отозван",
    "two_factor_reset": "второй фактор сброшен",
    "organisation_created": "организация добавлена",
    "organisation_updated": "данные организации изменены",
    "organisation_activated": "организация включена",
    "organisation_deactivated": "организация отключена",
    "building_created": "дом добавлен",
    "building_updated": "данные дома изменены",
    "staff_created": "сотрудник добавлен",
    "staff_role_changed": "роль сотрудника изменена",
    "staff_activated": "сотрудник включён",
    "staff_deactivated": "сотрудник отключён",
    "staff_password_reset": "сотруднику выдан новый пароль",
    "council_member_added": "член совета дома добавлен",
    "council_member_removed": "член совета дома исключён",
}
AUDIT_PAGE_SIZE = 50
# Entries whose premises is named only in `changes` (the account may no longer own it).
_PREMISES_IN_CHANGES = ("account_issued", "ownership_removed")


@dataclass
class AuditRow:
    entry: AuditLog
    action_label: str
    target: str
    premises: str


@dataclass
class AuditPage:
    rows: list[AuditRow]
    page: int
    has_next: bool


def _local_day(raw: str | None, field: str) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    for fmt in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise Invalid(field, "Введите дату в виде ДД.ММ.ГГГГ, например 01.11.2026")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), TZ).astimezone(UTC)


def audit_scope(actor: User):
    """Which entries of the account-authority log the actor may read: everything for the operator; for a
    УК admin, what happened to the organisation's buildings, premises and their owners' accounts and what
    its own staff did. A declined request is the owner's private answer: only the operator sees it."""
    access = access_for(actor)
    if access.operator:
        return true()
    if not access.uk_admin_orgs:
        raise NotAllowed("Журнал доступен администратору УК и оператору портала")
    orgs = sorted(access.uk_admin_orgs)
    buildings = select(Building.id).where(Building.organisation_id.in_(orgs))
    premises = select(Premises.id).where(Premises.building_id.in_(buildings))
    return and_(
        or_(
            AuditLog.actor_id.in_(select(StaffMembership.user_id).where(StaffMembership.organisation_id.in_(orgs))),
            and_(AuditLog.entity_type == "user",
                 AuditLog.entity_id.in_(select(Ownership.user_id).where(Ownership.premises_id.in_(premises)))),
            and_(AuditLog.entity_type == "ownership_link_request",
                 AuditLog.entity_id.in_(select(OwnershipLinkRequest.id)
                                        .where(OwnershipLinkRequest.premises_id.in_(premises)))),
            and_(AuditLog.action.in_(_PREMISES_IN_CHANGES),
                 AuditLog.changes["premises_id"].as_integer().in_(premises)),
            and_(AuditLog.entity_type == "organisation", AuditLog.entity_id.in_(orgs)),
            and_(AuditLog.entity_type == "building", AuditLog.entity_id.in_(buildings)),
        ),
        AuditLog.action != "link_declined",
    )


def audit_actions(actor: User) -> dict[str, str]:
    """The actions the actor may filter by (a УК admin never sees the owners' declines)."""
    if access_for(actor).operator:
        return dict(AUDIT_ACTION_LABELS)
    return {k: v for k, v in AUDIT_ACTION_LABELS.items() if k != "link_declined"}


def audit_entries(
    *, actor: User, action: str | None = None, date_from: str | None = None, date_to: str | None = None,
    page: int = 1,
) -> AuditPage:
    """One page (50 rows, newest first) of the account-authority log, in a bounded number of queries."""
    scope = audit_scope(actor)
    action = (action or "").strip()

    def check_action():
        if action and action not in audit_actions(actor):
            raise Invalid("action", "Выберите действие из списка")
        return action

    values = validate_all({
        "action": check_action,
        "date_from": lambda: _local_day(date_from, "date_from"),
        "date_to": lambda: _local_day(date_to, "date_to"),
    })
    start, end = values["date_from"], values["date_to"]
    if start and end and end < start:
        raise Invalid("date_to", "Дата «по» должна быть не раньше даты «с»")
    page = max(1, min(page or 1, 10_000))
    query = select(AuditLog).where(scope, AuditLog.action.in_(list(AUDIT_ACTION_LABELS)))
    if action:
        query = query.where(AuditLog.action == action)
    if start:
        query = query.where(AuditLog.at >= _day_start(start))
    if end:
        query = query.where(AuditLog.at < _day_start(end + timedelta(days=1)))
    entries = list(db.session.scalars(
        query.order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)
    ).unique())
    has_next = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    access = access_for(actor)
    shown_buildings = None
    if not access.operator:  # an owner's premises elsewhere are no business of this УК
        shown_buildings = set(db.session.scalars(
            select(Building.id).where(Building.organisation_id.in_(sorted(access.uk_admin_orgs)))))
    return AuditPage(_audit_rows(entries, shown_buildings), page, has_next)


def _audit_rows(entries: list[AuditLog], shown_buildings: set[int] | None) -> list[AuditRow]:
    """Name the targets of a page of entries with three batch queries (users, requests, premises)."""
    user_ids = {e.entity_id for e in entries if e.entity_type == "user" and e.entity_id}
    request_ids = {e.entity_id for e in entries if e.entity_type == "ownership_link_request" and e.entity_id}
    users = {u.id: u for u in _by_ids(User, user_ids)}
    requests = {r.id: r for r in _by_ids(OwnershipLinkRequest, request_ids)}
    orgs = {o.id: o for o in _by_ids(Organisation, {e.entity_id for e in entries
                                                    if e.entity_type == "organisation" and e.entity_id})}
    houses = {b.id: b for b in _by_ids(Building, {e.entity_id for e in entries
                                                  if e.entity_type == "building" and e.entity_id})}
    premises_ids: set[int] = set()
    for e in entries:
        premises_ids |= set(_premises_of(e, requests))
    premises = {p.id: p for p in _by_ids(Premises, premises_ids)
                if shown_buildings is None or p.building_id in shown_buildings}
    rows = []
    for e in entries:
        if e.entity_type == "user":
            user = users.get(e.entity_id)
            target = f"{user.full_name} (логин {user.login})" if user else f"учётная запись № {e.entity_id}"
        elif e.entity_type == "ownership_link_request":
            request = requests.get(e.entity_id)
            login = (e.changes or {}).get("login") or (request.login if request else "")
            target = f"запрос для логина «{login}»" if login else "запрос"
        elif e.entity_type == "organisation" and e.entity_id in orgs:
            target = orgs[e.entity_id].short_name
        elif e.entity_type == "building" and e.entity_id in houses:
            target = houses[e.entity_id].short_address
        else:
            target = f"{e.entity_type} № {e.entity_id}"
        names = [f"{p.building.short_address}, {p.title}" for i in _premises_of(e, requests) if (p := premises.get(i))]
        rows.append(AuditRow(e, AUDIT_ACTION_LABELS.get(e.action, e.action), target, "; ".join(names)))
    return rows


def _premises_of(entry: AuditLog, requests: dict) -> list[int]:
    changes = entry.changes or {}
    ids = [i for i in changes.get("premises_ids") or [] if isinstance(i, int)]
    if isinstance(changes.get("premises_id"), int):
        ids.append(changes["premises_id"])
    elif entry.entity_type == "ownership_link_request" and entry.entity_id in requests:
        ids.append(requests[entry.entity_id].premises_id)
    return ids


def _by_ids(model, ids):
    if not ids:
        return []
    return db.session.scalars(select(model).where(model.id.in_(sorted(ids)))).unique().all()
