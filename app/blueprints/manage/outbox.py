"""Emails the portal gave up on (refused recipient, permanent server answer, too many attempts): the operator
sees the server's answer and can queue a message again."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.manage import bp
from app.forms import Form
from app.models.people import Role
from app.services import mailer
from app.web import roles_required


@bp.get("/outbox")
@roles_required(Role.OPERATOR)
def outbox_index():
    return render_template("manage/outbox.html", failed=mailer.outbox_failed(actor=current_user),
                           csrf_form=Form())


@bp.post("/outbox/<int:message_id>/retry")
@roles_required(Role.OPERATOR)
def outbox_retry(message_id: int):
    if not Form().validate():
        abort(400)
    if mailer.outbox_retry(actor=current_user, message_id=message_id):
        flash("Письмо снова в очереди: оно уйдёт в ближайшую минуту.", "success")
    else:
        flash("Это письмо уже отправлено или снова в очереди.", "error")
    return redirect(url_for("manage.outbox_index"), code=303)
