"""Organisations of the portal: management organisations (УК, ТСЖ, ЖСК) and resource suppliers (РСО).

The portal operator creates, edits and deactivates them (the console, app/blueprints/console); a УК admin
reads their own organisation's card there. Requisites are checked by app/services/bankdetails.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app.access import MAX_ID, NOT_FOUND, access_for, row_get
from app.extensions import db
from app.models import Building, Organisation, StaffMembership, User
from app.models.metering import RESOURCE_LABELS, Resource
from app.models.orgs import MANAGEMENT_FORM_LABELS, ManagementForm, OrgKind
from app.services import bankdetails
from app.services.audit import audit_record, diff
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.validation import clean_text, normalize_email, normalize_phone, validate_all

PAGE_SIZE = 20
DEFAULT_WINDOW = (20, 25)

# The one choice «Вид организации» of the form: kind + management form.
ORG_TYPE_LABELS = {
    "uk": "Управляющая компания (УК)",
    "tszh": "Товарищество собственников жилья (ТСЖ)",
    "zhsk": "Жилищно-строительный кооператив (ЖСК)",
    "rso": "Ресурсоснабжающая организация (РСО)",
}
_SITE_RE = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]{2,}(/\S*)?$", re.IGNORECASE)


def org_type(org: Organisation) -> str:
    if org.kind == OrgKind.RSO:
        return "rso"
    return org.management_form or "uk"


def org_type_label(org: Organisation) -> str:
    if org.kind == OrgKind.UK:
        return MANAGEMENT_FORM_LABELS.get(ManagementForm(org.management_form or "uk"), "УК")
    return "РСО" if org.kind == OrgKind.RSO else "Оператор"


@dataclass(frozen=True)
class OrganisationInput:
    org_type: str = "uk"
    name: str = ""
    short_name: str = ""
    inn: str = ""
    kpp: str | None = None
    ogrn: str | None = None
    address: str = ""
    phones: str | None = None
    ads_phone: str | None = None
    office_hours: str | None = None
    email: str | None = None
    site: str | None = None
    bank_name: str | None = None
    bank_bic: str | None = None
    bank_account: str | None = None
    bank_corr_account: str | None = None
    reading_start_day: str | int | None = None
    reading_end_day: str | int | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)


# --- who may do what --------------------------------------------------------------------------------------

def _require_operator(actor: User, message: str = "Организации ведёт оператор портала") -> None:
    if not access_for(actor).operator:
        raise NotAllowed(message)


def may_view_organisation(actor: User, org: Organisation) -> bool:
    """The operator sees every organisation; a УК admin sees their own."""
    access = access_for(actor)
    return access.operator or access.admin_of(org)


def console_organisation_get(*, actor: User, id: int) -> Organisation:  # noqa: A002
    """An organisation whose console card the actor may open (operator: any; УК admin: their own)."""
    org = row_get(Organisation, id)
    if org.kind == OrgKind.OPERATOR or not may_view_organisation(actor, org):
        raise NotFound(NOT_FOUND)
    return org


# --- cleaning ---------------------------------------------------------------------------------------------

def _day(raw, field_name: str) -> int | None:
    text = str(raw).strip() if raw is not None else ""
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,2}", text) or not 1 <= int(text) <= 31:
        raise Invalid(field_name, "Введите число месяца от 1 до 31")
    return int(text)


def clean_window(start_raw, end_raw, *, required: bool, start_field: str = "reading_start_day",
                 end_field: str = "reading_end_day") -> tuple[int, int] | None:
    """The reading window (days of the month, inclusive): both days or neither (unless required)."""
    values = validate_all({start_field: lambda: _day(start_raw, start_field),
                           end_field: lambda: _day(end_raw, end_field)})
    start, end = values[start_field], values[end_field]
    if start is None and end is None:
        if required:
            raise Invalid.from_errors({start_field: "Введите первый день приёма показаний",
                                       end_field: "Введите последний день приёма показаний"})
        return None
    if start is None:
        raise Invalid(start_field, "Введите и первый день, или оставьте пустыми оба")
    if end is None:
        raise Invalid(end_field, "Введите и последний день, или оставьте пустыми оба")
    if start > end:
        raise Invalid(end_field, "Последний день не может быть раньше первого")
    return start, end


def _clean_site(raw: str | None) -> str | None:
    value = clean_text(raw, "site", "адрес сайта", max_len=200, required=False)
    if not value:
        return None
    if not value.lower().startswith(("http://", "https://")):
        value = "https://" + value
    if not _SITE_RE.match(value):
        raise Invalid("site", "Введите адрес сайта, например uk-chita.ru")
    return value


def _clean_resources(org_type_value: str, raw: tuple[str, ...]) -> list[str]:
    if org_type_value != "rso":
        return []
    chosen = []
    for value in raw or ():
        try:
            resource = Resource(value)
        except ValueError:
            raise Invalid("resources", "Выберите ресурсы из списка") from None
        if resource.value not in chosen:
            chosen.append(resource.value)
    if not chosen:
        raise Invalid("resources", "Отметьте хотя бы один ресурс, который поставляет организация")
    return [r.value for r in Resource if r.value in chosen]


def _clean(data: OrganisationInput) -> dict:
    def org_type_value():
        if data.org_type not in ORG_TYPE_LABELS:
            raise Invalid("org_type", "Выберите вид организации")
        return data.org_type

    bic = bankdetails._digits(data.bank_bic)
    values = validate_all({
        "org_type": org_type_value,
        "name": lambda: clean_text(data.name, "name", "полное наименование", max_len=300),
        "short_name": lambda: clean_text(data.short_name, "short_name", "краткое наименование", max_len=160),
        "inn": lambda: bankdetails.clean_inn(data.inn),
        "kpp": lambda: bankdetails.clean_kpp(data.kpp),
        "ogrn": lambda: bankdetails.clean_ogrn(data.ogrn),
        "address": lambda: clean_text(data.address, "address", "адрес", max_len=300),
        "phones": lambda: clean_text(data.phones, "phones", "телефоны", max_len=200, required=False),
        "ads_phone": lambda: normalize_phone(data.ads_phone, "ads_phone"),
        "office_hours": lambda: clean_text(data.office_hours, "office_hours", "часы приёма", max_len=300,
                                           required=False) or None,
        "email": lambda: normalize_email(data.email),
        "site": lambda: _clean_site(data.site),
        "bank_name": lambda: clean_text(data.bank_name, "bank_name", "наименование банка", max_len=45,
                                        required=False) or None,
        "bank_bic": lambda: bankdetails.clean_bic(data.bank_bic),
        "bank_account": lambda: bankdetails.clean_account(data.bank_account, bic),
        "bank_corr_account": lambda: bankdetails.clean_corr_account(data.bank_corr_account, bic),
        "window": lambda: clean_window(data.reading_start_day, data.reading_end_day,
                                       required=data.org_type in ("uk", "tszh", "zhsk")),
        "resources": lambda: _clean_resources(data.org_type, data.resources),
    })
    errors: dict[str, str] = {}
    inn, kpp, ogrn = values["inn"], values["kpp"], values["ogrn"]
    if len(inn) == 10 and not kpp:
        errors["kpp"] = "Введите КПП: он есть у каждой организации"
    if len(inn) == 12 and kpp:
        errors["kpp"] = "У индивидуального предпринимателя нет КПП: оставьте поле пустым"
    if ogrn and len(ogrn) != (13 if len(inn) == 10 else 15):
        errors["ogrn"] = ("У организации ОГРН из 13 цифр" if len(inn) == 10
                          else "У индивидуального предпринимателя ОГРНИП из 15 цифр")
    bank = [values["bank_name"], values["bank_bic"], values["bank_account"], values["bank_corr_account"]]
    if any(bank) and not all(bank):
        labels = {"bank_name": "наименование банка", "bank_bic": "БИК", "bank_account": "расчётный счёт",
                  "bank_corr_account": "корреспондентский счёт"}
        for (name, label), value in zip(labels.items(), bank, strict=True):
            if not value:
                errors[name] = f"Введите {label}: реквизиты банка нужны целиком, для квитанции и QR-кода"
    if errors:
        raise Invalid.from_errors(errors)
    return values


# What the ЕПД prints or puts into its payment QR (settings: the reading window sentence)
PRINTED_FIELDS = frozenset({"name", "short_name", "inn", "kpp", "address", "phones", "ads_phone", "office_hours",
                            "email", "site", "bank_name", "bank_bic", "bank_account", "bank_corr_account",
                            "settings"})


def _apply(org: Organisation, values: dict) -> dict:
    kind = OrgKind.RSO if values["org_type"] == "rso" else OrgKind.UK
    changes = diff(org, {
        "kind": kind,
        "management_form": None if kind == OrgKind.RSO else values["org_type"],
        **{k: values[k] for k in ("name", "short_name", "inn", "kpp", "ogrn", "address", "ads_phone",
                                  "office_hours", "email", "site", "bank_name", "bank_bic", "bank_account",
                                  "bank_corr_account")},
        "phones": values["phones"] or "",
    })
    settings = dict(org.settings or {})
    if kind == OrgKind.RSO:
        new = {**settings, "resources": values["resources"]}
    else:
        start, end = values["window"] or DEFAULT_WINDOW
        new = {**settings, "reading_window": {"start_day": start, "end_day": end}}
        new.pop("resources", None)
    if new != settings:
        changes["settings"] = [settings, new]
        org.settings = new
    if org.id is not None and PRINTED_FIELDS.intersection(changes):
        # Cached receipt PDFs are keyed by this version (app/services/receipts.py): bump it whenever
        # something printed on the ЕПД or encoded in its QR changes, so they are rebuilt.
        org.details_version = (org.details_version or 1) + 1
    return changes


def _inn_taken(inn: str, except_id: int | None) -> bool:
    query = select(Organisation.id).where(Organisation.inn == inn)
    if except_id is not None:
        query = query.where(Organisation.id != except_id)
    return db.session.scalar(query) is not None


INN_TAKEN = "Организация с таким ИНН уже есть на портале"


def organisation_create(*, actor: User, data: OrganisationInput, origin: Origin = NO_ORIGIN) -> Organisation:
    _require_operator(actor)
    values = _clean(data)
    if _inn_taken(values["inn"], None):
        raise Invalid("inn", INN_TAKEN)
    org = Organisation(settings={}, active=True)
    changes = _apply(org, values)
    db.session.add(org)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(INN_TAKEN + ": её только что добавили. Обновите список") from None
    audit_record(actor=actor, action="organisation_created", entity_type="organisation", entity_id=org.id,
                 changes={k: v[1] for k, v in changes.items()}, origin=origin)
    db.session.commit()
    return org


def organisation_update(*, actor: User, org: Organisation, data: OrganisationInput,
                        origin: Origin = NO_ORIGIN) -> Organisation:
    _require_operator(actor)
    values = _clean(data)
    if _inn_taken(values["inn"], org.id):
        raise Invalid("inn", INN_TAKEN)
    if (org.kind == OrgKind.UK) != (values["org_type"] != "rso"):
        # A УК with buildings or an РСО serving buildings can't silently become the other kind.
        if org.buildings or _supplied_buildings_count(org) or _staff_count(org):
            raise Invalid("org_type", "Вид нельзя сменить между УК и РСО, пока у организации есть дома или "
                                      "сотрудники")
    changes = _apply(org, values)
    if changes:
        audit_record(actor=actor, action="organisation_updated", entity_type="organisation", entity_id=org.id,
                     changes=changes, origin=origin)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(INN_TAKEN) from None
    return org


def organisation_set_active(*, actor: User, org: Organisation, active: bool, origin: Origin = NO_ORIGIN) -> None:
    """Deactivate (or bring back) an organisation: it is kept with its history, marked inactive in lists
    and not offered for new buildings or suppliers."""
    _require_operator(actor)
    if org.active == active:
        return
    org.active = active
    audit_record(actor=actor, action="organisation_activated" if active else "organisation_deactivated",
                 entity_type="organisation", entity_id=org.id, origin=origin)
    db.session.commit()


# --- lists ------------------------------------------------------------------------------------------------

def organisations_list(*, actor: User, q: str | None = None, kind: str | None = None, active: str | None = None,
                       offset: int = 0, limit: int = PAGE_SIZE) -> tuple[list[Organisation], int | None]:
    """One page of organisations for the operator, searched by name or ИНН."""
    _require_operator(actor)
    offset = min(max(offset or 0, 0), MAX_ID)
    query = select(Organisation).where(Organisation.kind != OrgKind.OPERATOR)
    if kind in ("uk", "rso"):
        query = query.where(Organisation.kind == kind)
    if active == "1":
        query = query.where(Organisation.active.is_(True))
    elif active == "0":
        query = query.where(Organisation.active.is_(False))
    if q and q.strip():
        text = q.strip().lower()[:60]
        like = f"%{text}%"
        query = query.where(or_(func.lower(Organisation.name).like(like),
                                func.lower(Organisation.short_name).like(like),
                                Organisation.inn.like(f"{text}%")))
    rows = list(db.session.scalars(query.order_by(Organisation.short_name, Organisation.id)
                                   .offset(offset).limit(limit + 1)))
    return rows[:limit], (offset + limit if len(rows) > limit else None)


def active_uk_choices() -> list[Organisation]:
    return list(db.session.scalars(select(Organisation).where(Organisation.kind == OrgKind.UK,
                                                              Organisation.active.is_(True))
                                   .order_by(Organisation.short_name)))


def active_suppliers() -> list[Organisation]:
    return list(db.session.scalars(select(Organisation).where(Organisation.kind == OrgKind.RSO,
                                                              Organisation.active.is_(True))
                                   .order_by(Organisation.short_name)))


def organisation_buildings(org: Organisation) -> list[Building]:
    return list(db.session.scalars(select(Building).where(Building.organisation_id == org.id)
                                   .order_by(Building.street, Building.house)))


def _staff_count(org: Organisation) -> int:
    return db.session.scalar(select(func.count(StaffMembership.id))
                             .where(StaffMembership.organisation_id == org.id)) or 0


def _supplied_buildings_count(org: Organisation) -> int:
    from app.models import building_suppliers

    return db.session.scalar(select(func.count()).select_from(building_suppliers)
                             .where(building_suppliers.c.organisation_id == org.id)) or 0


def organisation_resources_label(org: Organisation) -> str:
    return ", ".join(RESOURCE_LABELS[Resource(r)].lower() for r in (org.settings or {}).get("resources", []))


def console_counts() -> dict[str, int]:
    """What the operator's home shows: organisations by kind, buildings, announcements to look at."""
    from app.models import Announcement, AnnouncementReport

    by_kind = dict(db.session.execute(
        select(Organisation.kind, func.count(Organisation.id))
        .where(Organisation.active.is_(True)).group_by(Organisation.kind)).all())
    reported = db.session.scalar(
        select(func.count(func.distinct(AnnouncementReport.announcement_id)))
        .join(Announcement, Announcement.id == AnnouncementReport.announcement_id)
        .where(Announcement.status == "active")) or 0
    return {
        "uk": by_kind.get(OrgKind.UK, 0),
        "rso": by_kind.get(OrgKind.RSO, 0),
        "buildings": db.session.scalar(select(func.count(Building.id))) or 0,
        "reported": reported,
        "hidden": db.session.scalar(select(func.count(Announcement.id))
                                    .where(Announcement.status == "hidden")) or 0,
    }
