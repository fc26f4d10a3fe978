"""Command-line tools: `flask seed-demo`, `flask create-admin`, `flask jobs work|status`, `flask receipts build`,
`flask accounts expire-links`."""

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db


def register(app: Flask) -> None:
    from app.cli_readings import register as register_readings

    register_readings(app)

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Do nothing if the database already has data.")
    def seed_demo(if_empty: bool):
        """Create a believable demo in Chita (accounts with password demo2026)."""
        from app.demo import seed
        from app.models import Organisation

        if db.session.scalar(select(Organisation.id).limit(1)) is not None:
            if if_empty:
                click.echo("Database already has data; demo not loaded.")
                return
            raise click.ClickException("Database already has data; demo data goes only into an empty database.")
        summary = seed()
        click.echo(summary)

    jobs_cli = AppGroup("jobs", help="The job engine (Huey): consumer and state.")
    app.cli.add_command(jobs_cli)

    @jobs_cli.command("work")
    @click.option("--workers", default=2, show_default=True, help="Worker threads in this consumer.")
    @click.option("--no-periodic", is_flag=True, help="Do not schedule the periodic jobs from this consumer.")
    def jobs_work(workers: int, no_periodic: bool):
        """Run a consumer: building batches and the periodic jobs (outbox, reminders, link requests)."""
        from app import jobs

        if jobs.huey.immediate:
            raise click.ClickException("JOBS_URL=immediate runs jobs in the caller: there is nothing to consume")
        click.echo(f"consumer: {workers} worker(s) on {jobs.huey.storage_class.__name__}, "
                   f"periodic jobs {'off' if no_periodic else 'on'}")
        jobs.consumer_run(workers=workers, periodic=not no_periodic)

    @jobs_cli.command("status")
    def jobs_status():
        """Jobs waiting in the queue, outbox and batch state."""
        from app import jobs
        from app.models import OutboxMessage
        from app.services.receipt_batches import batch_counts

        outbox = db.session.query(OutboxMessage)
        to_send = outbox.filter(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)).count()
        failed = outbox.filter(OutboxMessage.failed_at.is_not(None)).count()
        click.echo(f"queued jobs: {jobs.huey.pending_count()}, scheduled: {jobs.huey.scheduled_count()}")
        click.echo(f"outbox: {to_send} to send, {failed} failed")
        click.echo("batches: " + (", ".join(f"{k} {v}" for k, v in sorted(batch_counts().items())) or "none"))

    receipts_cli = AppGroup("receipts", help="Receipts.")
    app.cli.add_command(receipts_cli)

    @receipts_cli.command("work")
    @click.option("--once", is_flag=True, help="Render what is queued now in this process and exit.")
    def receipts_work(once: bool):
        """Render queued building batches here, without a consumer (the consumer does it by itself)."""
        from app.services.receipt_batches import batch_run, batches_pending

        if not once:
            raise click.ClickException("batches are rendered by the job engine: run `flask jobs work` "
                                       "(or `flask receipts work --once` for what is queued now)")
        for batch_id in batches_pending():
            batch = batch_run(batch_id)
            click.echo(f"batch {batch_id}: {batch.status} ({batch.done}/{batch.total})")

    accounts_cli = AppGroup("accounts", help="Account housekeeping.")
    app.cli.add_command(accounts_cli)

    @accounts_cli.command("expire-links")
    def accounts_expire_links():
        """Close pending requests to link an account to a premises whose term has run out (run daily)."""
        from app.jobs import link_requests_expire_run

        ran, count = link_requests_expire_run()
        if not ran:
            raise click.ClickException("another run is expiring link requests now")
        click.echo(f"{count} link request(s) expired.")

    @app.cli.command("create-admin")
    @click.option("--login", prompt="Login", help="Login of the portal operator.")
    @click.option("--name", "full_name", prompt="Full name", help="Full name.")
    @click.password_option(help="Password (asked twice if not given).")
    def create_admin(login: str, full_name: str, password: str):
        """Create a portal operator account for a real installation."""
        from app.services import accounts, passwords
        from app.services.errors import Invalid

        try:
            passwords.check_new_password(password, login=login, field="password")
            accounts.user_create(login=login, password=password, full_name=full_name, is_operator=True)
        except Invalid as error:
            raise click.ClickException(error.message) from None
        db.session.commit()
        click.echo(f"Operator {login} created.")
