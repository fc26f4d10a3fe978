"""Background work on the Huey job engine (docs/decisions.md «Background jobs»).

Storage comes from JOBS_URL:
- `sqlite:///path/jobs.db` (the default, instance/jobs.db): no extra server; `make run` starts the web server and
  one consumer (`flask jobs work`) beside it;
- `redis://host:6379/0`: production, consumers (`flask jobs work`) on any number of machines;
- `immediate`: tests run each job at once in the caller (the real modes are tested with consumer subprocesses).

What runs here: building receipt batches (one job per chunk, then a merge), and the periodic jobs that cron used
to run — the outbox drain every minute, reading and verification reminders, expiring link requests, and the
watchdog that queues again the chunks of a consumer that died. Every job is idempotent and claims its rows in
the database itself (app/services/mailer.py, receipt_batches.py), so a job that runs twice, or on two machines at
once, does no harm; run-level leases (app/services/locks.py) keep two drains from overlapping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from pathlib import Path

from flask import Flask, has_app_context
from huey import Huey, crontab
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

log = logging.getLogger(__name__)

huey = Huey("portal", utc=True, store_none=False, storage_class=MemoryStorage)
_state: dict = {"app": None, "url": None}

REMINDERS_LEASE_TTL = timedelta(minutes=30)
EXPIRE_LEASE_TTL = timedelta(minutes=10)


def configure(url: str) -> None:
    """Point the engine at its storage (idempotent; tests switch between apps)."""
    if url == _state["url"]:
        return
    if url == "immediate":
        huey.immediate = True
    else:
        huey.immediate = False
        if url.startswith(("redis://", "rediss://", "unix://")):
            huey.storage_class, huey.storage_kwargs = RedisStorage, {"url": url}
        elif url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):])
            path.parent.mkdir(parents=True, exist_ok=True)
            huey.storage_class, huey.storage_kwargs = SqliteStorage, {"filename": str(path), "timeout": 30}
        elif url == "memory":
            huey.storage_class, huey.storage_kwargs = MemoryStorage, {}
        else:
            raise RuntimeError(f"JOBS_URL must be sqlite:///…, redis://… or immediate, not {url!r}")
        huey.storage = huey.create_storage()
    _state["url"] = url


def init_app(app: Flask) -> None:
    """Remember the app that jobs run in and configure the storage from its JOBS_URL."""
    _state["app"] = app
    configure(app.config["JOBS_URL"])


def in_app(fn: Callable) -> Callable:
    """Run the job inside a Flask app context (a consumer thread has none; an immediate job reuses the caller's)."""

    @wraps(fn)
    def inner(*args, **kwargs):
        if has_app_context():
            return fn(*args, **kwargs)
        app = _state["app"]
        if app is None:
            raise RuntimeError("app.jobs.init_app(app) was not called in this process")
        with app.app_context():
            from app.extensions import db

            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return inner


def exclusive(name: str, ttl: timedelta, fn: Callable, *args, **kwargs):
    """Run fn under the run-level lease `name` (the periodic job and its manual command share it).
    Returns (True, result), or (False, None) when another run holds the lease."""
    from app.services import locks

    try:
        with locks.lease(name, ttl=ttl):
            return True, fn(*args, **kwargs)
    except locks.Busy:
        log.info("%s: another run holds the lease, skipped", name)
        return False, None


# --- receipt batches --------------------------------------------------------------------------------------------

@huey.task(retries=3, retry_delay=2, retry_backoff=2)
@in_app
def render_chunk(chunk_id: int) -> None:
    from app.services import receipt_batches

    batch_id = receipt_batches.chunk_run(chunk_id)
    if batch_id is not None:  # the last chunk: queue the merge
        merge_batch(batch_id)


@huey.task(retries=3, retry_delay=2, retry_backoff=2)
@in_app
def merge_batch(batch_id: int) -> None:
    from app.services import receipt_batches

    receipt_batches.batch_merge(batch_id)


def batch_start(chunk_ids: list[int]) -> None:
    """Queue one job per chunk: any free consumer takes the next one."""
    for chunk_id in chunk_ids:
        render_chunk(chunk_id)


@huey.periodic_task(crontab(minute="*"))
@in_app
def batches_watchdog() -> None:
    from app.services import receipt_batches

    chunks, merges = receipt_batches.batches_watch()
    if chunks or merges:
        log.warning("watchdog: chunks queued again %s, merges due %s", chunks, merges)
    batch_start(chunks)
    for batch_id in merges:
        merge_batch(batch_id)


# --- periodic jobs that cron used to run -----------------------------------------------------------------------

@huey.periodic_task(crontab(minute="*"))
@in_app
def outbox_drain() -> None:
    from app.services.mailer import outbox_send

    report = outbox_send()  # takes the run-level lease itself (shared with `flask mail send`)
    if report.sent or report.failed or report.retrying or report.unreachable:
        log.info("outbox: %s", report)


def reminders_run(now=None):
    from app.services.reminders import reminders_enqueue

    return exclusive("reminders", REMINDERS_LEASE_TTL, reminders_enqueue, now=now)


# Hourly 10:00–20:00 Asia/Chita (01–11 UTC): the first run of the day queues, later ones catch up after a
# consumer outage; the dedupe keys make every repeat free (app/services/reminders.py).
@huey.periodic_task(crontab(minute="0", hour="1-11"))
@in_app
def reminders_periodic() -> None:
    reminders_run()


def link_requests_expire_run():
    from app.services.accounts import link_requests_expire

    return exclusive("expire-links", EXPIRE_LEASE_TTL, link_requests_expire)


@huey.periodic_task(crontab(minute="30", hour="18"))  # 03:30 Asia/Chita, daily
@in_app
def link_requests_expire_periodic() -> None:
    link_requests_expire_run()


def consumer_run(*, workers: int = 2, periodic: bool = True) -> None:
    """The consumer: `workers` threads take jobs; the scheduler enqueues the periodic jobs (blocks; SIGINT
    finishes the running jobs first, SIGTERM stops at once — a stopped chunk is queued again by the watchdog)."""
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                    check_worker_health=True, scheduler_interval=1, initial_delay=0.1,
                                    max_delay=1.0)
    consumer.run()
