import pytest

from app.models import AuditLog
from app.services.apartment import premises_history, premises_update_owner_fields
from app.services.errors import Invalid, NotAllowed


def test_owner_updates_residents_and_emergency_phone_audited(world, db):
    changes = premises_update_owner_fields(actor=world.owner, premises=world.p1, actual_residents=" 3 ",
                                           emergency_phone="89145550011")
    assert changes == {"actual_residents": [None, 3], "emergency_phone": [None, "+79145550011"]}
    entry = db.session.query(AuditLog).filter_by(entity_type="premises", entity_id=world.p1.id).one()
    assert entry.actor_id == world.owner.id and entry.actor_role == "owner"
    assert premises_history(world.p1)[0].id == entry.id


def test_no_change_no_audit(world, db):
    premises_update_owner_fields(actor=world.owner, premises=world.p1, actual_residents="", emergency_phone="")
    assert db.session.query(AuditLog).count() == 0


@pytest.mark.parametrize("role", ["neighbour", "staff", "council", "rso"])
def test_only_an_owner_of_the_premises(world, role):
    with pytest.raises(NotAllowed):
        premises_update_owner_fields(actor=world.by_role(role), premises=world.p1, actual_residents="2",
                                     emergency_phone="")


@pytest.mark.parametrize("raw", ["три", "-1", "51", "2.5"])
def test_bad_residents(world, db, raw):
    with pytest.raises(Invalid) as info:
        premises_update_owner_fields(actor=world.owner, premises=world.p1, actual_residents=raw,
                                     emergency_phone="123")
    assert set(info.value.errors) == {"actual_residents", "emergency_phone"}
    db.session.expire_all()
    assert world.p1.actual_residents is None


def test_residents_check_constraint_in_database(world, db):
    from sqlalchemy.exc import IntegrityError

    world.p1.actual_residents = -1
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
