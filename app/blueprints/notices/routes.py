from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.notices import bp
from app.blueprints.notices.forms import NoticeForm, WithdrawForm
from app.extensions import csrf
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.base import utcnow
from app.services import notices as svc
from app.services.errors import DomainError, Invalid, Locked
from app.services.periods import TZ
from app.web import form_error, origin


def _building_choices():
    return [(b.id, b.short_address) for b in svc.posting_building_list(current_user)]


def _input(form: NoticeForm) -> svc.NoticeInput:
    return svc.NoticeInput(category=form.category.data, title=form.title.data, body=form.body.data,
                           resource=form.resource.data or None, starts_at=form.starts_at.data,
                           ends_at=form.ends_at.data, valid_until=form.valid_until.data, urgent=form.urgent.data,
                           building_ids=tuple(form.building_ids.data or ()), entrances=form.entrances.data)


def _local(value):
    return value.astimezone(TZ).strftime("%Y-%m-%dT%H:%M") if value else ""


@bp.get("/")
@login_required
def index():
    now = utcnow()
    offset = max(request.args.get("offset", 0, type=int), 0)
    page = svc.notice_feed(current_user, now=now, offset=offset)
    context = {"page": page, "now": now, "can_post": svc.can_post(current_user), "offset": offset}
    if targets("notices-more"):
        return render_fragment("notices/_page.html", **context)
    return render_template("notices/index.html", **context)


@bp.get("/unread")
@login_required
def unread():
    return render_fragment("notices/_unread.html", unread=svc.unread_count(current_user, now=utcnow()))


@bp.get("/<int:notice_id>")
@login_required
def detail(notice_id: int):
    notice = svc.notice_get(actor=current_user, id=notice_id)
    newly_read = svc.notice_mark_read(user=current_user, notice=notice)
    can_edit = svc.may_edit(current_user, notice)
    context = {"notice": notice, "can_edit": can_edit, "now": utcnow(),
               "revisions": svc.notice_revisions(notice) if can_edit else []}
    if targets(f"notice-{notice.id}"):
        body, status = render_fragment("notices/_item.html", n=notice, read=True, expanded=True, **context)
        # The navigation counter listens for this and asks for the new number.
        return body, status, {"HX-Trigger": "notices:read"} if newly_read else {}
    return render_template("notices/detail.html", **context)


def _form_page(form, notice=None, status=200):
    return render_template("notices/form.html", form=form, notice=notice,
                           limits=svc.OUTAGE_LIMITS), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not svc.can_post(current_user):
        abort(403)
    form = NoticeForm()
    form.building_ids.choices = _building_choices()
    if request.method == "GET":
        if request.args.get("template") == "planned":
            form.category.data = "planned"
            form.resource.data = request.args.get("resource", "")
            form.body.data = svc.planned_outage_template(form.resource.data)
        if len(form.building_ids.choices) == 1:
            form.building_ids.data = [form.building_ids.choices[0][0]]
        return _form_page(form)
    if not form.validate():
        return _form_page(form, status=422)
    try:
        notice = svc.notice_publish(actor=current_user, data=_input(form), origin=origin())
    except DomainError as error:
        form_error(form, error, fallback_field="title")
        return _form_page(form, status=422)
    flash("Оповещение опубликовано. Письма подписчикам уйдут в течение нескольких минут.", "success")
    return redirect(url_for("notices.detail", notice_id=notice.id), code=303)


@bp.route("/<int:notice_id>/edit", methods=["GET", "POST"])
@login_required
def edit(notice_id: int):
    notice = svc.notice_get(actor=current_user, id=notice_id)
    svc.notice_for_edit(current_user, notice)  # NotAllowed: 403
    form = NoticeForm(data=None if request.method == "POST" else {
        "category": notice.category.value, "resource": notice.resource or "", "title": notice.title,
        "body": notice.body, "starts_at": _local(notice.starts_at), "ends_at": _local(notice.ends_at),
        "valid_until": _local(notice.valid_until), "urgent": notice.urgent,
        "building_ids": sorted({t.building_id for t in notice.targets}),
        "entrances": ", ".join(str(t.entrance) for t in notice.targets if t.entrance)})
    form.building_ids.choices = _building_choices()
    if request.method == "GET":
        return _form_page(form, notice)
    if not form.validate():
        return _form_page(form, notice, 422)
    try:
        svc.notice_edit(actor=current_user, notice=notice, data=_input(form), origin=origin())
    except DomainError as error:
        form_error(form, error, fallback_field="title")
        return _form_page(form, notice, 422)
    flash("Изменения сохранены, прежний текст остался в истории.", "success")
    return redirect(url_for("notices.detail", notice_id=notice.id), code=303)


@bp.post("/<int:notice_id>/withdraw")
@login_required
def withdraw(notice_id: int):
    notice = svc.notice_get(actor=current_user, id=notice_id)
    form = WithdrawForm()
    if not form.validate():
        if "csrf_token" in form.errors:
            abort(400)
        return _withdraw_refused(notice, next(iter(form.errors.values()))[0], form.reason.data)
    try:  # NotAllowed (not the author's organisation) reaches the global handler: 403
        svc.notice_withdraw(actor=current_user, notice=notice, reason=form.reason.data, origin=origin())
    except Invalid as error:  # no reason given: the message next to the field, the typed text kept
        return _withdraw_refused(notice, error.message, form.reason.data)
    except Locked as error:  # already withdrawn
        flash(error.message, "error")
    else:
        flash("Оповещение отменено.", "success")
    return redirect(url_for("notices.detail", notice_id=notice.id), code=303)


def _withdraw_refused(notice, message: str, typed: str | None):
    can_edit = svc.may_edit(current_user, notice)
    return render_template("notices/detail.html", notice=notice, can_edit=can_edit, now=utcnow(),
                           revisions=svc.notice_revisions(notice) if can_edit else [], withdraw_error=message,
                           withdraw_reason=typed, page_has_errors=True), 422


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the credential; mail clients post here for one-click unsubscribe
def unsubscribe(token: str):
    if request.method == "GET":
        return render_template("notices/unsubscribe.html", token=token, done=False, form=Form(meta={
            "csrf": False}))
    try:
        user = svc.unsubscribe(token=token, origin=origin())
    except Invalid as error:
        return render_template("notices/unsubscribe.html", token=token, done=False, error=error.message), 400
    return render_template("notices/unsubscribe.html", token=token, done=True, email=user.email)


@bp.app_context_processor
def notices_context():
    def unread_notices():
        from flask_login import current_user as user

        if not user.is_authenticated:
            return 0
        # Only a GET stores a freshly counted badge: a POST (a refused one included) changes nothing it
        # was not asked to change.
        return svc.unread_count(user, now=utcnow(), store=request.method in ("GET", "HEAD"))

    return {"unread_notices": unread_notices, "notice_when": svc.when}
