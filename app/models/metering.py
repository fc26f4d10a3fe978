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
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, str_enum, utcnow


class Resource(enum.StrEnum):
    COLD_WATER = "cold_water"
    HOT_WATER = "hot_water"
    ELECTRICITY = "electricity"
    HEAT = "heat"
    GAS = "gas"


RESOURCE_LABELS = {
    Resource.COLD_WATER: "Холодная вода",
    Resource.HOT_WATER: "Горячая вода",
    Resource.ELECTRICITY: "Электроэнергия",
    Resource.HEAT: "Отопление",
    Resource.GAS: "Газ",
}
RESOURCE_UNITS = {
    Resource.COLD_WATER: "м³",
    Resource.HOT_WATER: "м³",
    Resource.ELECTRICITY: "кВт·ч",
    Resource.HEAT: "Гкал",
    Resource.GAS: "м³",
}
RESOURCE_SHORT = {
    Resource.COLD_WATER: "ХВС",
    Resource.HOT_WATER: "ГВС",
    Resource.ELECTRICITY: "Эл.",
    Resource.HEAT: "Тепло",
    Resource.GAS: "Газ",
}
RESOURCE_ORDER = {r: i for i, r in enumerate(RESOURCE_LABELS)}
ZONE_LABELS = {None: "", "T1": "день (T1)", "T2": "ночь (T2)", "T3": "пик (T3)"}


class Meter(db.Model):
    """One register of a meter: a single-rate meter has one, a day/night meter two rows with the same serial."""

    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint("digits BETWEEN 3 AND 9", name="digits"),
        CheckConstraint("(premises_id IS NOT NULL) OR (building_id IS NOT NULL)", name="owner"),
        Index("ix_meters_building_active", "building_id", "archived"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Apartment meters (ИПУ) belong to premises; building meters (ОДПУ) have premises_id NULL.
    premises_id: Mapped[int | None] = mapped_column(ForeignKey("premises.id"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"))
    resource: Mapped[Resource] = mapped_column(str_enum(Resource, 20))
    zone: Mapped[str | None] = mapped_column(String(2))  # None for single-rate; T1/T2/T3 for multi-zone
    serial_number: Mapped[str] = mapped_column(String(40))
    place: Mapped[str | None] = mapped_column(String(100))
    installed_on: Mapped[date | None] = mapped_column(Date)
    next_verification_on: Mapped[date | None] = mapped_column(Date)
    digits: Mapped[int] = mapped_column(Integer, default=5)  # integer digits the register shows
    initial_value: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal("0"))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"))

    premises: Mapped["Premises | None"] = relationship()  # noqa: F821

    @property
    def sort_key(self) -> tuple:
        """Cold water, hot water, electricity (T1, T2, T3), heat, gas."""
        return (RESOURCE_ORDER[self.resource], self.serial_number, self.zone or "")

    @property
    def is_building_meter(self) -> bool:
        return self.premises_id is None

    @property
    def resource_label(self) -> str:
        return RESOURCE_LABELS[self.resource]

    @property
    def unit(self) -> str:
        return RESOURCE_UNITS[self.resource]

    @property
    def short_title(self) -> str:
        return f"{RESOURCE_SHORT[self.resource]} {self.zone}" if self.zone else RESOURCE_SHORT[self.resource]

    @property
    def title(self) -> str:
        zone = f", {ZONE_LABELS[self.zone]}" if self.zone else ""
        return f"{self.resource_label}{zone}"


class ReadingSource(enum.StrEnum):
    OWNER = "owner"
    COUNCIL = "council"
    STAFF = "staff"
    IMPORT = "import"
    INITIAL = "initial"


SOURCE_LABELS = {
    ReadingSource.OWNER: "собственник",
    ReadingSource.COUNCIL: "совет дома",
    ReadingSource.STAFF: "управляющая организация",
    ReadingSource.IMPORT: "загрузка УК",
    ReadingSource.INITIAL: "начальные",
}
# Sources that lock the period for the owner (entered by the council or the УК).
LOCKING_SOURCES = frozenset({ReadingSource.COUNCIL, ReadingSource.STAFF, ReadingSource.IMPORT})


class Reading(db.Model):
    """The reading of one meter register for one period (the first day of the month)."""

    __tablename__ = "readings"
    __table_args__ = (
        UniqueConstraint("meter_id", "period"),
        CheckConstraint("value >= 0", name="value_nonneg"),
        Index("ix_readings_period_meter", "period", "meter_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    period: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    source: Mapped[ReadingSource] = mapped_column(str_enum(ReadingSource, 10))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    not_for_billing: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    confirmation: Mapped[str | None] = mapped_column(String(24), unique=True)

    meter: Mapped[Meter] = relationship()

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]

    @property
    def locks_owner(self) -> bool:
        return self.source in LOCKING_SOURCES


class ReadingRevision(db.Model):
    """Every create or change of a reading: who, in which role, when, old → new, source, from where."""

    __tablename__ = "reading_revisions"
    __table_args__ = (Index("ix_reading_revisions_meter_period", "meter_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reading_id: Mapped[int] = mapped_column(ForeignKey("readings.id", ondelete="CASCADE"), index=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    period: Mapped[date] = mapped_column(Date)
    old_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    new_value: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    source: Mapped[ReadingSource] = mapped_column(str_enum(ReadingSource, 10))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))

    actor: Mapped["User | None"] = relationship()  # noqa: F821


class ReadingSubmission(db.Model):
    """One owner submission (one or several meters) with the confirmation number the owner keeps."""

    __tablename__ = "reading_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    period: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # meter id -> value (as text) at the moment of submission
    values: Mapped[dict] = mapped_column(JSON, default=dict)
