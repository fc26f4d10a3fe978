from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, str_enum, utcnow


class AuditLog(db.Model):
    """Append-only record of who changed what, when and from where."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))

    actor: Mapped["User | None"] = relationship(lazy="joined")  # noqa: F821


class ConsentChannel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"


CONSENT_CHANNEL_LABELS = {
    ConsentChannel.SMS: "SMS-рассылки",
    ConsentChannel.EMAIL: "рассылки по электронной почте",
}


class ConsentAction(enum.StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


class ConsentRecord(db.Model):
    """Append-only consent ledger (152-FZ art. 9): the latest row per user and channel is in force."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_user_channel", "user_id", "channel", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(40), default="mailing")
    channel: Mapped[ConsentChannel] = mapped_column(str_enum(ConsentChannel, 10))
    action: Mapped[ConsentAction] = mapped_column(str_enum(ConsentAction, 10))
    text_version: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    # Who recorded it: the owner online, or staff from a signed paper original
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(10), default="online")
