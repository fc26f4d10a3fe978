"""Staff board of appeals: filters, overdue first, counts; assign and change status inline (htmx)."""

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.blueprints.manage import bp
from app.htmx import render_fragment, targets
from app.models.appeals import Appeal
from app.models.base import utcnow
from app.models.people import Role
from app.permissions import managed_buildings, roles_required, uk_org_ids
from app.services import appeals as svc
from app.services.errors import DomainError, NotAllowed


def _filters() -> svc.BoardFilters:
    return svc.BoardFilters(
        status=request.args.get("status", ""),
        overdue=request.args.get("overdue") == "1",
        building_id=request.args.get("building", type=int),
        category_id=request.args.get("category", type=int),
        assignee_id=request.args.get("assignee", type=int),
    )


@bp.get("/appeals")
@roles_required(Role.STAFF)
def appeals_board():
    now = utcnow()
    filters = _filters()
    rows, counts = svc.board(current_user, filters, now)
    orgs = uk_org_ids(current_user)
    categories = [c for org in sorted(orgs) for c in svc.categories_for(org)]
    context = {
        "rows": rows,
        "counts": counts,
        "filters": filters,
        "now": now,
        "colleagues": svc.colleagues(current_user),
        "buildings": [b for b in managed_buildings(current_user) if b.organisation_id in orgs],
        "categories": categories,
    }
    if targets("appeals-board"):
        return render_fragment("manage/_appeals_board.html", **context)
    return render_template("manage/appeals.html", **context)


def _appeal(appeal_id: int) -> Appeal:
    appeal = svc.appeal_for(current_user, appeal_id)
    if appeal is None or not svc.is_staff_of(current_user, appeal):
        abort(404)
    return appeal


def _row(appeal, status=200, message=None):
    if targets(f"appeal-row-{appeal.id}"):
        return render_fragment(
            "manage/_appeal_row.html",
            status=status,
            a=appeal,
            now=utcnow(),
            colleagues=svc.colleagues(current_user),
            message=message,
        )
    return redirect(url_for("manage.appeals_board"), code=303)


@bp.post("/appeals/<int:appeal_id>/row")
@roles_required(Role.STAFF)
def appeal_row_action(appeal_id: int):
    appeal = _appeal(appeal_id)
    if not FlaskForm().validate():
        abort(400)
    try:
        if request.form.get("action") == "assign":
            svc.appeal_assign(actor=current_user, appeal=appeal, assignee_id=request.form.get("assignee_id", type=int))
        else:
            svc.appeal_set_status(
                actor=current_user,
                appeal=appeal,
                to=request.form.get("to", ""),
                reason=request.form.get("reason"),
                expected_version=request.form.get("version", type=int),
            )
    except NotAllowed:
        abort(403)
    except DomainError as error:
        return _row(
            svc.appeal_for(current_user, appeal_id),
            status=409 if "изменили" in error.message else 422,
            message=error.message,
        )
    return _row(appeal)
