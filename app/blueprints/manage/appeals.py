"""Staff board of appeals: filters, overdue first, counts; assign and change status inline (htmx)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import valid_id
from app.blueprints.manage import bp
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.base import utcnow
from app.models.people import Role
from app.services import appeals as svc
from app.services.errors import Conflict, Invalid, Locked
from app.services.paging import page_number
from app.web import roles_required


def _filters() -> svc.BoardFilters:
    return svc.BoardFilters(
        status=request.args.get("status", ""),
        overdue=request.args.get("overdue") == "1",
        building_id=valid_id(request.args.get("building")),
        category_id=valid_id(request.args.get("category")),
        assignee_id=valid_id(request.args.get("assignee")),
    )


@bp.get("/appeals")
@roles_required(Role.STAFF)
def appeals_board():
    now = utcnow()
    filters = _filters()
    rows, counts, pager = svc.board_page(current_user, filters, now, page=page_number(request.args.get("page")))
    buildings, categories = svc.board_choices(current_user)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    context = {
        "rows": rows,
        "counts": counts,
        "pager": pager,
        "pager_url": lambda n: url_for("manage.appeals_board", **args, page=n if n > 1 else None),
        "pager_target": "appeals-board",
        "filters": filters,
        "now": now,
        "colleagues": svc.colleagues(current_user),
        "buildings": buildings,
        "categories": categories,
    }
    if targets("appeals-board"):
        return render_fragment("manage/_appeals_board.html", **context)
    return render_template("manage/appeals.html", **context)


def _row(appeal, status=200, message=None):
    """The row (htmx), else back to the board (without JavaScript), where a refusal is shown as a message."""
    if targets(f"appeal-row-{appeal.id}"):
        return render_fragment(
            "manage/_appeal_row.html",
            status=status,
            a=appeal,
            now=utcnow(),
            colleagues=svc.colleagues(current_user),
            message=message,
        )
    if message:
        flash(message, "error")
    return redirect(url_for("manage.appeals_board"), code=303)


@bp.post("/appeals/<int:appeal_id>/row")
@roles_required(Role.STAFF)
def appeal_row_action(appeal_id: int):
    appeal = svc.staff_appeal_get(actor=current_user, id=appeal_id)
    if not Form().validate():
        abort(400)
    try:
        if request.form.get("action") == "assign":
            svc.appeal_assign(actor=current_user, appeal=appeal, assignee_id=request.form.get("assignee_id"))
        else:
            svc.appeal_set_status(
                actor=current_user,
                appeal=appeal,
                to=request.form.get("to", ""),
                reason=request.form.get("reason"),
                expected_version=request.form.get("version", type=int),  # compared in Python, never in SQL
            )
    except (Invalid, Locked, Conflict) as error:
        # The row again, fresh from the database, with the message: the status follows the error's class.
        return _row(
            svc.staff_appeal_get(actor=current_user, id=appeal_id),
            status=422 if isinstance(error, Invalid) else 409,
            message=error.message,
        )
    return _row(appeal)
