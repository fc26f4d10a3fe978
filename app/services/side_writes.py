"""Small bookkeeping writes that must not commit the request's ORM session.

A commit expires every loaded object (the user, their memberships, what the view loaded), and the template
would load each again. Touching a session's last_seen_at or storing a cached count is done on a connection of
its own instead, in its own short transaction.

Never wait for a lock: if a writer holds the row or the database — possibly this very request's own session,
which would deadlock against itself — the write is skipped and False returned. Callers only write what can be
recomputed (a cache, a last-seen stamp), so skipping is always safe.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from app.extensions import db

log = logging.getLogger(__name__)

LOCK_WAIT_MS = 50


def side_write(*statements) -> bool:
    """Run the statements in one transaction on a separate connection; False if it would have to wait."""
    engine = db.engine
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as conn:
            previous = None
            if sqlite:
                previous = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
                conn.commit()  # end the autobegun (empty) transaction of the pragmas
            try:
                with conn.begin():
                    if not sqlite:
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
                    for statement in statements:
                        conn.execute(statement)
            finally:
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(previous or 0)}")
                    conn.commit()
    except OperationalError as error:  # SQLite "database is locked", PostgreSQL lock_not_available
        log.info("side write skipped: %s", error.orig)
        return False
    return True
