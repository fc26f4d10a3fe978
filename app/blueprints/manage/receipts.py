"""Back office for receipts: close a period, all receipts of a building in one PDF (in the background)."""

from datetime import date

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from app import jobs
from app.blueprints.manage import bp
from app.extensions import db
from app.htmx import render_fragment
from app.models import Premises, ReceiptBatch, Statement
from app.models.base import utcnow
from app.models.people import Role
from app.permissions import (
    building_for,
    council_building_ids,
    managed_buildings,
    premises_for,
    roles_required,
    uk_org_ids,
)
from app.services import billing, receipts
from app.services.errors import DomainError, NotFound
from app.services.periods import add_months, current_month, parse_period
from app.web import origin


def _uk_buildings():
    orgs = uk_org_ids(current_user)
    return [b for b in managed_buildings(current_user) if b.organisation_id in orgs]


def _selection():
    buildings = _uk_buildings()
    if not buildings:
        abort(404)
    building_id = request.values.get("building", type=int)
    building = building_for(current_user, building_id) if building_id else buildings[0]
    if building.organisation_id not in uk_org_ids(current_user):
        abort(404)
    latest_closed = add_months(current_month(utcnow()), -1)
    period = parse_period(request.values.get("period")) or latest_closed
    return buildings, building, min(period, latest_closed), latest_closed


def _summary(building, period: date):
    row = db.session.execute(
        select(func.count(Statement.id), func.coalesce(func.sum(Statement.charged), 0),
               func.coalesce(func.sum(Statement.amount_due), 0))
        .join(Premises, Premises.id == Statement.premises_id)
        .where(Premises.building_id == building.id, Statement.period == period)).one()
    return {"count": row[0], "charged": row[1], "due": row[2]}


@bp.get("/receipts")
@roles_required(Role.STAFF)
def receipts_index():
    buildings, building, period, latest = _selection()
    batches = list(db.session.scalars(select(ReceiptBatch).where(ReceiptBatch.building_id == building.id)
                                      .order_by(ReceiptBatch.id.desc()).limit(5)))
    return render_template("manage/receipts.html", buildings=buildings, building=building, period=period,
                           periods=[add_months(latest, -i) for i in range(12)], summary=_summary(building, period),
                           batches=batches, csrf_form=FlaskForm())


@bp.post("/receipts/close")
@roles_required(Role.STAFF)
def receipts_close():
    _, building, period, _ = _selection()
    if not FlaskForm().validate():
        abort(400)
    try:
        report = billing.period_close(actor=current_user, building=building, period=period, origin=origin())
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Период закрыт: начислено {report.lines} строк на {report.premises} помещений.", "success")
    return redirect(url_for("manage.receipts_index", building=building.id, period=period.strftime("%Y-%m")),
                    code=303)


@bp.post("/receipts/batches")
@roles_required(Role.STAFF)
def receipts_batch_create():
    _, building, period, _ = _selection()
    if not FlaskForm().validate():
        abort(400)
    try:
        batch = receipts.batch_create(actor=current_user, building=building, period=period)
    except NotFound as error:
        flash(error.message, "error")
        return redirect(url_for("manage.receipts_index", building=building.id, period=period.strftime("%Y-%m")),
                        code=303)
    jobs.submit(receipts.batch_run, batch.id)
    return redirect(url_for("manage.receipts_batch", batch_id=batch.id), code=303)


def _batch_or_404(batch_id: int) -> ReceiptBatch:
    batch = db.session.get(ReceiptBatch, batch_id)
    if batch is None:
        abort(404)
    building = building_for(current_user, batch.building_id)
    if building.organisation_id not in uk_org_ids(current_user):
        abort(404)
    return batch


@bp.get("/receipts/batches/<int:batch_id>")
@roles_required(Role.STAFF)
def receipts_batch(batch_id: int):
    batch = _batch_or_404(batch_id)
    final = batch.status in ("done", "failed")
    if request.headers.get("HX-Target") == "batch-progress":
        # htmx polls every 2 s; 286 tells it to stop once the batch is finished.
        return render_fragment("manage/_batch_progress.html", status=286 if final else 200, batch=batch)
    return render_template("manage/receipt_batch.html", batch=batch)


@bp.get("/receipts/batches/<int:batch_id>.pdf")
@roles_required(Role.STAFF)
def receipts_batch_pdf(batch_id: int):
    batch = _batch_or_404(batch_id)
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

    premises = premises_for(current_user, premises_id)
    org = premises.building.organisation
    staff = org.id in uk_org_ids(current_user)
    council = premises.building_id in council_building_ids(current_user) and (org.settings or {}).get(
        "council_sees_receipts", False)
    if not (staff or council):
        abort(404)
    return _pdf_response(premises, period)
