"""Accounts: login, password change, issuing credentials to owners, reset, deactivation."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Ownership, Premises, User
from app.models.base import utcnow
from app.permissions import can_manage_account, can_manage_building
from app.services import passwords
from app.services.audit import audit_record, primary_role
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.validation import clean_text, normalize_email, normalize_phone, validate_all

TEMP_PASSWORD_DAYS = 14
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
BAD_CREDENTIALS = "Неверный логин или пароль"


@dataclass(frozen=True)
class IssuedCredentials:
    user: User
    temporary_password: str
    expires_at: datetime


def find_by_login(login: str) -> User | None:
    login = (login or "").strip().lower()
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
    if not can_manage_building(actor, premises.building):
        raise NotAllowed("Выдавать доступ может только управляющая организация или совет этого дома")
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
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Такой логин только что заняли. Обновите страницу и попробуйте ещё раз") from None
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


def account_reset(
    *, actor: User, user: User, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> IssuedCredentials:
    """Issue a new temporary password; ends the user's sessions."""
    now = now or utcnow()
    if not can_manage_account(actor, user):
        raise NotAllowed("Сбросить пароль этой учётной записи вы не можете")
    temporary = passwords.generate_temporary_password()
    expires = now + timedelta(days=TEMP_PASSWORD_DAYS)
    user.password_hash = passwords.hash_password(temporary)
    user.must_change_password = True
    user.temp_password_expires_at = expires
    user.session_version += 1
    audit_record(actor=actor, action="password_reset", entity_type="user", entity_id=user.id, origin=origin)
    db.session.commit()
    return IssuedCredentials(user, temporary, expires)


def account_set_active(*, actor: User, user: User, active: bool, origin: Origin = NO_ORIGIN) -> None:
    """Deactivate (ending every session) or reactivate an owner account."""
    if not can_manage_account(actor, user):
        raise NotAllowed("Изменить эту учётную запись вы не можете")
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
        origin=origin,
    )
    db.session.commit()


def letter_password_matches(*, actor: User, user: User, temporary_password: str) -> bool:
    """The credential letter is printed only by whoever holds the still-unused temporary password."""
    if not can_manage_account(actor, user) or not user.must_change_password:
        return False
    return passwords.verify_password(user.password_hash, temporary_password or "")


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


def ownership_add(
    *, actor: User, premises: Premises, login: str, share: str | None = None, origin: Origin = NO_ORIGIN
) -> Ownership:
    """Give an existing owner account access to one more premises (one person, several apartments)."""
    if not can_manage_building(actor, premises.building):
        raise NotAllowed("Выдавать доступ может только управляющая организация или совет этого дома")
    values = validate_all({
        "existing_login": lambda: _existing_owner_account(login, premises),
        "existing_share": lambda: _parse_share(share, field="existing_share"),
    })
    user = values["existing_login"]
    share_num, share_den = values["existing_share"]
    ownership = Ownership(user_id=user.id, premises_id=premises.id, share_num=share_num, share_den=share_den)
    db.session.add(ownership)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Доступ к этому помещению только что выдали. Обновите страницу") from None
    audit_record(actor=actor, role=primary_role(actor, premises.building_id), action="ownership_added",
                 entity_type="user", entity_id=user.id, changes={"premises_id": premises.id}, origin=origin)
    db.session.commit()
    return ownership


def _existing_owner_account(login: str | None, premises: Premises) -> User:
    user = find_by_login(login or "")
    if user is None:
        raise Invalid("existing_login", "Учётной записи с таким логином нет. Проверьте логин")
    if user.has_role("staff", "rso", "operator") and not user.ownerships:
        raise Invalid("existing_login", "Это учётная запись сотрудника, к помещению её привязать нельзя")
    if any(o.premises_id == premises.id for o in user.ownerships):
        raise Invalid("existing_login", "У этой учётной записи уже есть доступ к этому помещению")
    return user


def ownership_remove(*, actor: User, premises: Premises, user: User, origin: Origin = NO_ORIGIN) -> None:
    """Withdraw a person's access to one premises (e.g. the apartment was sold)."""
    if not can_manage_building(actor, premises.building) or not can_manage_account(actor, user):
        raise NotAllowed("Отозвать этот доступ вы не можете")
    ownership = next((o for o in user.ownerships if o.premises_id == premises.id), None)
    if ownership is None:
        raise NotFound("У этой учётной записи нет доступа к помещению")
    user.ownerships.remove(ownership)
    audit_record(actor=actor, role=primary_role(actor, premises.building_id), action="ownership_removed",
                 entity_type="user", entity_id=user.id, changes={"premises_id": premises.id}, origin=origin)
    db.session.commit()
