"""Accounts: login, password change, issuing credentials to owners, reset, deactivation, linking premises.

Authority over a person's account (reset, deactivate, unlink, credential letter) needs authority over every
premises the account owns (`Access.may_administer`); linking an existing account to another premises needs
that owner's consent (an `OwnershipLinkRequest` the owner accepts in their profile).
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from app.access import access_for, valid_id
from app.extensions import db
from app.models import LinkStatus, OwnerRecord, Ownership, OwnershipLinkRequest, Premises, User
from app.models.base import utcnow
from app.services import passwords
from app.services.audit import audit_record, primary_role
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.validation import clean_text, normalize_email, normalize_phone, validate_all

TEMP_PASSWORD_DAYS = 14
LINK_REQUEST_DAYS = 14
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
BAD_CREDENTIALS = "Неверный логин или пароль"


@dataclass(frozen=True)
class IssuedCredentials:
    user: User
    temporary_password: str
    expires_at: datetime


def account_add(user: User) -> None:
    """Add a new account to the transaction; a login taken meanwhile (the unique index) is a Conflict."""
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Такой логин только что заняли. Обновите страницу и попробуйте ещё раз") from None


def find_by_login(login: str) -> User | None:
    login = unicodedata.normalize("NFKC", (login or "").strip().lower())  # as logins are made (see below)
    if not login:
        return None
    return db.session.scalar(select(User).where(func.lower(User.login) == login))


def authenticate(*, login: str, password: str, now: datetime | None = None, origin: Origin = NO_ORIGIN) -> User:
    """Return the user for a correct login and password; raise Invalid with one message otherwise."""
    now = now or utcnow()
    user = find_by_login(login)
    if user is None:
        passwords.burn_time()
        raise Invalid("password", BAD_CREDENTIALS)
    if not passwords.verify_password(user.password_hash, password):
        audit_record(actor=user, action="login_failed", entity_type="user", entity_id=user.id, origin=origin)
        db.session.commit()
        raise Invalid("password", BAD_CREDENTIALS)
    # The password is right: from here on the message may say what is wrong with the account.
    if not user.active:
        raise Invalid("login", "Учётная запись отключена. Обратитесь в управляющую организацию.")
    if user.must_change_password and user.temp_password_expires_at and user.temp_password_expires_at < now:
        raise Invalid(
            "password",
            "Срок действия временного пароля истёк. Попросите новый в управляющей организации "
            "или у совета дома.",
        )
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now
    audit_record(actor=user, action="login", entity_type="user", entity_id=user.id, origin=origin)
    db.session.commit()
    return user


def password_change(
    *,
    actor: User,
    current_password: str,
    new_password: str,
    confirm_password: str,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> None:
    """Change the actor's own password; ends every other session of the user."""
    now = now or utcnow()
    if not passwords.verify_password(actor.password_hash, current_password or ""):
        raise Invalid("current_password", "Текущий пароль введён неверно")
    passwords.check_new_password(new_password or "", login=actor.login)
    if new_password == current_password:
        raise Invalid("new_password", "Новый пароль должен отличаться от текущего")
    if new_password != confirm_password:
        raise Invalid("confirm_password", "Пароли не совпадают")
    actor.password_hash = passwords.hash_password(new_password)
    actor.must_change_password = False
    actor.temp_password_expires_at = None
    actor.password_changed_at = now
    actor.session_version += 1
    audit_record(actor=actor, action="password_changed", entity_type="user", entity_id=actor.id, origin=origin)
    db.session.commit()


def _suggest_login(premises: Premises) -> str:
    base = "ls" + re.sub(r"\D", "", premises.account_number)
    candidate, n = base, 1
    while find_by_login(candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _clean_login(raw: str | None, premises: Premises) -> str:
    login = unicodedata.normalize("NFKC", (raw or "").strip().lower())
    if not login:
        return _suggest_login(premises)
    if not LOGIN_RE.match(login):
        raise Invalid(
            "login",
            "Логин: от 3 до 64 латинских букв, цифр, точек, дефисов или подчёркиваний, начиная с буквы или цифры",
        )
    if find_by_login(login) is not None:
        raise Invalid("login", "Такой логин уже занят. Придумайте другой или оставьте поле пустым")
    return login


def _parse_share(raw: str | None, field: str = "share") -> tuple[int, int]:
    raw = (raw or "").strip()
    if not raw or raw in {"1", "1/1"}:
        return 1, 1
    match = re.fullmatch(r"(\d{1,4})\s*/\s*(\d{1,4})", raw)
    if not match:
        raise Invalid(field, "Укажите долю дробью, например 1/2, или оставьте пустым для всей квартиры")
    num, den = int(match.group(1)), int(match.group(2))
    if num <= 0 or den <= 0 or num > den:
        raise Invalid(field, "Доля должна быть больше нуля и не больше единицы, например 1/2")
    return num, den



def _premises_ids(user: User) -> list[int]:
    return sorted(o.premises_id for o in user.ownerships)


def _require_manager(actor: User, premises: Premises, message: str) -> None:
    if not access_for(actor).manages(premises.building):
        raise NotAllowed(message)


def _require_authority(actor: User, user: User, message: str) -> None:
    """Authority over every premises the account owns (or the operator), see Access.may_administer."""
    if not access_for(actor).may_administer(user):
        raise NotAllowed(message)


def account_issue(
    *,
    actor: User,
    premises: Premises,
    full_name: str,
    login: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    share: str | None = None,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> IssuedCredentials:
    """Create an owner account for the premises with a temporary password (shown once)."""
    now = now or utcnow()
    _require_manager(actor, premises, "Выдавать доступ может только управляющая организация или совет этого дома")
    values = validate_all({
        "full_name": lambda: clean_text(full_name, "full_name", "ФИО собственника", max_len=200),
        "login": lambda: _clean_login(login, premises),
        "phone": lambda: normalize_phone(phone),
        "email": lambda: normalize_email(email),
        "share": lambda: _parse_share(share),
    })
    name, login_value, phone_value, email_value = (values[k] for k in ("full_name", "login", "phone", "email"))
    share_num, share_den = values["share"]

    temporary = passwords.generate_temporary_password()
    expires = now + timedelta(days=TEMP_PASSWORD_DAYS)
    user = User(
        login=login_value,
        password_hash=passwords.hash_password(temporary),
        full_name=name,
        full_name_locked=True,
        phone=phone_value,
        email=email_value,
        must_change_password=True,
        temp_password_expires_at=expires,
        created_by_id=actor.id,
        created_at=now,
    )
    user.ownerships.append(Ownership(premises_id=premises.id, share_num=share_num, share_den=share_den))
    account_add(user)
    owner_record_link(premises=premises, user=user, share=(share_num, share_den), now=now)
    audit_record(
        actor=actor,
        role=primary_role(actor, premises.building_id),
        action="account_issued",
        entity_type="user",
        entity_id=user.id,
        changes={"premises_id": premises.id, "login": login_value},
        origin=origin,
    )
    db.session.commit()
    return IssuedCredentials(user, temporary, expires)


def same_name(a: str, b: str) -> bool:
    """Whether two spellings of a full name are the same person's (case, spaces and ё/е aside)."""

    def norm(value: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", value or "").replace("ё", "е").replace("Ё", "Е").lower().split())

    return norm(a) == norm(b)


def owner_record_link(*, premises: Premises, user: User, share: tuple[int, int], now: datetime) -> OwnerRecord:
    """Keep the register of owners in step with an account just issued for the premises: the register's row
    for this person (same name, no account yet) is linked to the account, or a row is added. The caller
    commits."""
    records = list(db.session.scalars(select(OwnerRecord).where(OwnerRecord.premises_id == premises.id)))
    record = next((r for r in records if r.user_id == user.id), None)
    if record is None:
        record = next((r for r in records if r.user_id is None and same_name(r.full_name, user.full_name)), None)
    if record is None:
        if any(same_name(r.full_name, user.full_name) for r in records):
            # The register already names this person with another account: keep the register as it is.
            return next(r for r in records if same_name(r.full_name, user.full_name))
        record = OwnerRecord(premises_id=premises.id, full_name=user.full_name, share_num=share[0],
                             share_den=share[1], phone=user.phone, email=user.email, source="manual",
                             created_at=now)
        db.session.add(record)
    record.user_id = user.id
    record.updated_at = now
    db.session.flush()
    return record


def account_reset(
    *, actor: User, user: User, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> IssuedCredentials:
    """Issue a new temporary password; ends the user's sessions."""
    now = now or utcnow()
    _require_authority(actor, user, "Сбросить пароль этой учётной записи вы не можете")
    temporary = passwords.generate_temporary_password()
    expires = now + timedelta(days=TEMP_PASSWORD_DAYS)
    user.password_hash = passwords.hash_password(temporary)
    user.must_change_password = True
    user.temp_password_expires_at = expires
    user.session_version += 1
    audit_record(actor=actor, action="password_reset", entity_type="user", entity_id=user.id,
                 changes={"premises_ids": _premises_ids(user)}, origin=origin)
    db.session.commit()
    return IssuedCredentials(user, temporary, expires)


def account_set_active(*, actor: User, user: User, active: bool, origin: Origin = NO_ORIGIN) -> None:
    """Deactivate (ending every session) or reactivate an owner account."""
    _require_authority(actor, user, "Изменить эту учётную запись вы не можете")
    if user.active == active:
        return
    user.active = active
    if not active:
        user.session_version += 1
    audit_record(
        actor=actor,
        action="account_activated" if active else "account_deactivated",
        entity_type="user",
        entity_id=user.id,
        changes={"premises_ids": _premises_ids(user)},
        origin=origin,
    )
    db.session.commit()


LETTER_UNAVAILABLE = "Письмо можно распечатать, только пока временный пароль действует и не изменён"


def account_letter_print(
    *, actor: User, user: User, temporary_password: str, origin: Origin = NO_ORIGIN
) -> None:
    """Allow printing the credential letter and record it; only whoever holds the still-unused temporary
    password (and has authority over the account) may print it. Raises Invalid('password') otherwise."""
    _require_authority(actor, user, "Печатать письма для этой учётной записи вы не можете")
    if not user.must_change_password or not passwords.verify_password(user.password_hash, temporary_password or ""):
        raise Invalid("password", LETTER_UNAVAILABLE)
    audit_record(actor=actor, action="letter_printed", entity_type="user", entity_id=user.id,
                 changes={"premises_ids": _premises_ids(user)}, origin=origin)
    db.session.commit()


def user_create(
    *, login: str, password: str, full_name: str, is_operator: bool = False, must_change: bool = False
) -> User:
    """Create an account directly (CLI and demo data)."""
    if find_by_login(login) is not None:
        raise Invalid("login", f"Логин {login} уже занят")
    user = User(
        login=login.strip().lower(),
        password_hash=passwords.hash_password(password),
        full_name=full_name,
        is_operator=is_operator,
        must_change_password=must_change,
    )
    db.session.add(user)
    return user


def ownership_remove(*, actor: User, premises: Premises, user: User, origin: Origin = NO_ORIGIN) -> None:
    """Withdraw a person's access to one premises (e.g. the apartment was sold)."""
    _require_manager(actor, premises, "Отозвать этот доступ вы не можете")
    _require_authority(actor, user, "Отозвать этот доступ вы не можете")
    ownership = next((o for o in user.ownerships if o.premises_id == premises.id), None)
    if ownership is None:
        raise NotFound("У этой учётной записи нет доступа к помещению")
    user.ownerships.remove(ownership)
    audit_record(actor=actor, role=primary_role(actor, premises.building_id), action="ownership_removed",
                 entity_type="user", entity_id=user.id, changes={"premises_id": premises.id}, origin=origin)
    db.session.commit()


# --- linking an existing account to another premises: a request the owner accepts --------------------------

LINK_REQUESTED = (
    "Если учётная запись с таким логином существует, её владелец увидит запрос в личном кабинете "
    "и сможет его принять."
)
LINK_CLOSED = "Этот запрос уже закрыт. Обновите страницу"
LINK_EXPIRED = "Срок действия запроса истёк. Если помещение ваше, попросите прислать новый запрос"


def _clean_link_login(raw: str | None) -> str:
    """The typed login, normalised as logins are; only its form is checked (never whether it exists)."""
    login = unicodedata.normalize("NFKC", (raw or "").strip().lower())
    if not login:
        raise Invalid("existing_login", "Введите логин собственника")
    if len(login) > 64:
        raise Invalid("existing_login", "Логин не длиннее 64 символов")
    return login


def _link_target(login: str, premises: Premises) -> User | None:
    """The owner account to ask, or None: no such login, a staff/supplier/operator account, or one that
    already owns the premises. The caller must not let the answer show."""
    user = find_by_login(login)
    if user is None or user.is_operator:
        return None
    if user.has_role("staff", "rso", "operator") and not user.ownerships:
        return None
    if any(o.premises_id == premises.id for o in user.ownerships):
        return None
    return user


def _staff_visible(now: datetime):
    """Requests the staff still see: not accepted, not withdrawn by them, not past their term.

    A declined request looks like an unanswered one until it expires, and a request for a login that does
    not exist looks the same too: the staff learn only what the owner's acceptance tells them."""
    return and_(
        OwnershipLinkRequest.status.in_([LinkStatus.PENDING, LinkStatus.DECLINED]),
        OwnershipLinkRequest.withdrawn_at.is_(None),
        OwnershipLinkRequest.expires_at > now,
    )


def _expire_stale(premises_id: int, login: str, now: datetime) -> None:
    db.session.execute(
        update(OwnershipLinkRequest)
        .where(OwnershipLinkRequest.premises_id == premises_id, OwnershipLinkRequest.login == login,
               OwnershipLinkRequest.status == LinkStatus.PENDING, OwnershipLinkRequest.expires_at <= now)
        .values(status=LinkStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )


def ownership_link_request(
    *,
    actor: User,
    premises: Premises,
    login: str,
    share: str | None = None,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> None:
    """Ask the holder of a login to accept the premises (one person, several apartments).

    Returns nothing on purpose: whatever the login (none, a staff account, already an owner here, a real
    owner), the same row is written and the caller shows the same LINK_REQUESTED message."""
    now = now or utcnow()
    _require_manager(actor, premises, "Выдавать доступ может только управляющая организация или совет этого дома")
    values = validate_all({
        "existing_login": lambda: _clean_link_login(login),
        "existing_share": lambda: _parse_share(share, field="existing_share"),
    })
    login_value = values["existing_login"]
    share_num, share_den = values["existing_share"]
    role = primary_role(actor, premises.building_id)
    _expire_stale(premises.id, login_value, now)
    existing = db.session.scalar(
        select(OwnershipLinkRequest).where(OwnershipLinkRequest.premises_id == premises.id,
                                           OwnershipLinkRequest.login == login_value, _staff_visible(now))
    )
    if existing is None:
        target = _link_target(login_value, premises)
        existing = OwnershipLinkRequest(
            premises_id=premises.id, login=login_value, user_id=target.id if target else None,
            share_num=share_num, share_den=share_den, requested_by_id=actor.id, requested_role=role,
            created_at=now, expires_at=now + timedelta(days=LINK_REQUEST_DAYS), status=LinkStatus.PENDING,
        )
        db.session.add(existing)
        try:
            db.session.flush()
        except IntegrityError:  # the same request made at the same moment: it exists now, which is the goal
            db.session.rollback()
            return
        repeat = False
    else:
        repeat = True
    audit_record(actor=actor, role=role, action="link_requested", entity_type="ownership_link_request",
                 entity_id=existing.id,
                 changes={"premises_id": premises.id, "login": login_value, "share": f"{share_num}/{share_den}",
                          **({"repeat": True} if repeat else {})},
                 origin=origin)
    db.session.commit()


def link_requests_for_premises(*, actor: User, premises: Premises, now: datetime | None = None):
    """The requests the staff see on the premises page (see _staff_visible)."""
    _require_manager(actor, premises, "Запросы видят только управляющая организация и совет этого дома")
    return list(db.session.scalars(
        select(OwnershipLinkRequest)
        .where(OwnershipLinkRequest.premises_id == premises.id, _staff_visible(now or utcnow()))
        .order_by(OwnershipLinkRequest.created_at, OwnershipLinkRequest.id)
    ))


def link_requests_for_owner(*, actor: User, now: datetime | None = None) -> list[OwnershipLinkRequest]:
    """Pending requests addressed to the actor's own account."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(OwnershipLinkRequest)
        .where(OwnershipLinkRequest.user_id == actor.id, OwnershipLinkRequest.status == LinkStatus.PENDING,
               OwnershipLinkRequest.expires_at > now)
        .order_by(OwnershipLinkRequest.created_at, OwnershipLinkRequest.id)
    ))


def _own_request(actor: User, request_id) -> OwnershipLinkRequest:
    key = valid_id(request_id)
    request = db.session.get(OwnershipLinkRequest, key) if key is not None else None
    if request is None or request.user_id != actor.id:
        raise NotFound("Запрос не найден")
    return request


def _decide(actor: User, request_id, status: LinkStatus, now: datetime, origin: Origin) -> OwnershipLinkRequest:
    """The owner's answer to a request still open; an overdue one is closed instead (and says so)."""
    request = _own_request(actor, request_id)
    if request.status != LinkStatus.PENDING or request.withdrawn_at is not None:
        raise Conflict(LINK_CLOSED)
    if request.expires_at <= now:
        request.status = LinkStatus.EXPIRED
        audit_record(actor=None, action="link_expired", entity_type="ownership_link_request",
                     entity_id=request.id, changes={"premises_id": request.premises_id}, origin=origin)
        db.session.commit()
        raise Conflict(LINK_EXPIRED)
    request.status = status
    request.decided_at = now
    return request


def link_request_accept(
    *, actor: User, request_id: int, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> Ownership:
    """The owner accepts: only now is the Ownership created."""
    request = _decide(actor, request_id, LinkStatus.ACCEPTED, now or utcnow(), origin)
    ownership = Ownership(user_id=actor.id, premises_id=request.premises_id,
                          share_num=request.share_num, share_den=request.share_den)
    db.session.add(ownership)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Это помещение уже есть в вашей учётной записи. Обновите страницу") from None
    audit_record(actor=actor, role="owner", action="link_accepted", entity_type="ownership_link_request",
                 entity_id=request.id,
                 changes={"premises_id": request.premises_id, "user_id": actor.id,
                          "share": f"{request.share_num}/{request.share_den}"},
                 origin=origin)
    db.session.commit()
    return ownership


def link_request_decline(
    *, actor: User, request_id: int, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> None:
    """The owner declines: nothing is shared, and the staff are not told (see _staff_visible)."""
    request = _decide(actor, request_id, LinkStatus.DECLINED, now or utcnow(), origin)
    audit_record(actor=actor, role="owner", action="link_declined", entity_type="ownership_link_request",
                 entity_id=request.id, changes={"premises_id": request.premises_id}, origin=origin)
    db.session.commit()


def link_request_withdraw(
    *, actor: User, premises: Premises, request_id: int, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> None:
    """The staff or council take back a request they see on the premises page."""
    now = now or utcnow()
    _require_manager(actor, premises, "Отозвать запрос может только управляющая организация или совет этого дома")
    key = valid_id(request_id)
    request = db.session.get(OwnershipLinkRequest, key) if key is not None else None
    if request is None or request.premises_id != premises.id:
        raise NotFound("Запрос не найден")
    visible = (request.status in (LinkStatus.PENDING, LinkStatus.DECLINED) and request.withdrawn_at is None
               and request.expires_at > now)
    if not visible:
        raise Conflict(LINK_CLOSED)
    if request.status == LinkStatus.PENDING:
        request.status = LinkStatus.WITHDRAWN
    request.withdrawn_at = now
    audit_record(actor=actor, role=primary_role(actor, premises.building_id), action="link_withdrawn",
                 entity_type="ownership_link_request", entity_id=request.id,
                 changes={"premises_id": premises.id, "login": request.login}, origin=origin)
    db.session.commit()


def link_requests_expire(*, now: datetime | None = None, origin: Origin = NO_ORIGIN) -> int:
    """Close every pending request past its term (a periodic job; answering one also closes it)."""
    now = now or utcnow()
    overdue = list(db.session.scalars(
        select(OwnershipLinkRequest)
        .where(OwnershipLinkRequest.status == LinkStatus.PENDING, OwnershipLinkRequest.expires_at <= now)
        .with_for_update(skip_locked=True, of=OwnershipLinkRequest)  # not the eager-joined tables
    ))
    for request in overdue:
        request.status = LinkStatus.EXPIRED
        audit_record(actor=None, action="link_expired", entity_type="ownership_link_request",
                     entity_id=request.id, changes={"premises_id": request.premises_id}, origin=origin)
    db.session.commit()
    return len(overdue)
