"""Who may reach what: route gates and scoped loaders (an object the actor may not reach is a 404)."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db
from app.models import Building, Ownership, Premises, User
from app.models.orgs import OrgKind
from app.models.people import Role


def _old_roles_required(*roles: str):
    """Route gate: the user must be logged in and hold one of the roles (else 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def uk_org_ids(actor: User) -> set[int]:
    return {m.organisation_id for m in actor.staff_memberships if m.organisation.kind == OrgKind.UK}


def council_building_ids(actor: User) -> set[int]:
    return {m.building_id for m in actor.council_memberships}


def managed_building_ids(actor: User) -> set[int]:
    """Buildings whose owners' accounts and premises the actor manages: УК staff and council."""
    ids = council_building_ids(actor)
    orgs = uk_org_ids(actor)
    if orgs:
        ids |= set(db.session.scalars(select(Building.id).where(Building.organisation_id.in_(orgs))))
    return ids


def managed_buildings(actor: User) -> list[Building]:
    ids = managed_building_ids(actor)
    if not ids:
        return []
    return list(
        db.session.scalars(select(Building).where(Building.id.in_(ids)).order_by(Building.street, Building.house))
    )


def can_manage_building(actor: User, building: Building) -> bool:
    return building.id in council_building_ids(actor) or building.organisation_id in uk_org_ids(actor)


def premises_for(actor: User, premises_id: int) -> Premises:
    """The premises if the actor owns it or manages its building, else 404."""
    premises = db.session.get(Premises, premises_id)
    if premises is None:
        abort(404)
    if any(o.premises_id == premises.id for o in actor.ownerships):
        return premises
    if can_manage_building(actor, premises.building):
        return premises
    abort(404)


def building_for(actor: User, building_id: int) -> Building:
    building = db.session.get(Building, building_id)
    if building is None or not can_manage_building(actor, building):
        abort(404)
    return building


def owner_account_for(actor: User, user_id: int) -> User:
    """An owner account whose credentials the actor may manage (owns premises in a managed building)."""
    user = db.session.get(User, user_id)
    if user is None or not can_manage_account(actor, user):
        abort(404)
    return user


def can_manage_account(actor: User, user: User) -> bool:
    if user.id == actor.id:
        return False
    # Staff accounts are managed by the organisation's admin, not from a building.
    if user.has_role(Role.STAFF, Role.RSO, Role.OPERATOR):
        return False
    managed = managed_building_ids(actor)
    owns_here = any(o.premises.building_id in managed for o in user.ownerships)
    # A council member's account may be reset by the УК, not by fellow council members.
    if user.has_role(Role.COUNCIL) and not actor.has_role(Role.STAFF):
        return False
    return owns_here


def owned_premises_ids(actor: User) -> set[int]:
    return {o.premises_id for o in actor.ownerships}


def owners_of(premises_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User).join(Ownership).where(Ownership.premises_id == premises_id).order_by(User.full_name)
        )
    )


from app.web import roles_required  # noqa: E402,F401  (moved; this module is being removed)
