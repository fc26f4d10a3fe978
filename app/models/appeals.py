from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, str_enum, utcnow


class DeadlineUnit(enum.StrEnum):
    WORKING_DAYS = "working_days"
    HOURS = "hours"
    MINUTES = "minutes"


class AppealCategory(db.Model):
    """Per-organisation list of appeal kinds with their deadlines (ПП 416; configurable)."""

    __tablename__ = "appeal_categories"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    deadline_unit: Mapped[DeadlineUnit] = mapped_column(str_enum(DeadlineUnit, 14))
    deadline_value: Mapped[int] = mapped_column(Integer)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AppealCounter(db.Model):
    """The last incoming number of an organisation in a year (locked row → no duplicates, no gaps)."""

    __tablename__ = "appeal_counters"
    __table_args__ = (PrimaryKeyConstraint("organisation_id", "year"),)

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column(Integer)
    last: Mapped[int] = mapped_column(Integer, default=0)


class AppealStatus(enum.StrEnum):
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REJECTED = "rejected"
    CLOSED = "closed"


APPEAL_STATUS_LABELS = {
    AppealStatus.REGISTERED: "Зарегистрировано",
    AppealStatus.IN_PROGRESS: "В работе",
    AppealStatus.DONE: "Выполнено",
    AppealStatus.REJECTED: "Отклонено",
    AppealStatus.CLOSED: "Закрыто",
}
FINAL_STATUSES = frozenset({AppealStatus.CLOSED})


class Appeal(db.Model):
    __tablename__ = "appeals"
    __table_args__ = (
        UniqueConstraint("organisation_id", "number"),
        UniqueConstraint("author_id", "client_token"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        Index("ix_appeals_board", "organisation_id", "status", "deadline_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    premises_id: Mapped[int | None] = mapped_column(ForeignKey("premises.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("appeal_categories.id"))
    number: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    place_kind: Mapped[str] = mapped_column(String(20))  # premises | entrance | floor | roof | yard | basement | other
    place_detail: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    # «Оспорить» on a receipt line: a snapshot of the disputed line
    # {"period": "2026-11-01", "service": "...", "amount": "123.45", "basis": "..."}
    receipt_line: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[AppealStatus] = mapped_column(str_enum(AppealStatus, 12), default=AppealStatus.REGISTERED)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    client_token: Mapped[str | None] = mapped_column(String(64))  # makes a double submit create one appeal

    category: Mapped[AppealCategory] = relationship(lazy="joined")
    building: Mapped["Building"] = relationship(lazy="joined")  # noqa: F821
    premises: Mapped["Premises | None"] = relationship()  # noqa: F821
    author: Mapped["User | None"] = relationship(foreign_keys=[author_id])  # noqa: F821
    assignee: Mapped["User | None"] = relationship(foreign_keys=[assignee_id])  # noqa: F821

    @property
    def status_label(self) -> str:
        return APPEAL_STATUS_LABELS[self.status]


class AppealEvent(db.Model):
    """The timeline: status changes, assignments, public comments, internal notes (never shown to owners)."""

    __tablename__ = "appeal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))  # registered | status | assign | comment | note | rating | photo
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    text: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)

    actor: Mapped["User | None"] = relationship()  # noqa: F821


class AppealPhoto(db.Model):
    """A photo re-encoded by the server (JPEG, EXIF stripped, downscaled), stored in the database."""

    __tablename__ = "appeal_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("appeal_events.id", ondelete="SET NULL"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    mime: Mapped[str] = mapped_column(String(20), default="image/jpeg")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuestionStatus(enum.StrEnum):
    NEW = "new"
    ANSWERED = "answered"
    CLOSED = "closed"


QUESTION_STATUS_LABELS = {QuestionStatus.NEW: "Новый", QuestionStatus.ANSWERED: "Есть ответ",
                          QuestionStatus.CLOSED: "Закрыт"}


class Question(db.Model):
    """A question of an owner to the УК, the council of the building, or a supplier (РСО)."""

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_inbox", "addressee", "building_id", "status"),
        # The УК and РСО inbox asks by organisation (questions.InboxScope.clause), not by building.
        Index("ix_questions_inbox_org", "addressee", "organisation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    premises_id: Mapped[int | None] = mapped_column(ForeignKey("premises.id"))
    addressee: Mapped[str] = mapped_column(String(10))  # uk | council | rso
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))  # the УК or the РСО
    subject: Mapped[str] = mapped_column(String(160))
    status: Mapped[QuestionStatus] = mapped_column(str_enum(QuestionStatus, 10), default=QuestionStatus.NEW)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    building: Mapped["Building"] = relationship(lazy="joined")  # noqa: F821
    author: Mapped["User | None"] = relationship(foreign_keys=[author_id])  # noqa: F821
    claimed_by: Mapped["User | None"] = relationship(foreign_keys=[claimed_by_id])  # noqa: F821
    organisation: Mapped["Organisation | None"] = relationship()  # noqa: F821
    messages: Mapped[list["QuestionMessage"]] = relationship(back_populates="question",
                                                             order_by="QuestionMessage.id",
                                                             cascade="all, delete-orphan")

    @property
    def status_label(self) -> str:
        return QUESTION_STATUS_LABELS[self.status]


class QuestionMessage(db.Model):
    __tablename__ = "question_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_owner: Mapped[bool] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    question: Mapped[Question] = relationship(back_populates="messages")
    author: Mapped["User | None"] = relationship()  # noqa: F821
