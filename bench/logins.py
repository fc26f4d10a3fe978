"""Benchmark (not a test): logins per second with the OWASP argon2id parameters, and what a login burst does
to page traffic, with and without the per-process hashing cap — side by side in one run.

Model: one threaded worker (gunicorn gthread) — login threads POST /auth/login through the WSGI app while
page threads GET an owner page. argon2-cffi releases the GIL, so hashes really run on every core.

Run: `.venv/bin/python -m bench.logins` (throw-away SQLite database). Prints a Markdown table.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

from flask_migrate import upgrade

from app import create_app
from app.extensions import db, limiter
from app.models import Building, Organisation, Ownership, Premises, User
from app.services import passwords, sessions
from config import Config, TestConfig

SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
LOGIN_THREADS = int(os.environ.get("BENCH_LOGIN_THREADS", "6"))
PAGE_THREADS = 2
PASSWORD = "correct horse battery staple"


def build_app():
    url = f"sqlite:///{tempfile.mkdtemp()}/logins.db"
    config = type("LoginBench", (TestConfig,), {
        "SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "WTF_CSRF_ENABLED": False,
        "ARGON2_TIME_COST": Config.ARGON2_TIME_COST, "ARGON2_MEMORY_COST": Config.ARGON2_MEMORY_COST,
        "ARGON2_PARALLELISM": Config.ARGON2_PARALLELISM,
        # the login limits would stop the bench, not the CPU
        "LOGIN_LIMIT_PER_IP": "100000/minute", "LOGIN_LIMIT_PER_ACCOUNT": "100000/minute",
        "LOGIN_LIMIT_PER_ACCOUNT_IP": "100000/minute", "RATELIMIT_ENABLED": False,
    })
    app = create_app(config)
    with app.app_context():
        upgrade()
        org = Organisation(kind="uk", name="УК", short_name="УК", inn="7536000001", kpp="753601001",
                           address="Чита")
        building = Building(organisation=org, city="Чита", street="ул. Ленина", house="1")
        db.session.add_all([org, building])
        hashed = passwords.hash_password(PASSWORD)
        for i in range(50):
            user = User(login=f"owner{i}", password_hash=hashed, full_name=f"Собственник {i}")
            premises = Premises(building=building, number=str(i + 1), account_number=f"1{i:07d}")
            db.session.add_all([user, premises, Ownership(user=user, premises=premises)])
        db.session.commit()
    return app


def run(app, *, cap: int, logins: bool, pages: bool) -> tuple[float, float, float]:
    """(logins/s, pages/s, p95 page ms) for SECONDS with the given cap."""
    passwords.configure(time_cost=Config.ARGON2_TIME_COST, memory_cost=Config.ARGON2_MEMORY_COST,
                        parallelism=Config.ARGON2_PARALLELISM, max_concurrent=cap)
    stop = time.perf_counter() + SECONDS
    done = {"logins": 0, "pages": 0}
    latencies: list[float] = []
    lock = threading.Lock()

    def login_loop(n):
        client = app.test_client()
        while time.perf_counter() < stop:
            r = client.post("/auth/login", data={"login": f"owner{n % 50}", "password": PASSWORD})
            assert r.status_code == 303, r.status_code
            client.post("/auth/logout")
            with lock:
                done["logins"] += 1

    def page_loop(n):
        client = app.test_client()
        with app.app_context():
            token = sessions.session_start(user=db.session.get(User, n + 1), grace_starts=False)
        with client.session_transaction() as s:
            s["_user_id"] = token
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            assert client.get("/readings/").status_code == 200
            with lock:
                latencies.append(time.perf_counter() - t0)
                done["pages"] += 1

    threads = ([threading.Thread(target=login_loop, args=(i,)) for i in range(LOGIN_THREADS)] if logins else [])
    threads += ([threading.Thread(target=page_loop, args=(i,)) for i in range(PAGE_THREADS)] if pages else [])
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)] * 1000 if latencies else 0.0
    return done["logins"] / elapsed, done["pages"] / elapsed, p95


def main() -> None:
    limiter.enabled = False
    app = build_app()
    cpus = os.cpu_count() or 1
    print(f"CPUs: {cpus}; load average before: {os.getloadavg()}; argon2id m={Config.ARGON2_MEMORY_COST} KiB "
          f"t={Config.ARGON2_TIME_COST} p={Config.ARGON2_PARALLELISM}; {LOGIN_THREADS} login threads, "
          f"{PAGE_THREADS} page threads, {SECONDS:.0f} s each\n")
    print("| case | cap | logins/s | pages/s | page p95 ms |")
    print("|---|---|---|---|---|")
    rows = [
        ("pages alone", cpus, False, True),
        ("logins alone, uncapped (before)", LOGIN_THREADS, True, False),
        ("logins alone, cap = CPUs", cpus, True, False),
        ("logins alone, cap = 1 (default)", 1, True, False),
        ("burst + pages, uncapped (before)", LOGIN_THREADS, True, True),
        ("burst + pages, cap = CPUs", cpus, True, True),
        ("burst + pages, cap = 1 (default)", 1, True, True),
    ]
    for label, cap, logins, pages in rows:
        lps, pps, p95 = run(app, cap=cap, logins=logins, pages=pages)
        print(f"| {label} | {cap} | {lps:.1f} | {pps:.1f} | {p95:.0f} |")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
