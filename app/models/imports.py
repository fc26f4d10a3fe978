from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class ImportKind:
    READINGS = "readings"
    CHARGES = "charges"
    HOUSE = "house"
    PAYMENTS = "payments"  # a bank payment registry (app/services/payments_import.py)


class TabularImport(db.Model):
    """An uploaded file of any import kind: checked rows stored as the preview, applied once, all-or-nothing.

    `rows` holds what the preview shows and what the confirmation re-checks (the shape is the kind's own,
    see app/services/tabular.py); `summary` holds kind-specific totals (e.g. premises absent from the file).
    A re-upload of the same file (same kind, place, period, actor and SHA-256) refreshes the pending preview
    instead of adding another one.
    """

    __tablename__ = "tabular_imports"
    __table_args__ = (
        Index("ix_tabular_imports_kind_org", "kind", "organisation_id"),
        Index("ix_tabular_imports_building", "building_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    period: Mapped[date | None] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(200))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    rows: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The readings import's stored preview was the first of these; its old name stays for existing callers.
ReadingImport = TabularImport
