from flask import Blueprint

bp = Blueprint("apartment", __name__, url_prefix="/apartment")

from app.blueprints.apartment import routes  # noqa: E402,F401
