from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import login_required

from app.blueprints.apartment.current import current_premises
from app.blueprints.receipts import bp
from app.services import billing, receipt_explain, receipt_pay, receipts
from app.services.periods import parse_period


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
    chosen = request.args.get("period")
    if chosen:  # the month picker works without JavaScript
        return redirect(url_for("receipts.detail", period=chosen), code=303)
    statements, debt = billing.premises_account(premises)  # one pass: the list and today's debt
    return render_template("receipts/index.html", premises=premises, statements=statements, debt=debt)


@bp.get("/<period>")
@login_required
def detail(period: str):
    premises = _receipt_premises()
    period_date = parse_period(period)
    if period_date is None:
        abort(404)
    data = receipts.receipt_data(premises, period_date)
    lines = receipt_explain.explain_receipt(charges=data.charges, statement=data.statement,
                                            meters=[line.meter for line in data.lines])
    return render_template("receipts/detail.html", r=data, pay=receipt_pay.payment_view(data), lines=lines)


@bp.get("/<period>/qr.png")
@login_required
def qr(period: str):
    """The payment QR of the receipt page as a PNG: shown, saved with a long press, shared into a bank app.
    Same access as the page (the owner's current premises); 404 without a statement or without a QR."""
    premises = _receipt_premises()
    period_date = parse_period(period)
    if period_date is None:
        abort(404)
    data = receipts.receipt_data(premises, period_date)
    if not receipt_pay.payment_view(data).show_qr:
        abort(404)
    response = make_response(receipts.qr_png(data.qr_text))
    response.headers["Content-Type"] = "image/png"
    response.headers["Content-Disposition"] = f'inline; filename="qr-oplata-{premises.account_number}-{period}.png"'
    response.cache_control.private = True
    response.cache_control.max_age = 300
    return response


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
