"""Services behind the console: the staff-authority predicate, the reading window, suppliers per resource."""

import pytest
from sqlalchemy import select

from app.access import access_for
from app.models import building_suppliers as bs
from app.services import buildings, council, organisations, staff
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from tests import factories as F


def test_may_administer_staff(world, db):
    ukadmin, operator = world.ukadmin, world.operator
    assert staff.may_administer_staff(ukadmin, world.staff)
    assert not staff.may_administer_staff(ukadmin, world.ukadmin)  # never oneself
    assert not staff.may_administer_staff(ukadmin, world.staff_other)  # another УК
    assert not staff.may_administer_staff(ukadmin, world.rso_user)  # a supplier's staff: the operator's
    assert not staff.may_administer_staff(ukadmin, world.owner)  # owners are administered elsewhere
    assert not staff.may_administer_staff(world.staff, world.neighbour)
    assert not staff.may_administer_staff(world.staff, world.ukadmin)  # staff are no admins
    assert staff.may_administer_staff(operator, world.staff_other)
    assert staff.may_administer_staff(operator, world.rso_user)
    assert not staff.may_administer_staff(operator, operator)
    other_operator = F.UserFactory(is_operator=True)
    F.StaffFactory(user=other_operator, organisation=world.uk)
    db.session.commit()
    assert not staff.may_administer_staff(operator, other_operator)  # operator accounts: not here
    assert not staff.may_administer_staff(ukadmin, other_operator)


def test_staff_in_two_organisations_needs_both(world, db):
    F.StaffFactory(user=world.staff, organisation=world.uk_other)
    db.session.commit()
    assert not staff.may_administer_staff(world.ukadmin, world.staff)
    assert staff.may_administer_staff(world.operator, world.staff)


def test_staff_membership_get_scopes(world):
    m_other = world.staff_other.staff_memberships[0]
    with pytest.raises(NotFound):
        staff.staff_membership_get(actor=world.ukadmin, id=m_other.id)
    with pytest.raises(NotFound):
        staff.staff_membership_get(actor=world.staff, id=world.staff.staff_memberships[0].id)
    with pytest.raises(NotFound):
        staff.staff_membership_get(actor=world.ukadmin, id="x")
    assert staff.staff_membership_get(actor=world.operator, id=m_other.id) is m_other


def test_service_refuses_without_the_route(world):
    with pytest.raises(NotAllowed):
        organisations.organisation_create(actor=world.ukadmin, data=organisations.OrganisationInput())
    with pytest.raises(NotAllowed):
        staff.staff_create(actor=world.staff, org=world.uk, full_name="X", login="xxx", role="staff")
    with pytest.raises(NotAllowed):
        buildings.building_create(actor=world.ukadmin, organisation=world.uk_other,
                                  data=buildings.BuildingInput(street="ул. Х", house="1"))
    with pytest.raises(NotAllowed):
        council.council_add(actor=world.council, building=world.building, user_id=world.neighbour.id)
    with pytest.raises(NotAllowed):
        staff.staff_set_role(actor=world.ukadmin, membership=world.staff_other.staff_memberships[0], role="x")


def test_last_admin_is_kept(world, db):
    m = world.ukadmin.staff_memberships[0]
    with pytest.raises(Conflict):
        staff.staff_set_role(actor=world.operator, membership=m, role="staff")
    with pytest.raises(Conflict):
        staff.staff_set_active(actor=world.operator, membership=m, active=False)
    assert m.role == "admin" and world.ukadmin.active


@pytest.mark.parametrize(("start", "end", "required", "expected"), [
    ("", "", False, None), ("20", "25", True, (20, 25)), ("1", "31", False, (1, 31)), (5, 5, False, (5, 5)),
])
def test_clean_window_ok(start, end, required, expected):
    assert organisations.clean_window(start, end, required=required) == expected


@pytest.mark.parametrize(("start", "end", "field", "message"), [
    ("", "", "reading_start_day", "Введите первый день"),
    ("26", "", "reading_end_day", "Введите и последний день"),
    ("", "25", "reading_start_day", "Введите и первый день"),
    ("25", "20", "reading_end_day", "раньше первого"),
    ("0", "20", "reading_start_day", "от 1 до 31"),
    ("1", "٣", "reading_end_day", "от 1 до 31"),
])
def test_clean_window_errors(start, end, field, message):
    with pytest.raises(Invalid) as error:
        organisations.clean_window(start, end, required=True)
    assert field in error.value.errors and message in error.value.errors[field]


def test_suppliers_grouped_per_supplier_and_honoured_by_access(world, db):
    heat = F.OrganisationFactory(kind="rso", short_name="ПАО «ТГК-14»", settings={"resources": ["heat", "hot_water"]})
    heat_user = F.UserFactory()
    F.StaffFactory(user=heat_user, organisation=heat)
    db.session.commit()
    b = world.building
    data = buildings.BuildingInput(street=b.street, house=b.house, city=b.city,
                                   suppliers={"cold_water": world.rso.id, "heat": heat.id, "hot_water": ""})
    buildings.building_update(actor=world.ukadmin, building=b, data=data)
    rows = dict(db.session.execute(select(bs.c.organisation_id, bs.c.resources).where(bs.c.building_id == b.id)).all())
    assert rows == {world.rso.id: ["cold_water"], heat.id: ["heat"]}
    assert buildings.current_suppliers(b) == {"cold_water": world.rso.id, "heat": heat.id}
    access = access_for(heat_user)
    assert access.supplies(b.id, "heat") and not access.supplies(b.id, "hot_water")


def test_owner_candidates_are_owners_of_the_building_only(world):
    names = [u.full_name for u, _titles in council.owner_candidates(world.building)]
    assert "Петров Пётр Петрович" in names and "Иванова Анна Петровна" in names
    assert "Козлова Ирина Николаевна" not in names  # already on the council
    assert "Сидоров Сидор Сидорович" not in names


def test_console_counts(world):
    counts = organisations.console_counts()
    assert counts == {"uk": 2, "rso": 1, "buildings": 3, "reported": 0, "hidden": 0}
