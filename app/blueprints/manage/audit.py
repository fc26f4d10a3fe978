"""The account-authority log: who did what to whose account, when and from where (УК admin, operator)."""

from flask import render_template, request
from flask_login import current_user

from app.blueprints.manage import bp
from app.blueprints.manage.forms import AuditFilterForm
from app.models.people import ROLE_LABELS, Role
from app.services.errors import Invalid
from app.services.manage import audit_actions, audit_entries
from app.web import form_error, roles_required

ACTOR_ROLE_LABELS = {**ROLE_LABELS, "system": "система"}


@bp.get("/audit")
@roles_required(Role.UK_ADMIN, Role.OPERATOR)
def audit():
    form = AuditFilterForm(request.args)
    form.action.choices = [("", "Все действия"), *audit_actions(current_user).items()]
    result, status = None, 200
    if form.validate():
        try:
            result = audit_entries(actor=current_user, action=form.action.data, date_from=form.date_from.data,
                                   date_to=form.date_to.data, page=request.args.get("page", 1, type=int))
        except Invalid as error:
            form_error(form, error)
            status = 422
    else:
        status = 422
    filters = {k: v for k, v in {"action": form.action.data, "date_from": form.date_from.data,
                                 "date_to": form.date_to.data}.items() if v}
    return render_template("manage/audit.html", form=form, result=result, filters=filters,
                           role_labels=ACTOR_ROLE_LABELS), status
