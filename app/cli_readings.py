"""Manual commands: `flask readings remind` (queue reminders), `flask mail send` (drain the outbox).

The job engine runs both by itself (app/jobs.py: the drain every minute, reminders hourly 10:00–20:00 Asia/Chita);
these commands are for a run by hand and take the same run-level lease, so they never overlap a scheduled run.
"""

from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from app.services.periods import TZ


def parse_now(raw: str | None) -> datetime | None:
    """ISO time for testing a run at another moment; a time without a zone is Asia/Chita time."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter("use ISO format, e.g. 2026-11-23T10:00 or 2026-11-23T01:00+00:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=TZ)
    return value.astimezone(UTC)


NOW_OPTION = click.option("--now", "now", metavar="ISO", help="Run as if it were this time (no zone = Asia/Chita).")


def register(app: Flask) -> None:
    readings = AppGroup("readings", help="Meter readings jobs (the job engine runs them; these are manual runs).")
    mail = AppGroup("mail", help="Email outbox.")

    @readings.command("remind")
    @NOW_OPTION
    def remind(now: str | None):
        """Queue reading reminders (3 days before the window closes, last day) and verification reminders."""
        from app.jobs import reminders_run

        ran, report = reminders_run(now=parse_now(now))
        if not ran:
            raise click.ClickException("another run is queuing reminders now; try again in a minute")
        click.echo(f"queued: {report.readings} reading reminder(s), {report.verification} verification "
                   f"reminder(s); already queued earlier: {report.already_queued}")

    @mail.command("send")
    @NOW_OPTION
    @click.option("--limit", default=200, show_default=True, help="Send at most this many messages.")
    def send(now: str | None, limit: int):
        """Send due messages from the outbox (failures are retried later with backoff)."""
        from app.services.mailer import outbox_send

        report = outbox_send(now=parse_now(now), limit=limit)
        if report.busy:
            raise click.ClickException("another drain is sending now (the job engine or another `flask mail send`)")
        if report.unreachable:
            click.echo(f"SMTP server unreachable, nothing tried: {report.unreachable}", err=True)
        click.echo(f"sent: {report.sent}, retrying: {report.retrying}, failed: {report.failed}, "
                   f"pending: {report.pending}")

    app.cli.add_command(readings)
    app.cli.add_command(mail)
