"""Owner side of questions (Вопросы): ask the УК, the council or a supplier; the thread; write again; close."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import RadioField, StringField, TextAreaField

from app.blueprints.apartment.current import current_premises
from app.blueprints.questions import bp
from app.forms import Form
from app.models.appeals import QuestionStatus
from app.models.people import Role
from app.services import questions as svc
from app.services.errors import DomainError, Invalid, Locked
from app.web import form_error, origin, roles_required


class AskForm(Form):
    # Every rule (and its Russian message) lives in the service; the form only carries the values and CSRF.
    addressee = RadioField("Кому", validate_choice=False, choices=[])
    subject = StringField("Тема")
    text = TextAreaField("Вопрос")


class MessageForm(Form):
    text = TextAreaField("Ваше сообщение")


class CloseForm(Form):
    pass


@bp.get("/")
@roles_required(Role.OWNER)
def index():
    offset = max(request.args.get("offset", 0, type=int), 0)
    page = svc.owner_questions(actor=current_user, offset=offset)
    return render_template("questions/index.html", page=page, offset=offset, label=svc.addressee_label,
                           status_labels=svc.OWNER_STATUS_LABELS)


def _ask_page(form: AskForm, premises, recipients, status: int = 200):
    return render_template("questions/new.html", form=form, premises=premises, recipients=recipients), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.OWNER)
def new():
    premises = current_premises()
    if premises is None:
        abort(404)
    recipients = svc.question_recipients(actor=current_user, premises=premises)
    form = AskForm()
    form.addressee.choices = [(r.key, r.label) for r in recipients]
    if request.method == "GET":
        wanted = request.args.get("to")
        if wanted in {r.key for r in recipients}:
            form.addressee.data = wanted
        elif len(recipients) == 1:
            form.addressee.data = recipients[0].key
        return _ask_page(form, premises, recipients)
    if not form.validate():
        return _ask_page(form, premises, recipients, 422)
    data = svc.QuestionInput(addressee=form.addressee.data or "", subject=form.subject.data or "",
                             text=form.text.data or "")
    try:
        question = svc.question_ask(actor=current_user, premises=premises, data=data, origin=origin())
    except DomainError as error:
        form_error(form, error, fallback_field="subject")
        return _ask_page(form, premises, recipients, 422)
    flash("Вопрос отправлен. Ответ появится здесь, а если в профиле указана почта — придёт и письмом.", "success")
    return redirect(url_for("questions.detail", question_id=question.id), code=303)


def _detail_page(question_id: int, form: MessageForm | None = None, status: int = 200):
    question, premises = svc.question_get(actor=current_user, id=question_id)
    form = form or MessageForm(formdata=None)
    return render_template("questions/detail.html", question=question, premises=premises, form=form,
                           sender=svc.sender_label(question), addressee=svc.addressee_label(question),
                           is_open=question.status != QuestionStatus.CLOSED, close_form=CloseForm(formdata=None),
                           status_labels=svc.OWNER_STATUS_LABELS,
                           page_has_errors=bool(form.errors or form.form_errors)), status


@bp.get("/<int:question_id>")
@roles_required(Role.OWNER)
def detail(question_id: int):
    return _detail_page(question_id)


@bp.post("/<int:question_id>/messages")
@roles_required(Role.OWNER)
def add_message(question_id: int):
    question, _ = svc.question_get(actor=current_user, id=question_id)
    form = MessageForm()
    if not form.validate():
        return _detail_page(question_id, form, 422)
    try:
        svc.question_add_message(actor=current_user, question=question, text=form.text.data or "",
                                 origin=origin())
    except Invalid as error:
        form_error(form, error)
        return _detail_page(question_id, form, 422)
    except Locked as error:
        form.form_errors.append(error.message)  # the form is gone from a closed question: say it on top
        return _detail_page(question_id, form, 409)
    flash("Сообщение отправлено.", "success")
    return redirect(url_for("questions.detail", question_id=question_id, _anchor="thread-end"), code=303)


@bp.post("/<int:question_id>/close")
@roles_required(Role.OWNER)
def close(question_id: int):
    question, _ = svc.question_get(actor=current_user, id=question_id)
    if not CloseForm().validate():
        abort(400)
    svc.question_close(actor=current_user, question=question, origin=origin())
    flash("Вопрос закрыт. Спасибо! Если появится новый вопрос, задайте его отдельно.", "success")
    return redirect(url_for("questions.detail", question_id=question_id), code=303)
