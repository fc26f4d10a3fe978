"""Server-side sessions: every login is a user_sessions row, the browser holds only its random token.

The Flask-Login session id (and the remember-me cookie, if ever used) is that token. A request is
authenticated only by a live row: not revoked, not expired, opened under the user's current
session_version, of an active user. Logout revokes the row, so a cookie saved before logout is
worthless afterwards; a password change, reset or deactivation bumps users.session_version and so ends
every row opened before it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models import CouncilMembership, Ownership, Premises, StaffMembership, User, UserSession
from app.models.base import utcnow
from app.services.context import NO_ORIGIN, Origin
from app.services.side_writes import side_write

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100
DEFAULT_LIFETIME = timedelta(hours=12)
# last_seen_at is written at most this often (not on every request)
TOUCH_EVERY = timedelta(minutes=5)
# «Запомнить меня на этом телефоне» (owners only, see remember_allowed): the session lasts REMEMBER_LIFETIME
# from the login (absolute) and ends earlier after REMEMBER_IDLE without a request (idle). Both are checked in
# session_load; docs/performance.md «Logins» explains the choice.
REMEMBER_LIFETIME = timedelta(days=60)
REMEMBER_IDLE = timedelta(days=35)


@dataclass(frozen=True)
class LiveSession:
    user: User
    session: UserSession


def _new_row(*, user: User, origin: Origin, lifetime: timedelta, two_factor_passed: bool, remember: bool,
             now: datetime) -> tuple[str, UserSession]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = UserSession(
        user_id=user.id,
        token_hash=UserSession.hash_token(token),
        session_version=user.session_version,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=(origin.ip or None) and origin.ip[:45],
        user_agent=(origin.user_agent or None) and origin.user_agent[:300],
        remember=remember,
        two_factor_passed=two_factor_passed,
    )
    db.session.add(row)
    return token, row


def remember_allowed(user: User) -> bool:
    """«Запомнить меня на этом телефоне» is for owners only: an account with a back-office role (council, УК,
    supplier, operator) reaches other people's data and keeps the ordinary 12-hour session."""
    return not user.is_staff_like


def session_start(
    *,
    user: User,
    origin: Origin = NO_ORIGIN,
    two_factor_passed: bool = False,
    remember: bool = False,
    lifetime: timedelta = DEFAULT_LIFETIME,
    grace_starts: bool = True,
    now: datetime | None = None,
) -> str:
    """Open a session for a user who has proved who they are; return the token for the cookie.

    The token is also set on user.session_token, which User.get_id() hands to Flask-Login.
    A staff, council or operator account logging in without a second factor starts its grace period
    for enrolling one (see app/services/twofactor.py). remember=True (owners only, remember_allowed) opens
    a remembered session: REMEMBER_LIFETIME absolute, REMEMBER_IDLE idle.
    """
    from app.services import twofactor

    now = now or utcnow()
    remember = remember and remember_allowed(user)
    if remember:
        lifetime = REMEMBER_LIFETIME
    token, _row = _new_row(user=user, origin=origin, lifetime=lifetime, two_factor_passed=two_factor_passed,
                           remember=remember, now=now)
    if grace_starts and not two_factor_passed:
        twofactor.grace_start(user=user, now=now)
    db.session.commit()
    user.session_token = token
    return token


def _with_memberships(query):
    """Load the user's ownerships (with premises and building), council and staff memberships (with the
    organisation) in the same statement: an actor has a handful of each, so the joined rows stay few, and
    access_for() then needs no query of its own (docs/performance.md, «Fixed cost per request»)."""
    return query.options(
        joinedload(User.ownerships).joinedload(Ownership.premises).joinedload(Premises.building),
        joinedload(User.council_memberships).joinedload(CouncilMembership.building),
        joinedload(User.staff_memberships).joinedload(StaffMembership.organisation),
    )


def session_load(*, token: str | None, now: datetime | None = None) -> LiveSession | None:
    """The user, their memberships and the session row for a token, if the session is live: ONE query
    (plus a rare touch of last_seen_at on a connection of its own).

    A remembered session («запомнить меня на этом телефоне») also ends after REMEMBER_IDLE without use.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = now or utcnow()
    found = db.session.execute(
        _with_memberships(select(User, UserSession))
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.token_hash == UserSession.hash_token(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            UserSession.session_version == User.session_version,
            User.active.is_(True),
            or_(UserSession.remember.is_(False), UserSession.last_seen_at > now - REMEMBER_IDLE),
        )
    ).unique().first()
    if found is None:
        return None
    user, row = found
    if now - row.last_seen_at >= TOUCH_EVERY:
        _touch(row, now)
    user.session_token = token
    return LiveSession(user=user, session=row)


def _touch(row: UserSession, now: datetime) -> None:
    """Record use of the session without committing the request's ORM session (a commit would expire the user
    and its memberships, and every template would load them again). Written on a connection of its own; when
    the row or the database is locked by a writer (even this request's own session) the touch is skipped —
    it is retried on the next request."""
    if side_write(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)):
        set_committed_value(row, "last_seen_at", now)


def session_end(*, token: str | None, reason: str = "logout", now: datetime | None = None) -> bool:
    """Revoke the session of this token (logout). True if a live session was ended."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    now = now or utcnow()
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == UserSession.hash_token(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    db.session.commit()
    return result.rowcount == 1


def _revoke_all(user_id: int, *, reason: str, now: datetime, keep_id: int | None = None) -> int:
    query = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep_id is not None:
        query = query.where(UserSession.id != keep_id)
    return db.session.execute(query.values(revoked_at=now, revoked_reason=reason)).rowcount


def session_renew(
    *,
    user: User,
    token: str | None,
    origin: Origin = NO_ORIGIN,
    lifetime: timedelta = DEFAULT_LIFETIME,
    reason: str = "password_changed",
    now: datetime | None = None,
) -> str:
    """After a password change: end every session of the user and open a new one for this browser.

    The new session keeps this one's second-factor state. Returns the new token (also on user.session_token).
    """
    now = now or utcnow()
    current = None
    if token and len(token) <= MAX_TOKEN_LENGTH:
        current = db.session.scalar(
            select(UserSession).where(UserSession.token_hash == UserSession.hash_token(token),
                                      UserSession.user_id == user.id)
        )
    passed = bool(current and current.two_factor_passed and current.revoked_at is None)
    remember = bool(current and current.remember) and remember_allowed(user)
    if remember:  # a remembered phone stays remembered, from the renewal on
        lifetime = REMEMBER_LIFETIME
    _revoke_all(user.id, reason=reason, now=now)
    new_token, _row = _new_row(user=user, origin=origin, lifetime=lifetime, two_factor_passed=passed,
                               remember=remember, now=now)
    db.session.commit()
    user.session_token = new_token
    return new_token


def sessions_end_all(*, user: User, reason: str, now: datetime | None = None) -> int:
    """End every session of the user (e.g. the second factor was reset). Returns how many were live."""
    count = _revoke_all(user.id, reason=reason, now=now or utcnow())
    db.session.commit()
    return count


def sessions_live(*, user: User, now: datetime | None = None) -> list[UserSession]:
    """The user's live sessions, newest first (for a «где я вошёл» list)."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None), UserSession.expires_at > now,
               UserSession.session_version == user.session_version)
        .order_by(UserSession.last_seen_at.desc())
    ))
