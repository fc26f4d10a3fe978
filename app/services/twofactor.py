"""The second factor: TOTP (RFC 6238, an authenticator app) with one-time recovery codes.

Rules:
- A code is accepted for the current 30-second step and one step either side (clock drift); a step once
  accepted is never accepted again for that user (no replay), enforced by one conditional UPDATE so that
  two simultaneous requests with the same code cannot both pass.
- Recovery codes: 10, shown once, stored as SHA-256 (they carry ~59 bits of randomness, so a slow hash
  adds nothing); each is consumed by a conditional UPDATE.
- Staff of a УК or a supplier, council members and operators must use a second factor after a grace period
  (TWO_FACTOR_GRACE_DAYS) counted from users.two_factor_required_since, which is set the first time such
  an account logs in without one. Owners may opt in.
- The TOTP secret is stored sealed with a key derived from SECRET_KEY (HMAC-SHA256 keystream and tag) and is
  never shown again after enrolment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update

from app.extensions import db
from app.models import RecoveryCode, User, UserSession, UserTotp
from app.models.base import utcnow
from app.models.people import Role
from app.services import passwords
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound

STEP_SECONDS = 30
VALID_WINDOW = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i
RECOVERY_GROUPS, RECOVERY_GROUP_LEN = 3, 4
DEFAULT_GRACE_DAYS = 14
REQUIRED_ROLES = (Role.STAFF, Role.UK_ADMIN, Role.RSO, Role.COUNCIL, Role.OPERATOR)

CODE_FIELD = "code"
LOGIN_FIELD = "login"  # the login step cannot go on: start again from the password
MSG_EMPTY = "Введите код из приложения или код восстановления"
MSG_WRONG = "Неверный код. Проверьте, что время на телефоне верное, и введите новый код из приложения."
MSG_REPLAY = "Этот код уже использован. Дождитесь следующего кода: он меняется каждые 30 секунд."
MSG_WRONG_ENROL = "Неверный код. Введите шесть цифр, которые сейчас показывает приложение."
MSG_NO_ENROLMENT = "Подключение не начато или уже завершено. Начните заново."
MSG_EXPIRED_LOGIN = "Время на ввод кода истекло. Войдите заново с логином и паролем."


# --- who must use it ------------------------------------------------------------------------------------------

def required_for(user: User) -> bool:
    """Staff (УК and suppliers), council members and operators must use a second factor."""
    return user.has_role(*REQUIRED_ROLES)


def grace_start(*, user: User, now: datetime) -> bool:
    """Start the grace period at the first login without a second factor (the caller commits)."""
    if user.two_factor_required_since is None and required_for(user):
        user.two_factor_required_since = now
        return True
    return False


@dataclass(frozen=True)
class Requirement:
    state: str  # "none" (not required or already in use), "grace" (prompt) or "overdue" (enrol before anything else)
    deadline: datetime | None = None

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"

    @property
    def in_grace(self) -> bool:
        return self.state == "grace"


def requirement(*, user: User, two_factor_passed: bool, now: datetime,
                grace_days: int = DEFAULT_GRACE_DAYS) -> Requirement:
    """Where the user stands for this session. `two_factor_passed` is the session's flag: a live session of a
    user with a second factor always has it (enrolment ends the other sessions, logins ask for a code)."""
    if two_factor_passed or user.two_factor_required_since is None or not required_for(user):
        return Requirement("none")
    deadline = user.two_factor_required_since + timedelta(days=grace_days)
    return Requirement("overdue" if now >= deadline else "grace", deadline)


# --- the secret -------------------------------------------------------------------------------------------

def _keys() -> tuple[bytes, bytes]:
    from flask import current_app

    root = hashlib.sha256(b"portal-totp-v1:" + current_app.config["SECRET_KEY"].encode()).digest()
    return (hmac.new(root, b"enc", hashlib.sha256).digest(), hmac.new(root, b"mac", hashlib.sha256).digest())


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def _seal(secret: str) -> str:
    enc_key, mac_key = _keys()
    nonce = secrets.token_bytes(16)
    plain = secret.encode()
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(enc_key, nonce, len(plain)), strict=True))
    tag = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()[:16]
    return "v1:" + base64.urlsafe_b64encode(nonce + cipher + tag).decode()


def _unseal(sealed: str) -> str:
    if not sealed.startswith("v1:"):
        raise ValueError("unknown TOTP secret format")
    enc_key, mac_key = _keys()
    raw = base64.urlsafe_b64decode(sealed[3:])
    nonce, cipher, tag = raw[:16], raw[16:-16], raw[-16:]
    if not hmac.compare_digest(tag, hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()[:16]):
        raise ValueError("TOTP secret does not match SECRET_KEY")
    return bytes(a ^ b for a, b in zip(cipher, _keystream(enc_key, nonce, len(cipher)), strict=True)).decode()


def _clean(code: str | None) -> str:
    return re.sub(r"[\s-]+", "", code or "").lower()


def _step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _matching_steps(secret: str, code: str, now: datetime) -> list[int]:
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = _step(now)
    return [s for s in range(current - VALID_WINDOW, current + VALID_WINDOW + 1)
            if hmac.compare_digest(totp.at(s * STEP_SECONDS), code)]


# --- selectors --------------------------------------------------------------------------------------------

def totp_of(user: User) -> UserTotp | None:
    return db.session.get(UserTotp, user.id)


def is_enabled(user: User) -> bool:
    return db.session.scalar(
        select(func.count()).select_from(UserTotp).where(UserTotp.user_id == user.id,
                                                          UserTotp.confirmed_at.is_not(None))
    ) > 0


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                              RecoveryCode.used_at.is_(None))
    )


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_data_uri: str

    @property
    def secret_groups(self) -> list[str]:
        return [self.secret[i:i + 4] for i in range(0, len(self.secret), 4)]


def _enrolment(user: User, secret: str, issuer: str) -> Enrolment:
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=user.login, issuer_name=issuer)
    qr = segno.make(uri, error="m")
    return Enrolment(secret=secret, uri=uri, qr_data_uri=qr.svg_data_uri(scale=5, border=2, dark="#000"))


def enrolment_pending(*, actor: User, issuer: str) -> Enrolment | None:
    """The enrolment the actor has started and not confirmed yet (the QR code is shown until confirmed)."""
    row = totp_of(actor)
    if row is None or row.confirmed_at is not None:
        return None
    return _enrolment(actor, _unseal(row.secret), issuer)


# --- enrolment, disabling, recovery codes ------------------------------------------------------------------

def enrolment_begin(*, actor: User, issuer: str, now: datetime | None = None) -> Enrolment:
    """Start (or restart) connecting an authenticator app: a fresh secret, not in force until confirmed."""
    now = now or utcnow()
    row = totp_of(actor)
    if row is not None and row.confirmed_at is not None:
        raise Conflict("Вход с кодом уже включён. Чтобы подключить другой телефон, сначала отключите его.")
    secret = pyotp.random_base32(32)
    if row is None:
        row = UserTotp(user_id=actor.id, secret=_seal(secret), created_at=now)
        db.session.add(row)
    else:
        row.secret, row.created_at, row.last_used_step = _seal(secret), now, None
    db.session.commit()
    return _enrolment(actor, secret, issuer)


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUPS * RECOVERY_GROUP_LEN))
        codes.append("-".join(raw[i:i + RECOVERY_GROUP_LEN] for i in range(0, len(raw), RECOVERY_GROUP_LEN)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user.id, raw), created_at=now))
    return codes


def _recovery_hash(user_id: int, cleaned: str) -> str:
    return hashlib.sha256(f"{user_id}:{cleaned}".encode()).hexdigest()


def enrolment_confirm(
    *,
    actor: User,
    code: str | None,
    session_token: str | None = None,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> list[str]:
    """Confirm the app with a current code: the second factor is in force from now on.

    Returns the 10 recovery codes (shown once). This session counts as passed; every other session of the
    user, opened without a code, ends.
    """
    now = now or utcnow()
    row = totp_of(actor)
    if row is None or row.confirmed_at is not None:
        raise Invalid(CODE_FIELD, MSG_NO_ENROLMENT)
    code = _clean(code)
    if not code:
        raise Invalid(CODE_FIELD, "Введите шесть цифр из приложения")
    steps = _matching_steps(_unseal(row.secret), code, now) if re.fullmatch(r"\d{6}", code) else []
    if not steps:
        raise Invalid(CODE_FIELD, MSG_WRONG_ENROL)
    row.confirmed_at = now
    row.last_used_step = max(steps)
    codes = _new_recovery_codes(actor, now)
    current_id = None
    if session_token:
        current_id = db.session.scalar(select(UserSession.id).where(
            UserSession.token_hash == UserSession.hash_token(session_token), UserSession.user_id == actor.id))
    if current_id is not None:
        db.session.execute(update(UserSession).where(UserSession.id == current_id).values(two_factor_passed=True))
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == actor.id, UserSession.revoked_at.is_(None),
               UserSession.two_factor_passed.is_(False), UserSession.id != (current_id or 0))
        .values(revoked_at=now, revoked_reason="two_factor_enabled")
    )
    audit_record(actor=actor, action="two_factor_enabled", entity_type="user", entity_id=actor.id, origin=origin)
    db.session.commit()
    return codes


def _verify(user: User, code: str | None, now: datetime, origin: Origin) -> str:
    """Check a TOTP or recovery code and consume it (the caller commits). Returns "totp" or "recovery".

    A failure is audited and committed before Invalid is raised."""
    cleaned = _clean(code)
    if not cleaned:
        raise Invalid(CODE_FIELD, MSG_EMPTY)
    row = totp_of(user)
    if row is None or row.confirmed_at is None:
        raise Invalid(CODE_FIELD, MSG_WRONG)
    message = MSG_WRONG
    if re.fullmatch(r"\d{6}", cleaned):
        steps = _matching_steps(_unseal(row.secret), cleaned, now)
        if steps:
            step = max(steps)
            taken = db.session.execute(
                update(UserTotp)
                .where(UserTotp.user_id == user.id,
                       or_(UserTotp.last_used_step.is_(None), UserTotp.last_used_step < step))
                .values(last_used_step=step)
            ).rowcount
            if taken == 1:
                return "totp"
            message = MSG_REPLAY
    elif len(cleaned) == RECOVERY_GROUPS * RECOVERY_GROUP_LEN:
        used = db.session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_hash(user.id, cleaned),
                   RecoveryCode.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
        if used == 1:
            audit_record(actor=user, action="recovery_code_used", entity_type="user", entity_id=user.id,
                         origin=origin)
            return "recovery"
    db.session.rollback()
    audit_record(actor=user, action="two_factor_failed", entity_type="user", entity_id=user.id,
                 changes={"reason": "replay" if message == MSG_REPLAY else "wrong"}, origin=origin)
    db.session.commit()
    raise Invalid(CODE_FIELD, message)


def code_check(*, actor: User, code: str | None, now: datetime | None = None, origin: Origin = NO_ORIGIN) -> str:
    """Check and consume one code of the actor (e.g. before a sensitive change). Returns "totp" or "recovery"."""
    kind = _verify(actor, code, now or utcnow(), origin)
    db.session.commit()
    return kind


def two_factor_disable(
    *,
    actor: User,
    password: str | None,
    code: str | None,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> None:
    """Turn the second factor off: needs the password and a current code (or a recovery code)."""
    now = now or utcnow()
    if not passwords.verify_password(actor.password_hash, password or ""):
        raise Invalid("password", "Пароль введён неверно")
    _verify(actor, code, now, origin)
    _remove(actor)
    audit_record(actor=actor, action="two_factor_disabled", entity_type="user", entity_id=actor.id, origin=origin)
    db.session.commit()


def _remove(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(UserTotp).where(UserTotp.user_id == user.id))
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id).values(two_factor_passed=False))
    db.session.expire_all()


def recovery_codes_regenerate(
    *, actor: User, code: str | None, now: datetime | None = None, origin: Origin = NO_ORIGIN
) -> list[str]:
    """New recovery codes (the old ones stop working); needs a current code."""
    now = now or utcnow()
    _verify(actor, code, now, origin)
    codes = _new_recovery_codes(actor, now)
    audit_record(actor=actor, action="recovery_codes_renewed", entity_type="user", entity_id=actor.id,
                 origin=origin)
    db.session.commit()
    return codes


# --- the login step -----------------------------------------------------------------------------------------

def login_complete(
    *,
    user_id: int,
    session_version: int,
    code: str | None,
    origin: Origin = NO_ORIGIN,
    lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[User, str]:
    """The second login step: the password was right (the route keeps user id and session version for a
    few minutes); a TOTP or recovery code opens the session. Returns the user and the session token."""
    from app.services import sessions

    now = now or utcnow()
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != session_version:
        raise Invalid(LOGIN_FIELD, MSG_EXPIRED_LOGIN)
    kind = _verify(user, code, now, origin)
    audit_record(actor=user, action="two_factor_login", entity_type="user", entity_id=user.id,
                 changes={"method": kind}, origin=origin)
    token = sessions.session_start(user=user, origin=origin, two_factor_passed=True,
                                   lifetime=lifetime or sessions.DEFAULT_LIFETIME, now=now)
    return user, token


# --- reset by an administrator -------------------------------------------------------------------------------

def may_reset(actor: User, user: User) -> bool:
    """Who may switch off another person's second factor: the rule is Access.may_reset_second_factor."""
    from app.access import access_for  # noqa: PLC0415

    return access_for(actor).may_reset_second_factor(user)


def reset_target_get(*, actor: User, id: int) -> User:  # noqa: A002
    """The account whose second factor the actor may reset, else NotFound (never a 403 that leaks existence)."""
    from app.access import valid_id  # noqa: PLC0415

    key = valid_id(id)
    user = db.session.get(User, key) if key is not None else None
    if user is None or not may_reset(actor, user):
        raise NotFound("Не найдено")
    return user


def two_factor_reset(*, actor: User, user: User, now: datetime | None = None, origin: Origin = NO_ORIGIN) -> None:
    """Switch off the user's second factor (lost phone) and end all their sessions; at the next login they
    enrol again (at once, if their grace period is over)."""
    now = now or utcnow()
    if not may_reset(actor, user):
        raise NotAllowed("Сбросить вход с кодом этому пользователю нельзя")
    if totp_of(user) is None:
        raise Conflict("У пользователя не включён вход с кодом")
    _remove(user)
    db.session.execute(
        update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="two_factor_reset")
    )
    audit_record(actor=actor, action="two_factor_reset", entity_type="user", entity_id=user.id, origin=origin)
    db.session.commit()
