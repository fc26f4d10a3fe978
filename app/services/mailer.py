"""The durable email outbox: enqueue in the caller's transaction, send later with retries and backoff.

Sending (`outbox_send`, run by the job engine every minute and by `flask mail send`) is exactly-once where it
can be:
- one drain at a time: a run-level lease (app/services/locks.py) shared by every process and machine;
- every row claimed by one atomic UPDATE (`claimed_at IS NULL` or a claim older than CLAIM_TIMEOUT) checked by
  its rowcount, on SQLite and PostgreSQL alike, so even two drains that bypass the lease never send a row twice;
- a claim whose worker died (kill -9) is taken over after CLAIM_TIMEOUT. The one window left is the moment
  between the SMTP server's «250 accepted» and our commit of `sent_at` (milliseconds): a worker killed exactly
  there has its message sent again after CLAIM_TIMEOUT. SMTP has no way to ask whether a message arrived, so
  at-least-once in that window is the documented behaviour (docs/decisions.md «Background jobs»).

Errors (every smtplib error is an OSError, so they are told apart by type and code):
- the server cannot be reached when the drain starts: nothing is tried, nobody is penalised, the next drain
  (a minute later) tries again;
- a permanent answer (5xx) for a message, e.g. a refused recipient: the message is marked failed with the
  server's answer and the drain goes on;
- a temporary answer (4xx) for a message: that message backs off (1, 2, 4 … minutes, at most an hour) and the
  drain goes on; after MAX_ATTEMPTS it is marked failed;
- the connection breaks during a message, or the server refuses our sender or login: that message backs off
  and the drain stops (the rest would fail the same way).
"""

import smtplib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_mail import Connection, Message
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import OutboxMessage
from app.models.base import utcnow

MAX_ATTEMPTS = 12
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
CLAIM_TIMEOUT = timedelta(minutes=10)  # far longer than one SMTP transaction can take (SMTP_TIMEOUT per command)
SMTP_TIMEOUT = 30  # seconds per SMTP command; a hung server cannot hold a claim past CLAIM_TIMEOUT
LEASE_NAME = "outbox-drain"
LEASE_TTL = timedelta(minutes=5)  # renewed while the drain runs


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
    retrying: int = 0  # temporary failures this run: they back off
    failed: int = 0  # given up on this run (permanent answer or too many attempts)
    pending: int = 0  # still to be sent after this run
    unreachable: str | None = None  # the server could not be reached: nothing was tried
    busy: bool = False  # another drain holds the lease: this one did nothing


class _Connection(Connection):
    """Flask-Mail's connection with a timeout on every SMTP command (Flask-Mail has none)."""

    def configure_host(self):
        cls = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = cls(self.mail.server, self.mail.port, timeout=current_app.config.get("SMTP_TIMEOUT", SMTP_TIMEOUT))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class _Stop(Exception):
    """The connection is unusable: end the drain after recording the current message."""


def backoff(attempts: int) -> timedelta:
    """Delay after the n-th failed attempt: 1, 2, 4 … minutes, at most MAX_BACKOFF."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def _answer(code, text) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _classify(error: Exception) -> tuple[str, str]:
    """('permanent' | 'temporary' | 'stop', the server's answer) for a failed message."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values()) or [(550, "recipient refused")]
        code = min(int(c) for c, _ in answers)
        text = "; ".join(_answer(c, m) for c, m in answers)
        return ("permanent" if code >= 500 else "temporary"), text
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPAuthenticationError):
        return "stop", _answer(error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "stop", f"SMTPServerDisconnected: {error}"
    if isinstance(error, smtplib.SMTPResponseException):
        kind = "permanent" if 500 <= int(error.smtp_code) < 600 else "temporary"
        return kind, _answer(error.smtp_code, error.smtp_error)
    if isinstance(error, OSError):  # timeouts, resets: the connection is gone
        return "stop", f"{type(error).__name__}: {error}"
    return "temporary", f"{type(error).__name__}: {error}"


def _due(now: datetime):
    return (OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
            OutboxMessage.next_attempt_at <= now, OutboxMessage.attempts < MAX_ATTEMPTS,
            or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - CLAIM_TIMEOUT))


def outbox_claim(message_id: int, *, now: datetime) -> str | None:
    """Claim one due message for this worker (own transaction); the token, or None if someone else has it."""
    token = uuid.uuid4().hex
    result = db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id, *_due(now))
                                .values(claimed_at=now, claim_token=token))
    db.session.commit()
    return token if result.rowcount == 1 else None


def outbox_send(*, now: datetime | None = None, limit: int = 200, lease: bool = True) -> SendReport:
    """Send due messages under the run-level lease (see the module docstring). `lease=False` only in tests that
    show the row claim alone also prevents double sending."""
    from app.services import locks

    report = SendReport()
    held = locks.lease_acquire(LEASE_NAME, ttl=LEASE_TTL) if lease else None
    if lease and held is None:
        report.busy = True
        return report
    try:
        _drain(now or utcnow(), limit, report, held)
    finally:
        if held is not None:
            held.release()
    report.pending = db.session.query(OutboxMessage).filter(
        OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)).count()
    return report


def _drain(now: datetime, limit: int, report: SendReport, held) -> None:
    ids = list(db.session.scalars(select(OutboxMessage.id).where(*_due(now)).order_by(OutboxMessage.id)
                                  .limit(limit)))
    db.session.commit()
    if not ids:
        return
    try:
        connection = _Connection(current_app.extensions["mail"]).__enter__()
    except OSError as error:  # unreachable, refused, greeting failed: nobody is penalised
        report.unreachable = f"{type(error).__name__}: {error}"[:500]
        return
    renewed = started = utcnow()
    try:
        for message_id in ids:
            if held is not None and utcnow() - renewed > LEASE_TTL / 2:
                if not held.renew():
                    return  # the lease expired and was taken over: leave the rest to that drain
                renewed = utcnow()
            # the drain's clock moves on: a claim made late in a long drain is stamped late, so it is not taken
            # for expired (and the message sent again) by another drain before CLAIM_TIMEOUT has really passed
            token = outbox_claim(message_id, now=now + (utcnow() - started))
            if token is None:
                continue
            message = db.session.get(OutboxMessage, message_id)
            db.session.refresh(message)
            try:
                connection.send(Message(subject=message.subject, recipients=[message.to_address],
                                        body=message.body_text, html=message.body_html,
                                        extra_headers=message.headers or None))
            except Exception as error:  # noqa: BLE001  (classified below; nothing escapes the drain)
                kind, answer = _classify(error)
                _record_failure(message, token, now, kind, answer, report)
                if kind == "stop":
                    connection.host = None  # broken: do not QUIT on it
                    return
            else:
                db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id,
                                                               OutboxMessage.claim_token == token)
                                   .values(sent_at=now, attempts=OutboxMessage.attempts + 1, claimed_at=None,
                                           claim_token=None, last_error=None))
                db.session.commit()
                report.sent += 1
    finally:
        try:
            connection.__exit__(None, None, None)
        except OSError:
            pass


def _record_failure(message: OutboxMessage, token: str, now: datetime, kind: str, answer: str,
                    report: SendReport) -> None:
    attempts = message.attempts + 1
    values = {"attempts": attempts, "last_error": answer[:500], "claimed_at": None, "claim_token": None}
    if kind == "permanent" or attempts >= MAX_ATTEMPTS:
        values["failed_at"] = now
        report.failed += 1
    else:
        values["next_attempt_at"] = now + backoff(attempts)
        report.retrying += 1
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id,
                                                   OutboxMessage.claim_token == token).values(**values))
    db.session.commit()


def outbox_failed(*, actor, limit: int = 100) -> list[OutboxMessage]:
    """Messages given up on, newest first, for the portal operator (the outbox spans every УК, so nobody else
    sees it: addresses are personal data, 152-ФЗ ст. 7)."""
    _operator_only(actor)
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.failed_at.is_not(None))
                                   .order_by(OutboxMessage.failed_at.desc(), OutboxMessage.id.desc())
                                   .limit(limit)))


def _operator_only(actor) -> None:
    from app.access import access_for
    from app.services.errors import NotAllowed

    if not access_for(actor).operator:
        raise NotAllowed("Очередь писем видит только оператор портала")


def outbox_retry(*, actor, message_id: int, now: datetime | None = None) -> bool:
    """Queue a failed message again (after the address was corrected or the server fixed)."""
    _operator_only(actor)
    now = now or utcnow()
    result = db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id,
                                                            OutboxMessage.failed_at.is_not(None),
                                                            OutboxMessage.sent_at.is_(None))
                                .values(failed_at=None, attempts=0, next_attempt_at=now, last_error=None))
    db.session.commit()
    return result.rowcount == 1
