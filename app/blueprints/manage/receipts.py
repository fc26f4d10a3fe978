"""Back office for receipts: close a period, all receipts of a building in one PDF (in the background)."""


from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app import jobs
from app.access import receipts_premises_get, uk_building_get, uk_buildings, valid_id
from app.blueprints.manage import bp
from app.forms import Form
from app.htmx import render_fragment
from app.models.base import utcnow
from app.models.people import Role
from app.services import billing, receipt_batches
from app.services.errors import Conflict, DomainError, Invalid
from app.services.periods import add_months, current_month, parse_period
from app.web import origin, roles_required


def _selection():
    buildings = uk_buildings(current_user)
    if not buildings:
        abort(404)
    building_id = request.values.get("building", type=int)
    building = uk_building_get(actor=current_user, id=building_id) if building_id else buildings[0]
    latest_closed = add_months(current_month(utcnow()), -1)
    period = parse_period(request.values.get("period")) or latest_closed
    return buildings, building, min(period, latest_closed), latest_closed


@bp.get("/receipts")
@roles_required(Role.STAFF)
def receipts_index():
    buildings, building, period, latest = _selection()
    batches = receipt_batches.building_batches(building=building)
    return render_template("manage/receipts.html", buildings=buildings, building=building, period=period,
                           periods=[add_months(latest, -i) for i in range(12)],
                           summary=receipt_batches.building_summary(building=building, period=period),
                           batches=batches, csrf_form=Form())


def _strict_selection():
    """A destructive action names its building and month exactly: nothing is guessed (a blank, an emoji or
    "-0.001" is not "the first building", a garbage month is not "the last closed one")."""
    building_id = valid_id(raw) if (raw := (request.form.get("building") or "").strip()).isdigit() else None
    if building_id is None:
        raise Invalid("building", "Выберите дом из списка: дом не указан или указан неверно")
    building = uk_building_get(actor=current_user, id=building_id)  # another УК's building: 404
    period = parse_period((request.form.get("period") or "").strip())
    if period is None:
        raise Invalid("period", "Выберите месяц из списка: месяц не указан или указан неверно")
    return building, period


@bp.post("/receipts/close")
@roles_required(Role.STAFF)
def receipts_close():
    if not uk_buildings(current_user):
        abort(404)
    if not Form().validate():
        abort(400)
    building, period = _strict_selection()
    try:
        report = billing.period_close(actor=current_user, building=building, period=period, origin=origin())
    except Conflict:
        raise  # 409 with its message (the building is busy, or the charges were imported)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Период закрыт: начислено {report.lines} строк на {report.premises} помещений.", "success")
        for warning in report.warnings[:5]:  # lines that could not be computed (e.g. СОИ without a common area)
            flash(warning, "warning")
        if len(report.warnings) > 5:
            flash(f"И ещё {len(report.warnings) - 5} предупреждений такого же рода.", "warning")
    return redirect(url_for("manage.receipts_index", building=building.id, period=period.strftime("%Y-%m")),
                    code=303)


@bp.post("/receipts/batches")
@roles_required(Role.STAFF)
def receipts_batch_create():
    _, building, period, _ = _selection()
    if not Form().validate():
        abort(400)
    try:
        batch = receipt_batches.batch_create(actor=current_user, building=building, period=period)
    except Invalid as error:
        flash(error.message, "error")
        return redirect(url_for("manage.receipts_index", building=building.id, period=period.strftime("%Y-%m")),
                        code=303)
    jobs.batch_start([chunk.id for chunk in batch.chunks])
    return redirect(url_for("manage.receipts_batch", batch_id=batch.id), code=303)


@bp.get("/receipts/batches/<int:batch_id>")
@roles_required(Role.STAFF)
def receipts_batch(batch_id: int):
    batch = receipt_batches.batch_progress(actor=current_user, id=batch_id)
    final = batch.status in receipt_batches.FINAL
    if request.headers.get("HX-Target") == "batch-progress":
        # htmx polls every 2 s; 286 tells it to stop once the batch is finished.
        return render_fragment("manage/_batch_progress.html", status=286 if final else 200, batch=batch,
                               csrf_form=Form())
    return render_template("manage/receipt_batch.html", batch=batch, csrf_form=Form())


@bp.post("/receipts/batches/<int:batch_id>/retry")
@roles_required(Role.STAFF)
def receipts_batch_retry(batch_id: int):
    if not Form().validate():
        abort(400)
    jobs.batch_start(receipt_batches.batch_retry(actor=current_user, id=batch_id))
    return redirect(url_for("manage.receipts_batch", batch_id=batch_id), code=303)


@bp.get("/receipts/batches/<int:batch_id>.pdf")
@roles_required(Role.STAFF)
def receipts_batch_pdf(batch_id: int):
    batch = receipt_batches.batch_get(actor=current_user, id=batch_id)
    if batch.status != "done" or not batch.pdf:
        abort(404)
    response = make_response(batch.pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="kvitancii-{batch.building_id}-{batch.period:%Y-%m}.pdf"')
    return response


@bp.get("/premises/<int:premises_id>/receipts/<period>.pdf")
@roles_required(Role.STAFF, Role.COUNCIL)
def premises_receipt_pdf(premises_id: int, period: str):
    """УК staff: any premises of their buildings. Council: only if the УК allows it in its settings."""
    from app.blueprints.receipts.routes import _pdf_response

    return _pdf_response(receipts_premises_get(actor=current_user, id=premises_id), period)
