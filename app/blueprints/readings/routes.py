from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.access import access_for, board_building_get, board_buildings, meter_get, premises_get
from app.blueprints.apartment.current import current_premises
from app.blueprints.readings import bp
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.base import utcnow
from app.services import readings as svc
from app.services.errors import Conflict, Invalid, Locked
from app.services.periods import add_months, current_month, parse_period, window_for, window_state
from app.web import origin


def _owner_context(premises, now, values=None, errors=None, spikes=None):
    state = window_state(premises.building, now)
    lines = svc.meter_lines(svc.active_meters(premises), state.period)
    today = svc.local_today(now)
    return {
        "premises": premises,
        "state": state,
        "lines": lines,
        "expired": {line.meter.id for line in lines if svc.verification_expired(line.meter, today)},
        "values": values or {},
        "errors": errors or {},
        "spikes": spikes or {},
        "csrf_form": Form(),
        "page_has_errors": bool(errors or spikes),
        "uk": premises.building.organisation,
        "today": today,
    }


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    premises = current_premises()
    if premises is None:
        # Not an owner: council, УК and РСО work with the building board.
        return redirect(url_for("readings.building"))
    now = utcnow()
    if request.method == "GET":
        return render_template("readings/index.html", **_owner_context(premises, now))

    form = Form()
    if not form.validate():
        abort(400)
    values = {int(k[1:]): v for k, v in request.form.items() if k.startswith("m") and k[1:].isdigit()}
    confirmed = {int(k[8:]) for k in request.form if k.startswith("confirm_") and k[8:].isdigit()}
    versions = {int(k[4:]): (int(v) if v.isdigit() else None)
                for k, v in request.form.items() if k.startswith("ver_") and k[4:].isdigit()}
    try:
        result = svc.reading_submit(actor=current_user, premises=premises, values=values, confirmed=confirmed,
                                    versions=versions, now=now, origin=origin())
    except svc.NeedsConfirmation as spike:
        context = _owner_context(premises, now, values=values, spikes=spike.errors)
        return render_template("readings/index.html", **context), 422
    except (Invalid, Locked, Conflict) as error:
        errors = error.errors if isinstance(error, Invalid) else {"form": error.message}
        context = _owner_context(premises, now, values=values, errors=errors)
        return render_template("readings/index.html", **context), 409 if isinstance(error, Conflict) else 422
    return redirect(url_for("readings.confirmation", number=result.submission.number), code=303)


@bp.get("/confirmation/<number>")
@login_required
def confirmation(number: str):
    submission = svc.submission_get(actor=current_user, number=number)
    premises = premises_get(actor=current_user, id=submission.premises_id)
    meters = {line.meter.id: line for line in svc.meter_lines(svc.active_meters(premises), submission.period)}
    return render_template("readings/confirmation.html", submission=submission, premises=premises, lines=meters)


@bp.get("/building")
@login_required
def building():
    buildings = board_buildings(current_user)
    if not buildings:
        abort(404)
    chosen = request.args.get("building", type=int)
    premises = current_premises()
    if chosen:
        building, view = board_building_get(actor=current_user, id=chosen)
    else:
        default = premises.building if premises is not None else buildings[0]
        building, view = board_building_get(actor=current_user, id=default.id)
    now = utcnow()
    state = window_state(building, now)
    period = parse_period(request.args.get("period")) or state.period
    latest = current_month(now)
    if period > latest:
        period = latest
    entrance = request.args.get("entrance", type=int)
    resources = access_for(current_user).supplier_resources(building) if view == "resource" else None
    if view == "numbers":  # done / not done per flat: one aggregate query, no readings loaded
        rows = svc.board_tiles(building, period, resources=resources)
    else:
        rows = svc.board_rows(building, period, entrance=entrance, resources=resources)
    total, entrances = svc.board_progress(rows)
    context = {
        "building": building, "buildings": buildings, "view": view, "period": period, "rows": rows,
        "total": total, "entrances": entrances, "entrance": entrance, "state": state,
        "periods": [add_months(latest, -i) for i in range(12)],
        "window": window_for(building, period),
    }
    if targets("readings-board"):
        return render_fragment("readings/_board.html", **context)
    return render_template("readings/building.html", **context)


@bp.get("/meters/<int:meter_id>")
@login_required
def history(meter_id: int):
    meter = meter_get(actor=current_user, id=meter_id)
    now = utcnow()
    points = svc.meter_history(meter, until=current_month(now))
    staff_view = meter.building_id in access_for(current_user).managed_buildings
    return render_template(
        "readings/history.html", meter=meter, points=points, chart=svc.history_chart(points),
        revisions=svc.meter_revisions(meter) if staff_view else [], staff_view=staff_view,
    )


@bp.context_processor
def readings_context():
    from app.models.metering import SOURCE_LABELS

    return {"source_labels": SOURCE_LABELS}
