"""Second factor: enrolment, codes (window, no replay), recovery codes, grace period, disabling, reset.

Time is always passed in (NOW), never today's date."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from app.models import AuditLog, RecoveryCode, UserSession, UserTotp
from app.services import sessions, twofactor
from app.services.errors import Conflict, Invalid, NotAllowed
from tests.factories import PASSWORD

NOW = datetime(2026, 11, 20, 10, 0, 7, tzinfo=UTC)
ISSUER = "Личный кабинет"


def _code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def _enrol(user, now=NOW):
    enrolment = twofactor.enrolment_begin(actor=user, issuer=ISSUER, now=now)
    codes = twofactor.enrolment_confirm(actor=user, code=_code(enrolment.secret, now), now=now)
    return enrolment.secret, codes


def _login(user, code, now):
    return twofactor.login_complete(user_id=user.id, session_version=user.session_version, code=code, now=now)


def test_enrolment_shows_qr_and_secret_until_confirmed(world):
    owner = world.owner
    assert not twofactor.is_enabled(owner)
    enrolment = twofactor.enrolment_begin(actor=owner, issuer=ISSUER, now=NOW)
    assert enrolment.qr_data_uri.startswith("data:image/svg+xml")
    assert enrolment.uri.startswith("otpauth://totp/") and "owner" in enrolment.uri
    assert "".join(enrolment.secret_groups) == enrolment.secret and len(enrolment.secret_groups[0]) == 4
    # The pending enrolment is shown again (same secret) until confirmed; not yet in force.
    assert twofactor.enrolment_pending(actor=owner, issuer=ISSUER).secret == enrolment.secret
    assert not twofactor.is_enabled(owner)
    with pytest.raises(Invalid) as wrong:
        twofactor.enrolment_confirm(actor=owner, code="000000" if _code(enrolment.secret, NOW) != "000000"
                                    else "111111", now=NOW)
    assert "code" in wrong.value.errors
    codes = twofactor.enrolment_confirm(actor=owner, code=_code(enrolment.secret, NOW), now=NOW)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert twofactor.is_enabled(owner)
    assert twofactor.enrolment_pending(actor=owner, issuer=ISSUER) is None
    assert twofactor.recovery_codes_left(owner) == 10
    with pytest.raises(Conflict):
        twofactor.enrolment_begin(actor=owner, issuer=ISSUER, now=NOW)


def test_secret_is_stored_sealed(world, db):
    secret, _ = _enrol(world.owner)
    row = db.session.get(UserTotp, world.owner.id)
    assert secret not in row.secret and row.secret.startswith("v1:")
    assert twofactor._unseal(row.secret) == secret
    tampered = row.secret[:-4] + ("AAAA" if not row.secret.endswith("AAAA") else "BBBB")
    with pytest.raises(ValueError):
        twofactor._unseal(tampered)


def test_recovery_codes_are_stored_hashed(world, db):
    _, codes = _enrol(world.owner)
    stored = {r.code_hash for r in db.session.query(RecoveryCode).filter_by(user_id=world.owner.id)}
    assert len(stored) == 10
    assert not any(code.replace("-", "") in h for code in codes for h in stored)


def test_code_window_is_one_step_either_side(world):
    secret, _ = _enrol(world.owner)
    later = NOW + timedelta(minutes=5)
    _login(world.owner, _code(secret, later - timedelta(seconds=30)), later)  # previous step: accepted
    _login(world.owner, _code(secret, later + timedelta(seconds=30)), later)  # next step: accepted
    with pytest.raises(Invalid):
        _login(world.owner, _code(secret, later + timedelta(seconds=90)), later)  # 3 steps ahead: refused
    with pytest.raises(Invalid):
        _login(world.owner, _code(secret, later - timedelta(seconds=90)), later + timedelta(seconds=60))


def test_a_used_code_is_refused_no_replay(world, db):
    secret, _ = _enrol(world.owner)
    t = NOW + timedelta(minutes=10)
    code = _code(secret, t)
    user, token = _login(world.owner, code, t)
    assert sessions.session_load(token=token, now=t + timedelta(seconds=1)).session.two_factor_passed
    with pytest.raises(Invalid) as replay:
        _login(world.owner, code, t + timedelta(seconds=5))
    assert "уже использован" in replay.value.errors["code"]
    # An older code, still inside the window, is refused once a later step was used.
    with pytest.raises(Invalid):
        _login(world.owner, _code(secret, t - timedelta(seconds=30)), t + timedelta(seconds=5))
    # The next code works.
    _login(world.owner, _code(secret, t + timedelta(seconds=30)), t + timedelta(seconds=30))
    failures = db.session.query(AuditLog).filter_by(action="two_factor_failed", actor_id=world.owner.id).all()
    assert [f.changes["reason"] for f in failures] == ["replay", "replay"]


def test_enrolment_code_cannot_be_replayed_at_login(world):
    enrolment = twofactor.enrolment_begin(actor=world.owner, issuer=ISSUER, now=NOW)
    code = _code(enrolment.secret, NOW)
    twofactor.enrolment_confirm(actor=world.owner, code=code, now=NOW)
    with pytest.raises(Invalid):
        _login(world.owner, code, NOW + timedelta(seconds=3))


def test_recovery_code_works_once_in_any_spelling(world, db):
    _, codes = _enrol(world.owner)
    spelled = "  " + codes[0].upper().replace("-", " ") + " "
    user, token = _login(world.owner, spelled, NOW + timedelta(minutes=1))
    assert token
    assert twofactor.recovery_codes_left(world.owner) == 9
    with pytest.raises(Invalid):
        _login(world.owner, codes[0], NOW + timedelta(minutes=2))
    assert db.session.query(AuditLog).filter_by(action="recovery_code_used").count() == 1
    assert db.session.query(AuditLog).filter_by(action="two_factor_login").one().changes == {"method": "recovery"}


def test_wrong_codes_are_audited(world, db):
    _enrol(world.owner)
    for bad in ("123", "abcd-efgh-jkmn"):
        with pytest.raises(Invalid):
            _login(world.owner, bad, NOW + timedelta(minutes=1))
    assert db.session.query(AuditLog).filter_by(action="two_factor_failed").count() == 2
    with pytest.raises(Invalid) as empty:
        _login(world.owner, "  ", NOW)
    assert "Введите код" in empty.value.errors["code"]


def test_login_step_refused_after_password_change_or_deactivation(world, db):
    secret, _ = _enrol(world.owner)
    version = world.owner.session_version
    world.owner.session_version += 1
    db.session.commit()
    with pytest.raises(Invalid) as stale:
        twofactor.login_complete(user_id=world.owner.id, session_version=version,
                                 code=_code(secret, NOW + timedelta(minutes=1)), now=NOW + timedelta(minutes=1))
    assert twofactor.LOGIN_FIELD in stale.value.errors


def test_recovery_codes_regenerate_replaces_old(world):
    secret, old = _enrol(world.owner)
    t = NOW + timedelta(minutes=3)
    new = twofactor.recovery_codes_regenerate(actor=world.owner, code=_code(secret, t), now=t)
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(Invalid):
        _login(world.owner, old[1], t + timedelta(minutes=1))
    _login(world.owner, new[1], t + timedelta(minutes=1))


def test_disable_needs_password_and_code(world, db):
    secret, _ = _enrol(world.owner)
    t = NOW + timedelta(minutes=2)
    with pytest.raises(Invalid) as bad_password:
        twofactor.two_factor_disable(actor=world.owner, password="wrong", code=_code(secret, t), now=t)
    assert "password" in bad_password.value.errors
    with pytest.raises(Invalid) as bad_code:
        twofactor.two_factor_disable(actor=world.owner, password=PASSWORD, code="", now=t)
    assert "code" in bad_code.value.errors
    assert twofactor.is_enabled(world.owner)
    twofactor.two_factor_disable(actor=world.owner, password=PASSWORD, code=_code(secret, t), now=t)
    assert not twofactor.is_enabled(world.owner)
    assert db.session.query(RecoveryCode).filter_by(user_id=world.owner.id).count() == 0
    assert db.session.query(AuditLog).filter_by(action="two_factor_disabled").count() == 1


def test_enrolment_marks_this_session_and_ends_the_others(world, db):
    here = sessions.session_start(user=world.owner, now=NOW)
    elsewhere = sessions.session_start(user=world.owner, now=NOW)
    enrolment = twofactor.enrolment_begin(actor=world.owner, issuer=ISSUER, now=NOW)
    twofactor.enrolment_confirm(actor=world.owner, code=_code(enrolment.secret, NOW), session_token=here, now=NOW)
    t = NOW + timedelta(seconds=1)
    assert sessions.session_load(token=here, now=t).session.two_factor_passed
    assert sessions.session_load(token=elsewhere, now=t) is None


# --- who must use it: the grace period -------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["staff", "ukadmin", "rso", "council", "operator"])
def test_required_roles(world, role):
    assert twofactor.required_for(world.by_role(role))


def test_owners_are_not_required(world):
    assert not twofactor.required_for(world.owner)
    assert not twofactor.grace_start(user=world.owner, now=NOW)
    assert twofactor.requirement(user=world.owner, two_factor_passed=False, now=NOW).state == "none"


def test_grace_period_from_first_login_without_a_second_factor(world):
    staff = world.staff
    assert twofactor.requirement(user=staff, two_factor_passed=False, now=NOW).state == "none"
    sessions.session_start(user=staff, now=NOW)
    assert staff.two_factor_required_since == NOW
    # A later login does not move the start.
    sessions.session_start(user=staff, now=NOW + timedelta(days=3))
    assert staff.two_factor_required_since == NOW
    day13 = twofactor.requirement(user=staff, two_factor_passed=False, now=NOW + timedelta(days=13, hours=23))
    assert day13.in_grace and day13.deadline == NOW + timedelta(days=14)
    assert twofactor.requirement(user=staff, two_factor_passed=False, now=NOW + timedelta(days=14)).overdue
    # Configurable length; a session opened with the second factor is never prompted.
    assert twofactor.requirement(user=staff, two_factor_passed=False, now=NOW + timedelta(days=14),
                                 grace_days=30).in_grace
    assert twofactor.requirement(user=staff, two_factor_passed=True,
                                 now=NOW + timedelta(days=40)).state == "none"


def test_login_with_second_factor_does_not_start_grace(world):
    sessions.session_start(user=world.staff, two_factor_passed=True, now=NOW)
    assert world.staff.two_factor_required_since is None


# --- reset by an administrator ----------------------------------------------------------------------------------

def test_who_may_reset(world):
    assert twofactor.may_reset(world.ukadmin, world.staff)
    assert not twofactor.may_reset(world.staff, world.ukadmin)
    assert not twofactor.may_reset(world.staff_other, world.staff) and not twofactor.may_reset(world.ukadmin,
                                                                                              world.staff_other)
    assert twofactor.may_reset(world.operator, world.staff)
    assert twofactor.may_reset(world.operator, world.rso_user)
    assert not twofactor.may_reset(world.ukadmin, world.rso_user)
    assert not twofactor.may_reset(world.ukadmin, world.operator)
    assert not twofactor.may_reset(world.ukadmin, world.ukadmin)
    assert twofactor.may_reset(world.staff, world.neighbour)  # an owner of the УК's building
    assert not twofactor.may_reset(world.staff, world.owner_other)


def test_reset_removes_the_factor_and_ends_sessions(world, db):
    secret, _ = _enrol(world.staff)
    _, token = _login(world.staff, _code(secret, NOW + timedelta(minutes=1)), NOW + timedelta(minutes=1))
    with pytest.raises(NotAllowed):
        twofactor.two_factor_reset(actor=world.staff_other, user=world.staff, now=NOW)
    twofactor.two_factor_reset(actor=world.ukadmin, user=world.staff, now=NOW + timedelta(minutes=2))
    assert not twofactor.is_enabled(world.staff)
    assert sessions.session_load(token=token, now=NOW + timedelta(minutes=3)) is None
    assert db.session.query(UserSession).filter_by(user_id=world.staff.id, revoked_reason="two_factor_reset").count()
    entry = db.session.query(AuditLog).filter_by(action="two_factor_reset").one()
    assert entry.actor_id == world.ukadmin.id and entry.entity_id == world.staff.id
    with pytest.raises(Conflict):
        twofactor.two_factor_reset(actor=world.ukadmin, user=world.staff, now=NOW)
