"""The job engine's schedule replaces cron; manual commands share the scheduled jobs' leases; a real consumer
drains the outbox by itself."""

from datetime import datetime, timedelta

import pytest

from app import jobs
from app.models import OutboxMessage
from app.services import locks
from tests.jobs.conftest import consumer, wait_for
from tests.services.test_mailer import T0, _enqueue, mail_app, smtp  # noqa: F401  (fixtures)


def _runs(task, day: datetime) -> list[str]:
    """The UTC times of a day at which the periodic task is due (Huey's crontab, utc=True)."""
    minutes = (day + timedelta(minutes=m) for m in range(24 * 60))
    return [f"{t:%H:%M}" for t in minutes if task.task_class().validate_datetime(t)]


def test_periodic_jobs_replace_the_crontab():
    day = datetime(2026, 11, 23)
    assert len(_runs(jobs.outbox_drain, day)) == 24 * 60  # every minute
    assert len(_runs(jobs.batches_watchdog, day)) == 24 * 60
    # 10:00–20:00 Asia/Chita (UTC+9), hourly: the first run queues, the rest catch up (dedupe keys)
    assert _runs(jobs.reminders_periodic, day) == [f"{h:02d}:00" for h in range(1, 12)]
    assert _runs(jobs.link_requests_expire_periodic, day) == ["18:30"]  # 03:30 Asia/Chita


@pytest.mark.parametrize(("args", "lease"), [(["readings", "remind"], "reminders"),
                                             (["accounts", "expire-links"], "expire-links")])
def test_manual_commands_take_the_scheduled_jobs_lease(app, args, lease):
    held = locks.lease_acquire(lease, ttl=timedelta(minutes=5))
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0 and "another run" in result.output
    held.release()
    assert app.test_cli_runner().invoke(args=args).exit_code == 0


def test_a_real_consumer_drains_the_outbox_by_itself(mail_app, smtp, tmp_path, _schema):  # noqa: F811
    """The periodic drain runs in a `flask jobs work` subprocess on SQLite storage (no cron, no command)."""
    import os

    _enqueue(2, now=T0)
    smtp.start()
    os.environ["MAIL_SERVER"], os.environ["MAIL_PORT"] = "127.0.0.1", str(smtp.port)
    try:
        with consumer(_schema, f"sqlite:///{tmp_path}/jobs.db", periodic=True, log=tmp_path / "c.log"):
            def delivered_and_recorded() -> bool:  # the server's «250» comes before the consumer's commit
                from app.extensions import db

                db.session.rollback()
                unsent = db.session.query(OutboxMessage).filter(OutboxMessage.sent_at.is_(None)).count()
                return len(smtp.inbox.messages) == 2 and unsent == 0

            wait_for(delivered_and_recorded, timeout=75, step=0.5,
                     what="the scheduled drain (runs at the start of each minute)")
    finally:
        del os.environ["MAIL_SERVER"], os.environ["MAIL_PORT"]
    from app.extensions import db

    db.session.expire_all()
    assert db.session.query(OutboxMessage).filter(OutboxMessage.sent_at.is_(None)).count() == 0
