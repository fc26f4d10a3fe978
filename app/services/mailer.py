"""The durable email outbox: enqueue in the caller's transaction, send later with retries and backoff."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import render_template
from flask_mail import Message
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db, mail
from app.models import OutboxMessage
from app.models.base import utcnow

MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(hours=6)


def outbox_enqueue(*, to: str, subject: str, template: str, dedupe_key: str, now: datetime | None = None,
                   headers: dict[str, str] | None = None, **context) -> bool:
    """Add one message to the outbox (not committed here). Returns False if that key was already queued.

    The text and HTML bodies come from templates/emails/<template>.txt and .html.
    """
    now = now or utcnow()
    values = {
        "dedupe_key": dedupe_key[:200],
        "to_address": to,
        "subject": subject[:300],
        "body_text": render_template(f"emails/{template}.txt", **context),
        "body_html": render_template(f"emails/{template}.html", **context),
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "headers": headers,
    }
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING tells reliably whether a row went in (psycopg reports rowcount -1 for this statement).
    result = db.session.execute(
        insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return result.first() is not None


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    pending: int = 0


def outbox_send(*, now: datetime | None = None, limit: int = 200) -> SendReport:
    """Send due messages. A failure leaves the message queued with exponential backoff; never sent twice.

    Each message is claimed and marked in its own short transaction; on PostgreSQL rows are locked with
    SKIP LOCKED so several workers can drain the outbox at once.
    """
    now = now or utcnow()
    report = SendReport()
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now,
               OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    tried: set[int] = set()
    while report.sent + report.failed < limit:
        message = db.session.scalar(query.where(OutboxMessage.id.notin_(tried)) if tried else query)
        if message is None:
            break
        tried.add(message.id)
        try:
            mail.send(Message(subject=message.subject, recipients=[message.to_address], body=message.body_text,
                              html=message.body_html, extra_headers=message.headers or None))
        except Exception as error:  # SMTP down, refused, timeout: try again later
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:500]
            message.next_attempt_at = now + min(timedelta(minutes=2 ** message.attempts), MAX_BACKOFF)
            report.failed += 1
            if isinstance(error, OSError):  # the server is unreachable: stop, everything waits for later
                db.session.commit()
                break
        else:
            message.attempts += 1
            message.sent_at = now
            report.sent += 1
        db.session.commit()
    report.pending = db.session.query(OutboxMessage).filter(OutboxMessage.sent_at.is_(None)).count()
    return report
