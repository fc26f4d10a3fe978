"""Period close: garbage selectors are refused (422), a close racing another close or an import of the same
building is serialised by the building lock, and the loser gets 409 — never a 500."""

import threading

import pytest

from app.extensions import db as _db
from app.models import Charge
from app.services import billing, locks
from app.services.errors import Conflict
from tests.conftest import login_as
from tests.jobs.conftest import OCT, close_building


@pytest.mark.parametrize(("data", "field"), [
    ({"building": " ", "period": "2026-10"}, "дом"),
    ({"building": "🏠", "period": "2026-10"}, "дом"),
    ({"building": "-0.001", "period": "2026-10"}, "дом"),
    ({"building": "1e3", "period": "2026-10"}, "дом"),
    ({"period": "2026-10"}, "дом"),
    ({"building": "{b}", "period": "garbage"}, "месяц"),
    ({"building": "{b}", "period": ""}, "месяц"),
    ({"building": "{b}", "period": "2026-13"}, "месяц"),
    ({"building": "{b}"}, "месяц"),
])
def test_close_refuses_a_missing_or_unparsable_selector(app, world, db, data, field):
    close_building(world, db)
    before = db.session.query(Charge).count()
    data = {k: v.replace("{b}", str(world.building.id)) for k, v in data.items()}
    r = login_as(app.test_client(), world.staff).post("/manage/receipts/close", data=data)
    assert r.status_code == 422 and f"Выберите {field} из списка" in r.text
    assert db.session.query(Charge).count() == before  # nothing was closed again


def test_close_of_another_uks_building_is_404(app, world, db):
    r = login_as(app.test_client(), world.staff).post(
        "/manage/receipts/close", data={"building": world.building_other.id, "period": "2026-10"})
    assert r.status_code == 404


def test_close_while_the_building_is_locked_answers_409(app, world, db):
    close_building(world, db)
    client = login_as(app.test_client(), world.staff)
    client.get("/manage/receipts")
    holding, release = threading.Event(), threading.Event()

    def hold():
        with app.app_context():
            locks.building_lock(world.building.id)  # e.g. a charges import applying its rows
            holding.set()
            release.wait(30)
            _db.session.rollback()
            _db.session.remove()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        r = client.post("/manage/receipts/close", data={"building": world.building.id, "period": "2026-10"})
    finally:
        release.set()
        thread.join(30)
    assert r.status_code == 409 and "идёт другая операция" in r.text


def test_parallel_closes_are_serialised_on_postgresql(app, world, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite serialises every writer)")
    # Before the lock: 8 parallel closes of one building gave UniqueViolation (uq_charges_premises_id_period_
    # service_id) → 500 in the run.
    close_building(world, db, premises=30)
    building_id, staff_id = world.building.id, world.staff.id
    barrier = threading.Barrier(6)
    outcomes = []

    def close():
        from app.models import Building, User

        with app.app_context():
            barrier.wait()
            try:
                report = billing.period_close(actor=_db.session.get(User, staff_id),
                                              building=_db.session.get(Building, building_id), period=OCT)
                outcomes.append(("ok", report.lines))
            except Conflict:
                outcomes.append(("409", None))
            except Exception as error:  # noqa: BLE001  (the defect: anything else is a 500)
                outcomes.append(("500", f"{type(error).__name__}: {error}"))
            finally:
                _db.session.rollback()
                _db.session.remove()

    threads = [threading.Thread(target=close) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    kinds = sorted(kind for kind, _ in outcomes)
    assert "500" not in kinds, outcomes
    assert kinds.count("ok") >= 1
    lines = {n for kind, n in outcomes if kind == "ok"}
    assert len(lines) == 1  # every close that ran computed the same charges
    assert db.session.query(Charge).filter(Charge.period == OCT).count() == lines.pop()
    print(f"\nparallel closes on PostgreSQL: {kinds.count('ok')} ran one after another, {kinds.count('409')} got 409")
