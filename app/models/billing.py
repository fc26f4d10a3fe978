from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, str_enum, utcnow
from app.models.metering import Resource

Money = Numeric(12, 2)


class Method(enum.StrEnum):
    AREA = "area"  # per m² of total area
    RESIDENTS = "residents"  # per resident
    METER = "meter"  # per unit of metered consumption (норматив × residents without readings)
    FIXED = "fixed"  # a fixed sum per premises


METHOD_LABELS = {
    Method.AREA: "по площади",
    Method.RESIDENTS: "по числу проживающих",
    Method.METER: "по счётчику",
    Method.FIXED: "фиксированная сумма",
}


class Service(db.Model):
    """A billed service of an organisation (содержание жилья, ХВС, электроэнергия день, ...)."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(20))
    method: Mapped[Method] = mapped_column(str_enum(Method, 12))
    resource: Mapped[Resource | None] = mapped_column(str_enum(Resource, 20))
    zone: Mapped[str | None] = mapped_column(String(2))
    # норматив per person per month, for METER services billed without readings
    norm_per_person: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    sort_order: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    tariffs: Mapped[list["Tariff"]] = relationship(back_populates="service", order_by="Tariff.valid_from")


class Tariff(db.Model):
    __tablename__ = "tariffs"
    __table_args__ = (
        UniqueConstraint("service_id", "valid_from"),
        CheckConstraint("rate >= 0", name="rate_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # inclusive; NULL = open-ended
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 4))

    service: Mapped[Service] = relationship(back_populates="tariffs")


class ChargeSource(enum.StrEnum):
    COMPUTED = "computed"
    IMPORT = "import"


class Charge(db.Model):
    """One line of the calculation section: a service charged to premises for a period."""

    __tablename__ = "charges"
    __table_args__ = (UniqueConstraint("premises_id", "period", "service_id"),
                      Index("ix_charges_period_premises", "period", "premises_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"))
    period: Mapped[date] = mapped_column(Date)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    volume: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    tariff: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    amount: Mapped[Decimal] = mapped_column(Money)
    recalculation: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    recalculation_reason: Mapped[str | None] = mapped_column(String(200))
    benefit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(String(200), default="")  # how it was computed
    source: Mapped[ChargeSource] = mapped_column(str_enum(ChargeSource, 10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service: Mapped[Service] = relationship(lazy="joined")


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_pos"),
                      Index("ix_payments_premises_date", "premises_id", "paid_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"))
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(30), default="bank")
    reference: Mapped[str | None] = mapped_column(String(60))


class Statement(db.Model):
    """The payment document (ЕПД) totals of premises for a period, fixed when the period is closed."""

    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("premises_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    period: Mapped[date] = mapped_column(Date)
    opening_balance: Mapped[Decimal] = mapped_column(Money)  # debt (+) or advance (−) at the start
    charged: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)  # payments received during the period
    penalty: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    amount_due: Mapped[Decimal] = mapped_column(Money)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_date: Mapped[date] = mapped_column(Date)

    premises: Mapped["Premises"] = relationship(lazy="joined")  # noqa: F821


class OpeningBalance(db.Model):
    """Debt (+) or advance (−) of premises when the portal starts keeping its accounts."""

    __tablename__ = "opening_balances"

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), unique=True)
    period: Mapped[date] = mapped_column(Date)  # the first period the balance applies to
    amount: Mapped[Decimal] = mapped_column(Money)


class ReceiptPdf(db.Model):
    """Cache of rendered receipts, keyed by premises and period; valid while data_hash matches."""

    __tablename__ = "receipt_pdfs"
    __table_args__ = (UniqueConstraint("premises_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"))
    period: Mapped[date] = mapped_column(Date)
    data_hash: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceiptBatch(db.Model):
    """All receipts of a building for a period in one printable PDF, produced in the background."""

    __tablename__ = "receipt_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    period: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued, running, done, failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
