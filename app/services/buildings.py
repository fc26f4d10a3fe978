"""Buildings in the console: the card of a building (address, state-system codes, reading window override)
and its suppliers per resource.

The operator onboards buildings for any organisation and may hand one to another УК; a УК admin adds and
edits the buildings of their own organisation. Suppliers are stored in building_suppliers with the
`resources` this supplier delivers to this building (app/access.py narrows the supplier's staff to them).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select

from app.access import NOT_FOUND, access_for, row_get
from app.extensions import db
from app.models import Building, Organisation, User, building_suppliers
from app.models.metering import RESOURCE_LABELS, Resource
from app.models.orgs import OrgKind
from app.services.audit import audit_record, diff
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Invalid, NotAllowed, NotFound
from app.services.organisations import clean_window
from app.services.validation import clean_text, validate_all

YEAR_MIN, YEAR_MAX = 1700, 2100


@dataclass(frozen=True)
class BuildingInput:
    organisation_id: str | int | None = None
    city: str = "Чита"
    street: str = ""
    house: str = ""
    postcode: str | None = None
    fias_guid: str | None = None
    gis_house_code: str | None = None
    year_built: str | int | None = None
    floors: str | int | None = None
    entrances: str | int | None = None
    reading_start_day: str | int | None = None
    reading_end_day: str | int | None = None
    # resource value -> supplier organisation id ("" = none)
    suppliers: dict[str, str | int | None] = field(default_factory=dict)


# --- who may do what --------------------------------------------------------------------------------------

def may_edit_building(actor: User, building: Building) -> bool:
    access = access_for(actor)
    return access.operator or access.admin_of(building.organisation_id)


def console_building_get(*, actor: User, id: int) -> Building:  # noqa: A002
    """A building whose card the actor may edit: operator any, УК admin their organisation's."""
    building = row_get(Building, id)
    if not may_edit_building(actor, building):
        raise NotFound(NOT_FOUND)
    return building


def may_add_building(actor: User, org: Organisation) -> bool:
    access = access_for(actor)
    return org.kind == OrgKind.UK and org.active and (access.operator or access.admin_of(org))


def _require_org_admin(actor: User, org: Organisation) -> None:
    access = access_for(actor)
    if not (access.operator or access.admin_of(org)):
        raise NotAllowed("Дома организации добавляет её администратор или оператор портала")


# --- cleaning ---------------------------------------------------------------------------------------------

def _int(raw, field_name: str, low: int, high: int, message: str) -> int | None:
    text = str(raw).strip() if raw is not None else ""
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,4}", text) or not low <= int(text) <= high:
        raise Invalid(field_name, message)
    return int(text)


def _postcode(raw) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{6}", text):
        raise Invalid("postcode", "Почтовый индекс — 6 цифр, например 672000")
    return text


_UUID_RE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def _fias(raw) -> str | None:
    """The ФИАС/ГАР house GUID (a UUID): stored in its canonical form, lower case with dashes."""
    text = (raw or "").strip().lower()
    if not text:
        return None
    if not _UUID_RE.fullmatch(text):
        raise Invalid("fias_guid", "Код ФИАС (ГАР) — 32 шестнадцатеричные цифры с дефисами, например "
                                   "2c8bb2a6-0f1e-4a5b-9c3d-1e2f3a4b5c6d")
    return str(uuid.UUID(text))


def _gis_code(raw) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > 40 or not re.fullmatch(r"[0-9A-Za-z\-]+", text):
        raise Invalid("gis_house_code", "Код дома в ГИС ЖКХ: латинские буквы, цифры и дефисы, до 40 знаков")
    return text


def _suppliers(raw: dict, allowed: dict[int, Organisation]) -> dict[int, list[str]]:
    """resource -> supplier id, checked against the suppliers' own resources; grouped by supplier."""
    errors: dict[str, str] = {}
    grouped: dict[int, list[str]] = {}
    for resource in Resource:
        value = raw.get(resource.value)
        text = str(value).strip() if value is not None else ""
        if not text:
            continue
        org = allowed.get(int(text)) if text.isdigit() and len(text) < 10 else None
        if org is None or resource.value not in (org.settings or {}).get("resources", []):
            errors[f"supplier_{resource.value}"] = (f"Выберите поставщика ресурса «{RESOURCE_LABELS[resource]}» "
                                                    "из списка")
            continue
        grouped.setdefault(org.id, []).append(resource.value)
    if errors:
        raise Invalid.from_errors(errors)
    return grouped


def supplier_choices() -> dict[str, list[Organisation]]:
    """resource value -> active suppliers that deliver it."""
    orgs = list(db.session.scalars(select(Organisation).where(Organisation.kind == OrgKind.RSO,
                                                              Organisation.active.is_(True))
                                   .order_by(Organisation.short_name)))
    return {r.value: [o for o in orgs if r.value in (o.settings or {}).get("resources", [])] for r in Resource}


def current_suppliers(building: Building) -> dict[str, int]:
    """resource value -> supplier id, as stored (NULL resources: every resource of the supplier)."""
    result: dict[str, int] = {}
    rows = db.session.execute(
        select(building_suppliers.c.organisation_id, building_suppliers.c.resources, Organisation.settings)
        .join(Organisation, Organisation.id == building_suppliers.c.organisation_id)
        .where(building_suppliers.c.building_id == building.id)
        .order_by(building_suppliers.c.organisation_id))
    for org_id, resources, settings in rows:
        for r in resources if resources is not None else (settings or {}).get("resources", []):
            result.setdefault(r, org_id)
    return result


def _clean(data: BuildingInput, *, organisation: Organisation | None) -> dict:
    allowed = {o.id: o for group in supplier_choices().values() for o in group}
    values = validate_all({
        "city": lambda: clean_text(data.city, "city", "город или населённый пункт", max_len=100),
        "street": lambda: clean_text(data.street, "street", "улицу", max_len=200),
        "house": lambda: clean_text(data.house, "house", "номер дома", max_len=20),
        "postcode": lambda: _postcode(data.postcode),
        "fias_guid": lambda: _fias(data.fias_guid),
        "gis_house_code": lambda: _gis_code(data.gis_house_code),
        "year_built": lambda: _int(data.year_built, "year_built", YEAR_MIN, YEAR_MAX,
                                   f"Год постройки — четыре цифры, от {YEAR_MIN} до {YEAR_MAX}"),
        "floors": lambda: _int(data.floors, "floors", 1, 100, "Этажей — от 1 до 100"),
        "entrances": lambda: _int(data.entrances, "entrances", 1, 50, "Подъездов — от 1 до 50"),
        "window": lambda: clean_window(data.reading_start_day, data.reading_end_day, required=False),
        "suppliers": lambda: _suppliers(data.suppliers or {}, allowed),
    })
    values["organisation"] = organisation
    return values


def _organisation_choice(actor: User, raw, current: Organisation) -> Organisation:
    """The operator may hand a building to another active УК; anyone else keeps their own."""
    if not access_for(actor).operator:
        return current
    text = str(raw).strip() if raw is not None else ""
    if not text or text == str(current.id):
        return current
    org = db.session.get(Organisation, int(text)) if text.isdigit() and len(text) < 10 else None
    if org is None or org.kind != OrgKind.UK or not org.active:
        raise Invalid("organisation_id", "Выберите управляющую организацию из списка")
    return org


def _duplicate(values: dict, except_id: int | None) -> dict[str, str]:
    errors = {}
    query = select(Building.id).where(func.lower(Building.city) == values["city"].lower(),
                                      func.lower(Building.street) == values["street"].lower(),
                                      func.lower(Building.house) == values["house"].lower())
    if except_id is not None:
        query = query.where(Building.id != except_id)
    if db.session.scalar(query.limit(1)) is not None:
        errors["house"] = "Дом с таким адресом уже есть на портале"
    if values["fias_guid"]:
        query = select(Building.id).where(Building.fias_guid == values["fias_guid"])
        if except_id is not None:
            query = query.where(Building.id != except_id)
        if db.session.scalar(query.limit(1)) is not None:
            errors["fias_guid"] = "Дом с таким кодом ФИАС уже есть на портале"
    return errors


def _apply(building: Building, values: dict) -> dict:
    start, end = values["window"] or (None, None)
    changes = diff(building, {
        "organisation_id": values["organisation"].id,
        **{k: values[k] for k in ("city", "street", "house", "postcode", "fias_guid", "gis_house_code",
                                  "year_built", "floors", "entrances")},
        "reading_start_day": start,
        "reading_end_day": end,
    })
    return changes


def _store_suppliers(building: Building, grouped: dict[int, list[str]]) -> dict | None:
    before = {str(k): v for k, v in sorted(_stored_rows(building).items())}
    after = {str(k): v for k, v in sorted(grouped.items())}
    if before == after:
        return None
    db.session.execute(delete(building_suppliers).where(building_suppliers.c.building_id == building.id))
    for org_id, resources in sorted(grouped.items()):
        db.session.execute(insert(building_suppliers).values(building_id=building.id, organisation_id=org_id,
                                                             resources=resources))
    db.session.expire(building, ["suppliers"])
    return {"suppliers": [before, after]}


def _stored_rows(building: Building) -> dict[int, list[str] | None]:
    return dict(db.session.execute(
        select(building_suppliers.c.organisation_id, building_suppliers.c.resources)
        .where(building_suppliers.c.building_id == building.id)).all())


def building_create(*, actor: User, organisation: Organisation, data: BuildingInput,
                    origin: Origin = NO_ORIGIN) -> Building:
    _require_org_admin(actor, organisation)
    if organisation.kind != OrgKind.UK:
        raise Invalid("organisation_id", "Дом управляет управляющая организация, ТСЖ или ЖСК, а не РСО")
    if not organisation.active:
        raise Invalid("organisation_id", "Организация отключена: новые дома к ней не добавляются")
    values = _clean(data, organisation=organisation)
    errors = _duplicate(values, None)
    if errors:
        raise Invalid.from_errors(errors)
    building = Building()
    changes = _apply(building, values)
    db.session.add(building)
    db.session.flush()
    supplier_changes = _store_suppliers(building, values["suppliers"]) or {}
    audit_record(actor=actor, action="building_created", entity_type="building", entity_id=building.id,
                 changes={**{k: v[1] for k, v in changes.items()},
                          **({"suppliers": supplier_changes["suppliers"][1]} if supplier_changes else {})},
                 origin=origin)
    db.session.commit()
    return building


def building_update(*, actor: User, building: Building, data: BuildingInput,
                    origin: Origin = NO_ORIGIN) -> Building:
    if not may_edit_building(actor, building):
        raise NotAllowed("Изменить дом может администратор его организации или оператор портала")
    values = validate_all({
        "organisation_id": lambda: _organisation_choice(actor, data.organisation_id, building.organisation),
        "rest": lambda: _clean(data, organisation=None),
    })
    values = {**values["rest"], "organisation": values["organisation_id"]}
    errors = _duplicate(values, building.id)
    if errors:
        raise Invalid.from_errors(errors)
    changes = _apply(building, values)
    changes.update(_store_suppliers(building, values["suppliers"]) or {})
    if changes:
        audit_record(actor=actor, action="building_updated", entity_type="building", entity_id=building.id,
                     changes=changes, origin=origin)
    db.session.commit()
    return building


def building_supplier_rows(building: Building) -> list[tuple[str, Organisation]]:
    """(resource label, supplier) pairs for the building's card."""
    stored = current_suppliers(building)
    if not stored:
        return []
    orgs = {o.id: o for o in db.session.scalars(select(Organisation)
                                                .where(Organisation.id.in_(sorted(set(stored.values())))))}
    return [(RESOURCE_LABELS[r], orgs[stored[r.value]]) for r in Resource if r.value in stored]
