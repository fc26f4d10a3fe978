from datetime import UTC, datetime, timedelta

import pytest

from app.models import AuditLog, User
from app.services import accounts, passwords
from app.services.errors import Conflict, Invalid, NotAllowed
from tests.factories import PASSWORD

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def test_authenticate_ok_records_login(world, db):
    user = accounts.authenticate(login=" OWNER ", password=PASSWORD, now=NOW)
    assert user.id == world.owner.id
    assert user.last_login_at == NOW
    assert db.session.query(AuditLog).filter_by(action="login", actor_id=user.id).count() == 1


@pytest.mark.parametrize(("login", "password"), [("owner", "wrong password"), ("nobody", PASSWORD), ("", "")])
def test_authenticate_same_message_for_unknown_login_and_wrong_password(world, login, password):
    with pytest.raises(Invalid) as info:
        accounts.authenticate(login=login, password=password, now=NOW)
    assert info.value.message == "Неверный логин или пароль"


def test_failed_login_is_audited(world, db):
    with pytest.raises(Invalid):
        accounts.authenticate(login="owner", password="nope", now=NOW)
    assert db.session.query(AuditLog).filter_by(action="login_failed", entity_id=world.owner.id).count() == 1


def test_deactivated_account_cannot_log_in(world, db):
    world.owner.active = False
    db.session.commit()
    with pytest.raises(Invalid, match="отключена"):
        accounts.authenticate(login="owner", password=PASSWORD, now=NOW)


def test_issued_password_expires_after_14_days(world):
    issued = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Новикова Ольга", now=NOW)
    assert issued.expires_at == NOW + timedelta(days=14)
    user = accounts.authenticate(login=issued.user.login, password=issued.temporary_password,
                                 now=NOW + timedelta(days=13, hours=23))
    assert user.must_change_password
    with pytest.raises(Invalid, match="истёк"):
        accounts.authenticate(login=issued.user.login, password=issued.temporary_password,
                              now=NOW + timedelta(days=14, seconds=1))


def test_weak_hash_is_upgraded_on_login(world, db):
    passwords.configure(time_cost=1, memory_cost=512, parallelism=1)
    world.owner.password_hash = passwords.hash_password("old cheap hash pw")
    db.session.commit()
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    old = world.owner.password_hash
    accounts.authenticate(login="owner", password="old cheap hash pw", now=NOW)
    assert world.owner.password_hash != old
    assert "m=1024" in world.owner.password_hash


def test_password_change_bumps_session_version_and_clears_temporary(world):
    issued = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Новикова Ольга", now=NOW)
    user = issued.user
    version = user.session_version
    accounts.password_change(actor=user, current_password=issued.temporary_password,
                             new_password="новый надёжный пароль", confirm_password="новый надёжный пароль", now=NOW)
    assert user.session_version == version + 1
    assert not user.must_change_password and user.temp_password_expires_at is None
    assert user.password_changed_at == NOW
    assert passwords.verify_password(user.password_hash, "новый надёжный пароль")


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field"),
    [
        ("wrong", "новый надёжный пароль", "новый надёжный пароль", "current_password"),
        (PASSWORD, "short", "short", "new_password"),
        (PASSWORD, "password1", "password1", "new_password"),
        (PASSWORD, PASSWORD, PASSWORD, "new_password"),
        (PASSWORD, "новый надёжный пароль", "другой надёжный пароль", "confirm_password"),
    ],
)
def test_password_change_rejections_keep_old_password(world, current, new, confirm, field):
    old_hash = world.owner.password_hash
    with pytest.raises(Invalid) as info:
        accounts.password_change(actor=world.owner, current_password=current, new_password=new,
                                 confirm_password=confirm, now=NOW)
    assert info.value.field == field
    assert world.owner.password_hash == old_hash


@pytest.mark.parametrize("role", ["staff", "council"])
def test_issue_by_staff_or_council(world, db, role):
    actor = world.by_role(role)
    issued = accounts.account_issue(actor=actor, premises=world.p2, full_name="  Новикова   Ольга ",
                                    phone="8 (914) 111-22-33", email="Olga@Example.RU", share="1/2", now=NOW)
    user = db.session.get(User, issued.user.id)
    assert user.full_name == "Новикова Ольга"
    assert user.full_name_locked
    assert user.phone == "+79141112233"
    assert user.email == "Olga@example.ru"
    assert user.must_change_password
    assert user.login == f"ls{world.p2.account_number}"
    assert passwords.verify_password(user.password_hash, issued.temporary_password)
    assert [(o.premises_id, o.share_num, o.share_den) for o in user.ownerships] == [(world.p2.id, 1, 2)]
    audit = db.session.query(AuditLog).filter_by(action="account_issued", entity_id=user.id).one()
    assert audit.actor_id == actor.id and audit.actor_role == role


@pytest.mark.parametrize("role", ["owner", "rso", "staff_other", "operator"])
def test_issue_refused_outside_scope(world, db, role):
    before = db.session.query(User).count()
    with pytest.raises(NotAllowed):
        accounts.account_issue(actor=world.by_role(role), premises=world.p2, full_name="Кто-то", now=NOW)
    assert db.session.query(User).count() == before


def test_council_cannot_issue_for_another_building(world):
    with pytest.raises(NotAllowed):
        accounts.account_issue(actor=world.council, premises=world.p_b2, full_name="Кто-то", now=NOW)


def test_issue_reports_every_bad_field_at_once_and_stores_nothing(world, db):
    before = db.session.query(User).count()
    with pytest.raises(Invalid) as info:
        accounts.account_issue(actor=world.staff, premises=world.p2, full_name=" ", login="Я", phone="123",
                               email="not-an-email", share="3/2", now=NOW)
    assert set(info.value.errors) == {"full_name", "login", "phone", "email", "share"}
    assert db.session.query(User).count() == before


def test_issue_refuses_taken_login_and_suggests_free_one(world):
    with pytest.raises(Invalid, match="занят"):
        accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Кто-то", login="owner", now=NOW)
    first = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Первый", now=NOW)
    second = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Второй", now=NOW)
    assert second.user.login == first.user.login + "-2"


def test_login_uniqueness_is_backed_by_the_database(world, db):
    from sqlalchemy.exc import IntegrityError

    db.session.add(User(login="owner", password_hash="x", full_name="Дубль"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_issue_conflict_when_login_is_taken_concurrently(world, db, monkeypatch):
    monkeypatch.setattr(accounts, "_clean_login", lambda raw, premises: "owner")
    with pytest.raises(Conflict):
        accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Кто-то", now=NOW)


def test_reset_issues_new_password_and_ends_sessions(world):
    version = world.neighbour.session_version
    issued = accounts.account_reset(actor=world.council, user=world.neighbour, now=NOW)
    assert world.neighbour.session_version == version + 1
    assert world.neighbour.must_change_password
    assert passwords.verify_password(world.neighbour.password_hash, issued.temporary_password)
    assert not passwords.verify_password(world.neighbour.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        ("staff", "neighbour", True),
        ("council", "neighbour", True),
        ("staff", "council", True),  # the УК may reset a council member
        ("council", "council", False),  # nobody resets themselves this way
        ("staff_other", "neighbour", False),
        ("owner", "neighbour", False),
        ("rso", "neighbour", False),
        ("staff", "ukadmin", False),  # staff accounts are not managed from a building
        ("council", "staff", False),
        ("council", "owner", False),  # the owner also owns in building2, outside this council
        ("staff", "owner", True),  # both of the owner's buildings are the УК's
        ("staff_other", "owner", False),
        ("operator", "neighbour", True),
        ("operator", "staff", False),
    ],
)
def test_reset_permissions(world, actor, target, allowed):
    a, t = world.by_role(actor), world.by_role(target)
    if allowed:
        accounts.account_reset(actor=a, user=t, now=NOW)
    else:
        with pytest.raises(NotAllowed):
            accounts.account_reset(actor=a, user=t, now=NOW)


def test_council_member_cannot_reset_a_fellow_council_member(world, db):
    from tests.factories import CouncilFactory, OwnershipFactory, PremisesFactory, UserFactory

    fellow = UserFactory(login="fellow")
    OwnershipFactory(user=fellow, premises=PremisesFactory(building=world.building, number="9"))
    CouncilFactory(user=fellow, building=world.building)
    db.session.commit()
    with pytest.raises(NotAllowed):
        accounts.account_reset(actor=world.council, user=fellow, now=NOW)


def test_deactivation_ends_sessions_and_blocks_login(world):
    version = world.neighbour.session_version
    accounts.account_set_active(actor=world.staff, user=world.neighbour, active=False)
    assert not world.neighbour.active
    assert world.neighbour.session_version == version + 1
    with pytest.raises(Invalid):
        accounts.authenticate(login="neighbour", password=PASSWORD, now=NOW)
    accounts.account_set_active(actor=world.staff, user=world.neighbour, active=True)
    assert accounts.authenticate(login="neighbour", password=PASSWORD, now=NOW).id == world.neighbour.id


def test_letter_only_with_the_unused_temporary_password(world, db):
    issued = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Новикова Ольга", now=NOW)
    user = issued.user
    accounts.account_letter_print(actor=world.staff, user=user, temporary_password=issued.temporary_password)
    assert db.session.query(AuditLog).filter_by(action="letter_printed", entity_id=user.id).count() == 1
    with pytest.raises(Invalid):
        accounts.account_letter_print(actor=world.staff, user=user, temporary_password="wrong")
    with pytest.raises(NotAllowed):
        accounts.account_letter_print(actor=world.staff_other, user=user, temporary_password=issued.temporary_password)
    accounts.password_change(actor=user, current_password=issued.temporary_password,
                             new_password="новый надёжный пароль", confirm_password="новый надёжный пароль", now=NOW)
    with pytest.raises(Invalid):
        accounts.account_letter_print(actor=world.staff, user=user, temporary_password=issued.temporary_password)
    assert db.session.query(AuditLog).filter_by(action="letter_printed", entity_id=user.id).count() == 1


def test_ownership_remove(world, db):
    accounts.ownership_remove(actor=world.council, premises=world.p2, user=world.neighbour)
    assert world.neighbour.ownerships == []
    assert db.session.query(AuditLog).filter_by(action="ownership_removed").count() == 1
    with pytest.raises(NotAllowed):  # no longer an owner in a managed building
        accounts.ownership_remove(actor=world.council, premises=world.p2, user=world.neighbour)
    with pytest.raises(NotAllowed):
        accounts.ownership_remove(actor=world.staff_other, premises=world.p1, user=world.owner)


def test_ownership_remove_needs_authority_over_every_premises_of_the_account(world, db):
    # The owner also owns in building2, which the council of building 1 does not manage.
    with pytest.raises(NotAllowed):
        accounts.ownership_remove(actor=world.council, premises=world.p1, user=world.owner)
    assert {o.premises_id for o in world.owner.ownerships} == {world.p1.id, world.p_b2.id}
    accounts.ownership_remove(actor=world.staff, premises=world.p1, user=world.owner)
    assert {o.premises_id for o in world.owner.ownerships} == {world.p_b2.id}
