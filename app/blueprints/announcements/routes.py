"""Announcements (Объявления): the list with filters and search, posting and editing, reports, moderation."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.blueprints.announcements import bp
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.base import utcnow
from app.models.messaging import ANNOUNCEMENT_CATEGORY_LABELS
from app.services import announcements as svc
from app.services.errors import Invalid, Locked
from app.web import form_error, origin

CATEGORY_CHOICES = [(c.value, label) for c, label in ANNOUNCEMENT_CATEGORY_LABELS.items()]


class AnnouncementForm(Form):
    category = SelectField("Рубрика", validate_choice=False, choices=CATEGORY_CHOICES)
    title = StringField("Заголовок", validators=[Length(max=120, message="Не больше 120 символов")])
    body = TextAreaField("Текст", validators=[Length(max=3000, message="Не больше 3000 символов")])
    author_name = StringField("Подпись", validators=[Length(max=60, message="Не больше 60 символов")])
    contact = StringField("Контакт для связи", validators=[Length(max=120, message="Не больше 120 символов")])
    scope = RadioField(
        "Кому показывать",
        validate_choice=False,
        choices=[("building", "Только жителям моего дома"), ("portal", "Всем пользователям портала")],
        default="building",
    )
    days = StringField("Сколько дней показывать", default="14", render_kw={"inputmode": "numeric"})


class ReportForm(Form):
    reason = StringField("Пожаловаться", id="report-reason",
                         validators=[Length(max=300, message="Не больше 300 символов")])


class HideForm(Form):
    reason = StringField("Скрыть объявление", id="hide-reason",
                         validators=[Length(max=300, message="Не больше 300 символов")])


def _input(form: AnnouncementForm) -> svc.AnnouncementInput:
    return svc.AnnouncementInput(
        category=form.category.data,
        title=form.title.data,
        body=form.body.data,
        author_name=form.author_name.data,
        contact=form.contact.data,
        scope=form.scope.data or "",
        days=form.days.data,
    )


@bp.get("/")
@login_required
def index():
    now = utcnow()
    filters = {
        "category": request.args.get("category", ""),
        "scope": request.args.get("scope", ""),
        "q": request.args.get("q", ""),
    }
    offset = request.args.get("offset", 0, type=int)  # clamped by the service
    items, next_offset = svc.announcement_list(current_user, now=now, offset=offset, **filters)
    context = {
        "items": items,
        "next_offset": next_offset,
        "filters": filters,
        "categories": CATEGORY_CHOICES,
        "mine": svc.my_announcements(current_user) if offset <= 0 else [],
        "reported": svc.reported(current_user) if offset <= 0 else [],
        "now": now,
    }
    if targets("announcements-list"):
        return render_fragment("announcements/_list.html", **context)
    return render_template("announcements/index.html", **context)


def _form_page(form, item=None, status=200):
    return render_template("announcements/form.html", form=form, item=item), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not svc.may_post(current_user):
        abort(403)
    form = AnnouncementForm()
    if request.method == "GET":
        parts = current_user.full_name.split()
        form.author_name.data = parts[1] if len(parts) > 1 else current_user.full_name
        return _form_page(form)
    if not form.validate():
        return _form_page(form, status=422)
    try:
        item = svc.announcement_create(actor=current_user, data=_input(form), origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="title")
        return _form_page(form, status=422)
    flash("Объявление опубликовано.", "success")
    return redirect(url_for("announcements.detail", item_id=item.id), code=303)


def _item(item_id: int):
    return svc.announcement_get(actor=current_user, id=item_id)


def _detail(item, *, report_form=None, hide_form=None, status=200):
    """The announcement's page; a refused report or hide form comes back with its message and text, 422."""
    return render_template(
        "announcements/detail.html",
        item=item,
        now=utcnow(),
        is_author=item.author_id == current_user.id,
        can_moderate=svc.can_moderate(current_user, item),
        report_form=report_form or ReportForm(formdata=None),
        hide_form=hide_form or HideForm(formdata=None),
    ), status


@bp.get("/<int:item_id>")
@login_required
def detail(item_id: int):
    return _detail(_item(item_id))


@bp.route("/<int:item_id>/edit", methods=["GET", "POST"])
@login_required
def edit(item_id: int):
    item = svc.own_announcement_get(actor=current_user, id=item_id)
    days_left = max(1, min(svc.MAX_DAYS, (item.expires_at - utcnow()).days + 1))
    form = AnnouncementForm(
        data=None
        if request.method == "POST"
        else {
            "category": item.category.value,
            "title": item.title,
            "body": item.body,
            "author_name": item.author_name,
            "contact": item.contact or "",
            "scope": item.scope,
            "days": str(days_left),
        }
    )
    if request.method == "GET":
        return _form_page(form, item)
    if not form.validate():
        return _form_page(form, item, 422)
    try:
        svc.announcement_update(actor=current_user, item=item, data=_input(form))
    except (Invalid, Locked) as error:
        form_error(form, error, fallback_field="title")
        return _form_page(form, item, 422)
    flash("Объявление обновлено.", "success")
    return redirect(url_for("announcements.detail", item_id=item.id), code=303)


@bp.post("/<int:item_id>/delete")
@login_required
def delete(item_id: int):
    item = _item(item_id)
    if not Form().validate():
        abort(400)
    svc.announcement_delete(actor=current_user, item=item)
    flash("Объявление удалено.", "success")
    return redirect(url_for("announcements.index"), code=303)


@bp.post("/<int:item_id>/report")
@login_required
def report(item_id: int):
    item = _item(item_id)
    form = ReportForm()
    if not form.validate():
        return _detail(item, report_form=form, status=422)
    try:
        fresh = svc.announcement_report(actor=current_user, item=item, reason=form.reason.data)
    except Invalid as error:
        form_error(form, error, fallback_field="reason")
        return _detail(item, report_form=form, status=422)
    flash("Спасибо, модераторы посмотрят объявление." if fresh else "Вы уже сообщили об этом объявлении.", "success")
    return redirect(url_for("announcements.detail", item_id=item.id), code=303)


@bp.post("/<int:item_id>/hide")
@login_required
def hide(item_id: int):
    item = _item(item_id)
    form = HideForm()
    if not form.validate():
        return _detail(item, hide_form=form, status=422)
    try:
        svc.announcement_hide(actor=current_user, item=item, reason=form.reason.data, origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="reason")
        return _detail(item, hide_form=form, status=422)
    flash("Объявление скрыто, автор увидит причину.", "success")
    return redirect(url_for("announcements.detail", item_id=item.id), code=303)
