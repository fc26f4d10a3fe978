"""УК staff manage meters: add (premises or building meter), replace, archive."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectField, StringField
from wtforms.validators import Length

from app.access import managed_premises_get, uk_building_get, uk_meter_get
from app.blueprints.manage import bp
from app.forms import Form
from app.models.metering import RESOURCE_LABELS
from app.models.people import Role
from app.services import meters as svc
from app.services.errors import DomainError
from app.web import form_error, origin, roles_required

TARIFF_CHOICES = [("single", "однотарифный"), ("day_night", "день/ночь (T1, T2)"), ("three", "три зоны (T1–T3)")]


class MeterForm(Form):
    resource = SelectField(
        "Ресурс", validate_choice=False, choices=[(r.value, label) for r, label in RESOURCE_LABELS.items()]
    )
    tariff = SelectField("Тарифность", validate_choice=False, choices=TARIFF_CHOICES, default="single")
    serial_number = StringField("Заводской номер", validators=[Length(max=40)])
    place = StringField("Где установлен", validators=[Length(max=100)])
    installed_on = StringField("Дата установки", render_kw={"type": "date"})
    next_verification_on = StringField("Дата следующей поверки", render_kw={"type": "date"})
    digits = StringField("Цифр до запятой", default="5", render_kw={"inputmode": "numeric"})
    initial_value = StringField("Начальное показание", default="0", render_kw={"inputmode": "decimal"})


def _spec(form: MeterForm) -> svc.MeterSpec:
    return svc.MeterSpec(
        resource=form.resource.data,
        tariff=form.tariff.data,
        serial_number=form.serial_number.data,
        place=form.place.data,
        installed_on=form.installed_on.data,
        next_verification_on=form.next_verification_on.data,
        digits=form.digits.data,
        initial_value=form.initial_value.data,
    )


def _back(meter_or_premises_id, building_id):
    if meter_or_premises_id:
        return url_for("manage.premises", premises_id=meter_or_premises_id)
    return url_for("manage.building", building_id=building_id)


@bp.route("/buildings/<int:building_id>/meters/new", methods=["GET", "POST"])
@bp.route("/premises/<int:premises_id>/meters/new", methods=["GET", "POST"], endpoint="meter_new_premises")
@roles_required(Role.STAFF)
def meter_new(building_id: int | None = None, premises_id: int | None = None):
    premises = managed_premises_get(actor=current_user, id=premises_id) if premises_id else None
    building = uk_building_get(actor=current_user, id=premises.building_id if premises else building_id)
    form = MeterForm()
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                svc.meter_add(
                    actor=current_user, building=building, premises=premises, spec=_spec(form), origin=origin()
                )
            except DomainError as error:
                form_error(form, error, fallback_field="serial_number")
            else:
                flash(f"Счётчик № {form.serial_number.data.strip()} добавлен.", "success")
                return redirect(_back(premises.id if premises else None, building.id), code=303)
    return render_template(
        "manage/meter_form.html", form=form, premises=premises, building=building, meter=None
    ), status


@bp.route("/meters/<int:meter_id>/replace", methods=["GET", "POST"])
@roles_required(Role.STAFF)
def meter_replace(meter_id: int):
    meter = uk_meter_get(actor=current_user, id=meter_id)
    if meter.archived:
        abort(404)
    building = uk_building_get(actor=current_user, id=meter.building_id)
    registers = svc.device_registers(meter)
    form = MeterForm(
        data=None
        if request.method == "POST"
        else {
            "resource": meter.resource.value,
            "place": meter.place,
            "digits": str(meter.digits),
            "initial_value": "0",
            "tariff": {1: "single", 2: "day_night", 3: "three"}.get(len(registers), "single"),
        }
    )
    finals = {r.id: request.form.get(f"final_{r.id}", "") for r in registers}
    final_errors = {}
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                svc.meter_replace(
                    actor=current_user, meter=meter, spec=_spec(form), final_values=finals, origin=origin()
                )
            except DomainError as error:
                final_errors = {k: v for k, v in getattr(error, "errors", {}).items() if k.startswith("final_")}
                if not final_errors:
                    form_error(form, error, fallback_field="serial_number")
            else:
                flash(f"Счётчик № {meter.serial_number} заменён на № {form.serial_number.data.strip()}.", "success")
                return redirect(_back(meter.premises_id, building.id), code=303)
    return render_template(
        "manage/meter_form.html",
        form=form,
        premises=meter.premises,
        building=building,
        meter=meter,
        registers=registers,
        finals=finals,
        final_errors=final_errors,
        page_has_errors=bool(final_errors),
    ), status


@bp.post("/meters/<int:meter_id>/archive")
@roles_required(Role.STAFF)
def meter_archive(meter_id: int):
    meter = uk_meter_get(actor=current_user, id=meter_id)
    building = uk_building_get(actor=current_user, id=meter.building_id)
    if not Form().validate():
        abort(400)
    svc.meter_archive(actor=current_user, meter=meter, origin=origin())
    flash(f"Счётчик № {meter.serial_number} снят с учёта.", "success")
    return redirect(_back(meter.premises_id, building.id), code=303)
