import pytest

from app.models import Building, Premises, User
from app.services import accounts
from app.services.manage import building_premises_rows

DEMO_LOGINS = ["owner", "owner2", "council", "staff", "ukadmin", "rso", "admin"]


def test_seed_demo_cli_loads_into_an_empty_database(app, db):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo loaded: 2 buildings, 156 premises" in result.output
    assert db.session.query(Building).count() == 2


def test_demo_is_believable(demo, db):
    buildings = db.session.query(Building).order_by(Building.id).all()
    assert len(buildings) == 2
    big = buildings[0]
    assert db.session.query(Premises).filter_by(building_id=big.id).count() == 120
    assert {p.entrance for p in big.premises} == {1, 2, 3, 4}
    assert big.organisation.bank_bic and len(big.organisation.bank_account) == 20
    owner = db.session.query(User).filter_by(login="owner").one()
    assert len(owner.premises_list) == 2
    council = db.session.query(User).filter_by(login="council").one()
    assert council.council_memberships[0].is_chair
    assert {"staff", "ukadmin"} <= db.session.query(User).filter_by(login="ukadmin").one().roles
    assert "rso" in db.session.query(User).filter_by(login="rso").one().roles
    assert "operator" in db.session.query(User).filter_by(login="admin").one().roles


@pytest.mark.parametrize("login", DEMO_LOGINS)
def test_every_demo_account_logs_in_without_forced_change(demo, login):
    user = accounts.authenticate(login=login, password="demo2026")
    assert not user.must_change_password


def test_demo_accounts_reach_their_home_page(demo, app):
    for login in DEMO_LOGINS:
        c = app.test_client()
        r = c.post("/auth/login", data={"login": login, "password": "demo2026"})
        assert r.status_code == 303, login
        assert c.get("/home").status_code == 200, login


def test_seed_refuses_non_empty_database_and_if_empty_skips(demo, app):
    again = app.test_cli_runner().invoke(args=["seed-demo"])
    assert again.exit_code != 0 and "already has data" in again.output
    skipped = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert skipped.exit_code == 0 and "not loaded" in skipped.output


def test_create_admin(app, db):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-admin", "--login", "root", "--name", "Админ", "--password", "12345678"])
    assert weak.exit_code != 0 and "распространён" in weak.output
    ok = runner.invoke(args=["create-admin", "--login", "root", "--name", "Админ", "--password", "длинный пароль"])
    assert ok.exit_code == 0, ok.output
    assert "operator" in db.session.query(User).filter_by(login="root").one().roles


def test_building_rows_for_the_big_demo_building(demo, db):
    big = db.session.query(Building).order_by(Building.id).first()
    rows = building_premises_rows(big)
    assert [r.premises.number for r in rows[:3]] == ["1", "2", "3"]
    assert len(rows) == 120


def test_receipts_worker_processes_queued_batches(demo, app, db):
    from app.models import Building, ReceiptBatch, Statement

    building = db.session.query(Building).filter_by(house="41").one()
    period = db.session.query(Statement.period).order_by(Statement.period.desc()).first()[0]
    db.session.add(ReceiptBatch(building_id=building.id, period=period, total=36))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["receipts", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "done (36/36)" in result.output
    assert db.session.query(ReceiptBatch).one().pdf.startswith(b"%PDF")


def test_demo_has_a_year_of_charges_and_payments(demo, db):
    from app.models import Payment, Statement

    periods = {s.period for s in db.session.query(Statement)}
    assert len(periods) == 12
    assert db.session.query(Payment).count() > 1000


# --- the demo tells the same story on any date (README "Demo accounts") -------------------------------------

def test_demo_bank_details_pass_the_real_checks(demo, db):
    """Every organisation of the demo has details a bank app accepts (app/services/bankdetails.py)."""
    from app.models import Organisation
    from app.services import bankdetails

    assert not bankdetails.inn_valid("7536123457")  # the values the demo had before
    assert not bankdetails.account_key_valid("047601637", "40702810974000012345")
    for org in db.session.query(Organisation):
        assert bankdetails.inn_valid(org.inn), org.short_name
        if org.ogrn:
            assert bankdetails.ogrn_valid(org.ogrn), org.short_name
        if org.bank_account:
            assert bankdetails.bic_valid(org.bank_bic), org.short_name
            assert bankdetails.account_key_valid(org.bank_bic, org.bank_account), org.short_name
            assert bankdetails.corr_account_valid(org.bank_bic, org.bank_corr_account), org.short_name


def _demo_now():
    from app.models.base import utcnow

    return utcnow()


def _assert_demo_story(db, now) -> None:
    """What README's demo section promises, checked at `now`."""
    from datetime import timedelta

    from app.models import Appeal, Meter, Notice, Question, Reading
    from app.models.metering import ReadingSource, Resource
    from app.services import notices
    from app.services.appeals import is_overdue
    from app.services.periods import current_month, window_state

    big = db.session.query(Building).filter_by(house="108").one()
    assert window_state(big, now).is_open
    this_month = current_month(now)
    owner2 = db.session.query(User).filter_by(login="owner2").one()
    flat = owner2.premises_list[0]
    current = {r.meter.resource: r for r in db.session.query(Reading).join(Meter)
               .filter(Meter.premises_id == flat.id, Reading.period == this_month)}
    assert set(current) == {Resource.COLD_WATER}
    assert current[Resource.COLD_WATER].source == ReadingSource.COUNCIL
    by_council = (db.session.query(Reading).join(Meter)
                  .filter(Meter.building_id == big.id, Reading.period == this_month,
                          Reading.source == ReadingSource.COUNCIL).count())
    assert by_council > 5
    # No reading of this month was entered before its window opened or after now.
    opens = window_state(big, now).window.opens_at
    for reading in db.session.query(Reading).filter(Reading.period == this_month):
        assert reading.entered_at <= now
        if reading.meter.building_id == big.id:
            assert reading.entered_at >= opens
    owner = db.session.query(User).filter_by(login="owner").one()
    feed = notices.notice_feed(owner, now=now)
    assert any(n.starts_at <= now < n.ends_at for n in feed.pinned), "an outage going on now"
    assert any(n.starts_at > now for n in feed.pinned), "a planned outage"
    assert db.session.query(Notice).filter(Notice.published_at > now - timedelta(days=7)).count() >= 3
    open_appeals = [a for a in db.session.query(Appeal) if a.status in ("registered", "in_progress")]
    assert any(is_overdue(a, now) for a in open_appeals), "an overdue appeal"
    assert any(not is_overdue(a, now) for a in open_appeals), "an appeal within its deadline"
    assert db.session.query(Question).filter_by(status="new").count() >= 2
    # Meters are within their verification term, except the one README names (owner2's hot water).
    expired = [m for m in db.session.query(Meter).filter(Meter.premises_id.is_not(None))
               if m.next_verification_on <= now.date()]
    assert [(m.premises_id, m.resource) for m in expired] == [(flat.id, Resource.HOT_WATER)]


def test_demo_has_an_open_window_council_readings_outages_appeals_and_questions(demo, db):
    _assert_demo_story(db, _demo_now())


@pytest.mark.parametrize("moment", [
    "2027-01-10 03:00:00",  # New Year holidays: the overdue appeal is counted by the production calendar
    "2027-03-31 14:30:00",  # 23:30 on the 31st in Chita: past any window that ends on the 28th
    "2028-02-29 15:30:00",  # 00:30 on 1 March in Chita, a leap year
])
def test_demo_story_holds_on_other_dates(app, db, moment):
    from datetime import UTC, datetime

    from freezegun import freeze_time

    with freeze_time(moment):
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        _assert_demo_story(db, datetime.fromisoformat(moment).replace(tzinfo=UTC))


def test_demo_register_of_owners(demo, db, app):
    from app.models import OwnerRecord, Ownership
    from app.services import onboarding_letters

    premises_ids = {p.id for p in db.session.query(Premises)}
    records = db.session.query(OwnerRecord).all()
    assert {r.premises_id for r in records} == premises_ids  # every premises is in the register
    linked = {(r.premises_id, r.user_id) for r in records if r.user_id}
    assert linked == {(o.premises_id, o.user_id) for o in db.session.query(Ownership)}
    waiting = [r for r in records if r.user_id is None]
    assert 10 <= len(waiting) <= 40  # a few owners still without an account
    staff = db.session.query(User).filter_by(login="staff").one()
    big = db.session.query(Building).filter_by(house="108").one()
    register = onboarding_letters.owner_register(actor=staff, building=big)
    assert {"none", "pending", "expired", "active"} <= set(register.counts)
    with app.test_request_context():
        result = onboarding_letters.letters_issue(actor=staff, building=big, entrance=1)
    assert result.letters and result.linked == 0
    assert all(r.user_id for r in db.session.query(OwnerRecord).join(Premises)
               .filter(Premises.building_id == big.id, Premises.entrance == 1))


def test_demo_letters_page_within_budget(demo, db, app):
    import gzip

    from tests.conftest import login_as

    staff = db.session.query(User).filter_by(login="staff").one()
    big = db.session.query(Building).filter_by(house="108").one()
    r = login_as(app.test_client(), staff).get(f"/manage/buildings/{big.id}/letters")
    assert r.status_code == 200
    assert len(gzip.compress(r.data)) <= 14 * 1024, len(gzip.compress(r.data))
