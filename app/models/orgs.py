from __future__ import annotations

import enum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import str_enum


class OrgKind(enum.StrEnum):
    UK = "uk"  # management organisation (УК, ТСЖ, ЖСК)
    RSO = "rso"  # resource supplier
    OPERATOR = "operator"  # portal operator


ORG_KIND_LABELS = {
    OrgKind.UK: "Управляющая организация",
    OrgKind.RSO: "Ресурсоснабжающая организация",
    OrgKind.OPERATOR: "Оператор портала",
}


class ManagementForm(enum.StrEnum):
    """How a building is managed (ЖК РФ ст. 161 ч. 2): a management company, or the owners' partnership."""

    UK = "uk"  # управляющая организация
    TSZH = "tszh"  # товарищество собственников жилья
    ZHSK = "zhsk"  # жилищно-строительный кооператив


MANAGEMENT_FORM_LABELS = {
    ManagementForm.UK: "Управляющая организация",
    ManagementForm.TSZH: "ТСЖ",
    ManagementForm.ZHSK: "ЖСК",
}


class StaffRole(enum.StrEnum):
    STAFF = "staff"
    ADMIN = "admin"


DEFAULT_ORG_SETTINGS = {"reading_window": {"start_day": 20, "end_day": 25}}


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrgKind] = mapped_column(str_enum(OrgKind, 16))
    name: Mapped[str] = mapped_column(String(300))
    short_name: Mapped[str] = mapped_column(String(160))
    inn: Mapped[str] = mapped_column(String(12), unique=True)
    kpp: Mapped[str | None] = mapped_column(String(9))
    ogrn: Mapped[str | None] = mapped_column(String(15))
    address: Mapped[str] = mapped_column(String(300), default="")
    phones: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    site: Mapped[str | None] = mapped_column(String(200))
    # For kind == UK: УК, ТСЖ or ЖСК (NULL for suppliers and the operator)
    management_form: Mapped[str | None] = mapped_column(String(8))
    # Аварийно-диспетчерская служба and office hours: printed on receipts and shown on appeal pages
    ads_phone: Mapped[str | None] = mapped_column(String(40))
    office_hours: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(db.Boolean, default=True, server_default=db.true())
    # Bank details printed on receipts and encoded in the payment QR code (GOST R 56042)
    bank_name: Mapped[str | None] = mapped_column(String(45))
    bank_bic: Mapped[str | None] = mapped_column(String(9))
    bank_account: Mapped[str | None] = mapped_column(String(20))
    bank_corr_account: Mapped[str | None] = mapped_column(String(20))
    settings: Mapped[dict] = mapped_column(JSON, default=lambda: dict(DEFAULT_ORG_SETTINGS))
    # Bumped whenever anything printed on receipts changes (details, bank, phones): cached PDFs rebuild
    details_version: Mapped[int] = mapped_column(db.Integer, default=1, server_default="1")

    buildings: Mapped[list["Building"]] = relationship(  # noqa: F821
        back_populates="organisation", foreign_keys="Building.organisation_id"
    )

    @property
    def kind_label(self) -> str:
        return ORG_KIND_LABELS[self.kind]


class StaffMembership(db.Model):
    __tablename__ = "staff_memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[StaffRole] = mapped_column(
        str_enum(StaffRole, 16), default=StaffRole.STAFF
    )

    user: Mapped["User"] = relationship(back_populates="staff_memberships")  # noqa: F821
    organisation: Mapped[Organisation] = relationship(lazy="joined")
