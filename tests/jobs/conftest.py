"""Helpers for the job engine tests: a building with closed receipts, a real consumer in a subprocess."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from app.models import Service, Tariff
from app.services import billing
from tests import factories as F

OCT = date(2026, 10, 1)
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")  # a dedicated db: only it is flushed


def close_building(world, db, *, premises: int = 0):
    """October closed for world.building with `premises` more flats (3 + premises receipts)."""
    for i in range(premises):
        F.PremisesFactory(building=world.building, number=str(10 + i), entrance=1)
    service = Service(organisation_id=world.uk.id, code="MAINT", name="Содержание жилого помещения", unit="м²",
                      method="area")
    service.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=Decimal("30"))]
    db.session.add(service)
    db.session.commit()
    billing.period_close(actor=world.staff, building=world.building, period=OCT,
                         now=datetime(2026, 11, 1, tzinfo=UTC))


@contextmanager
def consumer(database_url: str, jobs_url: str, *, workers: int = 1, periodic: bool = False, log: Path):
    """`flask jobs work` as a real process on the test database and the given job storage."""
    env = {**os.environ, "DATABASE_URL": database_url, "JOBS_URL": jobs_url, "SECRET_KEY": "consumer-test",
           "PORTAL_CONFIG": "config.Config", "FLASK_APP": "wsgi.py", "PYTHONUNBUFFERED": "1"}
    env.pop("FLASK_DEBUG", None)
    args = [sys.executable, "-m", "flask", "jobs", "work", "--workers", str(workers)]
    if not periodic:
        args.append("--no-periodic")
    with open(log, "ab") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def wait_for(predicate, *, timeout: float, step: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def redis_url():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not running at {REDIS_URL}")
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
