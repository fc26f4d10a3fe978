"""The shared inbox of questions for УК staff, council members and РСО staff (/manage/inbox).

Every question is one region, `manage/_inbox_item.html` with the id `question-<id>`: claim, release, reply and
close post to it with htmx and get the region back (200, 409 for a colleague's claim, 422 for an empty reply) with
`HX-Trigger: inbox:changed` on success, so the tab counts and the navigation counter ask for fresh numbers.
Without JavaScript the same forms are page forms: success → 303 back to the page they came from; an error → the
question's page with the message and the typed text (409/422).
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import TextAreaField

from app.blueprints.manage import bp
from app.forms import Form
from app.htmx import render_fragment, targets
from app.models.people import Role
from app.services import questions as svc
from app.services.errors import Conflict, Invalid, Locked
from app.web import origin, roles_required

INBOX_ROLES = (Role.STAFF, Role.COUNCIL, Role.RSO)
CHANGED = {"HX-Trigger": "inbox:changed"}


class ActionForm(Form):
    pass


class ReplyForm(Form):
    text = TextAreaField("Ответ собственнику")


@bp.get("/inbox")
@roles_required(*INBOX_ROLES)
def inbox():
    tab = request.args.get("tab", "new")
    if tab not in svc.TABS:
        tab = "new"
    if targets("inbox-tabs"):
        return render_fragment("manage/_inbox_tabs.html", tab=tab, tabs=svc.TABS,
                               counts=svc.inbox_counts(actor=current_user))
    offset = max(request.args.get("offset", 0, type=int), 0)
    page = svc.inbox_for(actor=current_user, tab=tab, offset=offset, limit=svc.PAGE_SIZE)  # 50 a page
    context = {"page": page, "tab": tab, "tabs": svc.TABS, "counts": page.counts, "offset": offset,
               "next_url": url_for("manage.inbox", tab=tab, offset=offset or None)}
    if targets("inbox-more"):
        return render_fragment("manage/_inbox_page.html", **context)
    return render_template("manage/inbox.html", **context)


@bp.get("/inbox/counter")
@roles_required(*INBOX_ROLES)
def inbox_counter():
    return render_fragment("manage/_inbox_counter.html", count=svc.inbox_new_count(actor=current_user))


def _safe_next(default: str) -> str:
    """Back to the inbox page the form was on (its tab and paging), never to another site."""
    target = request.form.get("next") or ""
    if target.startswith("/manage/inbox") and "//" not in target and "\\" not in target:
        return target
    return default


def _region(question_id: int, status: int = 200, headers: dict | None = None, **extra):
    item = svc.inbox_item_get(actor=current_user, id=question_id)
    body, status = render_fragment("manage/_inbox_item.html", item=item, full=request.form.get("view") == "full",
                                   next_url=_safe_next(url_for("manage.inbox")), status=status,
                                   **extra)
    return body, status, headers or {}


def _question_page(question_id: int, status: int = 200, **extra):
    item = svc.inbox_item_get(actor=current_user, id=question_id)
    return render_template("manage/inbox_question.html", item=item, full=True,
                           next_url=url_for("manage.inbox_question", question_id=question_id),
                           page_has_errors=bool(extra.get("error")), **extra), status


@bp.get("/inbox/<int:question_id>")
@roles_required(*INBOX_ROLES)
def inbox_question(question_id: int):
    if targets(f"question-{question_id}"):
        item = svc.inbox_item_get(actor=current_user, id=question_id)
        return render_fragment("manage/_inbox_item.html", item=item, full=request.args.get("view") == "full",
                               next_url=url_for("manage.inbox"))
    return _question_page(question_id)


def _act(question_id: int, action, done: str, *, focus_reply: bool = False):
    """Run one service call on a question and answer htmx with the region, a plain form with 303 or the page."""
    item = svc.inbox_item_get(actor=current_user, id=question_id)
    htmx = targets(f"question-{question_id}")
    form = ReplyForm() if action is _answer else ActionForm()
    typed = form.text.data if isinstance(form, ReplyForm) else None
    if not form.validate():
        if "csrf_token" in form.errors:
            abort(400)
        message = next(iter(form.errors.values()))[0]  # e.g. a control character in the reply
        if htmx:
            return _region(question_id, 422, error=message, typed=typed)
        return _question_page(question_id, 422, error=message, typed=typed)
    try:  # NotAllowed (e.g. one's own question) reaches the global handler: 403
        action(item.question, form)
    except Invalid as error:
        if htmx:
            return _region(question_id, 422, error=error.message, typed=typed)
        return _question_page(question_id, 422, error=error.message, typed=typed)
    except (Conflict, Locked) as error:
        if htmx:
            return _region(question_id, 409, CHANGED, refusal=error.message, typed=typed)
        return _question_page(question_id, 409, refusal=error.message, typed=typed)
    if htmx:
        return _region(question_id, 200, CHANGED, done=done, focus_reply=focus_reply)
    flash(done, "success")
    default = url_for("manage.inbox")
    return redirect(_safe_next(default) + f"#question-{question_id}", code=303)


def _claim(question, form):
    svc.question_claim(actor=current_user, question=question, origin=origin())


def _release(question, form):
    svc.question_release(actor=current_user, question=question, origin=origin())


def _answer(question, form):
    svc.question_answer(actor=current_user, question=question, text=form.text.data or "", origin=origin())


def _close(question, form):
    svc.question_close(actor=current_user, question=question, origin=origin())


@bp.post("/inbox/<int:question_id>/claim")
@roles_required(*INBOX_ROLES)
def inbox_claim(question_id: int):
    return _act(question_id, _claim, "Вопрос за вами: коллеги видят, что вы на него отвечаете.", focus_reply=True)


@bp.post("/inbox/<int:question_id>/release")
@roles_required(*INBOX_ROLES)
def inbox_release(question_id: int):
    return _act(question_id, _release, "Вопрос снова в общих: его может взять любой коллега.")


@bp.post("/inbox/<int:question_id>/reply")
@roles_required(*INBOX_ROLES)
def inbox_reply(question_id: int):
    return _act(question_id, _answer, "Ответ отправлен собственнику.")


@bp.post("/inbox/<int:question_id>/close")
@roles_required(*INBOX_ROLES)
def inbox_close(question_id: int):
    return _act(question_id, _close, "Вопрос закрыт.")


@bp.app_context_processor
def inbox_context():
    def inbox_new_count() -> int:
        """For the navigation badge (manage/_inbox_counter.html), only for those who have an inbox."""
        if not current_user.is_authenticated or not current_user.has_role(*INBOX_ROLES):
            return 0
        return svc.inbox_new_count(actor=current_user)

    return {"inbox_new_count": inbox_new_count, "question_status_tags": svc.STATUS_TAGS}
