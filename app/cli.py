"""Command-line tools: `flask seed-demo`, `flask create-admin`."""

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

    receipts_cli = click.Group("receipts", help="Receipts: the background worker for building batches.")
    app.cli.add_command(receipts_cli)

    @receipts_cli.command("work")
    @click.option("--once", is_flag=True, help="Process what is queued now and exit (for cron).")
    @click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
    def receipts_work(once: bool, interval: float):
        """Render queued building batches (use with JOBS_MODE=external on several web servers)."""
        import time

        from app.services.receipt_batches import batch_run, batches_pending

        while True:
            for batch_id in batches_pending():
                batch = batch_run(batch_id)
                click.echo(f"batch {batch_id}: {batch.status} ({batch.done}/{batch.total})")
            db.session.remove()
            if once:
                return
            time.sleep(interval)

    accounts_cli = AppGroup("accounts", help="Account housekeeping.")
    app.cli.add_command(accounts_cli)

    @accounts_cli.command("expire-links")
    def accounts_expire_links():
        """Close pending requests to link an account to a premises whose term has run out (run daily)."""
        from app.services.accounts import link_requests_expire

        click.echo(f"{link_requests_expire()} link request(s) expired.")

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
