"""The one access layer: who may reach what (no request objects; services and routes both use it).

An `Access` is built once per actor from their memberships (`access_for(actor)`, cached on the user object
until those memberships change). It answers questions with predicates (`manages(building)`, `owns(premises)`,
`may_administer(account)` ...) and gives SQL clauses (`buildings_clause()`, `premises_clause()` ...) so that a
list and a lookup are scoped by the same rule. Objects are loaded with `<entity>_get(*, actor, id)`, which raises
`NotFound` when the actor may not reach them (a 404 that does not reveal existence).

The rules, role by role, are the table in docs/access.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db
from app.models import Building, Meter, Premises, User, building_suppliers
from app.models.metering import Resource
from app.models.orgs import OrgKind, StaffRole
from app.services.errors import NotFound

# Ids come from URLs and forms; anything outside a 32-bit key can't exist (and PostgreSQL would refuse it).
MAX_ID = 2**31 - 1


def valid_id(value) -> int | None:
    """An integer id in the range of our keys, else None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


@dataclass(eq=False)
class Access:
    """What one actor may reach. Sets hold ids; the database is asked lazily, at most once per kind."""

    user_id: int
    operator: bool = False
    uk_orgs: frozenset[int] = frozenset()  # УК/ТСЖ the actor staffs (admins included)
    uk_admin_orgs: frozenset[int] = frozenset()
    rso_orgs: frozenset[int] = frozenset()  # suppliers the actor works for
    rso_resources: dict[int, frozenset[Resource]] = field(default_factory=dict)
    council_buildings: frozenset[int] = frozenset()
    chair_buildings: frozenset[int] = frozenset()
    owned_premises: frozenset[int] = frozenset()
    owned_buildings: frozenset[int] = frozenset()

    # --- derived from the database (lazily, once) -----------------------------------------------------------
    @cached_property
    def uk_buildings(self) -> frozenset[int]:
        """Buildings managed by the organisations the actor staffs."""
        if not self.uk_orgs:
            return frozenset()
        return frozenset(db.session.scalars(select(Building.id).where(Building.organisation_id.in_(self.uk_orgs))))

    @cached_property
    def managed_buildings(self) -> frozenset[int]:
        """Buildings whose premises and owners the actor manages: УК staff and council."""
        return self.uk_buildings | self.council_buildings

    @cached_property
    def supplied(self) -> dict[int, frozenset[Resource]]:
        """building id -> resources the actor's suppliers deliver there."""
        if not self.rso_orgs:
            return {}
        result: dict[int, set[Resource]] = defaultdict(set)
        for building_id, org_id, resources in db.session.execute(
            select(building_suppliers.c.building_id, building_suppliers.c.organisation_id,
                   building_suppliers.c.resources).where(building_suppliers.c.organisation_id.in_(self.rso_orgs))
        ):
            # The building's own list narrows the supplier to what it delivers there (NULL: all it delivers).
            declared = self.rso_resources.get(org_id, frozenset())
            result[building_id] |= declared if resources is None else {Resource(r) for r in resources} & declared
        return {b: frozenset(r) for b, r in result.items()}

    @cached_property
    def supplier_of_building(self) -> dict[int, int]:
        """building id -> one supplier organisation of the actor serving it (for posting notices)."""
        if not self.rso_orgs:
            return {}
        return dict(db.session.execute(
            select(building_suppliers.c.building_id, building_suppliers.c.organisation_id)
            .where(building_suppliers.c.organisation_id.in_(self.rso_orgs))
            .order_by(building_suppliers.c.organisation_id.desc())
        ).all())

    # --- predicates -------------------------------------------------------------------------------------------
    @property
    def is_staff(self) -> bool:
        return bool(self.uk_orgs)

    @property
    def is_council(self) -> bool:
        return bool(self.council_buildings)

    @property
    def is_supplier(self) -> bool:
        return bool(self.rso_orgs)

    @property
    def is_owner(self) -> bool:
        return bool(self.owned_premises)

    @property
    def is_manager(self) -> bool:
        """Back office of buildings: УК staff or council."""
        return self.is_staff or self.is_council

    def staff_of(self, org_or_id) -> bool:
        """Staff (or admin) of this УК."""
        return _id(org_or_id) in self.uk_orgs

    def admin_of(self, org_or_id) -> bool:
        return _id(org_or_id) in self.uk_admin_orgs

    def works_for(self, org_or_id) -> bool:
        """Staff of this organisation, whatever its kind (УК or supplier)."""
        org_id = _id(org_or_id)
        return org_id in self.uk_orgs or org_id in self.rso_orgs

    def uk_manages(self, building: Building) -> bool:
        """The actor is staff of the УК that manages the building (not only its council)."""
        return building.organisation_id in self.uk_orgs

    def on_council_of(self, building_or_id) -> bool:
        return _id(building_or_id) in self.council_buildings

    def manages(self, building: Building) -> bool:
        """УК staff of the building's organisation, or its council."""
        return self.uk_manages(building) or building.id in self.council_buildings

    def supplies(self, building_or_id, resource: Resource | str | None = None) -> bool:
        resources = self.supplied.get(_id(building_or_id))
        if not resources:
            return False
        return resource is None or Resource(resource) in resources

    def supplier_resources(self, building_or_id) -> frozenset[Resource] | None:
        """Resources the actor's suppliers deliver to the building (None if the actor is no supplier of it)."""
        return self.supplied.get(_id(building_or_id)) or None

    def owns(self, premises_or_id) -> bool:
        return _id(premises_or_id) in self.owned_premises

    def lives_in(self, building_or_id) -> bool:
        """Owns a premises in the building."""
        return _id(building_or_id) in self.owned_buildings

    def may_see_premises(self, premises: Premises) -> bool:
        return self.owns(premises) or self.manages(premises.building)

    def may_see_receipts(self, premises: Premises) -> bool:
        """Owners, the УК of the building, and its council where the УК allows it in its settings."""
        if self.owns(premises) or self.uk_manages(premises.building):
            return True
        settings = premises.building.organisation.settings or {}
        return self.on_council_of(premises.building_id) and bool(settings.get("council_sees_receipts", False))

    def board_view(self, building: Building) -> str | None:
        """How the actor sees the building's readings board: 'values' (council/УК: values and sources),
        'resource' (РСО: values of its resources), 'numbers' (owners: apartment numbers only) or None."""
        if self.manages(building):
            return "values"
        if self.supplier_resources(building):
            return "resource"
        if self.lives_in(building):
            return "numbers"
        return None

    def may_see_meter(self, meter: Meter) -> bool:
        if meter.premises_id is not None and self.owns(meter.premises_id):
            return True
        if meter.building_id in self.managed_buildings:
            return True
        return self.supplies(meter.building_id, meter.resource)

    def may_administer(self, account: User) -> bool:
        """Authority over a person's account (reset, deactivate, unlink, credential letter).

        The operator may administer any owner account. Anyone else needs authority over *every* premises
        the account owns: УК staff over premises of their organisation's buildings, the council over premises
        of its building. Staff, supplier and operator accounts are never administered from a building, nor is
        one's own; a council member's account only by the УК (not by fellow council members).
        """
        if account.id == self.user_id:
            return False
        target = access_for(account)
        if target.uk_orgs or target.rso_orgs or target.operator:
            return False
        if self.operator:
            return True
        if not target.owned_premises:
            return False
        buildings = target.owned_buildings
        if target.council_buildings:
            return buildings <= self.uk_buildings
        return buildings <= self.managed_buildings

    def may_administer_staff(self, account: User) -> bool:
        """Authority over a staff account (role, deactivation, password reset).

        Never one's own account, never an operator's. The operator: any other account with a staff
        membership. A УК admin: only an account whose every membership is in organisations they administer,
        and whose premises and council seats (if any) are all in those organisations' buildings — authority
        over every role the account has, as `may_administer` requires for owners.
        """
        if account.id == self.user_id or not account.staff_memberships:
            return False
        target = access_for(account)
        if target.operator:
            return False
        if self.operator:
            return True
        if not {m.organisation_id for m in account.staff_memberships} <= self.uk_admin_orgs:
            return False
        return (target.owned_buildings | target.council_buildings) <= self.uk_buildings

    def may_reset_second_factor(self, account: User) -> bool:
        """Who may switch off another person's second factor (a lost phone): the operator, anyone but
        themselves; a УК admin, staff of their own УК only; for owner and council accounts, whoever
        administers the account."""
        if account.id == self.user_id:
            return False
        if self.operator:
            return True
        target = access_for(account)
        if target.operator or target.rso_orgs:
            return False
        if target.uk_orgs:
            return target.uk_orgs <= self.uk_admin_orgs
        return self.may_administer(account)

    # --- SQL clauses ------------------------------------------------------------------------------------------
    def buildings_clause(self, column=Building.id) -> ColumnElement[bool]:
        """Buildings the actor manages (УК staff or council)."""
        return _in(column, self.managed_buildings)

    def uk_buildings_clause(self, column=Building.id) -> ColumnElement[bool]:
        return _in(column, self.uk_buildings)

    def uk_orgs_clause(self, column) -> ColumnElement[bool]:
        return _in(column, self.uk_orgs)

    def member_buildings_clause(self, column=Building.id) -> ColumnElement[bool]:
        """Buildings the actor belongs to: owned premises, council, or the УК's buildings."""
        return _in(column, self.owned_buildings | self.managed_buildings)

    def premises_clause(self) -> ColumnElement[bool]:
        """Premises the actor owns or whose building the actor manages."""
        return or_(_in(Premises.id, self.owned_premises), _in(Premises.building_id, self.managed_buildings))


def _id(obj_or_id) -> int | None:
    if obj_or_id is None or isinstance(obj_or_id, int):
        return obj_or_id
    return obj_or_id.id


def _in(column, ids) -> ColumnElement[bool]:
    return column.in_(sorted(ids)) if ids else false()


def _fingerprint(user: User) -> tuple:
    return (
        user.id,
        bool(user.is_operator),
        tuple(sorted((o.premises_id, o.premises.building_id) for o in user.ownerships)),
        tuple(sorted((m.building_id, bool(m.is_chair)) for m in user.council_memberships)),
        tuple(sorted((m.organisation_id, str(m.role)) for m in user.staff_memberships)),
    )


def access_for(user: User) -> Access:
    """The actor's Access, built once and reused until their memberships change.

    The cache lives on the user object for as long as its membership lists are the same loaded lists: a commit
    expires them (the next use reloads them), so an Access never outlives the transaction it was built in.
    """
    lists = (user.ownerships, user.council_memberships, user.staff_memberships)
    fingerprint = _fingerprint(user)
    cached = user.__dict__.get("_access")
    if cached is not None and cached[0] == fingerprint and all(a is b for a, b in zip(cached[2], lists, strict=True)):
        return cached[1]
    uk, uk_admin, rso = set(), set(), set()
    rso_resources: dict[int, frozenset[Resource]] = {}
    operator = bool(user.is_operator)
    for m in user.staff_memberships:
        kind = m.organisation.kind
        if kind == OrgKind.UK:
            uk.add(m.organisation_id)
            if m.role == StaffRole.ADMIN:
                uk_admin.add(m.organisation_id)
        elif kind == OrgKind.RSO:
            rso.add(m.organisation_id)
            rso_resources[m.organisation_id] = frozenset(
                Resource(r) for r in (m.organisation.settings or {}).get("resources", [])
            )
        elif kind == OrgKind.OPERATOR:
            operator = True
    access = Access(
        user_id=user.id,
        operator=operator,
        uk_orgs=frozenset(uk),
        uk_admin_orgs=frozenset(uk_admin),
        rso_orgs=frozenset(rso),
        rso_resources=rso_resources,
        council_buildings=frozenset(m.building_id for m in user.council_memberships),
        chair_buildings=frozenset(m.building_id for m in user.council_memberships if m.is_chair),
        owned_premises=frozenset(o.premises_id for o in user.ownerships),
        owned_buildings=frozenset(o.premises.building_id for o in user.ownerships),
    )
    user.__dict__["_access"] = (fingerprint, access, lists)
    return access


# --- loaders: the object if the actor may reach it, else NotFound ---------------------------------------------

NOT_FOUND = "Не найдено"


def row_get(model, id_):
    """The row with this id, else NotFound: the first step of every loader (the scope check is the second)."""
    key = valid_id(id_)
    obj = db.session.get(model, key) if key is not None else None
    if obj is None:
        raise NotFound(NOT_FOUND)
    return obj


def premises_get(*, actor: User, id: int) -> Premises:  # noqa: A002
    """A premises the actor owns or whose building the actor manages."""
    premises = row_get(Premises, id)
    if not access_for(actor).may_see_premises(premises):
        raise NotFound(NOT_FOUND)
    return premises


def managed_premises_get(*, actor: User, id: int) -> Premises:  # noqa: A002
    """A premises of a building the actor manages (УК staff or council): the back office of it. Owning it
    is not enough (an owner's own flat in another building is no back office of theirs)."""
    premises = row_get(Premises, id)
    if not access_for(actor).manages(premises.building):
        raise NotFound(NOT_FOUND)
    return premises


def receipts_premises_get(*, actor: User, id: int) -> Premises:  # noqa: A002
    """A premises whose receipts the actor may download (see Access.may_see_receipts)."""
    premises = row_get(Premises, id)
    if not access_for(actor).may_see_receipts(premises):
        raise NotFound(NOT_FOUND)
    return premises


def managed_building_get(*, actor: User, id: int) -> Building:  # noqa: A002
    """A building the actor manages (УК staff or council)."""
    building = row_get(Building, id)
    if not access_for(actor).manages(building):
        raise NotFound(NOT_FOUND)
    return building


def uk_building_get(*, actor: User, id: int) -> Building:  # noqa: A002
    """A building managed by the actor's УК (staff only, not the council)."""
    building = row_get(Building, id)
    if not access_for(actor).uk_manages(building):
        raise NotFound(NOT_FOUND)
    return building


def board_building_get(*, actor: User, id: int) -> tuple[Building, str]:  # noqa: A002
    """A building whose readings board the actor may open, with the view they get."""
    building = row_get(Building, id)
    view = access_for(actor).board_view(building)
    if view is None:
        raise NotFound(NOT_FOUND)
    return building, view


def meter_get(*, actor: User, id: int) -> Meter:  # noqa: A002
    """A meter of the actor's premises, of a managed building, or of a resource the actor supplies."""
    meter = row_get(Meter, id)
    if not access_for(actor).may_see_meter(meter):
        raise NotFound(NOT_FOUND)
    return meter


def uk_meter_get(*, actor: User, id: int) -> Meter:  # noqa: A002
    """A meter the actor's УК may change (add, replace, archive)."""
    meter = row_get(Meter, id)
    building = db.session.get(Building, meter.building_id)
    if not access_for(actor).uk_manages(building):
        raise NotFound(NOT_FOUND)
    return meter


def account_get(*, actor: User, id: int) -> User:  # noqa: A002
    """An account the actor may administer (see Access.may_administer)."""
    user = row_get(User, id)
    if not access_for(actor).may_administer(user):
        raise NotFound(NOT_FOUND)
    return user


# --- lists scoped by the same rules ---------------------------------------------------------------------------

def managed_buildings(actor: User) -> list[Building]:
    access = access_for(actor)
    if not access.managed_buildings:
        return []
    return list(db.session.scalars(
        select(Building).where(access.buildings_clause()).order_by(Building.street, Building.house)
    ))


def uk_buildings(actor: User) -> list[Building]:
    """Buildings of the actor's УК (staff only)."""
    access = access_for(actor)
    if not access.uk_buildings:
        return []
    return list(db.session.scalars(
        select(Building).where(access.uk_buildings_clause()).order_by(Building.street, Building.house)
    ))


def board_buildings(actor: User) -> list[Building]:
    """Buildings whose readings board the actor may open: own, managed and supplied ones."""
    access = access_for(actor)
    ids = access.owned_buildings | access.managed_buildings | {b for b, r in access.supplied.items() if r}
    if not ids:
        return []
    return list(db.session.scalars(
        select(Building).where(Building.id.in_(sorted(ids))).order_by(Building.street, Building.house)
    ))


def owners_of(premises_id: int) -> list[User]:
    """Accounts that own the premises (the caller has loaded the premises through premises_get).

    Their memberships are not loaded with them (pages list names): one query, not four."""
    from sqlalchemy.orm import lazyload

    from app.models import Ownership

    return list(db.session.scalars(
        select(User).join(Ownership).where(Ownership.premises_id == premises_id).order_by(User.full_name)
        .options(lazyload(User.ownerships), lazyload(User.council_memberships), lazyload(User.staff_memberships))
    ))
