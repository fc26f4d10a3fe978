"""Appeals (Обращения): owners file and follow them live; staff work on them (see also manage/appeals)."""

import secrets

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.blueprints.apartment.current import current_premises
from app.blueprints.appeals import bp
from app.htmx import render_fragment, targets
from app.models.appeals import FINAL_STATUSES
from app.models.base import utcnow
from app.services import appeals as svc
from app.services.errors import DomainError, NotAllowed
from app.web import form_error


class AppealForm(FlaskForm):
    category_id = SelectField("Что случилось", validate_choice=False, coerce=str)
    place_kind = SelectField("Где", validate_choice=False, choices=list(svc.PLACES.items()))
    place_detail = StringField("Уточните место", validators=[Length(max=120)])
    text = TextAreaField("Описание", validators=[Length(max=4000, message="Не больше 4000 символов")])
    photos = MultipleFileField("Фотографии")
    client_token = HiddenField()


def _uploads(field) -> list[svc.Upload]:
    return [svc.Upload(f.filename or "", f.read()) for f in (field.data or []) if f and (f.filename or "")]


@bp.get("/")
@login_required
def index():
    signature = svc.list_signature(current_user)
    if targets("appeals-list"):
        if request.args.get("sig") == signature:
            return "", 204  # nothing changed: the cheapest possible answer to the poll
        return render_fragment(
            "appeals/_list.html", appeals=svc.my_appeals(current_user), signature=signature, now=utcnow()
        )
    return render_template(
        "appeals/index.html",
        appeals=svc.my_appeals(current_user),
        signature=signature,
        now=utcnow(),
        premises=current_premises(),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    premises = current_premises()
    if premises is None:
        abort(403)
    categories = svc.categories_for(premises.building.organisation_id)
    form = AppealForm()
    form.category_id.choices = [("", "— выберите —")] + [
        (str(c.id), f"{c.name} (срок {svc.deadline_text(c)})") for c in categories
    ]
    if request.method == "GET":
        form.client_token.data = secrets.token_urlsafe(16)
        form.place_kind.data = "premises"
        return render_template("appeals/new.html", form=form, premises=premises)
    if not form.validate():
        return render_template("appeals/new.html", form=form, premises=premises), 422
    try:
        appeal = svc.appeal_file(
            actor=current_user,
            premises=premises,
            category_id=form.category_id.data,
            place_kind=form.place_kind.data,
            place_detail=form.place_detail.data,
            text=form.text.data,
            photos=_uploads(form.photos),
            client_token=form.client_token.data or None,
        )
    except DomainError as error:
        form_error(form, error, fallback_field="text")
        return render_template("appeals/new.html", form=form, premises=premises), 422
    flash(f"Обращение зарегистрировано, входящий № {appeal.number}.", "success")
    return redirect(url_for("appeals.detail", appeal_id=appeal.id), code=303)


def _appeal_or_404(appeal_id: int):
    appeal = svc.appeal_for(current_user, appeal_id)
    if appeal is None:
        abort(404)
    return appeal


def _context(appeal):
    now = utcnow()
    return {
        "appeal": appeal,
        "now": now,
        "events": svc.timeline(current_user, appeal),
        "staff": svc.is_staff_of(current_user, appeal),
        "transitions": svc.allowed_transitions(current_user, appeal, now),
        "colleagues": svc.colleagues(current_user) if svc.is_staff_of(current_user, appeal) else [],
        "overdue": svc.is_overdue(appeal, now),
        "final": appeal.status in FINAL_STATUSES,
    }


@bp.get("/<int:appeal_id>")
@login_required
def detail(appeal_id: int):
    appeal = _appeal_or_404(appeal_id)
    return render_template("appeals/detail.html", **_context(appeal))


@bp.get("/<int:appeal_id>/live")
@login_required
def live(appeal_id: int):
    """Polled every 30 s: 204 when nothing changed, the region when it did, 286 (stop polling) once final."""
    appeal = _appeal_or_404(appeal_id)
    if request.args.get("v", type=int) == appeal.version:
        return "", 204
    context = _context(appeal)
    return render_fragment("appeals/_live.html", status=286 if context["final"] else 200, **context)


def _back(appeal):
    return redirect(url_for("appeals.detail", appeal_id=appeal.id), code=303)


@bp.post("/<int:appeal_id>/status")
@login_required
def set_status(appeal_id: int):
    appeal = _appeal_or_404(appeal_id)
    if not FlaskForm().validate():
        abort(400)
    try:
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
        flash(error.message, "error")
    else:
        flash(f"Статус: {appeal.status_label}.", "success")
    return _back(appeal)


@bp.post("/<int:appeal_id>/comment")
@login_required
def comment(appeal_id: int):
    appeal = _appeal_or_404(appeal_id)
    form = FlaskForm()
    if not form.validate():
        abort(400)
    uploads = [svc.Upload(f.filename or "", f.read()) for f in request.files.getlist("photos") if f.filename]
    try:
        svc.appeal_comment(
            actor=current_user,
            appeal=appeal,
            text=request.form.get("text", ""),
            internal=request.form.get("internal") == "1",
            photos=uploads,
        )
    except NotAllowed:
        abort(403)
    except DomainError as error:
        flash(error.message, "error")
        return render_template("appeals/detail.html", typed=request.form.get("text", ""), **_context(appeal)), 422
    flash("Комментарий добавлен.", "success")
    return _back(appeal)


@bp.post("/<int:appeal_id>/rate")
@login_required
def rate(appeal_id: int):
    appeal = _appeal_or_404(appeal_id)
    if not FlaskForm().validate():
        abort(400)
    try:
        svc.appeal_rate(
            actor=current_user,
            appeal=appeal,
            rating=request.form.get("rating"),
            comment=request.form.get("rating_comment"),
        )
    except NotAllowed:
        abort(403)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash("Спасибо за оценку.", "success")
    return _back(appeal)


@bp.get("/photos/<int:photo_id>.jpg")
@login_required
def photo(photo_id: int):
    item = svc.photo_for(current_user, photo_id)
    if item is None:
        abort(404)
    response = make_response(item.data)
    response.headers["Content-Type"] = "image/jpeg"
    return response


@bp.app_context_processor
def appeals_context():
    from app.models.appeals import APPEAL_STATUS_LABELS

    return {"appeal_places": svc.PLACES, "appeal_status_labels": APPEAL_STATUS_LABELS}
