"""The two-step takeover (link someone's login to your premises, then reset its password) is refused for every
role, across organisations and across buildings; refused requests change nothing; the link answer is neutral."""

import re
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from sqlalchemy import text

from app.models import OwnershipLinkRequest
from app.services import accounts, passwords
from tests.conftest import login_as
from tests.factories import PASSWORD, OwnershipFactory, PremisesFactory, UserFactory

TABLES = ("users", "ownerships", "council_memberships", "staff_memberships", "ownership_link_requests", "audit_log")


def _snapshot(db) -> dict[str, list]:
    return {t: sorted(tuple(r) for r in db.session.execute(text(f"SELECT * FROM {t} ORDER BY id"))) for t in TABLES}


@pytest.fixture
def victims(world, db):
    """A victim in another УК's building, one in another building of the same УК."""
    in_building2 = UserFactory(login="victim2", full_name="Жертва Вторая Домовна")
    OwnershipFactory(user=in_building2, premises=PremisesFactory(building=world.building2, number="8"))
    db.session.commit()
    return {"other_uk": world.owner_other, "other_building": in_building2}


# attacker -> (a premises the attacker manages, or None when they manage nothing; the victim key)
ATTACKS = [
    ("council", "p1", "other_uk"),
    ("council", "p1", "other_building"),
    ("staff", "p1", "other_uk"),
    ("ukadmin", "p2", "other_uk"),
    ("staff_other", "p_other", "victim_a"),
    ("owner", "p1", "other_uk"),
    ("rso", "p1", "other_uk"),
]


@pytest.mark.parametrize(("attacker", "premises_key", "victim_key"), ATTACKS)
def test_link_then_reset_is_refused_and_the_password_still_works(app, world, db, victims, attacker,
                                                                 premises_key, victim_key):
    victims["victim_a"] = world.neighbour  # of УК A, attacked by staff of УК B
    victim = victims[victim_key]
    premises = getattr(world, premises_key)
    hash_before, version_before = victim.password_hash, victim.session_version
    owned_before = {o.premises_id for o in victim.ownerships}
    c = login_as(app.test_client(), world.by_role(attacker))
    manager = attacker in ("council", "staff", "ukadmin", "staff_other")

    before = _snapshot(db)
    r = c.post(f"/manage/premises/{premises.id}/owners", data={"existing_login": victim.login, "existing_share": ""})
    if manager:  # a request is recorded, nothing is linked
        assert r.status_code == 303
        after = _snapshot(db)
        assert after["ownerships"] == before["ownerships"] and after["users"] == before["users"]
        assert db.session.query(OwnershipLinkRequest).filter_by(user_id=victim.id).count() == 1
    else:
        assert r.status_code == 403
        assert _snapshot(db) == before

    before = _snapshot(db)
    refused = 404 if manager else 403
    for path, data in [
        (f"/manage/accounts/{victim.id}/reset", {"premises_id": premises.id}),
        (f"/manage/accounts/{victim.id}/active", {"active": "0", "premises_id": premises.id}),
        (f"/manage/accounts/{victim.id}/letter", {"password": "anything"}),
        (f"/manage/premises/{premises.id}/owners/{victim.id}/remove", {}),
        (f"/manage/premises/{next(iter(owned_before))}/owners/{victim.id}/remove", {}),
    ]:
        r = c.post(path, data=data)
        assert r.status_code == refused, (attacker, path, r.status_code)
        assert "Временный пароль" not in r.text and victim.full_name not in r.text
    assert _snapshot(db) == before

    db.session.expire_all()
    assert victim.password_hash == hash_before and victim.session_version == version_before
    assert {o.premises_id for o in victim.ownerships} == owned_before
    assert passwords.verify_password(victim.password_hash, PASSWORD)
    r = app.test_client().post("/auth/login", data={"login": victim.login, "password": PASSWORD})
    assert r.status_code == 303 and "/auth/login" not in r.headers["Location"]


def test_account_in_two_organisations_is_reset_only_by_the_operator(app, world, db):
    # The owner of УК B accepts a request from УК A: the account now owns in both organisations.
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login="other")
    request = db.session.query(OwnershipLinkRequest).filter_by(user_id=world.owner_other.id).one()
    accounts.link_request_accept(actor=world.owner_other, request_id=request.id)
    victim = world.owner_other
    for role in ("council", "staff", "ukadmin", "staff_other"):
        before = _snapshot(db)
        r = login_as(app.test_client(), world.by_role(role)).post(f"/manage/accounts/{victim.id}/reset")
        assert r.status_code == 404, role
        assert _snapshot(db) == before
    # The premises page lists the owner without the buttons that act on the account.
    page = login_as(app.test_client(), world.staff).get(f"/manage/premises/{world.p2.id}").text
    assert victim.full_name in page and f"/manage/accounts/{victim.id}/reset" not in page
    accounts.account_reset(actor=world.operator, user=victim)
    assert not passwords.verify_password(victim.password_hash, PASSWORD)


def _flash(html: str) -> str:
    return re.search(r'<div id="flash".*?</div>', html, re.S).group(0)


def test_link_answer_is_byte_identical_whatever_the_login(app, world, db):
    """No account, a staff account, an owner already linked, an operator, a real owner: the same answer."""
    c = login_as(app.test_client(), world.staff)
    answers = {}
    with freeze_time(datetime.now(UTC)):  # one timestamp for all (the session stays valid)
        for login in ("nobody", "staff", "neighbour", "admin", "other"):
            r = c.post(f"/manage/premises/{world.p2.id}/owners", data={"existing_login": login, "existing_share": ""})
            page = c.get(r.headers["Location"])
            assert accounts.LINK_REQUESTED in page.text
            region = re.search(r'<h3 id="link-requests-h">.*?</ul>', page.text, re.S).group(0)
            row = re.search(rf"<li>\s*логин <span class=\"mono\">{login}</span>.*?</li>", region, re.S).group(0)
            row = re.sub(r"/links/\d+/", "/links/N/", row).replace(login, "LOGIN")
            answers[login] = (r.status_code, r.headers["Location"], r.data, _flash(page.text), row)
            for name in ("Петров", "Сидоров", "Морозова Ольга", "Оператор"):  # nobody else's name
                assert name not in _flash(page.text)
            assert "Сидоров Сидор Сидорович" not in page.text
    assert len(set(answers.values())) == 1, answers
    # A repeat answers the same too.
    r = c.post(f"/manage/premises/{world.p2.id}/owners", data={"existing_login": "other", "existing_share": ""})
    assert (r.status_code, r.headers["Location"], r.data) == answers["nobody"][:3]
