"""Buildings in the console: add one to an organisation, edit its card and its suppliers per resource."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import access_for
from app.blueprints.console import bp
from app.blueprints.console.forms import SUPPLIER_FIELDS, BuildingForm
from app.models.people import Role
from app.services import buildings, organisations
from app.services.buildings import BuildingInput
from app.services.errors import Invalid
from app.web import form_error, origin, roles_required

ADMINS = (Role.OPERATOR, Role.UK_ADMIN)


def _choices(form: BuildingForm, org) -> None:
    if access_for(current_user).operator:
        ucs = organisations.active_uk_choices()
        if org not in ucs:
            ucs = [org, *ucs]
        form.organisation_id.choices = [(str(o.id), o.short_name) for o in ucs]
    else:
        form.organisation_id.choices = [(str(org.id), org.short_name)]
    choices = buildings.supplier_choices()
    for resource, name in SUPPLIER_FIELDS:
        getattr(form, name).choices = [("", "Нет поставщика на портале"),
                                       *((str(o.id), o.short_name) for o in choices[resource.value])]


def _input(form: BuildingForm) -> BuildingInput:
    return BuildingInput(
        organisation_id=form.organisation_id.data,
        **{name: getattr(form, name).data for name in ("city", "street", "house", "postcode", "fias_guid",
                                                       "gis_house_code", "year_built", "floors", "entrances",
                                                       "reading_start_day", "reading_end_day")},
        suppliers={resource.value: getattr(form, name).data for resource, name in SUPPLIER_FIELDS},
    )


def _page(form, org, building=None, status=200):
    return render_template("console/building_form.html", form=form, org=org, building=building,
                           may_choose_org=access_for(current_user).operator and building is not None,
                           supplier_fields=[getattr(form, name) for _r, name in SUPPLIER_FIELDS]), status


@bp.route("/organisations/<int:org_id>/buildings/new", methods=["GET", "POST"])
@roles_required(*ADMINS)
def building_new(org_id: int):
    org = organisations.console_organisation_get(actor=current_user, id=org_id)
    form = BuildingForm()
    _choices(form, org)
    if request.method == "GET":
        form.organisation_id.data = str(org.id)
        return _page(form, org)
    if not form.validate():
        return _page(form, org, status=422)
    try:
        building = buildings.building_create(actor=current_user, organisation=org, data=_input(form),
                                             origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="street")
        return _page(form, org, status=422)
    flash(f"Дом {building.short_address} добавлен.", "success")
    return redirect(url_for("console.organisation", org_id=org.id), code=303)


def _data(building) -> dict:
    data = {name: "" if getattr(building, name) is None else str(getattr(building, name))
            for name in ("city", "street", "house", "postcode", "fias_guid", "gis_house_code", "year_built",
                         "floors", "entrances", "reading_start_day", "reading_end_day")}
    data["organisation_id"] = str(building.organisation_id)
    stored = buildings.current_suppliers(building)
    for resource, name in SUPPLIER_FIELDS:
        data[name] = str(stored[resource.value]) if resource.value in stored else ""
    return data


@bp.route("/buildings/<int:building_id>/edit", methods=["GET", "POST"])
@roles_required(*ADMINS)
def building_edit(building_id: int):
    building = buildings.console_building_get(actor=current_user, id=building_id)
    org = building.organisation
    form = BuildingForm(data=None if request.method == "POST" else _data(building))
    _choices(form, org)
    if request.method == "GET":
        return _page(form, org, building)
    if not form.validate():
        return _page(form, org, building, 422)
    try:
        buildings.building_update(actor=current_user, building=building, data=_input(form), origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="street")
        return _page(form, org, building, 422)
    flash("Сведения о доме сохранены.", "success")
    return redirect(url_for("console.organisation", org_id=building.organisation_id), code=303)
