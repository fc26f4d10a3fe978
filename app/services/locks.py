"""Locks that make background and destructive work safe on SQLite and PostgreSQL alike.

- `lease` / `Lease`: a run-level lock (one outbox drain at a time over every process and machine that shares the
  database). A row in `job_locks` with an expiry: acquiring is one atomic UPDATE of an expired row (checked by its
  rowcount) or an INSERT guarded by the primary key. A holder that died (kill -9) stops holding it when the
  lease expires; a live holder renews it. The job engine's own lock (Huey's `lock_task`) is not used for this:
  on SQLite storage it cannot expire, so a consumer killed while holding it would block the drain for good.
- `building_lock`: the row lock on a building that period close, the charges import and the readings import
  take first, so that they never interleave. PostgreSQL: SELECT … FOR UPDATE with a short lock_timeout;
  SQLite: a write to the building row, which takes the database write lock. The loser gets `Conflict` (409)
  with a Russian message instead of a database error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from app.extensions import db
from app.models.base import utcnow
from app.models.housing import Building
from app.models.messaging import JobLock
from app.services.errors import Conflict

BUILDING_LOCK_TIMEOUT_MS = 3000
BUSY_MESSAGE = ("С этим домом сейчас идёт другая операция (закрытие периода или загрузка файла). "
                "Подождите минуту и повторите.")


class Busy(Exception):
    """The lease is held by another run."""


@dataclass
class Lease:
    name: str
    token: str
    ttl: timedelta

    def renew(self, *, now: datetime | None = None) -> bool:
        """Move the expiry forward; False if the lease was lost (expired and taken over)."""
        now = now or utcnow()
        result = db.session.execute(update(JobLock).where(JobLock.name == self.name, JobLock.token == self.token)
                                    .values(expires_at=now + self.ttl))
        db.session.commit()
        return result.rowcount == 1

    def release(self) -> None:
        db.session.rollback()
        db.session.execute(JobLock.__table__.delete().where(JobLock.name == self.name,
                                                            JobLock.token == self.token))
        db.session.commit()


def lease_acquire(name: str, *, ttl: timedelta, now: datetime | None = None) -> Lease | None:
    """Take the lease `name` for `ttl`, or None if someone else holds it (commits)."""
    now = now or utcnow()
    token = uuid.uuid4().hex
    db.session.commit()  # start from a clean transaction: the claim must be its own
    taken = db.session.execute(update(JobLock).where(JobLock.name == name, JobLock.expires_at < now)
                               .values(token=token, expires_at=now + ttl))
    if taken.rowcount == 1:
        db.session.commit()
        return Lease(name, token, ttl)
    db.session.rollback()
    try:
        db.session.execute(JobLock.__table__.insert().values(name=name, token=token, expires_at=now + ttl))
        db.session.commit()
    except (IntegrityError, OperationalError):  # held (or being taken) by another run
        db.session.rollback()
        return None
    return Lease(name, token, ttl)


@contextmanager
def lease(name: str, *, ttl: timedelta) -> Iterator[Lease]:
    """`with lease("outbox-drain", ttl=...) as held:` — raises Busy when another run holds it."""
    held = lease_acquire(name, ttl=ttl)
    if held is None:
        raise Busy(name)
    try:
        yield held
    finally:
        held.release()


def building_lock(building_id: int) -> None:
    """Lock the building's row until the transaction ends, or raise Conflict if another operation holds it."""
    buildings_lock([building_id])


def buildings_lock(ids) -> None:
    """Lock the buildings' rows (in id order, so two operations never deadlock) until the transaction ends,
    or raise Conflict (409, a Russian message) when another close or import holds one for longer than
    BUILDING_LOCK_TIMEOUT_MS."""
    ordered = sorted(set(ids))
    if not ordered:
        return
    dialect = db.session.get_bind().dialect.name
    try:
        if dialect == "postgresql":
            db.session.execute(text(f"SET LOCAL lock_timeout = '{BUILDING_LOCK_TIMEOUT_MS}ms'"))
            db.session.execute(select(Building.id).where(Building.id.in_(ordered)).order_by(Building.id)
                               .with_for_update())
            db.session.execute(text("SET LOCAL lock_timeout = 0"))
        else:
            # SQLite has no row locks: a write takes the database's write lock, which the other writer waits
            # for (busy timeout) and then gives up on.
            db.session.execute(update(Building).where(Building.id.in_(ordered)).values(id=Building.id))
    except OperationalError as error:
        db.session.rollback()
        raise Conflict(BUSY_MESSAGE) from error
