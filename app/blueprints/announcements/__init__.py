from flask import Blueprint

bp = Blueprint("announcements", __name__, url_prefix="/announcements")

from app.blueprints.announcements import routes  # noqa: E402,F401
