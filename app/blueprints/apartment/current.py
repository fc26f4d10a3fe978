"""The premises the owner is looking at now (the header's apartment switcher)."""

from flask import g, session
from flask_login import current_user

from app.models import Premises


def current_premises() -> Premises | None:
    if "current_premises" in g:
        return g.current_premises
    owned = current_user.premises_list if current_user.is_authenticated else []
    chosen = session.get("premises_id")
    premises = next((p for p in owned if p.id == chosen), owned[0] if owned else None)
    g.current_premises = premises
    return premises
