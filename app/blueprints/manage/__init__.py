from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/manage")

from app.blueprints.manage import exchange, readings, routes  # noqa: E402,F401
