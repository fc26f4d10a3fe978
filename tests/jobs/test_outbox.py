"""The outbox drain: overlapping drains never send twice (the SQLite double send), dead claims are taken over,
SMTP answers are told apart (refused recipient, 4xx, 5xx, unreachable server)."""

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import pytest

from app.extensions import db as _db
from app.models import OutboxMessage
from app.models.base import utcnow
from app.services import locks, mailer
from app.services.mailer import backoff, outbox_send
from tests.conftest import login_as
from tests.services.test_mailer import T0, Inbox, _enqueue, mail_app, smtp  # noqa: F401  (fixtures)


class SlowInbox(Inbox):
    """Takes 10 ms per message, so two drains started together overlap for the whole run."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


class PickyInbox(Inbox):
    """Refuses some recipients for good (550), others for now (450), one message's data (554)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("owner1@"):
            return "550 5.1.1 <owner1@example.ru>: mailbox unavailable"
        if address.startswith("owner2@"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if "owner3@" in envelope.rcpt_tos[0]:
            return "554 5.7.1 message rejected as spam"
        return await super().handle_DATA(server, session, envelope)


def _overlapping_drains(app, **kwargs) -> list:
    barrier = threading.Barrier(2)
    reports = []

    def drain():
        with app.app_context():
            barrier.wait()
            reports.append(outbox_send(now=T0, **kwargs))
            _db.session.remove()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return reports


@pytest.mark.parametrize("lease", [True, False], ids=["run-lease", "row-claims-only"])
def test_two_overlapping_drains_send_each_message_once(mail_app, smtp, lease):  # noqa: F811
    # Before the fix two overlapping drains on SQLite sent 60 of 60 messages twice here (the reliability
    # run: 184 of 204); PostgreSQL sent none twice (its SELECT … FOR UPDATE SKIP LOCKED).
    smtp.inbox.__class__ = SlowInbox
    _enqueue(60)
    smtp.start()
    reports = _overlapping_drains(mail_app, lease=lease)
    counts = Counter(smtp.inbox.recipients)
    assert len(counts) == 60 and set(counts.values()) == {1}, f"sent twice: {sum(v > 1 for v in counts.values())}"
    assert sum(r.sent for r in reports) == 60
    if lease:
        assert sorted(r.busy for r in reports) == [False, True]  # the second drain saw the first and left
    assert _db.session.query(OutboxMessage).filter(OutboxMessage.sent_at.is_(None)).count() == 0


def test_a_claim_of_a_dead_worker_is_taken_over_after_the_timeout(mail_app, smtp):  # noqa: F811
    _enqueue(2)
    first = _db.session.query(OutboxMessage).order_by(OutboxMessage.id).first()
    assert mailer.outbox_claim(first.id, now=T0) is not None  # a worker claimed it, then was killed
    assert mailer.outbox_claim(first.id, now=T0) is None  # nobody else may claim it meanwhile
    smtp.start()
    assert outbox_send(now=T0 + timedelta(minutes=1)).sent == 1  # only the other one
    assert smtp.inbox.recipients == ["owner1@example.ru"]
    report = outbox_send(now=T0 + mailer.CLAIM_TIMEOUT + timedelta(seconds=1))
    assert (report.sent, report.pending) == (1, 0)  # not lost
    assert sorted(smtp.inbox.recipients) == ["owner0@example.ru", "owner1@example.ru"]  # and not twice


def test_refused_recipient_is_failed_with_the_answer_and_the_drain_goes_on(mail_app, smtp):  # noqa: F811
    smtp.inbox.__class__ = PickyInbox
    _enqueue(5)
    smtp.start()
    report = outbox_send(now=T0)
    assert (report.sent, report.failed, report.retrying, report.pending) == (2, 2, 1, 1)
    assert sorted(smtp.inbox.recipients) == ["owner0@example.ru", "owner4@example.ru"]
    by_to = {m.to_address: m for m in _db.session.query(OutboxMessage)}
    refused = by_to["owner1@example.ru"]
    assert refused.failed_at == T0 and refused.last_error.startswith("550 5.1.1")  # the server's answer
    spam = by_to["owner3@example.ru"]
    assert spam.failed_at == T0 and "554 5.7.1 message rejected as spam" in spam.last_error
    busy = by_to["owner2@example.ru"]
    assert busy.failed_at is None and busy.last_error.startswith("450")
    assert busy.next_attempt_at == T0 + timedelta(minutes=1)
    # Permanent failures are never tried again; the temporary one backs off and is capped.
    assert outbox_send(now=T0 + timedelta(seconds=30)).sent == 0
    assert outbox_send(now=T0 + timedelta(days=1)).failed == 0
    assert [backoff(n) for n in (1, 2, 3, 7, 8, 20)] == [timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)]


def test_a_temporary_failure_gives_up_after_max_attempts(mail_app, smtp):  # noqa: F811
    smtp.inbox.__class__ = PickyInbox
    _enqueue(3)
    _db.session.query(OutboxMessage).filter(OutboxMessage.to_address != "owner2@example.ru").delete()
    _db.session.commit()
    smtp.start()
    now = T0
    for _ in range(mailer.MAX_ATTEMPTS):
        outbox_send(now=now)
        now += mailer.MAX_BACKOFF
    (message,) = _db.session.query(OutboxMessage).all()
    assert message.attempts == mailer.MAX_ATTEMPTS and message.failed_at is not None


def test_an_unreachable_server_penalises_nobody(mail_app, smtp):  # noqa: F811
    _enqueue(3)
    report = outbox_send(now=T0)  # the server is not running
    assert report.unreachable.startswith("ConnectionRefusedError") and report.sent == 0
    assert [(m.attempts, m.next_attempt_at) for m in _db.session.query(OutboxMessage)] == [(0, T0)] * 3
    smtp.start()
    assert outbox_send(now=T0 + timedelta(minutes=1)).sent == 3  # the next drain (a minute later) sends all


def test_manual_send_refuses_while_a_drain_runs(mail_app, smtp):  # noqa: F811
    _enqueue(1)
    held = locks.lease_acquire(mailer.LEASE_NAME, ttl=timedelta(minutes=5))
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code != 0 and "another drain" in result.output
    held.release()
    smtp.start()
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "sent: 1" in result.output


def test_a_lease_of_a_dead_holder_expires(app):
    now = utcnow()
    assert locks.lease_acquire("x", ttl=timedelta(minutes=5), now=now) is not None  # its holder is killed
    assert locks.lease_acquire("x", ttl=timedelta(minutes=5), now=now + timedelta(minutes=4)) is None
    taken = locks.lease_acquire("x", ttl=timedelta(minutes=5), now=now + timedelta(minutes=6))
    assert taken is not None and taken.renew(now=now + timedelta(minutes=7))


@pytest.mark.parametrize(("role", "status"), [("owner", 403), ("council", 403), ("staff", 403), ("ukadmin", 403),
                                              ("rso", 403), ("operator", 200)])
def test_failed_emails_page_is_for_the_operator(app, world, db, role, status):
    db.session.add(OutboxMessage(dedupe_key="k", to_address="bad@example.ru", subject="Тема письма",
                                 body_text="x", failed_at=T0, attempts=1, last_error="550 5.1.1 no such user"))
    db.session.commit()
    message_id = db.session.query(OutboxMessage.id).scalar()
    c = login_as(app.test_client(), world.by_role(role))
    page = c.get("/manage/outbox")
    assert page.status_code == status
    assert c.post(f"/manage/outbox/{message_id}/retry").status_code == (303 if status == 200 else 403)
    db.session.expire_all()
    message = db.session.get(OutboxMessage, message_id)
    if status == 200:
        assert "550 5.1.1 no such user" in page.text and "bad@example.ru" in page.text
        assert message.failed_at is None and message.attempts == 0  # queued again
    else:
        assert message.failed_at is not None
