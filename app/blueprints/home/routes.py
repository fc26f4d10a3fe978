from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from app.access import managed_buildings
from app.blueprints.apartment.current import current_premises
from app.blueprints.home import bp
from app.models.people import Role
from app.services.home import attention_items, building_stats
from app.services.organisations import console_counts


@bp.get("/")
def root():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    return redirect(url_for("auth.login"))


@bp.get("/home")
@login_required
def index():
    premises = current_premises()
    stats = None
    if current_user.has_role(Role.STAFF, Role.COUNCIL):
        stats = building_stats(managed_buildings(current_user))
    debt = None
    if premises is not None:
        from app.models.base import utcnow
        from app.services.billing import current_debt
        from app.services.periods import local_today

        debt = current_debt(premises, local_today(utcnow()))
    return render_template(
        "home/index.html",
        premises=premises,
        debt=debt,
        attention=attention_items(current_user, premises),
        stats=stats,
        counts=console_counts() if current_user.has_role(Role.OPERATOR) else None,
    )
