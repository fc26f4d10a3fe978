from datetime import UTC, datetime, timedelta

from app.access import access_for
from app.services import accounts
from app.services.home import attention_items, building_stats
from app.services.manage import account_status, building_premises_rows

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def managed_building_ids(user):
    return access_for(user).managed_buildings


def test_managed_buildings_by_role(world):
    assert managed_building_ids(world.staff) == {world.building.id, world.building2.id}
    assert managed_building_ids(world.council) == {world.building.id}
    assert managed_building_ids(world.owner) == set()
    assert managed_building_ids(world.rso_user) == set()
    assert managed_building_ids(world.staff_other) == {world.building_other.id}


def test_attention_items_for_owner(world):
    world.owner.phone = None
    texts = " ".join(a.text for a in attention_items(world.owner, world.p1))
    assert "телефон" in texts and "проживает" in texts and "почту" not in texts
    world.p1.actual_residents = 2
    world.owner.phone = "+79141234567"
    assert attention_items(world.owner, world.p1) == []


def test_building_stats_and_rows(world):
    issued = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Новикова Ольга", now=NOW)
    (stats,) = building_stats([world.building])
    assert (stats.premises, stats.with_account, stats.pending_first_login) == (3, 3, 1)
    rows = building_premises_rows(world.building)
    assert [r.premises.number for r in rows] == ["1", "2", "3"]
    assert rows[1].status == "active"  # the neighbour has logged in; the new co-owner has not
    assert {u.login for u, _ in rows[1].owners} == {"neighbour", issued.user.login}
    assert [r.premises.number for r in building_premises_rows(world.building, entrance=2)] == ["3"]
    assert account_status(issued.user, NOW) == "pending"
    assert account_status(issued.user, NOW + timedelta(days=15)) == "expired"
