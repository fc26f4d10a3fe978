from datetime import UTC, datetime

import pytest

from app.models import AuditLog, ConsentRecord
from app.models.audit import ConsentAction, ConsentChannel
from app.services import profile
from app.services.context import Origin
from app.services.errors import Invalid, Locked

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
ORIGIN = Origin(ip="10.0.0.5", user_agent="Mozilla/5.0 test")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("8 914 123-45-67", "+79141234567"), ("+7 (914) 1234567", "+79141234567"), ("9141234567", "+79141234567"),
     ("+7 3022 35-12-40", "+73022351240"), ("", None)],
)
def test_contacts_phone_normalised(world, raw, stored):
    profile.profile_update_contacts(actor=world.owner, phone=raw, email="a@b.ru")
    assert world.owner.phone == stored


def test_contacts_all_errors_at_once_and_nothing_saved(world, db):
    with pytest.raises(Invalid) as info:
        profile.profile_update_contacts(actor=world.owner, phone="12345", email="a@")
    assert set(info.value.errors) == {"phone", "email"}
    db.session.expire_all()
    assert world.owner.email == "owner@example.ru" and world.owner.phone is None


def test_contacts_change_is_audited_with_old_and_new(world, db):
    profile.profile_update_contacts(actor=world.owner, phone="+79141234567", email="new@example.ru", origin=ORIGIN)
    entry = db.session.query(AuditLog).filter_by(action="profile_contacts").one()
    assert entry.changes == {"phone": [None, "+79141234567"], "email": ["owner@example.ru", "new@example.ru"]}
    assert entry.ip == "10.0.0.5"


def test_name_locked_when_set_by_uk(world):
    with pytest.raises(Locked):
        profile.profile_update_name(actor=world.owner, full_name="Другое Имя")
    world.owner.full_name_locked = False
    profile.profile_update_name(actor=world.owner, full_name="  Иванова   Анна  ")
    assert world.owner.full_name == "Иванова Анна"
    with pytest.raises(Invalid):
        profile.profile_update_name(actor=world.owner, full_name="   ")


def test_notice_email_needs_an_email(world):
    world.owner.email = None
    with pytest.raises(Invalid) as info:
        profile.profile_set_preferences(actor=world.owner, notify_new_notice=True, consents={}, text_version="v1")
    assert info.value.field == "notify_new_notice"
    assert not world.owner.notify_new_notice


def test_notice_email_effective_only_with_email(world):
    world.owner.notify_new_notice = True
    assert profile.notice_email_effective(world.owner)
    world.owner.email = None
    assert not profile.notice_email_effective(world.owner)


def test_consent_ledger_is_append_only_and_records_everything(world, db):
    owner = world.owner
    profile.profile_set_preferences(actor=owner, notify_new_notice=True,
                                    consents={ConsentChannel.EMAIL: True, ConsentChannel.SMS: False},
                                    text_version="2026-11-01", now=NOW, origin=ORIGIN)
    assert profile.consent_given(owner, ConsentChannel.EMAIL)
    assert not profile.consent_given(owner, ConsentChannel.SMS)
    (given,) = db.session.query(ConsentRecord).all()
    assert (given.channel, given.action, given.text_version, given.ip, given.user_agent, given.recorded_by_id,
            given.source, given.at) == (ConsentChannel.EMAIL, ConsentAction.GIVEN, "2026-11-01", "10.0.0.5",
                                        "Mozilla/5.0 test", owner.id, "online", NOW)
    # Saving the same state again adds nothing.
    profile.profile_set_preferences(actor=owner, notify_new_notice=True,
                                    consents={ConsentChannel.EMAIL: True, ConsentChannel.SMS: False},
                                    text_version="2026-11-01", now=NOW)
    assert db.session.query(ConsentRecord).count() == 1
    # Withdrawal is a new row; the given row stays.
    profile.consents_set(actor=owner, wanted={ConsentChannel.EMAIL: False}, text_version="2026-11-01", now=NOW)
    rows = db.session.query(ConsentRecord).order_by(ConsentRecord.id).all()
    assert [r.action for r in rows] == [ConsentAction.GIVEN, ConsentAction.WITHDRAWN]
    assert not profile.consent_given(owner, ConsentChannel.EMAIL)
    assert [r.action for r in profile.consent_history(owner)] == [ConsentAction.WITHDRAWN, ConsentAction.GIVEN]


def test_consent_recorded_by_staff_from_paper(world, db):
    profile.consents_set(actor=world.owner, wanted={ConsentChannel.SMS: True}, text_version="v1",
                         recorded_by=world.staff, source="paper")
    row = db.session.query(ConsentRecord).one()
    assert (row.recorded_by_id, row.source) == (world.staff.id, "paper")
