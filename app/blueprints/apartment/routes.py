from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from app.access import owners_of
from app.blueprints.apartment import bp
from app.blueprints.apartment.current import current_premises
from app.blueprints.apartment.forms import OwnerFieldsForm
from app.blueprints.auth.routes import _safe_next
from app.htmx import render_fragment, targets
from app.services.apartment import premises_update_owner_fields
from app.web import edit_region, origin

REGION = "apartment-owner-fields"


def _premises_or_404():
    premises = current_premises()
    if premises is None:
        abort(404)
    return premises


def _context() -> dict:
    premises = _premises_or_404()
    return {"premises": premises, "co_owners": [u for u in owners_of(premises.id) if u.id != current_user.id]}


@bp.get("/")
@login_required
def index():
    return render_template("apartment/index.html", editing=None, **_context())


@bp.get("/owner-fields")
@login_required
def owner_fields():
    if targets(REGION):
        return render_fragment("apartment/_owner_fields.html", editing=None, **_context())
    return redirect(url_for("apartment.index"))


@bp.route("/owner-fields/edit", methods=["GET", "POST"])
@login_required
def edit_owner_fields():
    premises = _premises_or_404()
    form = OwnerFieldsForm(data={
        "actual_residents": "" if premises.actual_residents is None else str(premises.actual_residents),
        "emergency_phone": premises.emergency_phone or "",
    })

    def save():
        changes = premises_update_owner_fields(
            actor=current_user,
            premises=premises,
            actual_residents=form.actual_residents.data,
            emergency_phone=form.emergency_phone.data,
            origin=origin(),
        )
        return "Сведения сохранены, управляющая организация их увидит." if changes else "Изменений нет."

    return edit_region(region_id=REGION, partial="apartment/_owner_fields.html", page="apartment/index.html",
                       form=form, save=save, context=_context, page_url=url_for("apartment.index"))


@bp.post("/switch")
@login_required
def switch():
    try:
        premises_id = int(request.form.get("premises_id", ""))
    except ValueError:
        abort(400)
    if premises_id not in {o.premises_id for o in current_user.ownerships}:
        abort(404)
    session["premises_id"] = premises_id
    premises = next(p for p in current_user.premises_list if p.id == premises_id)
    flash(f"Выбрано помещение: {premises.building.short_address}, {premises.title}.", "info")
    return redirect(_safe_next(request.form.get("next")), code=303)
