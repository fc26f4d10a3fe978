from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, str_enum, utcnow


class OutboxMessage(db.Model):
    """Durable email outbox: written in the same transaction as the event, drained by the job engine
    (app/jobs.py, every minute; `flask mail send` by hand).

    `dedupe_key` is unique, so each recipient gets each message once even if the producer runs twice.
    A drain claims a row (`claimed_at`/`claim_token`, one UPDATE checked by its rowcount) before sending it; a
    claim older than the claim timeout belonged to a worker that died and is taken over. `failed_at` marks a
    message given up on (refused recipient, a permanent 5xx answer, or too many attempts); `last_error` keeps
    the server's answer.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    headers: Mapped[dict | None] = mapped_column(JSON)  # extra headers, e.g. List-Unsubscribe
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobLock(db.Model):
    """A run-level lease (app/services/locks.py): one holder at a time over every machine sharing the database;
    a holder that died stops holding it when `expires_at` passes."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NoticeCategory(enum.StrEnum):
    EMERGENCY = "emergency"
    PLANNED = "planned"
    WORKS = "works"
    MEETING = "meeting"
    INFO = "info"


NOTICE_CATEGORY_LABELS = {
    NoticeCategory.EMERGENCY: "Аварийное отключение",
    NoticeCategory.PLANNED: "Плановое отключение",
    NoticeCategory.WORKS: "Работы в доме",
    NoticeCategory.MEETING: "Общее собрание",
    NoticeCategory.INFO: "Информация",
}
# Service messages (152-ФЗ ст. 6 ч. 1 п. 5): sent without mailing consent.
SERVICE_CATEGORIES = frozenset({NoticeCategory.EMERGENCY, NoticeCategory.PLANNED})
OUTAGE_CATEGORIES = SERVICE_CATEGORIES


class Notice(db.Model):
    """An official notice (оповещение) of the УК, the council or a supplier to one or more buildings."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_published", "status", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_role: Mapped[str] = mapped_column(String(10))  # staff | council | rso
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    category: Mapped[NoticeCategory] = mapped_column(str_enum(NoticeCategory, 12))
    resource: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="published")  # published | withdrawn
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    targets: Mapped[list["NoticeTarget"]] = relationship(back_populates="notice", cascade="all, delete-orphan",
                                                         lazy="selectin")
    author: Mapped["User | None"] = relationship()  # noqa: F821
    organisation: Mapped["Organisation | None"] = relationship()  # noqa: F821

    @property
    def category_label(self) -> str:
        return NOTICE_CATEGORY_LABELS[self.category]

    @property
    def is_outage(self) -> bool:
        return self.category in OUTAGE_CATEGORIES


class NoticeTarget(db.Model):
    """A building (entrance NULL) or one entrance of it that a notice is addressed to."""

    __tablename__ = "notice_targets"
    __table_args__ = (UniqueConstraint("notice_id", "building_id", "entrance"),
                      Index("ix_notice_targets_building", "building_id", "entrance", "notice_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    entrance: Mapped[int | None] = mapped_column(Integer)

    notice: Mapped[Notice] = relationship(back_populates="targets")
    building: Mapped["Building"] = relationship(lazy="joined")  # noqa: F821


class NoticeRevision(db.Model):
    """Each edit of a notice keeps the previous text."""

    __tablename__ = "notice_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    snapshot: Mapped[dict] = mapped_column(JSON)


class NoticeRead(db.Model):
    __tablename__ = "notice_reads"
    __table_args__ = (UniqueConstraint("notice_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnnouncementCategory(enum.StrEnum):
    SALE = "sale"
    LOST = "lost"
    SERVICES = "services"
    HELP = "help"
    OTHER = "other"


ANNOUNCEMENT_CATEGORY_LABELS = {
    AnnouncementCategory.SALE: "Продам / отдам",
    AnnouncementCategory.LOST: "Потеряно / найдено",
    AnnouncementCategory.SERVICES: "Услуги",
    AnnouncementCategory.HELP: "Нужна помощь",
    AnnouncementCategory.OTHER: "Разное",
}


class Announcement(db.Model):
    """An announcement any user posts for other portal users (объявление)."""

    __tablename__ = "announcements"
    __table_args__ = (Index("ix_announcements_list", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    author_name: Mapped[str] = mapped_column(String(60))  # the name the author chose to show
    author_street: Mapped[str] = mapped_column(String(200))  # street of the author's building, never the flat
    category: Mapped[AnnouncementCategory] = mapped_column(str_enum(AnnouncementCategory, 10))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(120))  # shown only if the author filled it in
    scope: Mapped[str] = mapped_column(String(10))  # building | portal
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | hidden | deleted
    hidden_reason: Mapped[str | None] = mapped_column(String(300))
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    building: Mapped["Building"] = relationship(lazy="joined")  # noqa: F821

    @property
    def category_label(self) -> str:
        return ANNOUNCEMENT_CATEGORY_LABELS[self.category]


class AnnouncementReport(db.Model):
    __tablename__ = "announcement_reports"
    __table_args__ = (UniqueConstraint("announcement_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
