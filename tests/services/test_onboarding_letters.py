"""Bulk credential letters: who gets an account, shares, idempotence, login clashes, re-issue, the register,
the sync of the register with single issues, and the PDF (one page per letter, text, QR to the login page)."""

import io
from datetime import UTC, datetime, timedelta

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from app.models import AuditLog, OwnerRecord, Ownership, User
from app.services import accounts, onboarding_letters, passwords
from app.services.errors import Invalid, NotAllowed, NotFound
from app.services.letters import credential_letters_pdf, login_url
from tests import factories as F

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
PORTAL = "https://dom.example"



@pytest.fixture
def register(world, db):
    """The register of ул. Ленина, 1: кв. 1 names its owner (who has an account already), кв. 2 a co-owner
    without one (½), кв. 3 (entrance 2) an owner without one; кв. 7 of another building one more."""
    rows = {
        "owner": OwnerRecord(premises_id=world.p1.id, full_name="Иванова  Анна Петровна"),
        "co": OwnerRecord(premises_id=world.p2.id, full_name="Петрова Мария Ивановна", share_num=1, share_den=2,
                          phone="+79140000001", email="petrova@example.ru"),
        "third": OwnerRecord(premises_id=world.p3.id, full_name="Кузнецов Илья Ильич"),
        "elsewhere": OwnerRecord(premises_id=world.p_b2.id, full_name="Горький Максим"),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    return rows


def digits(premises) -> str:
    return "ls" + "".join(ch for ch in premises.account_number if ch.isdigit())


def test_issue_for_the_building_creates_accounts_for_records_without_one(world, register, db):
    result = onboarding_letters.letters_issue(actor=world.staff, building=world.building, now=NOW)
    assert [letter.full_name for letter in result.letters] == ["Петрова Мария Ивановна", "Кузнецов Илья Ильич"]
    assert result.linked == 1  # the owner of кв. 1 already had an account: linked, not issued again
    assert register["owner"].user_id == world.owner.id
    petrova = db.session.query(User).filter_by(full_name="Петрова Мария Ивановна").one()
    assert petrova.login == digits(world.p2)
    assert (petrova.phone, petrova.email) == ("+79140000001", "petrova@example.ru")
    assert petrova.must_change_password and petrova.temp_password_expires_at == NOW + timedelta(days=14)
    (ownership,) = petrova.ownerships
    assert (ownership.premises_id, ownership.share_num, ownership.share_den) == (world.p2.id, 1, 2)
    assert register["co"].user_id == petrova.id and register["third"].user_id is not None
    assert register["elsewhere"].user_id is None  # another building
    letter = result.letters[0]
    assert letter.login == petrova.login and passwords.verify_password(petrova.password_hash,
                                                                       letter.temporary_password)
    assert letter.temporary_password not in petrova.password_hash
    audits = db.session.query(AuditLog).filter_by(action="account_issued").all()
    assert sorted(a.entity_id for a in audits) == sorted(u.id for u in (petrova, register["third"].user))
    assert all(a.actor_id == world.staff.id and a.changes["bulk"] for a in audits)


def test_issuing_twice_issues_nothing_new(world, register, db):
    onboarding_letters.letters_issue(actor=world.council, building=world.building, now=NOW)
    users, audits = db.session.query(User).count(), db.session.query(AuditLog).count()
    again = onboarding_letters.letters_issue(actor=world.council, building=world.building, now=NOW)
    assert again.letters == [] and again.linked == 0
    assert (db.session.query(User).count(), db.session.query(AuditLog).count()) == (users, audits)


def test_one_entrance_only(world, register, db):
    result = onboarding_letters.letters_issue(actor=world.staff, building=world.building, entrance=2, now=NOW)
    assert [letter.full_name for letter in result.letters] == ["Кузнецов Илья Ильич"]
    assert register["co"].user_id is None


def test_a_login_that_would_clash_gets_a_suffix(world, register, db):
    F.UserFactory(login=digits(world.p2), full_name="Кто-то Другой")
    F.UserFactory(login=digits(world.p2) + "-2", full_name="И ещё один")
    db.session.commit()
    result = onboarding_letters.letters_issue(actor=world.staff, building=world.building, now=NOW)
    assert result.letters[0].login == digits(world.p2) + "-3"
    assert len({letter.login for letter in result.letters}) == 2


def test_two_co_owners_of_one_flat_get_two_logins(world, db):
    db.session.add_all([OwnerRecord(premises_id=world.p3.id, full_name="Первый Совладелец", share_num=1, share_den=2),
                        OwnerRecord(premises_id=world.p3.id, full_name="Второй Совладелец", share_num=1, share_den=2)])
    db.session.commit()
    result = onboarding_letters.letters_issue(actor=world.staff, building=world.building, now=NOW)
    assert sorted(letter.login for letter in result.letters) == [digits(world.p3), digits(world.p3) + "-2"]


@pytest.mark.parametrize("role", ["owner", "neighbour", "staff_other", "rso", "operator"])
def test_who_may_not_issue_in_bulk(world, register, db, role):
    users = db.session.query(User).count()
    with pytest.raises(NotAllowed):
        onboarding_letters.letters_issue(actor=world.by_role(role), building=world.building, now=NOW)
    with pytest.raises(NotAllowed):
        onboarding_letters.owner_register(actor=world.by_role(role), building=world.building)
    db.session.rollback()
    assert db.session.query(User).count() == users
    assert register["co"].user_id is None


def test_the_register_shows_every_account_state(world, register, db):
    onboarding_letters.letters_issue(actor=world.staff, building=world.building, entrance=2, now=NOW)
    world.neighbour.must_change_password = True
    world.neighbour.temp_password_expires_at = NOW - timedelta(days=1)
    db.session.commit()
    reg = onboarding_letters.owner_register(actor=world.council, building=world.building, now=NOW)
    got = {(r.premises.number, r.full_name): (r.status, r.may_reissue) for r in reg.rows}
    assert got == {
        ("1", "Иванова  Анна Петровна"): ("active", False),  # she owns in another building too
        ("2", "Петров Пётр Петрович"): ("expired", True),  # an account the register does not name
        ("2", "Петрова Мария Ивановна"): ("none", False),
        ("3", "Козлова Ирина Николаевна"): ("active", False),  # a council member: only the УК administers
        ("3", "Кузнецов Илья Ильич"): ("pending", True),
    }
    assert reg.counts == {"active": 2, "expired": 1, "none": 1, "pending": 1}
    by_staff = onboarding_letters.owner_register(actor=world.staff, building=world.building, now=NOW)
    by_name = {r.full_name: r.may_reissue for r in by_staff.rows}
    assert by_name["Козлова Ирина Николаевна"] is by_name["Иванова  Анна Петровна"] is True


def test_reissue_gives_new_passwords_ends_sessions_and_is_audited(world, db):
    before = world.neighbour.session_version
    result = onboarding_letters.letters_reissue(actor=world.staff, building=world.building,
                                                user_ids=[str(world.neighbour.id), world.owner.id], now=NOW)
    assert [letter.login for letter in result.letters] == ["owner", "neighbour"]  # in flat order
    assert world.neighbour.session_version == before + 1 and world.neighbour.must_change_password
    user = accounts.authenticate(login="neighbour", password=result.letters[1].temporary_password,
                                 now=NOW + timedelta(hours=1))
    assert user.id == world.neighbour.id
    audits = db.session.query(AuditLog).filter_by(action="password_reset").all()
    assert sorted(a.entity_id for a in audits) == sorted([world.owner.id, world.neighbour.id])
    # The owner's letter names both premises of the account.
    assert {p.id for p in result.letters[0].premises} == {world.p1.id, world.p_b2.id}


@pytest.mark.parametrize(("actor", "target"), [
    ("council", "council"),  # one's own account
    ("staff_other", "neighbour"),  # another УК
    ("council", "owner_other"),  # not in this building
    ("staff", "staff"),  # staff accounts are never administered from a building
])
def test_reissue_refused_changes_nothing(world, db, actor, target):
    hashes = {u.id: u.password_hash for u in db.session.query(User)}
    with pytest.raises((NotFound, NotAllowed)):
        onboarding_letters.letters_reissue(actor=getattr(world, actor), building=world.building,
                                           user_ids=[world.neighbour.id, getattr(world, target).id], now=NOW)
    db.session.rollback()
    assert {u.id: u.password_hash for u in db.session.query(User)} == hashes
    assert db.session.query(AuditLog).filter_by(action="password_reset").count() == 0


def test_reissue_needs_a_selection(world, db):
    with pytest.raises(Invalid) as caught:
        onboarding_letters.letters_reissue(actor=world.staff, building=world.building, user_ids=[], now=NOW)
    assert "user_ids" in caught.value.errors


def test_single_issue_links_the_register_row_or_adds_one(world, register, db):
    issued = accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Петрова Мария Ивановна",
                                    share="1/2", now=NOW)
    assert register["co"].user_id == issued.user.id
    assert db.session.query(OwnerRecord).filter_by(premises_id=world.p2.id).count() == 1
    other = accounts.account_issue(actor=world.staff, premises=world.p3, full_name="Новый Владелец", share="1/3",
                                   phone="89145550011", now=NOW)
    row = db.session.query(OwnerRecord).filter_by(user_id=other.user.id).one()
    assert (row.premises_id, row.full_name, row.share_num, row.share_den, row.phone, row.source) == (
        world.p3.id, "Новый Владелец", 1, 3, "+79145550011", "manual")
    # The bulk issue then has nothing left for кв. 2 and does not issue a second account.
    result = onboarding_letters.letters_issue(actor=world.staff, building=world.building, now=NOW)
    assert [letter.full_name for letter in result.letters] == ["Кузнецов Илья Ильич"]
    assert db.session.query(Ownership).filter_by(premises_id=world.p2.id).count() == 2


def _pdf_text(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_one_pdf_one_page_per_letter_with_login_password_and_qr(world, register, db):
    result = onboarding_letters.letters_issue(actor=world.staff, building=world.building, now=NOW)
    pdf = credential_letters_pdf(letters=result.letters, portal_url=PORTAL)
    pages = _pdf_text(pdf)
    assert len(pages) == len(result.letters) == 2
    for text, letter in zip(pages, result.letters, strict=True):
        for expected in (letter.login, letter.temporary_password, letter.full_name, "ул. Ленина",
                         letter.premises[0].account_number, PORTAL, "Временный пароль действует до",
                         "Сменить пароль"):
            assert expected in text, expected
    assert result.letters[1].temporary_password not in pages[0]
    for index in range(len(pages)):
        image = pypdfium2.PdfDocument(pdf)[index].render(scale=2).to_pil()
        codes = zxingcpp.read_barcodes(image)
        assert [c.text for c in codes] == [login_url(PORTAL)] == ["https://dom.example/auth/login"]
