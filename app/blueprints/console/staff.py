"""Staff accounts of an organisation: create, change role, deactivate or reactivate, reset the password."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.console import bp
from app.blueprints.console.forms import ActiveForm, RoleForm, StaffForm
from app.blueprints.console.routes import organisation_page
from app.forms import Form
from app.models.people import Role
from app.services import organisations, staff
from app.services.errors import Conflict, Invalid
from app.web import form_error, origin, roles_required

ADMINS = (Role.OPERATOR, Role.UK_ADMIN)


@bp.post("/organisations/<int:org_id>/staff")
@roles_required(*ADMINS)
def staff_new(org_id: int):
    org = organisations.console_organisation_get(actor=current_user, id=org_id)
    form = StaffForm()
    if not form.validate():
        return organisation_page(org, status=422, staff_form=form)
    try:
        issued = staff.staff_create(actor=current_user, org=org, full_name=form.full_name.data,
                                    login=form.login.data, role=form.role.data, phone=form.phone.data,
                                    email=form.email.data, origin=origin())
    except (Invalid, Conflict) as error:
        form_error(form, error, fallback_field="login")
        return organisation_page(org, status=422, staff_form=form)
    return render_template("console/issued.html", issued=issued, org=org, new=True)


def _refused(membership, error: Conflict):
    return organisation_page(membership.organisation, status=409, error=error.message)


@bp.post("/staff/<int:membership_id>/role")
@roles_required(*ADMINS)
def staff_role(membership_id: int):
    membership = staff.staff_membership_get(actor=current_user, id=membership_id)
    form = RoleForm()
    if not form.validate():
        abort(400)
    try:
        staff.staff_set_role(actor=current_user, membership=membership, role=form.role.data, origin=origin())
    except Conflict as error:
        return _refused(membership, error)
    except Invalid as error:
        return organisation_page(membership.organisation, status=422, error=error.message)
    flash(f"Роль сотрудника {membership.user.full_name}: {staff.ROLE_LABELS[membership.role].lower()}.", "success")
    return redirect(url_for("console.organisation", org_id=membership.organisation_id), code=303)


@bp.post("/staff/<int:membership_id>/active")
@roles_required(*ADMINS)
def staff_active(membership_id: int):
    membership = staff.staff_membership_get(actor=current_user, id=membership_id)
    form = ActiveForm()
    if not form.validate() or form.active.data not in ("0", "1"):
        abort(400)
    active = form.active.data == "1"
    try:
        staff.staff_set_active(actor=current_user, membership=membership, active=active, origin=origin())
    except Conflict as error:
        return _refused(membership, error)
    flash(f"Учётная запись {membership.user.login} включена." if active else
          f"Учётная запись {membership.user.login} отключена, все её сеансы завершены.", "success")
    return redirect(url_for("console.organisation", org_id=membership.organisation_id), code=303)


@bp.post("/staff/<int:membership_id>/reset")
@roles_required(*ADMINS)
def staff_reset(membership_id: int):
    membership = staff.staff_membership_get(actor=current_user, id=membership_id)
    if not Form().validate():
        abort(400)
    try:
        issued = staff.staff_reset_password(actor=current_user, membership=membership, origin=origin())
    except Conflict as error:
        return _refused(membership, error)
    return render_template("console/issued.html", issued=issued, org=membership.organisation, new=False)
