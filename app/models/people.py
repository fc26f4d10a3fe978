from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.orgs import OrgKind, StaffRole


class Role:
    OWNER = "owner"
    COUNCIL = "council"
    STAFF = "staff"  # staff of a management organisation (УК)
    UK_ADMIN = "ukadmin"
    RSO = "rso"  # staff of a resource supplier
    OPERATOR = "operator"


ROLE_LABELS = {
    Role.OWNER: "Собственник",
    Role.COUNCIL: "Совет дома",
    Role.STAFF: "Сотрудник УК",
    Role.UK_ADMIN: "Администратор УК",
    Role.RSO: "Сотрудник РСО",
    Role.OPERATOR: "Оператор портала",
}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    # The login lookup (accounts.find_by_login) compares lower(login): the index is on that expression.
    __table_args__ = (Index("ux_users_login_lower", text("lower(login)"), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200))
    # Set by the УК from the title documents: the owner cannot change it
    full_name_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    notify_new_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    # An issued (temporary) password must be changed at first login and expires
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    temp_password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped to end every session of the user (password change, deactivation)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Start of the grace period for enrolling a second factor (staff, council, operators)
    two_factor_required_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The unread-notices badge, cached on the row that every request loads anyway (app/services/notices.py
    # unread_count; docs/performance.md «Fixed cost per request»): the count, for which audience (buildings,
    # entrances, council seats) it was computed, and the moments between which it holds. NULL: unknown.
    # notices_gen is bumped by every invalidation (publish, edit, withdraw, read): a count computed before an
    # invalidation is never stored after it.
    unread_notices: Mapped[int | None] = mapped_column(Integer)
    unread_key: Mapped[str | None] = mapped_column(String(32))
    unread_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unread_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notices_gen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    ownerships: Mapped[list["Ownership"]] = relationship(  # noqa: F821
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )
    council_memberships: Mapped[list["CouncilMembership"]] = relationship(  # noqa: F821
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )
    staff_memberships: Mapped[list["StaffMembership"]] = relationship(  # noqa: F821
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )

    # Flask-Login: the session id is the token of a user_sessions row (app/services/sessions.py), set on the
    # instance by sessions.session_start()/session_load(); the row records the session_version it was opened under.
    session_token = None

    def get_id(self) -> str:
        if not self.session_token:
            raise RuntimeError("no server-side session: call sessions.session_start() before login_user()")
        return self.session_token

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def roles(self) -> frozenset[str]:
        roles = set()
        if self.ownerships:
            roles.add(Role.OWNER)
        if self.council_memberships:
            roles.add(Role.COUNCIL)
        for m in self.staff_memberships:
            if m.organisation.kind == OrgKind.UK:
                roles.add(Role.STAFF)
                if m.role == StaffRole.ADMIN:
                    roles.add(Role.UK_ADMIN)
            elif m.organisation.kind == OrgKind.RSO:
                roles.add(Role.RSO)
            elif m.organisation.kind == OrgKind.OPERATOR:
                roles.add(Role.OPERATOR)
        if self.is_operator:
            roles.add(Role.OPERATOR)
        return frozenset(roles)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def role_labels(self) -> list[str]:
        order = [Role.OWNER, Role.COUNCIL, Role.STAFF, Role.UK_ADMIN, Role.RSO, Role.OPERATOR]
        return [ROLE_LABELS[r] for r in order if r in self.roles]

    @property
    def premises_list(self) -> list["Premises"]:  # noqa: F821
        return sorted(
            (o.premises for o in self.ownerships),
            key=lambda p: (p.building.street, p.building.house, p.sort_key),
        )

    @property
    def is_staff_like(self) -> bool:
        return self.has_role(Role.STAFF, Role.COUNCIL, Role.RSO, Role.OPERATOR)
