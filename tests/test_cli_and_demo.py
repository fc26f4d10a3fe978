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
