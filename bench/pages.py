"""Benchmark (not a test): render times, sizes and query counts of the main pages on the demo data.

Run: `make bench` (uses a throw-away SQLite database, or BENCH_DATABASE_URL).
"""

import gzip
import os
import statistics
import tempfile
import time

from flask_migrate import upgrade
from sqlalchemy import event

from app import create_app
from app.extensions import db
from app.models import Building, User
from app.services import sessions
from config import TestConfig

PAGES = [
    ("anon", "/auth/login"),
    ("owner", "/home"),
    ("owner", "/profile/"),
    ("owner", "/apartment/"),
    ("staff", "/manage/"),
    ("staff", "/manage/buildings/{big}"),
    ("council", "/manage/premises/{premises}"),
]


def main(rounds: int = 30) -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    config = type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, "TESTING": False})
    app = create_app(config)
    with app.app_context():
        upgrade()
        if db.session.query(User).count() == 0:
            app.test_cli_runner().invoke(args=["seed-demo"])
        big = db.session.query(Building).order_by(Building.id).first()
        ids = {"big": big.id, "premises": big.premises[0].id}
        users = {
            u.login: sessions.session_start(user=u, grace_starts=False)
            for u in db.session.query(User).filter(User.login.in_(["owner", "staff", "council"])).all()
        }
    counter = {"n": 0}
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: counter.__setitem__("n", counter["n"] + 1))
    print(f"{'page':40} {'median ms':>10} {'p90 ms':>8} {'queries':>8} {'bytes':>8} {'gzip':>7}")
    for login, path in PAGES:
        client = app.test_client()
        if login != "anon":
            with client.session_transaction() as s:
                s["_user_id"] = users[login]
        target = path.format(**ids)
        client.get(target)  # warm
        times = []
        for _ in range(rounds):
            counter["n"] = 0
            start = time.perf_counter()
            response = client.get(target)
            times.append((time.perf_counter() - start) * 1000)
        size = len(response.data)
        print(
            f"{login + ' ' + target:40} {statistics.median(times):10.1f} {sorted(times)[int(rounds * 0.9)]:8.1f} "
            f"{counter['n']:8d} {size:8d} {len(gzip.compress(response.data)):7d}"
        )


if __name__ == "__main__":
    main()
