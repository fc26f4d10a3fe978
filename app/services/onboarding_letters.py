"""Credential letters for a whole building or one entrance: the register of owners and their account states,
accounts issued in bulk for every owner the register knows who has none, new temporary passwords for the lost.

The temporary passwords exist only in the objects these functions return: the caller turns them into one PDF in
the same request and streams it; nothing with a password is stored (only argon2 hashes, as everywhere).
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app.access import access_for, valid_id
from app.extensions import db
from app.models import Building, OwnerRecord, Ownership, Premises, StaffMembership, User
from app.models.base import utcnow
from app.services import passwords
from app.services.accounts import TEMP_PASSWORD_DAYS, same_name
from app.services.audit import audit_record, primary_role
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.letters import Letter
from app.services.manage import ACCOUNT_STATUS_LABELS, account_status

MAX_REISSUE = 300  # one request, one PDF: more than a building needs at once
STATUS_LABELS = {"none": "доступ не выдан", **ACCOUNT_STATUS_LABELS}
NOT_MANAGER = "Выдавать доступ может только управляющая организация или совет этого дома"


@dataclass
class RegisterRow:
    premises: Premises
    full_name: str
    share_label: str
    record: OwnerRecord | None
    user: User | None
    status: str  # none | pending | expired | active | disabled
    may_reissue: bool = False

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class Register:
    building: Building
    entrance: int | None
    rows: list[RegisterRow]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def without_account(self) -> int:
        return self.counts.get("none", 0)


@dataclass(frozen=True)
class LettersResult:
    letters: list[Letter]
    linked: int = 0  # register rows linked to an account the person already had


def _require_manager(actor: User, building: Building) -> None:
    if not access_for(actor).manages(building):
        raise NotAllowed(NOT_MANAGER)


def _premises_query(building: Building, entrance: int | None):
    query = select(Premises.id).where(Premises.building_id == building.id)
    if entrance:
        query = query.where(Premises.entrance == entrance)
    return query


def _users_with_memberships(user_ids) -> dict[int, User]:
    """The accounts with everything `access_for` reads, in a bounded number of queries."""
    if not user_ids:
        return {}
    users = db.session.scalars(
        select(User).where(User.id.in_(sorted(user_ids))).options(
            selectinload(User.ownerships),
            selectinload(User.council_memberships),
            selectinload(User.staff_memberships).joinedload(StaffMembership.organisation),
        )
    ).unique()
    return {u.id: u for u in users}


def owner_register(
    *, actor: User, building: Building, entrance: int | None = None, now: datetime | None = None
) -> Register:
    """Every owner of the building (or entrance) the register or an account knows, with the account's state."""
    _require_manager(actor, building)
    now = now or utcnow()
    premises_ids = _premises_query(building, entrance)
    records = list(db.session.scalars(
        select(OwnerRecord).where(OwnerRecord.premises_id.in_(premises_ids))
    ))
    pairs = db.session.execute(
        select(Ownership.premises_id, Ownership.user_id, Ownership.share_num, Ownership.share_den)
        .where(Ownership.premises_id.in_(premises_ids))
    ).all()
    users = _users_with_memberships({p.user_id for p in pairs} | {r.user_id for r in records if r.user_id})
    premises = {p.id: p for p in db.session.scalars(select(Premises).where(Premises.id.in_(premises_ids)))}
    access = access_for(actor)
    rows: list[RegisterRow] = []
    covered = {(r.premises_id, r.user_id) for r in records if r.user_id}
    accounts_of: dict[int, list[User]] = {}
    for premises_id, user_id, _num, _den in pairs:
        accounts_of.setdefault(premises_id, []).append(users[user_id])
    for record in records:
        user = users.get(record.user_id) if record.user_id else None
        if user is None:  # the person may have had an account before the register: `letters_issue` links it
            user = next((u for u in accounts_of.get(record.premises_id, [])
                         if (record.premises_id, u.id) not in covered and same_name(u.full_name, record.full_name)),
                        None)
        if user is not None:
            covered.add((record.premises_id, user.id))
        rows.append(RegisterRow(premises[record.premises_id], record.full_name, record.share_label, record, user,
                                account_status(user, now) if user else "none"))
    for premises_id, user_id, num, den in pairs:
        if (premises_id, user_id) in covered:
            continue
        user = users[user_id]
        rows.append(RegisterRow(premises[premises_id], user.full_name, "целиком" if num == den else f"{num}/{den}",
                                None, user, account_status(user, now)))
    for row in rows:
        row.may_reissue = row.user is not None and row.user.active and access.may_administer(row.user)
    rows.sort(key=lambda r: (r.premises.sort_key, r.full_name))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return Register(building, entrance, rows, counts)


def _hash_all(secrets_: list[str]) -> list[str]:
    """argon2id hashes of many passwords: the bulk of the work, spread over two threads (argon2 frees the GIL)."""
    if len(secrets_) < 8:
        return [passwords.hash_password(s) for s in secrets_]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(passwords.hash_password, secrets_))


def _lock_building(building: Building) -> None:
    """One bulk issue at a time per building (a no-op on SQLite, whose writers are serialised anyway)."""
    db.session.execute(select(Building.id).where(Building.id == building.id).with_for_update())


def _free_login(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def letters_issue(
    *,
    actor: User,
    building: Building,
    entrance: int | None = None,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> LettersResult:
    """Issue an account to every owner in the register of the building (or entrance) who has none.

    A register row whose person already owns the premises through an account (same name) is linked to it
    instead: running this twice issues nothing new. Every account is audited (`account_issued`)."""
    now = now or utcnow()
    _require_manager(actor, building)
    _lock_building(building)
    records = list(db.session.scalars(
        select(OwnerRecord)
        .where(OwnerRecord.premises_id.in_(_premises_query(building, entrance)), OwnerRecord.user_id.is_(None))
        .options(joinedload(OwnerRecord.premises))
    ))
    records.sort(key=lambda r: (r.premises.sort_key, r.full_name))
    role = primary_role(actor, building.id)
    # People who already have an account on the premises (issued before the register existed) are linked.
    owners_by_premises: dict[int, list[User]] = {}
    if records:
        for premises_id, user in db.session.execute(
            select(Ownership.premises_id, User).join(User, User.id == Ownership.user_id)
            .where(Ownership.premises_id.in_({r.premises_id for r in records}))
        ):
            owners_by_premises.setdefault(premises_id, []).append(user)
    linked_ids = set(db.session.scalars(
        select(OwnerRecord.user_id).where(OwnerRecord.premises_id.in_(_premises_query(building, entrance)),
                                          OwnerRecord.user_id.is_not(None))
    ))
    to_issue, linked = [], 0
    for record in records:
        match = next((u for u in owners_by_premises.get(record.premises_id, [])
                      if u.id not in linked_ids and same_name(u.full_name, record.full_name)), None)
        if match is not None:
            record.user_id, record.updated_at = match.id, now
            linked_ids.add(match.id)
            linked += 1
        else:
            to_issue.append(record)
    bases = {r.id: "ls" + "".join(ch for ch in r.premises.account_number if ch.isdigit()) for r in to_issue}
    taken = set(db.session.scalars(
        select(func.lower(User.login)).where(func.lower(User.login).like("ls%"))
    )) if to_issue else set()
    temporaries = [passwords.generate_temporary_password() for _ in to_issue]
    hashes = _hash_all(temporaries)
    expires = now + timedelta(days=TEMP_PASSWORD_DAYS)
    issued: list[tuple[OwnerRecord, User, str]] = []
    for record, temporary, password_hash in zip(to_issue, temporaries, hashes, strict=True):
        user = User(
            login=_free_login(bases[record.id], taken),
            password_hash=password_hash,
            full_name=record.full_name,
            full_name_locked=True,
            phone=record.phone,
            email=record.email,
            must_change_password=True,
            temp_password_expires_at=expires,
            created_by_id=actor.id,
            created_at=now,
        )
        user.ownerships.append(Ownership(premises_id=record.premises_id, share_num=record.share_num,
                                         share_den=record.share_den))
        db.session.add(user)
        issued.append((record, user, temporary))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Пока выдавались письма, кто-то занял один из логинов. Попробуйте ещё раз") from None
    letters = []
    for record, user, temporary in issued:
        record.user_id, record.updated_at = user.id, now
        audit_record(actor=actor, role=role, action="account_issued", entity_type="user", entity_id=user.id,
                     changes={"premises_id": record.premises_id, "login": user.login,
                              "owner_record_id": record.id, "bulk": True},
                     origin=origin)
        letters.append(Letter(full_name=user.full_name, login=user.login, temporary_password=temporary,
                              expires_at=expires, premises=[record.premises]))
    db.session.commit()
    return LettersResult(letters, linked)


def letters_reissue(
    *,
    actor: User,
    building: Building,
    user_ids,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> LettersResult:
    """New temporary passwords for the chosen owners of the building; ends their sessions (`password_reset`).

    All or nothing: an account the actor may not administer, or that owns nothing in this building, is
    NotFound and nothing changes."""
    now = now or utcnow()
    _require_manager(actor, building)
    ids = []
    for raw in user_ids or []:
        key = valid_id(raw)
        if key is None:
            raise NotFound("Не найдено")
        if key not in ids:
            ids.append(key)
    if not ids:
        raise Invalid("user_ids", "Отметьте собственников, которым нужен новый пароль")
    if len(ids) > MAX_REISSUE:
        raise Invalid("user_ids", f"Не больше {MAX_REISSUE} писем за раз")
    users = _users_with_memberships(ids)
    access = access_for(actor)
    for key in ids:
        user = users.get(key)
        if (user is None or not access.may_administer(user)
                or not any(o.premises.building_id == building.id for o in user.ownerships)):
            raise NotFound("Не найдено")
        if not user.active:
            raise Invalid("user_ids", f"Учётная запись {user.login} отключена: сначала включите её")
    ordered = sorted((users[k] for k in ids), key=lambda u: (min(p.sort_key for p in u.premises_list
                                                                  if p.building_id == building.id), u.full_name))
    temporaries = [passwords.generate_temporary_password() for _ in ordered]
    hashes = _hash_all(temporaries)
    expires = now + timedelta(days=TEMP_PASSWORD_DAYS)
    letters = []
    for user, temporary, password_hash in zip(ordered, temporaries, hashes, strict=True):
        user.password_hash = password_hash
        user.must_change_password = True
        user.temp_password_expires_at = expires
        user.session_version += 1
        audit_record(actor=actor, role=primary_role(actor, building.id), action="password_reset",
                     entity_type="user", entity_id=user.id,
                     changes={"premises_ids": sorted(o.premises_id for o in user.ownerships), "bulk": True},
                     origin=origin)
        letters.append(Letter(full_name=user.full_name, login=user.login, temporary_password=temporary,
                              expires_at=expires, premises=user.premises_list))
    db.session.commit()
    return LettersResult(letters)
