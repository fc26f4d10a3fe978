from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import login_required

from app.blueprints.apartment.current import current_premises
from app.blueprints.receipts import bp
from app.models.base import utcnow
from app.services import billing, receipts
from app.services.periods import local_today, parse_period


def _receipt_premises():
    """Owners see their current premises; co-owners of the same premises both may."""
    premises = current_premises()
    if premises is None:
        abort(404)
    return premises


@bp.get("/")
@login_required
def index():
    premises = _receipt_premises()
    statements = billing.premises_statements(premises)
    chosen = request.args.get("period")
    if chosen:  # the month picker works without JavaScript
        return redirect(url_for("receipts.detail", period=chosen), code=303)
    return render_template("receipts/index.html", premises=premises, statements=statements,
                           debt=billing.current_debt(premises, local_today(utcnow())))


@bp.get("/<period>")
@login_required
def detail(period: str):
    premises = _receipt_premises()
    period_date = parse_period(period)
    if period_date is None:
        abort(404)
    data = receipts.receipt_data(premises, period_date)
    return render_template("receipts/detail.html", r=data, periods=billing.premises_statements(premises))


@bp.get("/<period>.pdf")
@login_required
def pdf(period: str):
    premises = _receipt_premises()
    return _pdf_response(premises, period)


def _pdf_response(premises, period: str):
    period_date = parse_period(period)
    if period_date is None:
        abort(404)
    content, cached = receipts.receipt_pdf(premises, period_date)
    response = make_response(content)
    response.headers["Content-Type"] = "application/pdf"
    disposition = "inline" if request.args.get("print") else "attachment"
    response.headers["Content-Disposition"] = (
        f'{disposition}; filename="kvitanciya-{premises.account_number}-{period}.pdf"')
    response.headers["X-Receipt-Cache"] = "hit" if cached else "miss"
    return response
