from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, str_enum, utcnow

# Which resource suppliers (РСО) serve which buildings; `resources` (a JSON list of Resource values) narrows a
# supplier to the resources it delivers to this building (NULL: every resource in the supplier's settings).
building_suppliers = Table(
    "building_suppliers",
    db.metadata,
    Column("building_id", ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    Column("resources", JSON, nullable=True),
)


class Building(db.Model):
    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    city: Mapped[str] = mapped_column(String(100), default="Чита")
    street: Mapped[str] = mapped_column(String(200))
    house: Mapped[str] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(6))
    year_built: Mapped[int | None] = mapped_column(Integer)
    floors: Mapped[int | None] = mapped_column(Integer)
    entrances: Mapped[int | None] = mapped_column(Integer)
    # Identifiers in the state systems (optional): ФИАС/ГАР house GUID and the ГИС ЖКХ house code
    fias_guid: Mapped[str | None] = mapped_column(String(36))
    gis_house_code: Mapped[str | None] = mapped_column(String(40))
    # Reading window override for this building (days of month, inclusive); NULL = the organisation's
    reading_start_day: Mapped[int | None] = mapped_column(Integer)
    reading_end_day: Mapped[int | None] = mapped_column(Integer)
    # КР на СОИ (ПП 354 п. 44, Прил. 2 ф. 15): the common property's area (S_ои) and whether the owners'
    # meeting decided to distribute the house meter's volume above the норматив (п. 44 абз. 2)
    common_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    soi_over_norm: Mapped[bool] = mapped_column(Boolean, default=False, server_default=db.false())

    organisation: Mapped["Organisation"] = relationship(  # noqa: F821
        back_populates="buildings", foreign_keys=[organisation_id], lazy="joined"
    )
    premises: Mapped[list["Premises"]] = relationship(back_populates="building")
    suppliers: Mapped[list["Organisation"]] = relationship(secondary=building_suppliers)  # noqa: F821

    @property
    def short_address(self) -> str:
        return f"{self.street}, д. {self.house}"

    @property
    def address(self) -> str:
        prefix = f"{self.postcode}, " if self.postcode else ""
        return f"{prefix}г. {self.city}, {self.short_address}"


class PremisesKind(enum.StrEnum):
    APARTMENT = "apartment"
    NON_RESIDENTIAL = "non_residential"


PREMISES_KIND_LABELS = {
    PremisesKind.APARTMENT: "Жилое помещение (квартира)",
    PremisesKind.NON_RESIDENTIAL: "Нежилое помещение",
}


class Premises(db.Model):
    __tablename__ = "premises"
    __table_args__ = (
        UniqueConstraint("building_id", "number"),
        CheckConstraint("actual_residents IS NULL OR actual_residents >= 0", name="residents_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    number: Mapped[str] = mapped_column(String(10))
    kind: Mapped[PremisesKind] = mapped_column(
        str_enum(PremisesKind, 20), default=PremisesKind.APARTMENT
    )
    entrance: Mapped[int | None] = mapped_column(Integer)
    floor: Mapped[int | None] = mapped_column(Integer)
    rooms: Mapped[int | None] = mapped_column(Integer)
    total_area: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    living_area: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    cadastral_number: Mapped[str | None] = mapped_column(String(40))
    account_number: Mapped[str] = mapped_column(String(20), unique=True)
    registered_residents: Mapped[int] = mapped_column(Integer, default=0)
    # Editable by the owner (every change audited and visible to the УК)
    actual_residents: Mapped[int | None] = mapped_column(Integer)
    emergency_phone: Mapped[str | None] = mapped_column(String(16))
    # ГИС ЖКХ: единый лицевой счёт (ЕЛС, 10 characters) and идентификатор ЖКУ (ИЖКУ)
    els: Mapped[str | None] = mapped_column(String(10))
    igku: Mapped[str | None] = mapped_column(String(20))

    building: Mapped[Building] = relationship(back_populates="premises", lazy="joined")
    ownerships: Mapped[list["Ownership"]] = relationship(back_populates="premises")

    @property
    def kind_label(self) -> str:
        return PREMISES_KIND_LABELS[self.kind]

    @property
    def title(self) -> str:
        prefix = "кв." if self.kind == PremisesKind.APARTMENT else "пом."
        return f"{prefix} {self.number}"

    @property
    def full_address(self) -> str:
        return f"{self.building.address}, {self.title}"

    @property
    def sort_key(self):
        digits = "".join(ch for ch in self.number if ch.isdigit())
        return (int(digits) if digits else 0, self.number)


class Ownership(db.Model):
    __tablename__ = "ownerships"
    __table_args__ = (
        UniqueConstraint("user_id", "premises_id"),
        CheckConstraint("share_num > 0 AND share_den > 0 AND share_num <= share_den", name="share"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    share_num: Mapped[int] = mapped_column(Integer, default=1)
    share_den: Mapped[int] = mapped_column(Integer, default=1)

    user: Mapped["User"] = relationship(back_populates="ownerships")  # noqa: F821
    premises: Mapped[Premises] = relationship(back_populates="ownerships", lazy="joined")

    @property
    def share_label(self) -> str:
        return "целиком" if self.share_num == self.share_den else f"{self.share_num}/{self.share_den}"


class CouncilMembership(db.Model):
    __tablename__ = "council_memberships"
    __table_args__ = (UniqueConstraint("user_id", "building_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    is_chair: Mapped[bool] = mapped_column(Boolean, default=False)
    # The general meeting (ОСС) that elected the council (ЖК РФ ст. 161.1 ч. 1, 5): term and protocol
    term_from: Mapped[date | None] = mapped_column(Date)
    term_to: Mapped[date | None] = mapped_column(Date)
    protocol_number: Mapped[str | None] = mapped_column(String(40))
    protocol_date: Mapped[date | None] = mapped_column(Date)

    user: Mapped["User"] = relationship(back_populates="council_memberships")  # noqa: F821
    building: Mapped[Building] = relationship(lazy="joined")


class OwnerRecord(db.Model):
    """An owner of a premises as the УК's register knows them (from the title documents or an import),
    whether or not they have a portal account yet. Issuing an account links the record to it (`user_id`);
    the account's access is the `Ownership`. The register of owners (ОСС, letters) is built from these rows.
    """

    __tablename__ = "owner_records"
    __table_args__ = (
        UniqueConstraint("premises_id", "full_name"),
        CheckConstraint("share_num > 0 AND share_den > 0 AND share_num <= share_den", name="share"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id", ondelete="CASCADE"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    share_num: Mapped[int] = mapped_column(Integer, default=1)
    share_den: Mapped[int] = mapped_column(Integer, default=1)
    phone: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | import | demo
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    premises: Mapped[Premises] = relationship(lazy="joined")
    user: Mapped["User | None"] = relationship()  # noqa: F821

    @property
    def share_label(self) -> str:
        return "целиком" if self.share_num == self.share_den else f"{self.share_num}/{self.share_den}"
