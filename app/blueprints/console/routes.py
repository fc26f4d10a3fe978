"""Console home, organisations (operator) and the portal-wide moderation queue (operator)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import access_for
from app.blueprints.console import bp
from app.blueprints.console.forms import (
    ActiveForm,
    ModerationFilterForm,
    OrganisationFilterForm,
    OrganisationForm,
    RoleForm,
    StaffForm,
)
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.people import Role
from app.services import announcements, buildings, organisations, staff
from app.services.errors import Conflict, Invalid
from app.services.organisations import OrganisationInput
from app.web import form_error, origin, roles_required

ADMINS = (Role.OPERATOR, Role.UK_ADMIN)


@bp.get("/")
@roles_required(*ADMINS)
def index():
    access = access_for(current_user)
    if access.operator:
        return render_template("console/index.html", counts=organisations.console_counts(), own=[])
    own = [organisations.console_organisation_get(actor=current_user, id=i) for i in sorted(access.uk_admin_orgs)]
    return render_template("console/index.html", counts=None, own=own)


# --- organisations ----------------------------------------------------------------------------------------

@bp.get("/organisations")
@roles_required(Role.OPERATOR)
def organisations_index():
    form = OrganisationFilterForm(request.args)
    status = 200 if form.validate() else 422
    offset = request.args.get("offset", 0, type=int)
    rows, next_offset = ([], None) if status != 200 else organisations.organisations_list(
        actor=current_user, q=form.q.data, kind=form.kind.data, active=form.active.data, offset=offset)
    filters = {k: v for k, v in {"q": form.q.data, "kind": form.kind.data, "active": form.active.data}.items() if v}
    if targets("organisations-list"):
        return render_fragment("console/_organisations_list.html", status=status, rows=rows, next_offset=next_offset,
                               offset=offset, filters=filters, type_label=organisations.org_type_label)
    return render_template("console/organisations.html", form=form, rows=rows, next_offset=next_offset,
                           offset=offset, filters=filters, type_label=organisations.org_type_label), status


def _org_input(form: OrganisationForm) -> OrganisationInput:
    return OrganisationInput(**{name: getattr(form, name).data for name in (
        "org_type", "name", "short_name", "inn", "kpp", "ogrn", "address", "phones", "ads_phone", "office_hours",
        "email", "site", "bank_name", "bank_bic", "bank_account", "bank_corr_account", "reading_start_day",
        "reading_end_day")}, resources=tuple(form.resources.data or ()))


def _org_form_page(form, org=None, status=200):
    return render_template("console/organisation_form.html", form=form, org=org), status


@bp.route("/organisations/new", methods=["GET", "POST"])
@roles_required(Role.OPERATOR)
def organisation_new():
    form = OrganisationForm()
    if request.method == "GET":
        return _org_form_page(form)
    if not form.validate():
        return _org_form_page(form, status=422)
    try:
        org = organisations.organisation_create(actor=current_user, data=_org_input(form), origin=origin())
    except (Invalid, Conflict) as error:
        form_error(form, error, fallback_field="inn")
        return _org_form_page(form, status=422)
    flash(f"Организация «{org.short_name}» добавлена.", "success")
    return redirect(url_for("console.organisation", org_id=org.id), code=303)


def _org_data(org) -> dict:
    window = (org.settings or {}).get("reading_window") or {}
    return {
        "org_type": organisations.org_type(org), "name": org.name, "short_name": org.short_name, "inn": org.inn,
        "kpp": org.kpp or "", "ogrn": org.ogrn or "", "address": org.address, "phones": org.phones or "",
        "ads_phone": org.ads_phone or "", "office_hours": org.office_hours or "", "email": org.email or "",
        "site": org.site or "", "bank_name": org.bank_name or "", "bank_bic": org.bank_bic or "",
        "bank_account": org.bank_account or "", "bank_corr_account": org.bank_corr_account or "",
        "reading_start_day": str(window.get("start_day", "")), "reading_end_day": str(window.get("end_day", "")),
        "resources": list((org.settings or {}).get("resources", [])),
    }


@bp.route("/organisations/<int:org_id>/edit", methods=["GET", "POST"])
@roles_required(Role.OPERATOR)
def organisation_edit(org_id: int):
    org = organisations.console_organisation_get(actor=current_user, id=org_id)
    form = OrganisationForm(data=None if request.method == "POST" else _org_data(org))
    if request.method == "GET":
        return _org_form_page(form, org)
    if not form.validate():
        return _org_form_page(form, org, 422)
    try:
        organisations.organisation_update(actor=current_user, org=org, data=_org_input(form), origin=origin())
    except (Invalid, Conflict) as error:
        form_error(form, error, fallback_field="inn")
        return _org_form_page(form, org, 422)
    flash("Сведения об организации сохранены.", "success")
    return redirect(url_for("console.organisation", org_id=org.id), code=303)


@bp.post("/organisations/<int:org_id>/active")
@roles_required(Role.OPERATOR)
def organisation_active(org_id: int):
    org = organisations.console_organisation_get(actor=current_user, id=org_id)
    form = ActiveForm()
    if not form.validate() or form.active.data not in ("0", "1"):
        abort(400)
    active = form.active.data == "1"
    organisations.organisation_set_active(actor=current_user, org=org, active=active, origin=origin())
    flash("Организация снова работает на портале." if active else
          "Организация отключена: её нельзя выбрать для новых домов и сотрудников.", "success")
    return redirect(url_for("console.organisation", org_id=org.id), code=303)


def organisation_page(org, *, status: int = 200, error: str | None = None, staff_form=None):
    """The organisation's card: requisites, buildings, staff (also rendered by the staff routes on error)."""
    members = staff.staff_list(org)
    return render_template(
        "console/organisation.html",
        org=org,
        type_label=organisations.org_type_label(org),
        resources_label=organisations.organisation_resources_label(org),
        buildings=organisations.organisation_buildings(org) if org.kind == "uk" else [],
        members=members,
        manageable={m.id for m in members if staff.may_administer_staff(current_user, m.user)},
        is_operator=access_for(current_user).operator,
        role_labels=staff.ROLE_LABELS,
        staff_form=staff_form or StaffForm(formdata=None),
        role_form=RoleForm(formdata=None),
        action_form=Form(formdata=None),
        page_has_errors=bool(error or (staff_form and staff_form.errors)),
        page_error=error,
        may_add_building=buildings.may_add_building(current_user, org),
    ), status


@bp.get("/organisations/<int:org_id>")
@roles_required(*ADMINS)
def organisation(org_id: int):
    return organisation_page(organisations.console_organisation_get(actor=current_user, id=org_id))


# --- moderation -------------------------------------------------------------------------------------------

@bp.get("/moderation")
@roles_required(Role.OPERATOR)
def moderation():
    form = ModerationFilterForm(request.args)
    view = form.view.data if form.view.data in announcements.MODERATION_VIEWS else "reported"
    offset = request.args.get("offset", 0, type=int)
    rows, next_offset = announcements.moderation_list(current_user, view=view, offset=offset)
    return render_template("console/moderation.html", form=form, view=view, rows=rows, offset=offset,
                           next_offset=next_offset)
