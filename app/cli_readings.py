"""CLI for cron: `flask readings remind`, `flask mail send`."""

from flask import Flask


def register(app: Flask) -> None:
    pass
