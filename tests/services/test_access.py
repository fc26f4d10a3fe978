"""The access layer, predicate by predicate, on the test world (see docs/access.md for the table).

World: УК «Тест» manages ул. Ленина, 1 (building: кв. 1 owner, кв. 2 neighbour, кв. 3 council chair) and
ул. Горького, 5 (building2: кв. 7 owner); «Другая УК» manages ул. Чкалова, 9 (building_other: кв. 1 other).
The supplier «Вода» (cold water) serves ул. Ленина, 1.
"""

import pytest

from app import access as A
from app.models.metering import Resource
from app.services.errors import NotFound
from tests import factories as F


def test_sets_per_role(world):
    staff = A.access_for(world.staff)
    assert staff.uk_orgs == {world.uk.id} and staff.uk_admin_orgs == set()
    assert staff.uk_buildings == {world.building.id, world.building2.id}
    assert A.access_for(world.ukadmin).uk_admin_orgs == {world.uk.id}
    council = A.access_for(world.council)
    assert council.council_buildings == council.chair_buildings == {world.building.id}
    assert council.managed_buildings == {world.building.id} and council.uk_buildings == set()
    owner = A.access_for(world.owner)
    assert owner.owned_premises == {world.p1.id, world.p_b2.id}
    assert owner.owned_buildings == {world.building.id, world.building2.id}
    assert owner.managed_buildings == set()
    rso = A.access_for(world.rso_user)
    assert rso.rso_orgs == {world.rso.id} and rso.supplied == {world.building.id: {Resource.COLD_WATER}}
    assert A.access_for(world.operator).operator and not A.access_for(world.staff).operator


def test_manages_and_uk_manages(world):
    staff, council, other = (A.access_for(u) for u in (world.staff, world.council, world.staff_other))
    assert staff.manages(world.building) and staff.manages(world.building2) and not staff.manages(world.building_other)
    assert council.manages(world.building) and not council.manages(world.building2)
    assert not council.uk_manages(world.building)  # the council is no УК: meters, receipts, imports are not its
    assert staff.uk_manages(world.building) and other.uk_manages(world.building_other)
    assert not A.access_for(world.owner).manages(world.building)
    assert not A.access_for(world.rso_user).manages(world.building)
    assert not A.access_for(world.operator).manages(world.building)


def test_staff_of_admin_of_works_for(world):
    staff, admin, rso = (A.access_for(u) for u in (world.staff, world.ukadmin, world.rso_user))
    assert staff.staff_of(world.uk) and staff.staff_of(world.uk.id) and not staff.staff_of(world.uk_other)
    assert not staff.admin_of(world.uk) and admin.admin_of(world.uk)
    assert not rso.staff_of(world.rso)  # staff_of is about УК; a supplier's people "work for" it
    assert rso.works_for(world.rso) and staff.works_for(world.uk) and not staff.works_for(world.rso)


def test_supplies_only_its_resources_in_its_buildings(world):
    rso = A.access_for(world.rso_user)
    assert rso.supplies(world.building) and rso.supplies(world.building, Resource.COLD_WATER)
    assert rso.supplies(world.building.id, "cold_water")
    assert not rso.supplies(world.building, Resource.HOT_WATER)
    assert not rso.supplies(world.building2)
    assert rso.supplier_resources(world.building) == {Resource.COLD_WATER}
    assert rso.supplier_resources(world.building2) is None
    assert A.access_for(world.staff).supplier_resources(world.building) is None


def test_owns_lives_in_and_sees_premises(world):
    owner = A.access_for(world.owner)
    assert owner.owns(world.p1) and owner.owns(world.p_b2.id) and not owner.owns(world.p2)
    assert owner.lives_in(world.building) and not owner.lives_in(world.building_other)
    assert owner.may_see_premises(world.p1) and not owner.may_see_premises(world.p2)
    assert A.access_for(world.council).may_see_premises(world.p2)
    assert not A.access_for(world.council).may_see_premises(world.p_b2)
    assert not A.access_for(world.staff).may_see_premises(world.p_other)


def test_board_view(world):
    assert A.access_for(world.staff).board_view(world.building) == "values"
    assert A.access_for(world.council).board_view(world.building) == "values"
    assert A.access_for(world.rso_user).board_view(world.building) == "resource"
    assert A.access_for(world.neighbour).board_view(world.building) == "numbers"
    assert A.access_for(world.neighbour).board_view(world.building2) is None
    assert A.access_for(world.rso_user).board_view(world.building2) is None


def test_meters(world, db):
    cold = F.MeterFactory(premises=world.p2, resource="cold_water")
    hot = F.MeterFactory(premises=world.p2, resource="hot_water")
    db.session.commit()
    assert A.access_for(world.neighbour).may_see_meter(cold)
    assert not A.access_for(world.owner).may_see_meter(cold)
    assert A.access_for(world.council).may_see_meter(hot)
    rso = A.access_for(world.rso_user)
    assert rso.may_see_meter(cold) and not rso.may_see_meter(hot)
    assert not A.access_for(world.staff_other).may_see_meter(cold)


def test_receipts_council_only_where_the_uk_allows(world, db):
    council = A.access_for(world.council)
    assert not council.may_see_receipts(world.p2)
    world.uk.settings = {**(world.uk.settings or {}), "council_sees_receipts": True}
    db.session.commit()
    assert A.access_for(world.council).may_see_receipts(world.p2)
    assert A.access_for(world.neighbour).may_see_receipts(world.p2)
    assert not A.access_for(world.owner).may_see_receipts(world.p2)
    assert A.access_for(world.staff).may_see_receipts(world.p2)
    assert not A.access_for(world.staff_other).may_see_receipts(world.p2)


def test_may_administer_needs_every_premises(world, db):
    staff, council, other = (A.access_for(u) for u in (world.staff, world.council, world.staff_other))
    # The owner has кв. 1 (ул. Ленина) and кв. 7 (ул. Горького): the council of ул. Ленина may not.
    assert staff.may_administer(world.owner) and not council.may_administer(world.owner)
    assert council.may_administer(world.neighbour)
    # An account with a premises in another УК's building: only the operator.
    F.OwnershipFactory(user=world.neighbour, premises=world.p_other)
    db.session.commit()
    for actor in (world.staff, world.ukadmin, world.council, world.staff_other):
        assert not A.access_for(actor).may_administer(world.neighbour), actor.login
    assert A.access_for(world.operator).may_administer(world.neighbour)
    assert other.may_administer(world.owner_other)


def test_may_administer_never_staff_self_or_council_by_council(world, db):
    member = F.UserFactory(login="member")
    F.OwnershipFactory(user=member, premises=world.p2)
    F.CouncilFactory(user=member, building=world.building)
    db.session.commit()
    assert not A.access_for(world.council).may_administer(member)  # fellow council members: no
    assert A.access_for(world.staff).may_administer(member)  # the УК: yes
    for target in (world.staff, world.ukadmin, world.rso_user, world.operator):
        assert not A.access_for(world.operator).may_administer(target)
        assert not A.access_for(world.ukadmin).may_administer(target)
    assert not A.access_for(world.staff).may_administer(world.staff)
    assert not A.access_for(world.owner).may_administer(world.neighbour)


def test_clauses_agree_with_predicates(world, db):
    from sqlalchemy import select

    from app.models import Building, Premises

    for user in (world.owner, world.council, world.staff, world.staff_other, world.rso_user, world.operator):
        access = A.access_for(user)
        listed = set(db.session.scalars(select(Building.id).where(access.buildings_clause())))
        assert listed == {b.id for b in db.session.scalars(select(Building)) if access.manages(b)}, user.login
        premises = set(db.session.scalars(select(Premises.id).where(access.premises_clause())))
        assert premises == {p.id for p in db.session.scalars(select(Premises)) if access.may_see_premises(p)}
        uk = set(db.session.scalars(select(Building.id).where(access.uk_buildings_clause())))
        assert uk == {b.id for b in db.session.scalars(select(Building)) if access.uk_manages(b)}


@pytest.mark.parametrize("bad", [None, "", "abc", 0, -1, 2**31, "99999999999", "1.5"])
def test_loaders_refuse_bad_ids(world, bad):
    for loader in (A.premises_get, A.managed_building_get, A.uk_building_get, A.meter_get, A.account_get):
        with pytest.raises(NotFound):
            loader(actor=world.staff, id=bad)


def test_loaders_raise_not_found_outside_scope(world, db):
    meter = F.MeterFactory(premises=world.p_other)
    db.session.commit()
    assert A.premises_get(actor=world.staff, id=world.p2.id) == world.p2
    with pytest.raises(NotFound):
        A.premises_get(actor=world.staff, id=world.p_other.id)
    with pytest.raises(NotFound):
        A.premises_get(actor=world.owner, id=world.p2.id)
    assert A.managed_building_get(actor=world.council, id=world.building.id) == world.building
    with pytest.raises(NotFound):
        A.uk_building_get(actor=world.council, id=world.building.id)
    with pytest.raises(NotFound):
        A.meter_get(actor=world.staff, id=meter.id)
    with pytest.raises(NotFound):
        A.uk_meter_get(actor=world.staff, id=meter.id)
    assert A.uk_meter_get(actor=world.staff_other, id=meter.id) == meter
    with pytest.raises(NotFound):
        A.account_get(actor=world.council, id=world.owner.id)
    assert A.account_get(actor=world.staff, id=world.owner.id).id == world.owner.id
    with pytest.raises(NotFound):
        A.board_building_get(actor=world.neighbour, id=world.building2.id)
    assert A.board_building_get(actor=world.rso_user, id=world.building.id) == (world.building, "resource")


def test_cache_follows_membership_changes(world, db):
    first = A.access_for(world.neighbour)
    assert A.access_for(world.neighbour) is first  # built once per transaction
    F.CouncilFactory(user=world.neighbour, building=world.building)
    db.session.commit()
    assert A.access_for(world.neighbour).council_buildings == {world.building.id}


def test_lists(world):
    assert [b.id for b in A.managed_buildings(world.council)] == [world.building.id]
    assert {b.id for b in A.uk_buildings(world.staff)} == {world.building.id, world.building2.id}
    assert A.uk_buildings(world.council) == []
    assert {b.id for b in A.board_buildings(world.owner)} == {world.building.id, world.building2.id}
    assert [b.id for b in A.board_buildings(world.rso_user)] == [world.building.id]
    assert A.board_buildings(world.operator) == []


def test_may_reset_second_factor(world):
    admin, staff, op = (A.access_for(u) for u in (world.ukadmin, world.staff, world.operator))
    assert admin.may_reset_second_factor(world.staff)  # own УК's staff
    assert not staff.may_reset_second_factor(world.ukadmin)  # plain staff may not
    assert not admin.may_reset_second_factor(world.staff_other)  # another УК's
    assert not admin.may_reset_second_factor(world.rso_user) and op.may_reset_second_factor(world.rso_user)
    assert not admin.may_reset_second_factor(world.ukadmin) and not op.may_reset_second_factor(world.operator)
    assert staff.may_reset_second_factor(world.neighbour)  # owners: whoever administers the account
    assert not A.access_for(world.council).may_reset_second_factor(world.owner)


def test_a_building_can_narrow_a_supplier_to_some_resources(world, db):
    from sqlalchemy import update

    from app.models import building_suppliers

    world.rso.settings = {"resources": ["cold_water", "hot_water"]}
    db.session.commit()
    assert A.access_for(world.rso_user).supplier_resources(world.building) == {Resource.COLD_WATER,
                                                                                Resource.HOT_WATER}
    db.session.execute(update(building_suppliers).where(building_suppliers.c.building_id == world.building.id)
                       .values(resources=["hot_water", "heat"]))  # heat: not the supplier's at all
    db.session.commit()
    assert A.access_for(world.rso_user).supplier_resources(world.building) == {Resource.HOT_WATER}


def test_may_administer_staff(world, db):
    admin, op, staff = (A.access_for(u) for u in (world.ukadmin, world.operator, world.staff))
    assert admin.may_administer_staff(world.staff) and op.may_administer_staff(world.staff)
    assert not staff.may_administer_staff(world.ukadmin)  # plain staff: no
    assert not admin.may_administer_staff(world.staff_other) and not admin.may_administer_staff(world.rso_user)
    assert op.may_administer_staff(world.rso_user)
    assert not admin.may_administer_staff(world.ukadmin) and not op.may_administer_staff(world.operator)
    assert not admin.may_administer_staff(world.owner)  # no staff membership: the owner rules apply instead
    # A staff member of УК «Тест» who owns a flat in another УК's building: only the operator.
    F.OwnershipFactory(user=world.staff, premises=world.p_other)
    db.session.commit()
    assert not A.access_for(world.ukadmin).may_administer_staff(world.staff)
    assert A.access_for(world.operator).may_administer_staff(world.staff)
