from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import (
    access_for,
    account_get,
    managed_building_get,
    managed_premises_get,
    owners_of,
)
from app.blueprints.manage import bp
from app.blueprints.manage.forms import IssueAccountForm, LetterForm, LinkAccountForm
from app.extensions import actor_key, limiter
from app.htmx import render_fragment, targets
from app.models.base import utcnow
from app.models.people import Role
from app.services import accounts
from app.services.apartment import premises_history
from app.services.errors import Conflict, Invalid
from app.services.home import building_stats_page
from app.services.letters import credential_letter_pdf
from app.services.manage import building_premises_rows
from app.services.meters import building_meters, premises_meters
from app.services.paging import page_number
from app.services.periods import local_today
from app.web import form_error, origin, roles_required

MANAGERS = (Role.STAFF, Role.COUNCIL)


@bp.get("/")
@roles_required(*MANAGERS)
def index():
    stats, pager = building_stats_page(current_user, page=page_number(request.args.get("page")))
    context = {"stats": stats, "pager": pager, "pager_target": "building-list",
               "pager_url": lambda n: url_for("manage.index", page=n if n > 1 else None)}
    if targets("building-list"):
        return render_fragment("manage/_building_list.html", **context)
    return render_template("manage/index.html", **context)


@bp.get("/buildings/<int:building_id>")
@roles_required(*MANAGERS)
def building(building_id: int):
    building = managed_building_get(actor=current_user, id=building_id)
    entrance = request.args.get("entrance", type=int)
    access = request.args.get("access", "")
    rows = building_premises_rows(building, entrance=entrance, status=access)
    context = {"building": building, "rows": rows, "entrance": entrance, "access": access,
               "building_meters": building_meters(building),
               "can_manage_meters": access_for(current_user).uk_manages(building)}
    if targets("premises-table"):
        return render_fragment("manage/_premises_table.html", **context)
    return render_template("manage/building.html", **context)


def _premises_page(premises, form=None, status=200, link_form=None):
    access = access_for(current_user)
    owners = owners_of(premises.id)
    form = form or IssueAccountForm(formdata=None)
    link_form = link_form or LinkAccountForm(formdata=None)
    return render_template(
        "manage/premises.html",
        premises=premises,
        owners=owners,
        manageable={u.id for u in owners if access.may_administer(u)},
        link_requests=accounts.link_requests_for_premises(actor=current_user, premises=premises),
        history=premises_history(premises),
        form=form,
        link_form=link_form,
        page_has_errors=bool(form.errors or link_form.errors),
        meters=premises_meters(premises, include_archived=True),
        can_manage_meters=access.uk_manages(premises.building),
        today=local_today(utcnow()),
    ), status


@bp.get("/premises/<int:premises_id>")
@roles_required(*MANAGERS)
def premises(premises_id: int):
    return _premises_page(managed_premises_get(actor=current_user, id=premises_id))


@bp.post("/premises/<int:premises_id>/accounts")
@roles_required(*MANAGERS)
def issue(premises_id: int):
    premises = managed_premises_get(actor=current_user, id=premises_id)
    form = IssueAccountForm()
    if not form.validate():
        return _premises_page(premises, form, 422)
    try:
        issued = accounts.account_issue(
            actor=current_user,
            premises=premises,
            full_name=form.full_name.data,
            login=form.login.data,
            phone=form.phone.data,
            email=form.email.data,
            share=form.share.data,
            origin=origin(),
        )
    except (Invalid, Conflict) as error:
        form_error(form, error, fallback_field="full_name")
        return _premises_page(premises, form, 422)
    return _issued_page(issued, premises_id=premises.id, new=True)


@bp.post("/premises/<int:premises_id>/owners")
@roles_required(*MANAGERS)
@limiter.limit(lambda: current_app.config["LINK_REQUEST_LIMIT"], key_func=actor_key)
def link(premises_id: int):
    """Ask the holder of a login to accept this premises. The answer is the same whatever the login."""
    premises = managed_premises_get(actor=current_user, id=premises_id)
    link_form = LinkAccountForm()
    if link_form.validate():
        try:
            accounts.ownership_link_request(actor=current_user, premises=premises,
                                            login=link_form.existing_login.data,
                                            share=link_form.existing_share.data, origin=origin())
        except Invalid as error:
            form_error(link_form, error, fallback_field="existing_login")
        else:
            flash(accounts.LINK_REQUESTED, "success")
            return redirect(url_for("manage.premises", premises_id=premises.id), code=303)
    return _premises_page(premises, link_form=link_form, status=422)


@bp.post("/premises/<int:premises_id>/links/<int:request_id>/withdraw")
@roles_required(*MANAGERS)
def link_withdraw(premises_id: int, request_id: int):
    premises = managed_premises_get(actor=current_user, id=premises_id)
    try:
        accounts.link_request_withdraw(actor=current_user, premises=premises, request_id=request_id,
                                       origin=origin())
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash("Запрос отозван.", "success")
    return redirect(url_for("manage.premises", premises_id=premises.id), code=303)


@bp.post("/premises/<int:premises_id>/owners/<int:user_id>/remove")
@roles_required(*MANAGERS)
def unlink(premises_id: int, user_id: int):
    premises = managed_premises_get(actor=current_user, id=premises_id)
    user = account_get(actor=current_user, id=user_id)
    accounts.ownership_remove(actor=current_user, premises=premises, user=user, origin=origin())
    flash(f"Доступ {user.full_name} к помещению {premises.title} отозван.", "success")
    return redirect(url_for("manage.premises", premises_id=premises.id), code=303)


def _issued_page(issued, *, premises_id: int | None, new: bool):
    response = make_response(render_template(
        "manage/issued.html", issued=issued, premises_id=premises_id, new=new,
        letter_form=LetterForm(formdata=None, data={"password": issued.temporary_password}),
    ))
    return response


def _back_premises_id(user) -> int | None:
    """The premises page to return to: the one the form came from, if it is one of the account's."""
    premises_id = request.form.get("premises_id", type=int)
    return premises_id if premises_id in {o.premises_id for o in user.ownerships} else None


@bp.post("/accounts/<int:user_id>/reset")
@roles_required(*MANAGERS)
def reset(user_id: int):
    user = account_get(actor=current_user, id=user_id)
    issued = accounts.account_reset(actor=current_user, user=user, origin=origin())
    return _issued_page(issued, premises_id=_back_premises_id(user), new=False)


@bp.post("/accounts/<int:user_id>/active")
@roles_required(*MANAGERS)
def set_active(user_id: int):
    user = account_get(actor=current_user, id=user_id)
    active = request.form.get("active") == "1"
    accounts.account_set_active(actor=current_user, user=user, active=active, origin=origin())
    flash(f"Учётная запись {user.login} {'включена' if active else 'отключена, все её сеансы завершены'}.", "success")
    premises_id = _back_premises_id(user)
    target = url_for("manage.premises", premises_id=premises_id) if premises_id else url_for("manage.index")
    return redirect(target, code=303)


@bp.post("/accounts/<int:user_id>/letter")
@roles_required(*MANAGERS)
def letter(user_id: int):
    user = account_get(actor=current_user, id=user_id)
    form = LetterForm()
    password = form.password.data or ""
    try:
        accounts.account_letter_print(actor=current_user, user=user, temporary_password=password, origin=origin())
    except Invalid:
        return render_template("manage/letter_unavailable.html", user=user), 422
    pdf = credential_letter_pdf(
        user=user,
        temporary_password=password,
        expires_at=user.temp_password_expires_at,
        portal_url=current_app.config["PORTAL_URL"],
    )
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="dostup-{user.login}.pdf"'
    return response


@bp.context_processor
def manage_context():
    from app.services.manage import ACCOUNT_STATUS_LABELS, account_status

    return {
        "status_labels": ACCOUNT_STATUS_LABELS,
        "account_status": account_status,
        "field_labels": {"actual_residents": "проживает", "emergency_phone": "телефон для экстренной связи"},
    }
