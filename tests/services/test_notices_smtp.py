"""A published notice reaches a real SMTP server (aiosmtpd) exactly once, even across an SMTP outage."""

from datetime import UTC, datetime, timedelta

from app.extensions import db
from app.models import OutboxMessage
from app.services import notices as svc
from app.services.mailer import outbox_send
from tests import factories as F
from tests.services.test_mailer import mail_app, smtp  # noqa: F401  (fixtures)

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def test_notice_emails_survive_an_smtp_outage(mail_app, smtp):  # noqa: F811
    uk = F.OrganisationFactory(short_name="ООО «УК Тест»")
    building = F.BuildingFactory(organisation=uk)
    owners = []
    for i in range(3):
        user = F.UserFactory(login=f"o{i}", email=f"o{i}@example.ru", notify_new_notice=True)
        F.OwnershipFactory(user=user, premises=F.PremisesFactory(building=building, number=str(i + 1)))
        owners.append(user)
    F.OwnershipFactory(user=F.UserFactory(login="noflag", email="x@example.ru"),
                       premises=F.PremisesFactory(building=building, number="9"))
    staff = F.UserFactory(login="st")
    F.StaffFactory(user=staff, organisation=uk)
    db.session.commit()

    notice = svc.notice_publish(actor=staff, now=NOW, data=svc.NoticeInput(
        category="emergency", resource="cold_water", title="Авария: нет холодной воды",
        body="Аварийная бригада работает, подача будет восстановлена к 18:00.", starts_at="2026-11-22T11:00",
        building_ids=(building.id,)))
    assert db.session.query(OutboxMessage).count() == 3

    down = outbox_send(now=NOW)  # the SMTP server is not running
    assert (down.sent, down.failed, down.pending) == (0, 0, 3) and down.unreachable  # nothing tried
    assert smtp.inbox.messages == []

    smtp.start()
    assert outbox_send(now=NOW + timedelta(minutes=1)).sent == 3  # the next drain sends all, none waits longer
    assert outbox_send(now=NOW + timedelta(days=1)).sent == 0
    assert sorted(smtp.inbox.recipients) == ["o0@example.ru", "o1@example.ru", "o2@example.ru"]
    message = smtp.inbox.messages[0]
    assert message["Subject"].startswith("Срочно: Аварийное отключение: Авария")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"/notices/{notice.id}" in message.get_body(("plain",)).get_content()
