"""Credential letters for a building or entrance: the owners' register with account states, accounts issued in
bulk for everyone in the register who has none, new passwords for the lost — each time ONE PDF, a letter per
page, produced in the request that issued the passwords and streamed (never stored)."""

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import HiddenField, SelectMultipleField

from app.access import managed_building_get
from app.blueprints.manage import bp
from app.forms import Form
from app.models.people import Role
from app.services import onboarding_letters
from app.services.errors import Invalid
from app.services.letters import credential_letters_pdf
from app.web import form_error, origin, roles_required

MANAGERS = (Role.STAFF, Role.COUNCIL)
STATUS_FILTERS = (("", "все"), ("none", "доступ не выдан"), ("pending", "ждёт первого входа"),
                  ("expired", "временный пароль истёк"), ("active", "вход выполнен"), ("disabled", "отключена"))


class IssueLettersForm(Form):
    entrance = HiddenField()


class ReissueLettersForm(Form):
    entrance = HiddenField()
    user_ids = SelectMultipleField("Собственники", choices=[], validate_choice=False)


def _entrance(raw) -> int | None:
    try:
        value = int(raw or 0)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 1000 else None


def _page(building, *, entrance, status="", reissue_form=None, code=200):
    register = onboarding_letters.owner_register(actor=current_user, building=building, entrance=entrance)
    rows = [r for r in register.rows if not status or r.status == status]
    reissue_form = reissue_form or ReissueLettersForm(formdata=None, data={"entrance": entrance or ""})
    return render_template(
        "manage/letters.html", building=building, register=register, rows=rows, entrance=entrance,
        status=status, status_filters=STATUS_FILTERS,
        issue_form=IssueLettersForm(formdata=None, data={"entrance": entrance or ""}),
        reissue_form=reissue_form, selected={str(v) for v in (reissue_form.user_ids.data or [])},
    ), code


def _pdf_response(letters, building, entrance, kind: str):
    pdf = credential_letters_pdf(letters=letters, portal_url=current_app.config["PORTAL_URL"])
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    scope = f"podezd-{entrance}" if entrance else "dom"
    response.headers["Content-Disposition"] = f'attachment; filename="{kind}-{building.id}-{scope}.pdf"'
    return response


@bp.get("/buildings/<int:building_id>/letters")
@roles_required(*MANAGERS)
def letters(building_id: int):
    building = managed_building_get(actor=current_user, id=building_id)
    status = request.args.get("status", "")
    return _page(building, entrance=_entrance(request.args.get("entrance")),
                 status=status if status in dict(STATUS_FILTERS) else "")


@bp.post("/buildings/<int:building_id>/letters/issue")
@roles_required(*MANAGERS)
def letters_issue(building_id: int):
    building = managed_building_get(actor=current_user, id=building_id)
    form = IssueLettersForm()
    entrance = _entrance(form.entrance.data)
    if not form.validate():
        flash("Страница устарела. Обновите её и нажмите кнопку ещё раз.", "error")
        return redirect(url_for("manage.letters", building_id=building.id, entrance=entrance), code=303)
    result = onboarding_letters.letters_issue(actor=current_user, building=building, entrance=entrance,
                                              origin=origin())
    if not result.letters:
        message = "Всем собственникам из реестра доступ уже выдан, новых писем нет."
        if result.linked:
            message += f" Связано с уже выданными учётными записями: {result.linked}."
        flash(message, "success")
        return redirect(url_for("manage.letters", building_id=building.id, entrance=entrance), code=303)
    return _pdf_response(result.letters, building, entrance, "dostup")


@bp.post("/buildings/<int:building_id>/letters/reissue")
@roles_required(*MANAGERS)
def letters_reissue(building_id: int):
    building = managed_building_get(actor=current_user, id=building_id)
    form = ReissueLettersForm()
    entrance = _entrance(form.entrance.data)
    if not form.validate():
        return _page(building, entrance=entrance, reissue_form=form, code=422)
    try:
        result = onboarding_letters.letters_reissue(actor=current_user, building=building,
                                                    user_ids=form.user_ids.data, origin=origin())
    except Invalid as error:
        form_error(form, error, fallback_field="user_ids")
        return _page(building, entrance=entrance, reissue_form=form, code=422)
    return _pdf_response(result.letters, building, entrance, "novye-paroli")
