"""The email outbox against a real SMTP server (aiosmtpd on 127.0.0.1): retries, backoff, exactly once."""

import email
import socket
from datetime import UTC, date, datetime, timedelta
from email.policy import default as default_policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from app.extensions import db as _db
from app.extensions import limiter
from app.models import OutboxMessage
from app.services.mailer import outbox_enqueue, outbox_send
from tests import factories
from tests.conftest import _wipe

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.recipients.extend(envelope.rcpt_tos)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=default_policy))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """An SMTP server that is not running yet: call .start() to bring it up."""
    inbox = Inbox()
    server = SimpleNamespace(port=free_port(), inbox=inbox, controller=None)

    def start():
        server.controller = Controller(inbox, hostname="127.0.0.1", port=server.port)
        server.controller.start()

    server.start = start
    yield server
    if server.controller is not None:
        server.controller.stop()


@pytest.fixture
def mail_app(app_factory, smtp):
    app = app_factory(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_SUPPRESS_SEND=False,
                      MAIL_DEFAULT_SENDER="Мой дом <portal@dom.example>")
    with app.app_context():
        _wipe()
        limiter.reset()
        factories.bind(_db.session)
        yield app
        _db.session.remove()


def _enqueue(n: int, now: datetime = T0) -> None:
    uk = SimpleNamespace(short_name="ООО «УК Тест»", phones="+7 3022 00-00-00")
    for i in range(n):
        premises = SimpleNamespace(full_address=f"г. Чита, ул. Ленина, д. 1, кв. {i + 1}", account_number=f"9{i:07d}")
        meter = SimpleNamespace(title="Холодная вода", serial_number=f"ВС{i:06d}", place="санузел")
        assert outbox_enqueue(
            to=f"owner{i}@example.ru", subject="Срок поверки счётчика истекает 22.01.2027",
            template="verification_reminder", dedupe_key=f"test:{i}", now=now, user=SimpleNamespace(
                full_name=f"Собственник {i}"), premises=premises, meters=[meter], due_on=date(2027, 1, 22),
            days_left=60, uk=uk)
    _db.session.commit()


def _enqueue_again() -> bool:
    queued = outbox_enqueue(to="x@example.ru", subject="другое", template="verification_reminder",
                            dedupe_key="test:0", now=T0, user=SimpleNamespace(full_name="X"),
                            premises=SimpleNamespace(full_address="", account_number=""), meters=[],
                            due_on=date(2027, 1, 22), days_left=1, uk=SimpleNamespace(short_name="", phones=""))
    _db.session.commit()
    return queued


def test_enqueue_is_deduplicated(mail_app):
    _enqueue(1)
    _enqueue_again()
    (message,) = _db.session.query(OutboxMessage).all()
    assert message.to_address == "owner0@example.ru"


def test_enqueue_reports_a_duplicate(mail_app):
    _enqueue(1)
    assert _enqueue_again() is False


def test_outbox_waits_while_the_server_is_down_then_delivers_exactly_once(mail_app, smtp):
    _enqueue(3)

    # 1. The server is down: nothing is tried, so nobody is penalised (no attempt counted, no backoff); the
    # message tried during an outage no longer waits longer than the others once the server is back.
    report = outbox_send(now=T0)
    assert (report.sent, report.retrying, report.failed, report.pending) == (0, 0, 0, 3)
    assert report.unreachable.startswith("ConnectionRefusedError")
    messages = _db.session.query(OutboxMessage).order_by(OutboxMessage.id).all()
    assert [(m.attempts, m.next_attempt_at, m.sent_at) for m in messages] == [(0, T0, None)] * 3

    # Still down a minute later: the same.
    assert outbox_send(now=T0 + timedelta(minutes=1)).unreachable

    # 2. The server is up: every message is delivered once, at the next drain.
    smtp.start()
    report = outbox_send(now=T0 + timedelta(minutes=2))
    assert (report.sent, report.failed, report.pending, report.unreachable) == (3, 0, 0, None)
    assert sorted(smtp.inbox.recipients) == ["owner0@example.ru", "owner1@example.ru", "owner2@example.ru"]
    for m in messages:
        _db.session.refresh(m)
    assert all(m.sent_at == T0 + timedelta(minutes=2) and m.claimed_at is None for m in messages)
    assert [m.attempts for m in messages] == [1, 1, 1]

    # 3. Nothing is sent twice.
    report = outbox_send(now=T0 + timedelta(hours=1))
    assert (report.sent, report.failed, report.pending) == (0, 0, 0)
    assert len(smtp.inbox.messages) == 3


def test_delivered_message_is_russian_text_and_html(mail_app, smtp):
    _enqueue(1)
    smtp.start()
    assert outbox_send(now=T0).sent == 1
    (message,) = smtp.inbox.messages
    assert message["Subject"] == "Срок поверки счётчика истекает 22.01.2027"
    assert message["To"] == "owner0@example.ru" and "portal@dom.example" in message["From"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Здравствуйте, Собственник 0!" in text and "ВС000000" in text and "22.01.2027" in text
    assert "http://localhost/readings/" in text
    assert '<a href="http://localhost/readings/">' in html


def test_mail_send_command_prints_the_report(mail_app, smtp):
    _enqueue(2)
    smtp.start()
    result = mail_app.test_cli_runner().invoke(args=["mail", "send", "--now", "2026-11-23T10:00"])
    assert result.exit_code == 0, result.output
    assert "sent: 2, retrying: 0, failed: 0, pending: 0" in result.output
    assert len(smtp.inbox.messages) == 2
    result = mail_app.test_cli_runner().invoke(args=["mail", "send"])
    assert "sent: 0, retrying: 0, failed: 0, pending: 0" in result.output
