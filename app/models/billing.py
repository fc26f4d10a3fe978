from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
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
    SEWAGE = "sewage"  # водоотведение: the premises' cold + hot water volumes of the period (ПП 354 Прил. 2)
    HEATING = "heating"  # отопление in Гкал: area × norm_per_m2, or the house meter by area share (Прил. 2 ф. 2, 3)
    COMMON = "common"  # КР на СОИ of `resource`: house meter minus apartments by area share, capped at the норматив


METHOD_LABELS = {
    Method.AREA: "по площади",
    Method.RESIDENTS: "по числу проживающих",
    Method.METER: "по счётчику",
    Method.FIXED: "фиксированная сумма",
    Method.SEWAGE: "водоотведение (ХВС + ГВС)",
    Method.HEATING: "отопление",
    Method.COMMON: "на содержание общего имущества (СОИ)",
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
    # норматив per m² a month: Гкал/м² for HEATING (of the premises' area), the СОИ норматив for COMMON
    # (m³ or kWh per m² of the common property's area)
    norm_per_m2: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
    # ПП 354 п. 42 абз. 3: the raising coefficient on the норматив where a meter could be installed but is not
    raising_factor: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    # HEATING/COMMON: distribute the house meter's (ОДПУ) volume instead of billing by the норматив
    by_house_meter: Mapped[bool] = mapped_column(Boolean, default=False, server_default=db.false())
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
    # What the line was computed from, for «Из чего сложилась сумма» (see docs/billing.md, "basis"):
    # {"rule": "ПП 354 п. 42", "method": "meter|average|norm|...", "text": "...", "meters": [...],
    #  "recalculation": {...}}; NULL for imported lines without one.
    basis: Mapped[dict | None] = mapped_column(JSON)

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
    commission: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    period: Mapped[date | None] = mapped_column(Date)  # the period the payer named, if any
    # A bank registry line's own identity (bank, date, operation number): the same line is never booked twice
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("tabular_imports.id", ondelete="SET NULL"))


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
    # Bumped on every re-issue: the PDF cache is keyed by (id, version), not by rebuilding the data
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # ГИС ЖКХ идентификатор платёжного документа (printed and put into the QR)
    payment_document_id: Mapped[str | None] = mapped_column(String(30))
    # How the пени were computed: debts by period, days, rates (see app/services/penalties.py)
    penalty_basis: Mapped[dict | None] = mapped_column(JSON)

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
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last sign of life of any of its chunks

    chunks: Mapped[list[ReceiptBatchChunk]] = relationship(
        back_populates="batch", cascade="all, delete-orphan", order_by="ReceiptBatchChunk.seq")


class ReceiptBatchChunk(db.Model):
    """A slice of a batch rendered by one job (any consumer on any machine); the slices are merged at the end.

    Claimed atomically (status queued -> running with a fresh `token`); `heartbeat_at` moves while it renders, so a
    chunk whose consumer died is seen and queued again (app/services/receipt_batches.py).
    """

    __tablename__ = "receipt_batch_chunks"
    __table_args__ = (UniqueConstraint("batch_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("receipt_batches.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    premises_ids: Mapped[list] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued, running, done, failed
    token: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(String(500))

    batch: Mapped[ReceiptBatch] = relationship(back_populates="chunks")


class UnmatchedPayment(db.Model):
    """A bank registry line that matched no лицевой счёт of the УК: listed for staff until resolved."""

    __tablename__ = "unmatched_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("tabular_imports.id", ondelete="SET NULL"))
    external_id: Mapped[str] = mapped_column(String(80), unique=True)
    paid_on: Mapped[date] = mapped_column(Date)
    account_number: Mapped[str] = mapped_column(String(40))
    payer: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    period: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    commission: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    reference: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Resolution by staff: booked to premises (a Payment is created) or dismissed (e.g. returned to the payer)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    resolution_note: Mapped[str | None] = mapped_column(String(300))


class KeyRate(db.Model):
    """The Bank of Russia key rate from a date (the operator keeps the table; пени use it)."""

    __tablename__ = "key_rates"
    __table_args__ = (CheckConstraint("rate >= 0 AND rate < 100", name="rate_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, unique=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # % a year
    source: Mapped[str | None] = mapped_column(String(300))  # the Bank of Russia's announcement
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PenaltyRule(db.Model):
    """Which rate the пени use in a span of time (ЖК РФ ст. 155 ч. 14 and the government's moratoria).

    mode: "payment_day" — the key rate in force on the day of payment (or of the calculation, if unpaid);
    "capped" — the lesser of that and `fixed_rate` (e.g. ПП РФ № 474: the rate of 27.02.2022, 9.5 %);
    "fixed" — `fixed_rate`; "suspended" — no пени accrue for days in the span.
    """

    __tablename__ = "penalty_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, unique=True)
    valid_to: Mapped[date | None] = mapped_column(Date)  # inclusive; NULL = open-ended
    mode: Mapped[str] = mapped_column(String(16))
    fixed_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    citation: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Instalment(db.Model):
    """Рассрочка (ПП 354 п. 72; section 6 of the ЕПД by 43/пр): a charge paid in equal monthly parts
    with interest, from `period_from` for `months` periods."""

    __tablename__ = "instalments"
    __table_args__ = (CheckConstraint("months BETWEEN 1 AND 36", name="months"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    period_from: Mapped[date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    principal: Mapped[Decimal] = mapped_column(Money)
    rate_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))  # % a year
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    service: Mapped["Service | None"] = relationship()
