from flask import Blueprint

bp = Blueprint("appeals", __name__, url_prefix="/appeals")

from app.blueprints.appeals import routes  # noqa: E402,F401
