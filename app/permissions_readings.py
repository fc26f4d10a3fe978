"""Who may see which meters and boards (scoped loaders: unreachable → 404)."""

from flask import abort
from sqlalchemy import select

from app.extensions import db
from app.models import Building, Meter, User, building_suppliers
from app.models.metering import Resource
from app.models.orgs import OrgKind
from app.permissions import can_manage_building


def supplier_resources(actor: User, building: Building) -> set[Resource] | None:
    """Resources a РСО employee may see in this building (None if the actor is no supplier of it)."""
    org_ids = [m.organisation_id for m in actor.staff_memberships if m.organisation.kind == OrgKind.RSO]
    if not org_ids:
        return None
    supplied = set(db.session.scalars(
        select(building_suppliers.c.organisation_id).where(building_suppliers.c.building_id == building.id,
                                                           building_suppliers.c.organisation_id.in_(org_ids))))
    if not supplied:
        return None
    resources: set[Resource] = set()
    for m in actor.staff_memberships:
        if m.organisation_id in supplied:
            resources |= {Resource(r) for r in (m.organisation.settings or {}).get("resources", [])}
    return resources


def board_buildings(actor: User) -> list[Building]:
    """Buildings whose readings board the actor may open: own buildings, managed ones, supplied ones."""
    from app.permissions import managed_building_ids

    ids = {o.premises.building_id for o in actor.ownerships} | managed_building_ids(actor)
    rso_orgs = [m.organisation_id for m in actor.staff_memberships if m.organisation.kind == OrgKind.RSO]
    if rso_orgs:
        ids |= set(db.session.scalars(select(building_suppliers.c.building_id).where(
            building_suppliers.c.organisation_id.in_(rso_orgs))))
    if not ids:
        return []
    buildings = db.session.scalars(select(Building).where(Building.id.in_(ids)).order_by(Building.street,
                                                                                        Building.house))
    return [b for b in buildings if board_view_for(actor, b)]


def board_view_for(actor: User, building: Building) -> str | None:
    """'values' (council/УК: values and sources), 'resource' (РСО: values of its resources),
    'numbers' (owners: apartment numbers and status only), or None."""
    if can_manage_building(actor, building):
        return "values"
    if supplier_resources(actor, building):
        return "resource"
    if any(o.premises.building_id == building.id for o in actor.ownerships):
        return "numbers"
    return None


def meter_for(actor: User, meter_id: int) -> Meter:
    """A meter whose history the actor may see: own premises, managed building, or a supplied resource."""
    meter = db.session.get(Meter, meter_id)
    if meter is None:
        abort(404)
    if meter.premises_id is not None and any(o.premises_id == meter.premises_id for o in actor.ownerships):
        return meter
    building = db.session.get(Building, meter.building_id)
    if can_manage_building(actor, building):
        return meter
    resources = supplier_resources(actor, building)
    if resources and meter.resource in resources:
        return meter
    abort(404)
