"""The bulk readings grid for the council and УК staff: every premises × register of a building for a period."""

from flask import abort, render_template, request, url_for
from flask_login import current_user

from app.access import access_for, managed_building_get, managed_buildings, meter_get
from app.blueprints.manage import bp
from app.htmx import render_fragment, targets
from app.models import Building
from app.models.base import utcnow
from app.models.people import Role
from app.services import readings as svc
from app.services.errors import Conflict, Invalid, Locked
from app.services.periods import add_months, current_month, parse_period, window_state
from app.web import origin, roles_required

MANAGERS = (Role.STAFF, Role.COUNCIL)


def _filters(buildings: list[Building]):
    building_id = request.args.get("building", type=int)
    if building_id:
        building = managed_building_get(actor=current_user, id=building_id)
    elif buildings:
        building = buildings[0]
    else:
        abort(404)
    now = utcnow()
    latest = current_month(now)
    period = parse_period(request.args.get("period")) or window_state(building, now).period
    if period > latest:
        period = latest
    if "entrance" in request.args:
        entrance = request.args.get("entrance", type=int)
    else:  # a big building opens one entrance at a time (fast on a phone); "все" is one click away
        entrance = 1 if (building.entrances or 1) > 1 else None
    missing = request.args.get("missing") == "1"
    return building, period, entrance, missing, [add_months(latest, -i) for i in range(12)]


@bp.get("/readings")
@roles_required(*MANAGERS)
def readings_grid():
    buildings = managed_buildings(current_user)
    building, period, entrance, missing, periods = _filters(buildings)
    rows = svc.board_rows(building, period, entrance=entrance)
    total, entrances = svc.board_progress(rows)
    if missing:
        rows = [r for r in rows if r.status in ("missing", "partial")]
    context = {
        "buildings": buildings, "building": building, "period": period, "periods": periods, "entrance": entrance,
        "missing": missing, "rows": [r for r in rows if r.lines], "total": total, "entrances": entrances,
        "today": svc.local_today(utcnow()),
        "uk_orgs": access_for(current_user).uk_orgs,
    }
    if targets("readings-grid"):
        return render_fragment("manage/_readings_grid.html", **context)
    return render_template("manage/readings_grid.html", **context)


def _cell(line, period, *, status=200, state="idle", message=None, typed=None, warning=None):
    return render_fragment("manage/_reading_cell.html", status=status, line=line, period=period, state=state,
                           message=message, typed=typed, warning=warning, premises=line.meter.premises)


@bp.post("/readings/<period>/meters/<int:meter_id>")
@roles_required(*MANAGERS)
def reading_cell(period: str, meter_id: int):
    period_date = parse_period(period)
    meter = meter_get(actor=current_user, id=meter_id)
    if period_date is None or meter.premises_id is None:
        abort(404)
    building = managed_building_get(actor=current_user, id=meter.building_id)  # suppliers and owners: 404
    typed = request.form.get("value", "")
    version = request.form.get("version", type=int)
    try:
        result = svc.reading_enter(actor=current_user, meter=meter, period=period_date, value=typed,
                                   expected_version=version, origin=origin())
    except Invalid as error:
        (line,) = svc.meter_lines([meter], period_date)
        return _cell(line, period_date, status=422, state="error", message=error.message, typed=typed)
    except Conflict as error:
        (line,) = svc.meter_lines([meter], period_date)
        return _cell(line, period_date, status=409, state="conflict", message=error.message, typed=typed)
    except Locked as error:
        (line,) = svc.meter_lines([meter], period_date)
        return _cell(line, period_date, status=409, state="error", message=error.message, typed=typed)
    if not targets(f"reading-cell-{meter.id}"):
        # Without JavaScript: back to the grid where this row is.
        from flask import redirect

        return redirect(url_for("manage.readings_grid", building=building.id, period=period,
                                entrance=meter.premises.entrance or "") + f"#reading-cell-{meter.id}", code=303)
    note = "не для расчёта: поверка истекла" if result.not_for_billing else None
    return _cell(result.line, period_date, state="saved", message=note, warning=result.warning)
