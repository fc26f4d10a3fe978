"""Benchmark (not a test), issue #13 «Queries that scale»: 20 buildings × 200 flats × 4 registers × 24 months on
PostgreSQL, then the board and the grid of one 200-flat building before / after side by side, and EXPLAIN (ANALYZE)
of every hot query.

Run: `BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test_scale \
      .venv/bin/python -m bench.board_queries`
(the database's public schema is DROPPED and rebuilt). Rows go in by executemany without RETURNING (ids given).
"""

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

from app import create_app
from app.extensions import db
from app.models import (
    Appeal,
    AppealCategory,
    Building,
    Meter,
    Organisation,
    Ownership,
    Premises,
    Question,
    Reading,
    StaffMembership,
    User,
)
from app.services import accounts, appeals, passwords, questions, sessions
from app.services import readings as svc
from app.services.periods import add_months, current_month
from config import TestConfig

BUILDINGS, FLATS, MONTHS = 20, 200, 24
REGISTERS = (("cold_water", None), ("hot_water", None), ("electricity", "T1"), ("electricity", "T2"))


def old_previous_for(meter_ids, period):
    """Before issue #13: MAX(period) GROUP BY meter over every earlier reading, joined back."""
    if not meter_ids:
        return {}
    latest = (select(Reading.meter_id, func.max(Reading.period).label("period"))
              .where(Reading.meter_id.in_(meter_ids), Reading.period < period).group_by(Reading.meter_id).subquery())
    rows = db.session.scalars(
        select(Reading).join(latest, (Reading.meter_id == latest.c.meter_id) & (Reading.period == latest.c.period)))
    return {r.meter_id: r for r in rows}


def build(now: datetime):
    started = time.perf_counter()
    this_month = current_month(now)
    hashed = passwords.hash_password("x" * 12)
    db.session.execute(insert(Organisation), [
        dict(id=i, kind="uk", name=f"УК {i}", short_name=f"УК {i}", inn=f"75000000{i:02d}") for i in (1, 2)])
    db.session.execute(insert(Building), [
        dict(id=b, organisation_id=1 + (b > BUILDINGS // 2), street="ул. Нагрузочная", house=str(b), entrances=4,
             floors=10) for b in range(1, BUILDINGS + 1)])
    premises, meters, readings, users, owns = [], [], [], [], []
    pid = mid = 0
    for b in range(1, BUILDINGS + 1):
        for n in range(1, FLATS + 1):
            pid += 1
            premises.append(dict(id=pid, building_id=b, number=str(n), entrance=1 + (n - 1) // 50,
                                 floor=1 + ((n - 1) % 50) // 5, account_number=f"3{pid:07d}"))
            users.append(dict(id=pid + 10, login=f"owner{pid}", full_name=f"Собственник {pid}", password_hash=hashed))
            owns.append(dict(user_id=pid + 10, premises_id=pid))
            for resource, zone in REGISTERS:
                mid += 1
                meters.append(dict(id=mid, premises_id=pid, building_id=b, resource=resource, zone=zone,
                                   serial_number=f"S{mid:07d}", digits=6, initial_value=0, archived=False))
                value = 100 + mid % 97
                # this month: about two thirds of flats have handed in
                for back in range(MONTHS, -1 if pid % 3 else 0, -1):
                    value += 1 + (mid + back) % 9
                    readings.append(dict(meter_id=mid, period=add_months(this_month, -back), value=Decimal(value),
                                         source="owner", entered_at=now - timedelta(days=30 * back), version=1))
    users.append(dict(id=1, login="staff1", full_name="Сотрудник", password_hash=hashed))
    for table, rows in ((Premises, premises), (User, users), (Ownership, owns), (Meter, meters)):
        db.session.execute(insert(table), rows)
    for i in range(0, len(readings), 50_000):
        db.session.execute(insert(Reading), readings[i:i + 50_000])
    db.session.execute(insert(StaffMembership), [dict(user_id=1, organisation_id=1, role="staff")])
    db.session.commit()
    category = db.session.scalars(select(AppealCategory).where(AppealCategory.organisation_id == 1)).first()
    if category is None:  # categories are seeded per organisation by the app; make one if not
        category = AppealCategory(organisation_id=1, code="REPAIR", name="Ремонт", deadline_unit="working_days",
                                  deadline_value=5)
        db.session.add(category)
        db.session.flush()
    db.session.execute(insert(Appeal), [
        dict(organisation_id=1 + (k % 2), building_id=1 + k % BUILDINGS, premises_id=1 + k % pid,
             author_id=11 + k % pid,
             category_id=category.id, number=f"B-{k}", year=2026, seq=k + 1, place_kind="premises", text="Текст",
             status=("registered", "in_progress", "done", "closed")[k % 4], registered_at=now - timedelta(days=k % 90),
             deadline_at=now + timedelta(days=(k % 60) - 30), version=1, reopen_count=0, updated_at=now)
        for k in range(6000)])
    db.session.execute(insert(Question), [
        dict(author_id=11 + k % pid, building_id=1 + k % BUILDINGS, premises_id=1 + k % pid,
             addressee=("uk", "council")[k % 2], organisation_id=1 + (k % 4 > 1), subject=f"Вопрос {k}",
             status=("new", "answered", "closed")[k % 3], created_at=now - timedelta(hours=k), updated_at=now,
             version=1) for k in range(6000)])
    db.session.commit()
    for table in ("organisations", "buildings", "premises", "users", "meters"):
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))"))
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return time.perf_counter() - started, len(readings), mid, pid


def timed(fn, rounds):
    times = []
    for _ in range(rounds):
        db.session.expire_all()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), sorted(times)[int(0.9 * (len(times) - 1))]


def explain(label, statement):
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = "\n".join(r[0] for r in db.session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)))
    import re

    shown = re.sub(r"IN \((\d+), (\d+), [\d, ]+, (\d+)\)", r"IN (\1, \2, …, \3)", sql)  # 800 meter ids
    plan = re.sub(r"ANY \('\{(\d+),(\d+),[\d,]+,(\d+)\}'", r"ANY ('{\1,\2,…,\3}'", plan)
    print(f"\n#### {label}\n\n```sql\n{shown}\n```\n\n```\n{plan}\n```")


def main(rounds: int = 15):
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        sys.exit("set BENCH_DATABASE_URL to a PostgreSQL database (its public schema is dropped)")
    app = create_app(type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url}))
    now = datetime.now(UTC)
    period = current_month(now)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        seconds, n_readings, n_meters, n_premises = build(now)
        print(f"dataset: {BUILDINGS} buildings × {FLATS} flats = {n_premises} premises, {n_meters} meters, "
              f"{n_readings} readings; built in {seconds:.1f} s; load average {os.getloadavg()}")
        building = db.session.get(Building, 1)
        ids = list(db.session.scalars(select(Meter.id).where(Meter.building_id == 1)))
        assert {k: v.id for k, v in svc._previous_for(ids, period).items()} == \
            {k: v.id for k, v in old_previous_for(ids, period).items()}
        new_previous = svc._previous_for

        def old_grid():
            svc._previous_for = old_previous_for
            try:
                return svc.board_rows(building, period)
            finally:
                svc._previous_for = new_previous

        cases = [
            ("latest before the month, 800 meters", lambda: old_previous_for(ids, period),
             lambda: new_previous(ids, period)),
            ("owners' board (done / not done, 200 flats)", lambda: svc.board_progress(old_grid()),
             lambda: svc.board_progress(svc.board_tiles(building, period))),
            ("grid rows, all 200 flats (800 cells)", old_grid, lambda: svc.board_rows(building, period)),
            ("grid rows, one entrance (50 flats)", None, lambda: svc.board_rows(building, period, entrance=1)),
        ]
        print(f"\nload average before timing: {os.getloadavg()}")
        print("| what | before median / p90 ms | after median / p90 ms |\n|---|---:|---:|")
        for label, before, after in cases:
            b = timed(before, rounds) if before else None
            a = timed(after, rounds)
            btxt = f"{b[0]:.1f} / {b[1]:.1f}" if b else "—"
            print(f"| {label} | {btxt} | {a[0]:.1f} / {a[1]:.1f} |")

        # Through the app (test client): the board page of an owner and the grid page of the УК staff.
        owner = db.session.get(User, 11)
        staff = db.session.get(User, 1)
        clients = {}
        for name, user in (("owner", owner), ("staff", staff)):
            token = sessions.session_start(user=user, grace_starts=False)
            c = app.test_client()
            with c.session_transaction() as s:
                s["_user_id"] = token
            clients[name] = c
        pages = [("owner", "/readings/building?building=1", "owner board page"),
                 ("staff", "/manage/readings?building=1", "grid page, one entrance (default)"),
                 ("staff", "/manage/readings?building=1&entrance=", "grid page, all entrances")]

        def page(who, path):
            from flask import g

            g.pop("_login_user", None)  # the requests share the bench's app context: forget the last user
            r = clients[who].get(path)
            assert r.status_code == 200, (path, r.status_code)

        print("\n| page (test client) | before median / p90 ms | after median / p90 ms |\n|---|---:|---:|")
        new_tiles = svc.board_tiles

        def old_board(building_, period_, resources=None):
            return svc.board_rows(building_, period_, resources=resources)

        for who, path, label in pages:

            def before(who=who, path=path):
                svc._previous_for = old_previous_for
                svc.board_tiles = old_board
                try:
                    page(who, path)
                finally:
                    svc._previous_for, svc.board_tiles = new_previous, new_tiles

            b = timed(before, rounds)
            a = timed(lambda who=who, path=path: page(who, path), rounds)
            print(f"| {label} | {b[0]:.1f} / {b[1]:.1f} | {a[0]:.1f} / {a[1]:.1f} |")
        print(f"\nload average after timing: {os.getloadavg()}")

        # EXPLAIN (ANALYZE, BUFFERS) of the hot queries
        latest_id = (select(Reading.id).where(Reading.meter_id == Meter.id, Reading.period < period)
                     .order_by(Reading.period.desc()).limit(1).correlate(Meter).scalar_subquery())
        explain("latest reading before the month (new): one backward index probe per meter",
                select(latest_id).where(Meter.id.in_(ids)))
        latest = (select(Reading.meter_id, func.max(Reading.period).label("period"))
                  .where(Reading.meter_id.in_(ids), Reading.period < period).group_by(Reading.meter_id).subquery())
        explain("latest reading before the month (old): MAX(period) GROUP BY over the history",
                select(Reading).join(latest, (Reading.meter_id == latest.c.meter_id)
                                     & (Reading.period == latest.c.period)))
        explain("this month's readings of the building's meters",
                select(Reading).where(Reading.meter_id.in_(ids), Reading.period == period))
        meter_on = (Meter.premises_id == Premises.id) & (Meter.building_id == 1) & Meter.archived.is_(False)
        explain("owners' board: one aggregate", select(Premises.id, func.count(Meter.id), func.count(Reading.id))
                .outerjoin(Meter, meter_on)
                .outerjoin(Reading, (Reading.meter_id == Meter.id) & (Reading.period == period))
                .where(Premises.building_id == 1).group_by(Premises.id))
        explain("login lookup (accounts.find_by_login)", select(User).where(func.lower(User.login) == "owner1234"))
        scope = questions.inbox_scope(staff)
        explain("inbox, tab «new», first page", questions._inbox_query(scope).where(questions._tab_clause("new", staff))
                .order_by(*questions._ORDER["new"]).limit(51))
        explain("inbox tab counts", select(func.count(Question.id)).where(scope.clause()))
        overdue = Appeal.status.in_(["registered", "in_progress"]) & (Appeal.deadline_at < now)
        from sqlalchemy import case
        explain("appeals board, first page of 50", select(Appeal).where(Appeal.organisation_id.in_([1]),
                Appeal.status.in_(["registered", "in_progress", "done"]))
                .order_by(case((overdue, 0), else_=1), Appeal.deadline_at, Appeal.id).limit(51))
        assert accounts.find_by_login("OWNER1234").id == 1234 + 10
        assert appeals is not None


if __name__ == "__main__":
    main()
