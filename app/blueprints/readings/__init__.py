from flask import Blueprint

bp = Blueprint("readings", __name__, url_prefix="/readings")

from app.blueprints.readings import routes  # noqa: E402,F401
