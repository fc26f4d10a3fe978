from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/manage")

from app.blueprints.manage import (  # noqa: E402,F401
    appeals,
    audit,
    charges_import,
    exchange,
    house_import,
    inbox,
    letters,
    meters,
    outbox,
    payments,
    readings,
    receipts,
    routes,
)
