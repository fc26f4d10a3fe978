"""The console: the portal operator's and the УК admin's screens for bringing an organisation into service
(organisations, buildings and their suppliers, staff accounts, councils, portal-wide moderation)."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

from app.blueprints.console import buildings, council, rates, routes, staff  # noqa: E402,F401
