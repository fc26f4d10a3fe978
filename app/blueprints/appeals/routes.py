"""Appeals (Обращения): owners file and follow them live; staff work on them (see also manage/appeals)."""

import secrets
from dataclasses import dataclass, field

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.access import access_for
from app.blueprints.apartment.current import current_premises
from app.blueprints.appeals import bp
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.appeals import FINAL_STATUSES
from app.models.base import utcnow
from app.services import appeals as svc
from app.services import receipt_explain
from app.services.errors import Conflict, Invalid, Locked
from app.web import form_error

# What a route shows next to the form itself; NotFound and NotAllowed go to the app's 404/403 handlers.
SHOWN_ERRORS = (Invalid, Locked, Conflict)


class AppealForm(Form):
    category_id = SelectField("Что случилось", validate_choice=False, coerce=str)
    place_kind = SelectField("Где", validate_choice=False, choices=list(svc.PLACES.items()))
    place_detail = StringField("Уточните место", validators=[Length(max=120)])
    text = TextAreaField("Описание", validators=[Length(max=4000, message="Не больше 4000 символов")])
    photos = MultipleFileField("Фотографии")
    client_token = HiddenField()
    # «Оспорить» on a receipt line: which line (period and service); the line itself is looked up again
    line_period = HiddenField()
    line = HiddenField()


def _uploads(files) -> list[svc.Upload]:
    return [svc.read_upload(f) for f in (files or []) if f and (f.filename or "")]


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
    # A disputed receipt line: only a line of this owner's own statement (a forged one is a 404)
    period = form.line_period.data or request.args.get("period")
    line_key = form.line.data or request.args.get("line")
    receipt_line = None
    if period or line_key:
        receipt_line = receipt_explain.receipt_line_get(actor=current_user, premises=premises, period=period,
                                                        line=line_key)
    page = {"form": form, "premises": premises, "receipt_line": receipt_line}
    if request.method == "GET":
        form.client_token.data = secrets.token_urlsafe(16)
        form.place_kind.data = "premises"
        if receipt_line:
            form.line_period.data, form.line.data = period, line_key
            category = svc.dispute_category(categories)
            form.category_id.data = str(category.id) if category else ""
            form.text.data = receipt_explain.dispute_text(receipt_line)
        return render_template("appeals/new.html", **page)
    if not form.validate():
        return render_template("appeals/new.html", **page), 422
    try:
        appeal = svc.appeal_file(
            actor=current_user,
            premises=premises,
            category_id=form.category_id.data,
            place_kind=form.place_kind.data,
            place_detail=form.place_detail.data,
            text=form.text.data,
            photos=_uploads(form.photos.data),
            client_token=form.client_token.data or None,
            receipt_line=receipt_line,
        )
    except SHOWN_ERRORS as error:
        form_error(form, error, fallback_field="text")
        return render_template("appeals/new.html", **page), 422
    flash(f"Обращение зарегистрировано, входящий № {appeal.number}.", "success")
    return redirect(url_for("appeals.detail", appeal_id=appeal.id), code=303)


def _appeal(appeal_id: int):
    return svc.appeal_get(actor=current_user, id=appeal_id)


def _context(appeal):
    now = utcnow()
    staff = access_for(current_user).staff_of(appeal.organisation_id)
    return {
        "appeal": appeal,
        "now": now,
        "events": svc.timeline(current_user, appeal),
        "staff": staff,
        "transitions": svc.allowed_transitions(current_user, appeal, now),
        "colleagues": svc.colleagues(current_user) if staff else [],
        "overdue": svc.is_overdue(appeal, now),
        "final": appeal.status in FINAL_STATUSES,
        "failed": None,
    }


@dataclass(frozen=True)
class Failed:
    """A refused form of the detail page: its messages go next to its fields, what was typed stays."""

    form: str
    typed: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None


def _refused(appeal, form: str, error, typed: dict[str, str]):
    """The detail page again with the refused form's messages: 422 for bad input, 409 when the appeal's
    state does not allow it (closed, changed meanwhile)."""
    if isinstance(error, Invalid):
        failed = Failed(form=form, typed=typed, errors=error.errors)
    else:
        failed = Failed(form=form, typed=typed, message=error.message)
    context = _context(appeal) | {"failed": failed}
    return render_template("appeals/detail.html", **context), 422 if isinstance(error, Invalid) else 409


@bp.get("/<int:appeal_id>")
@login_required
def detail(appeal_id: int):
    appeal = _appeal(appeal_id)
    return render_template("appeals/detail.html", **_context(appeal))


@bp.get("/<int:appeal_id>/live")
@login_required
def live(appeal_id: int):
    """Polled every 30 s: 204 when nothing changed, the region when it did, 286 (stop polling) once final."""
    appeal = _appeal(appeal_id)
    if request.args.get("v", type=int) == appeal.version:
        return "", 204
    context = _context(appeal)
    return render_fragment("appeals/_live.html", status=286 if context["final"] else 200, **context)


def _back(appeal):
    return redirect(url_for("appeals.detail", appeal_id=appeal.id), code=303)


@bp.post("/<int:appeal_id>/status")
@login_required
def set_status(appeal_id: int):
    appeal = _appeal(appeal_id)
    if not Form().validate():
        abort(400)
    to = request.form.get("to", "")
    try:
        svc.appeal_set_status(
            actor=current_user,
            appeal=appeal,
            to=to,
            reason=request.form.get("reason"),
            expected_version=request.form.get("version", type=int),
        )
    except SHOWN_ERRORS as error:
        return _refused(appeal, f"status:{to}", error, {"reason": request.form.get("reason", "")})
    flash(f"Статус: {appeal.status_label}.", "success")
    return _back(appeal)


@bp.post("/<int:appeal_id>/comment")
@login_required
def comment(appeal_id: int):
    appeal = _appeal(appeal_id)
    form = Form()
    if not form.validate():
        abort(400)
    uploads = _uploads(request.files.getlist("photos"))
    try:
        svc.appeal_comment(
            actor=current_user,
            appeal=appeal,
            text=request.form.get("text", ""),
            internal=request.form.get("internal") == "1",
            photos=uploads,
        )
    except SHOWN_ERRORS as error:
        return _refused(appeal, "comment", error, {"text": request.form.get("text", "")})
    flash("Комментарий добавлен.", "success")
    return _back(appeal)


@bp.post("/<int:appeal_id>/rate")
@login_required
def rate(appeal_id: int):
    appeal = _appeal(appeal_id)
    if not Form().validate():
        abort(400)
    try:
        svc.appeal_rate(
            actor=current_user,
            appeal=appeal,
            rating=request.form.get("rating"),
            comment=request.form.get("rating_comment"),
        )
    except SHOWN_ERRORS as error:
        return _refused(appeal, "rate", error, {"rating_comment": request.form.get("rating_comment", "")})
    flash("Спасибо за оценку.", "success")
    return _back(appeal)


@bp.get("/photos/<int:photo_id>.jpg")
@login_required
def photo(photo_id: int):
    item = svc.photo_get(actor=current_user, id=photo_id)
    response = make_response(item.data)
    response.headers["Content-Type"] = "image/jpeg"
    return response


@bp.app_context_processor
def appeals_context():
    from app.models.appeals import APPEAL_STATUS_LABELS

    return {"appeal_places": svc.PLACES, "appeal_status_labels": APPEAL_STATUS_LABELS,
            "receipt_line_view": receipt_explain.stored_line}
