"""The council of a building: members chosen among the building's owners, the chair, term and protocol."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.access import access_for
from app.blueprints.console import bp
from app.blueprints.console.forms import CouncilForm
from app.forms import Form
from app.models.people import Role
from app.services import council
from app.services.errors import Conflict, Invalid
from app.web import form_error, origin, roles_required

KEEPERS = (Role.OPERATOR, Role.STAFF)


def _page(building, form=None, status=200):
    candidates = council.owner_candidates(building)
    form = form or CouncilForm(formdata=None)
    form.user_id.choices = [("", "Выберите собственника"),
                            *((str(u.id), f"{u.full_name} ({', '.join(titles)})") for u, titles in candidates)]
    return render_template("console/council.html", building=building, form=form,
                           members=council.council_members(building), candidates=candidates,
                           action_form=Form(formdata=None),
                           may_edit_building=access_for(current_user).operator
                           or access_for(current_user).admin_of(building.organisation_id)), status


@bp.get("/buildings/<int:building_id>/council")
@roles_required(*KEEPERS)
def council_index(building_id: int):
    return _page(council.council_building_get(actor=current_user, id=building_id))


@bp.post("/buildings/<int:building_id>/council")
@roles_required(*KEEPERS)
def council_add(building_id: int):
    building = council.council_building_get(actor=current_user, id=building_id)
    form = CouncilForm()
    form.user_id.choices = []
    if not form.validate():
        return _page(building, form, 422)
    try:
        membership = council.council_add(actor=current_user, building=building, user_id=form.user_id.data,
                                         is_chair=form.is_chair.data, term_from=form.term_from.data,
                                         term_to=form.term_to.data, protocol_number=form.protocol_number.data,
                                         protocol_date=form.protocol_date.data, origin=origin())
    except (Invalid, Conflict) as error:
        form_error(form, error, fallback_field="user_id")
        return _page(building, form, 422)
    flash(f"{membership.user.full_name} — в совете дома.", "success")
    return redirect(url_for("console.council_index", building_id=building.id), code=303)


@bp.post("/council/<int:membership_id>/end")
@roles_required(*KEEPERS)
def council_end(membership_id: int):
    membership = council.council_membership_get(actor=current_user, id=membership_id)
    if not Form().validate():
        abort(400)
    building_id, name = membership.building_id, membership.user.full_name
    council.council_end(actor=current_user, membership=membership, origin=origin())
    flash(f"Полномочия {name} в совете дома прекращены.", "success")
    return redirect(url_for("console.council_index", building_id=building_id), code=303)
