"""Staff accounts of an organisation: create (login + temporary password shown once), change role,
deactivate (ending every session), reactivate, reset the password.

Who: the portal operator for any organisation, a УК admin for their own (`may_administer_staff`). Owner
accounts are administered elsewhere (app/services/accounts.py, `Access.may_administer`): a staff account is
never administered from a building, and an account that also owns premises or sits on a council is
administered here only by someone with authority over those too.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import contains_eager

from app.access import NOT_FOUND, access_for, row_get
from app.extensions import db
from app.models import Organisation, StaffMembership, User, UserSession
from app.models.base import utcnow
from app.models.orgs import OrgKind, StaffRole
from app.services import passwords
from app.services.accounts import LOGIN_RE, TEMP_PASSWORD_DAYS, IssuedCredentials, account_add, find_by_login
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.validation import clean_text, normalize_email, normalize_phone, validate_all

ROLE_LABELS = {StaffRole.STAFF: "Сотрудник", StaffRole.ADMIN: "Администратор"}
LAST_ADMIN = ("Это единственный администратор организации. Сначала назначьте администратором другого "
              "сотрудника")


# --- who may do what --------------------------------------------------------------------------------------

def may_manage_staff_of(actor: User, org: Organisation) -> bool:
    """The staff screens of an organisation: the operator, or the organisation's (УК) admin."""
    access = access_for(actor)
    return access.operator or access.admin_of(org)


def may_administer_staff(actor: User, account: User) -> bool:
    """Authority over a staff account: the rule is Access.may_administer_staff (app/access.py)."""
    return access_for(actor).may_administer_staff(account)


def staff_membership_get(*, actor: User, id: int) -> StaffMembership:  # noqa: A002
    """A membership on an organisation whose staff the actor manages, else NotFound."""
    membership = row_get(StaffMembership, id)
    if not may_manage_staff_of(actor, membership.organisation):
        raise NotFound(NOT_FOUND)
    return membership


def _require_org(actor: User, org: Organisation) -> None:
    if not may_manage_staff_of(actor, org):
        raise NotAllowed("Сотрудников организации ведёт её администратор или оператор портала")


def _require_account(actor: User, membership: StaffMembership, message: str) -> None:
    _require_org(actor, membership.organisation)
    if membership.user_id == actor.id:
        raise NotAllowed("Свою учётную запись так изменить нельзя: попросите другого администратора "
                         "или оператора портала")
    if not may_administer_staff(actor, membership.user):
        raise NotAllowed(message)


# --- lists ------------------------------------------------------------------------------------------------

def staff_list(org: Organisation) -> list[StaffMembership]:
    return list(db.session.scalars(
        select(StaffMembership).join(User, User.id == StaffMembership.user_id)
        .options(contains_eager(StaffMembership.user).selectinload(User.staff_memberships))
        .where(StaffMembership.organisation_id == org.id).order_by(User.full_name, User.id)))


def _active_admins(org_id: int, except_membership: int | None = None) -> int:
    query = (select(func.count(StaffMembership.id)).join(User, User.id == StaffMembership.user_id)
             .where(StaffMembership.organisation_id == org_id, StaffMembership.role == StaffRole.ADMIN,
                    User.active.is_(True)))
    if except_membership is not None:
        query = query.where(StaffMembership.id != except_membership)
    return db.session.scalar(query) or 0


# --- actions ----------------------------------------------------------------------------------------------

def _clean_login(raw: str | None) -> str:
    login = unicodedata.normalize("NFKC", (raw or "").strip().lower())
    if not login:
        raise Invalid("login", "Введите логин сотрудника")
    if not LOGIN_RE.match(login):
        raise Invalid("login", "Логин: от 3 до 64 латинских букв, цифр, точек, дефисов или подчёркиваний, "
                               "начиная с буквы или цифры")
    if find_by_login(login) is not None:
        raise Invalid("login", "Такой логин уже занят. Придумайте другой")
    return login


def _clean_role(raw) -> StaffRole:
    try:
        return StaffRole(raw)
    except ValueError:
        raise Invalid("role", "Выберите роль: сотрудник или администратор") from None


def staff_create(*, actor: User, org: Organisation, full_name: str, login: str, role: str,
                 phone: str | None = None, email: str | None = None, now: datetime | None = None,
                 origin: Origin = NO_ORIGIN) -> IssuedCredentials:
    """A new staff account of the organisation with a temporary password (shown once, stored hashed)."""
    now = now or utcnow()
    _require_org(actor, org)
    if org.kind == OrgKind.OPERATOR:
        raise NotAllowed("Учётные записи операторов здесь не создаются")
    if not org.active:
        raise Invalid("login", "Организация отключена: новых сотрудников в неё не добавить")
    values = validate_all({
        "full_name": lambda: clean_text(full_name, "full_name", "ФИО сотрудника", max_len=200),
        "login": lambda: _clean_login(login),
        "role": lambda: _clean_role(role),
        "phone": lambda: normalize_phone(phone),
        "email": lambda: normalize_email(email),
    })
    temporary = passwords.generate_temporary_password()
    expires = now + timedelta(days=TEMP_PASSWORD_DAYS)
    user = User(login=values["login"], password_hash=passwords.hash_password(temporary),
                full_name=values["full_name"], full_name_locked=False, phone=values["phone"],
                email=values["email"], must_change_password=True, temp_password_expires_at=expires,
                created_by_id=actor.id, created_at=now)
    user.staff_memberships.append(StaffMembership(organisation_id=org.id, role=values["role"]))
    account_add(user)
    audit_record(actor=actor, action="staff_created", entity_type="user", entity_id=user.id,
                 changes={"organisation_id": org.id, "login": user.login, "role": values["role"].value},
                 origin=origin)
    db.session.commit()
    return IssuedCredentials(user, temporary, expires)


def staff_set_role(*, actor: User, membership: StaffMembership, role: str, origin: Origin = NO_ORIGIN) -> None:
    _require_account(actor, membership, "Изменить роль этого сотрудника вы не можете")
    new = _clean_role(role)
    if membership.role == new:
        return
    if membership.role == StaffRole.ADMIN and _active_admins(membership.organisation_id, membership.id) == 0:
        raise Conflict(LAST_ADMIN)
    old = membership.role
    membership.role = new
    audit_record(actor=actor, action="staff_role_changed", entity_type="user", entity_id=membership.user_id,
                 changes={"organisation_id": membership.organisation_id, "role": [old.value, new.value]},
                 origin=origin)
    db.session.commit()


def staff_set_active(*, actor: User, membership: StaffMembership, active: bool, now: datetime | None = None,
                     origin: Origin = NO_ORIGIN) -> None:
    """Deactivate a staff account (every session ends at once) or bring it back."""
    now = now or utcnow()
    _require_account(actor, membership, "Изменить эту учётную запись вы не можете")
    user = membership.user
    if user.active == active:
        return
    if not active:
        for m in user.staff_memberships:
            if m.role == StaffRole.ADMIN and user.active and _active_admins(m.organisation_id, m.id) == 0:
                raise Conflict(LAST_ADMIN)
        user.session_version += 1
        db.session.execute(update(UserSession)
                           .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
                           .values(revoked_at=now, revoked_reason="deactivated"))
    user.active = active
    audit_record(actor=actor, action="staff_activated" if active else "staff_deactivated", entity_type="user",
                 entity_id=user.id, changes={"organisation_id": membership.organisation_id}, origin=origin)
    db.session.commit()


def staff_reset_password(*, actor: User, membership: StaffMembership, now: datetime | None = None,
                         origin: Origin = NO_ORIGIN) -> IssuedCredentials:
    """A new temporary password for a staff account; ends its sessions."""
    now = now or utcnow()
    _require_account(actor, membership, "Сбросить пароль этого сотрудника вы не можете")
    user = membership.user
    if not user.active:
        raise Conflict("Учётная запись отключена. Сначала включите её")
    temporary = passwords.generate_temporary_password()
    expires = now + timedelta(days=TEMP_PASSWORD_DAYS)
    user.password_hash = passwords.hash_password(temporary)
    user.must_change_password = True
    user.temp_password_expires_at = expires
    user.session_version += 1
    db.session.execute(update(UserSession)
                       .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
                       .values(revoked_at=now, revoked_reason="password_reset"))
    audit_record(actor=actor, action="staff_password_reset", entity_type="user", entity_id=user.id,
                 changes={"organisation_id": membership.organisation_id}, origin=origin)
    db.session.commit()
    return IssuedCredentials(user, temporary, expires)
