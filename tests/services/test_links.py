"""Linking an existing account to one more premises needs the owner's consent (OwnershipLinkRequest)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from app.access import access_for
from app.models import AuditLog, LinkStatus, Ownership, OwnershipLinkRequest
from app.services import accounts
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def _request(db, **where) -> OwnershipLinkRequest:
    return db.session.query(OwnershipLinkRequest).filter_by(**where).one()


def _ownerships(db) -> set[tuple[int, int]]:
    return {(o.user_id, o.premises_id) for o in db.session.query(Ownership)}


def _actions(db) -> list[str]:
    return [a.action for a in db.session.query(AuditLog).order_by(AuditLog.id)]


def test_request_creates_no_ownership_until_accepted(world, db):
    before = _ownerships(db)
    assert accounts.ownership_link_request(actor=world.staff, premises=world.p2, login=" Other ", share="1/4",
                                           now=NOW) is None
    request = _request(db, login="other")
    assert (request.user_id, request.premises_id, request.status) == (world.owner_other.id, world.p2.id,
                                                                      LinkStatus.PENDING)
    assert (request.share_num, request.share_den, request.requested_by_id) == (1, 4, world.staff.id)
    assert request.expires_at == NOW + timedelta(days=14)
    assert _ownerships(db) == before
    assert not access_for(world.owner_other).owns(world.p2)
    audit = db.session.query(AuditLog).filter_by(action="link_requested").one()
    assert audit.actor_id == world.staff.id and audit.entity_id == request.id
    assert audit.changes["premises_id"] == world.p2.id and "user_id" not in audit.changes

    [shown] = accounts.link_requests_for_owner(actor=world.owner_other, now=NOW + timedelta(days=1))
    assert shown.id == request.id
    ownership = accounts.link_request_accept(actor=world.owner_other, request_id=request.id,
                                             now=NOW + timedelta(days=1))
    assert (ownership.user_id, ownership.premises_id, ownership.share_num, ownership.share_den) == (
        world.owner_other.id, world.p2.id, 1, 4)
    assert _ownerships(db) == before | {(world.owner_other.id, world.p2.id)}
    assert request.status == LinkStatus.ACCEPTED and request.decided_at == NOW + timedelta(days=1)
    accepted = db.session.query(AuditLog).filter_by(action="link_accepted").one()
    assert accepted.actor_id == world.owner_other.id and accepted.changes["premises_id"] == world.p2.id
    assert access_for(world.owner_other).owns(world.p2)
    assert accounts.link_requests_for_owner(actor=world.owner_other, now=NOW) == []
    with pytest.raises(Conflict):  # answered once
        accounts.link_request_accept(actor=world.owner_other, request_id=request.id, now=NOW)


@pytest.mark.parametrize("ending", ["decline", "withdraw", "expire_on_answer", "expire_job"])
def test_decline_withdraw_and_expiry_create_nothing(world, db, ending):
    accounts.ownership_link_request(actor=world.council, premises=world.p2, login="other", now=NOW)
    request = _request(db, login="other")
    before = _ownerships(db)
    later = NOW + timedelta(days=1)
    if ending == "decline":
        accounts.link_request_decline(actor=world.owner_other, request_id=request.id, now=later)
        assert request.status == LinkStatus.DECLINED and request.decided_at == later
        action = "link_declined"
    elif ending == "withdraw":
        accounts.link_request_withdraw(actor=world.staff, premises=world.p2, request_id=request.id, now=later)
        assert request.status == LinkStatus.WITHDRAWN and request.withdrawn_at == later
        action = "link_withdrawn"
    elif ending == "expire_on_answer":
        with pytest.raises(Conflict, match="истёк"):
            accounts.link_request_accept(actor=world.owner_other, request_id=request.id,
                                         now=NOW + timedelta(days=14))
        assert request.status == LinkStatus.EXPIRED
        action = "link_expired"
    else:
        assert accounts.link_requests_expire(now=NOW + timedelta(days=15)) == 1
        assert request.status == LinkStatus.EXPIRED
        action = "link_expired"
    assert _actions(db)[-1] == action
    assert _ownerships(db) == before
    with pytest.raises(Conflict):
        accounts.link_request_accept(actor=world.owner_other, request_id=request.id, now=later)
    assert _ownerships(db) == before
    assert accounts.link_requests_for_owner(actor=world.owner_other, now=later) == []


def test_only_the_addressee_may_answer(world, db):
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login="other", now=NOW)
    request = _request(db, login="other")
    for someone in (world.owner, world.staff, world.council, world.operator):
        with pytest.raises(NotFound):
            accounts.link_request_accept(actor=someone, request_id=request.id, now=NOW)
        with pytest.raises(NotFound):
            accounts.link_request_decline(actor=someone, request_id=request.id, now=NOW)
    with pytest.raises(NotFound):
        accounts.link_request_accept(actor=world.owner_other, request_id=999999, now=NOW)
    assert request.status == LinkStatus.PENDING


@pytest.mark.parametrize("login", ["nobody", "staff", "neighbour", "admin", "rso"])
def test_request_for_a_login_that_cannot_be_asked_is_recorded_the_same_way(world, db, login):
    """No account, a staff/operator/supplier account, or already an owner of the premises: a row anyway
    (nobody to ask), the same audit, and the staff see it like any other request."""
    before = _ownerships(db)
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login=login, now=NOW)
    request = _request(db, login=login)
    assert request.user_id is None and request.status == LinkStatus.PENDING
    assert [r.id for r in accounts.link_requests_for_premises(actor=world.staff, premises=world.p2, now=NOW)] == [
        request.id]
    assert _actions(db) == ["link_requested"]
    assert _ownerships(db) == before


def test_staff_list_does_not_tell_declined_from_unanswered_or_nonexistent(world, db):
    for login in ("other", "nobody"):
        accounts.ownership_link_request(actor=world.staff, premises=world.p2, login=login, now=NOW)
    declined = _request(db, login="other")
    accounts.link_request_decline(actor=world.owner_other, request_id=declined.id, now=NOW)
    shown = accounts.link_requests_for_premises(actor=world.council, premises=world.p2, now=NOW + timedelta(days=1))
    assert {r.login for r in shown} == {"other", "nobody"}
    # A repeated request neither asks the owner again nor tells anything.
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login="other", now=NOW + timedelta(days=2))
    assert db.session.query(OwnershipLinkRequest).filter_by(login="other").count() == 1
    assert accounts.link_requests_for_owner(actor=world.owner_other, now=NOW) == []
    # Both leave the list when their term ends; a withdrawn one leaves at once.
    accounts.link_request_withdraw(actor=world.staff, premises=world.p2, request_id=declined.id, now=NOW)
    assert declined.status == LinkStatus.DECLINED  # the owner's answer is kept
    assert [r.login for r in accounts.link_requests_for_premises(actor=world.staff, premises=world.p2,
                                                                   now=NOW)] == ["nobody"]
    assert accounts.link_requests_for_premises(actor=world.staff, premises=world.p2,
                                               now=NOW + timedelta(days=14)) == []


def test_one_pending_request_per_premises_and_login(world, db):
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login="other", now=NOW)
    accounts.ownership_link_request(actor=world.council, premises=world.p2, login="OTHER", now=NOW)
    assert db.session.query(OwnershipLinkRequest).count() == 1
    assert _actions(db) == ["link_requested", "link_requested"]
    assert db.session.query(AuditLog).filter_by(action="link_requested").all()[-1].changes.get("repeat") is True
    # After its term a new request may be made; the stale one is closed first.
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login="other", now=NOW + timedelta(days=15))
    statuses = sorted(r.status for r in db.session.query(OwnershipLinkRequest))
    assert statuses == [LinkStatus.EXPIRED, LinkStatus.PENDING]


def test_one_pending_request_is_backed_by_the_database(world, db):
    for _ in range(2):
        db.session.add(OwnershipLinkRequest(premises_id=world.p2.id, login="other", user_id=world.owner_other.id,
                                            share_num=1, share_den=1, expires_at=NOW, status=LinkStatus.PENDING))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("role", ["owner", "rso", "staff_other", "operator", "ukadmin_elsewhere"])
def test_request_scope(world, db, role):
    if role == "ukadmin_elsewhere":
        actor, premises = world.ukadmin, world.p_other
    else:
        actor, premises = world.by_role(role), world.p2
    with pytest.raises(NotAllowed):
        accounts.ownership_link_request(actor=actor, premises=premises, login="other", now=NOW)
    with pytest.raises(NotAllowed):
        accounts.link_requests_for_premises(actor=actor, premises=premises, now=NOW)
    assert db.session.query(OwnershipLinkRequest).count() == 0


def test_council_may_not_ask_for_another_building(world, db):
    with pytest.raises(NotAllowed):
        accounts.ownership_link_request(actor=world.council, premises=world.p_b2, login="other", now=NOW)


def test_withdraw_scope(world, db):
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login="other", now=NOW)
    request = _request(db, login="other")
    with pytest.raises(NotAllowed):
        accounts.link_request_withdraw(actor=world.staff_other, premises=world.p2, request_id=request.id, now=NOW)
    with pytest.raises(NotFound):  # the request of another premises
        accounts.link_request_withdraw(actor=world.staff, premises=world.p1, request_id=request.id, now=NOW)
    accounts.link_request_withdraw(actor=world.council, premises=world.p2, request_id=request.id, now=NOW)
    with pytest.raises(Conflict):
        accounts.link_request_withdraw(actor=world.council, premises=world.p2, request_id=request.id, now=NOW)


@pytest.mark.parametrize(("login", "share", "fields"), [
    ("", "", {"existing_login"}), ("x" * 65, "", {"existing_login"}), ("other", "7/5", {"existing_share"}),
    ("", "x", {"existing_login", "existing_share"}),
])
def test_request_form_errors_depend_only_on_the_form(world, db, login, share, fields):
    with pytest.raises(Invalid) as info:
        accounts.ownership_link_request(actor=world.staff, premises=world.p2, login=login, share=share, now=NOW)
    assert set(info.value.errors) == fields
    assert db.session.query(OwnershipLinkRequest).count() == 0


def test_accepting_gives_the_requester_no_authority_over_an_owner_elsewhere(world, db):
    """Even if the owner is talked into accepting, the council of building 1 gains nothing over an account
    that also owns premises of another УК."""
    accounts.ownership_link_request(actor=world.council, premises=world.p2, login="other", now=NOW)
    accounts.link_request_accept(actor=world.owner_other, request_id=_request(db, login="other").id, now=NOW)
    for actor in (world.council, world.staff, world.ukadmin, world.staff_other):
        with pytest.raises(NotAllowed):
            accounts.account_reset(actor=actor, user=world.owner_other, now=NOW)
    accounts.account_reset(actor=world.operator, user=world.owner_other, now=NOW)
