"""Benchmark (not a test): the readings grid of a 300-premises building and one cell save.

Run: `.venv/bin/python -m bench.grid` (throw-away SQLite, or BENCH_DATABASE_URL for PostgreSQL).
"""

import gzip
import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal

from flask_migrate import upgrade
from sqlalchemy import event, select

from app import create_app
from app.extensions import db
from app.models import Building, Meter, Organisation, Premises, Reading, StaffMembership, User
from app.models.base import utcnow
from app.services import passwords, sessions
from app.services.periods import add_months, current_month
from config import TestConfig


def build(rounds_history: int = 12) -> tuple[int, int]:
    rng = random.Random(1)
    uk = Organisation(kind="uk", name="УК Бенч", short_name="УК Бенч", inn="7500000001")
    building = Building(organisation=uk, street="ул. Бенчмарк", house="300", entrances=6, floors=10)
    staff = User(login="bench", full_name="Бенч", password_hash=passwords.hash_password("x" * 12))
    staff.staff_memberships.append(StaffMembership(organisation=uk, role="staff"))
    db.session.add_all([uk, building, staff])
    db.session.flush()
    now = utcnow()
    this_month = current_month(now)
    number = 0
    readings = []
    for entrance in range(1, 7):
        for floor in range(1, 11):
            for _ in range(5):
                number += 1
                p = Premises(
                    building_id=building.id,
                    number=str(number),
                    entrance=entrance,
                    floor=floor,
                    account_number=f"3{number:07d}",
                )
                db.session.add(p)
                db.session.flush()
                for resource, zone in (
                    ("cold_water", None),
                    ("hot_water", None),
                    ("electricity", "T1"),
                    ("electricity", "T2"),
                ):
                    m = Meter(
                        premises_id=p.id,
                        building_id=building.id,
                        resource=resource,
                        zone=zone,
                        serial_number=f"B{number:05d}",
                        digits=6,
                        initial_value=0,
                    )
                    db.session.add(m)
                    db.session.flush()
                    value = Decimal(rng.randint(10, 500))
                    for back in range(rounds_history, 0, -1):
                        value += Decimal(rng.randint(1, 9))
                        readings.append(
                            dict(
                                meter_id=m.id,
                                period=add_months(this_month, -back),
                                value=value,
                                source="owner",
                                entered_at=now - timedelta(days=30 * back),
                                version=1,
                            )
                        )
    db.session.execute(Reading.__table__.insert(), readings)
    db.session.commit()
    return building.id, staff.id


def main(rounds: int = 15) -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    config = type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, "TESTING": False})
    app = create_app(config)
    with app.app_context():
        upgrade()
        building_id, staff_id = build()
        staff = db.session.get(User, staff_id)
        session_id = sessions.session_start(user=staff, grace_starts=False)
        meter_ids = list(db.session.scalars(select(Meter.id).where(Meter.building_id == building_id)))
        period = current_month(utcnow()).strftime("%Y-%m")
        queries = {"n": 0}
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.__setitem__("n", queries["n"] + 1))
    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = session_id
    print(f"300 premises × 4 registers = {len(meter_ids)} cells, {len(meter_ids) * 12} readings of history")
    print(f"{'request':46} {'median ms':>10} {'p90 ms':>8} {'queries':>8} {'bytes':>8} {'gzip':>7}")
    for label, query in (
        ("grid, one entrance (default)", ""),
        ("grid, all 6 entrances", "&entrance="),
        ("grid, only missing, all entrances", "&entrance=&missing=1"),
    ):
        url_ = f"/manage/readings?building={building_id}{query}"
        client.get(url_)
        times = []
        for _ in range(rounds):
            queries["n"] = 0
            t = time.perf_counter()
            r = client.get(url_)
            times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
        print(
            f"{label:46} {statistics.median(times):10.1f} {sorted(times)[int(rounds * 0.9)]:8.1f} "
            f"{queries['n']:8d} {len(r.data):8d} {len(gzip.compress(r.data)):7d}"
        )
    times = []
    for meter_id in meter_ids[: rounds * 2]:
        queries["n"] = 0
        t = time.perf_counter()
        r = client.post(
            f"/manage/readings/{period}/meters/{meter_id}",
            data={"value": "9999", "version": ""},
            headers={"HX-Request": "true", "HX-Target": f"reading-cell-{meter_id}"},
        )
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    print(
        f"{'one cell save (htmx, new reading)':46} {statistics.median(times):10.1f} "
        f"{sorted(times)[int(len(times) * 0.9)]:8.1f} {queries['n']:8d} {len(r.data):8d} "
        f"{len(gzip.compress(r.data)):7d}"
    )


if __name__ == "__main__":
    main()
