"""Requests to link an existing account to one more premises: nothing is shared until the owner accepts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, str_enum, utcnow


class LinkStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class OwnershipLinkRequest(db.Model):
    """УК staff or the council ask the holder of a login to accept one more premises.

    Every well-formed login typed into the link form gets a row, whether or not such an account exists
    (`user_id` is NULL when there is no owner account to ask), so that what the staff see never tells
    them whether a login exists. Only `accept` by the account's holder creates the Ownership.
    """

    __tablename__ = "ownership_link_requests"
    __table_args__ = (
        # One open request per premises and typed login (the service closes stale ones first).
        Index(
            "uq_ownership_link_requests_pending",
            "premises_id",
            "login",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_ownership_link_requests_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id", ondelete="CASCADE"), index=True)
    # The login as typed (normalised); the account it resolved to when asked, if any
    login: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    share_num: Mapped[int] = mapped_column(Integer, default=1)
    share_den: Mapped[int] = mapped_column(Integer, default=1)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[LinkStatus] = mapped_column(str_enum(LinkStatus, 10), default=LinkStatus.PENDING)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Staff closed the request on their side (a declined request stays "not accepted" to them until then)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    premises: Mapped["Premises"] = relationship(lazy="joined")  # noqa: F821
    user: Mapped["User | None"] = relationship(foreign_keys=[user_id])  # noqa: F821
    requested_by: Mapped["User | None"] = relationship(foreign_keys=[requested_by_id], lazy="joined")  # noqa: F821

    @property
    def share_label(self) -> str:
        return "целиком" if self.share_num == self.share_den else f"{self.share_num}/{self.share_den}"
