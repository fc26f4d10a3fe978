from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.manage import bp
from app.blueprints.manage.forms import IssueAccountForm, LetterForm, LinkAccountForm
from app.htmx import render_fragment, targets
from app.models.base import utcnow
from app.models.people import Role
from app.permissions import (
    building_for,
    can_manage_account,
    managed_buildings,
    owner_account_for,
    owners_of,
    premises_for,
    roles_required,
    uk_org_ids,
)
from app.services import accounts
from app.services.apartment import premises_history
from app.services.errors import DomainError
from app.services.home import building_stats
from app.services.letters import credential_letter_pdf
from app.services.manage import building_premises_rows
from app.services.meters import building_meters, premises_meters
from app.services.periods import local_today
from app.web import form_error, origin

MANAGERS = (Role.STAFF, Role.COUNCIL)


@bp.get("/")
@roles_required(*MANAGERS)
def index():
    return render_template("manage/index.html", stats=building_stats(managed_buildings(current_user)))


@bp.get("/buildings/<int:building_id>")
@roles_required(*MANAGERS)
def building(building_id: int):
    building = building_for(current_user, building_id)
    entrance = request.args.get("entrance", type=int)
    access = request.args.get("access", "")
    rows = building_premises_rows(building, entrance=entrance, status=access)
    context = {"building": building, "rows": rows, "entrance": entrance, "access": access,
               "building_meters": building_meters(building),
               "can_manage_meters": building.organisation_id in uk_org_ids(current_user)}
    if targets("premises-table"):
        return render_fragment("manage/_premises_table.html", **context)
    return render_template("manage/building.html", **context)


def _premises_page(premises, form=None, status=200, link_form=None):
    owners = owners_of(premises.id)
    form = form or IssueAccountForm(formdata=None)
    link_form = link_form or LinkAccountForm(formdata=None)
    return render_template(
        "manage/premises.html",
        premises=premises,
        owners=owners,
        manageable={u.id for u in owners if can_manage_account(current_user, u)},
        history=premises_history(premises),
        form=form,
        link_form=link_form,
        page_has_errors=bool(form.errors or link_form.errors),
        meters=premises_meters(premises, include_archived=True),
        can_manage_meters=premises.building.organisation_id in uk_org_ids(current_user),
        today=local_today(utcnow()),
    ), status


@bp.get("/premises/<int:premises_id>")
@roles_required(*MANAGERS)
def premises(premises_id: int):
    return _premises_page(premises_for(current_user, premises_id))


@bp.post("/premises/<int:premises_id>/accounts")
@roles_required(*MANAGERS)
def issue(premises_id: int):
    premises = premises_for(current_user, premises_id)
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
    except DomainError as error:
        form_error(form, error, fallback_field="full_name")
        return _premises_page(premises, form, 422)
    return _issued_page(issued, premises_id=premises.id, new=True)


@bp.post("/premises/<int:premises_id>/owners")
@roles_required(*MANAGERS)
def link(premises_id: int):
    premises = premises_for(current_user, premises_id)
    link_form = LinkAccountForm()
    if link_form.validate():
        try:
            ownership = accounts.ownership_add(actor=current_user, premises=premises,
                                               login=link_form.existing_login.data,
                                               share=link_form.existing_share.data, origin=origin())
        except DomainError as error:
            form_error(link_form, error, fallback_field="existing_login")
        else:
            flash(f"{ownership.user.full_name} получает доступ к помещению {premises.title}.", "success")
            return redirect(url_for("manage.premises", premises_id=premises.id), code=303)
    return _premises_page(premises, link_form=link_form, status=422)


@bp.post("/premises/<int:premises_id>/owners/<int:user_id>/remove")
@roles_required(*MANAGERS)
def unlink(premises_id: int, user_id: int):
    premises = premises_for(current_user, premises_id)
    user = owner_account_for(current_user, user_id)
    accounts.ownership_remove(actor=current_user, premises=premises, user=user, origin=origin())
    flash(f"Доступ {user.full_name} к помещению {premises.title} отозван.", "success")
    return redirect(url_for("manage.premises", premises_id=premises.id), code=303)


def _issued_page(issued, *, premises_id: int, new: bool):
    response = make_response(render_template(
        "manage/issued.html", issued=issued, premises_id=premises_id, new=new,
        letter_form=LetterForm(formdata=None, data={"password": issued.temporary_password}),
    ))
    return response


@bp.post("/accounts/<int:user_id>/reset")
@roles_required(*MANAGERS)
def reset(user_id: int):
    user = owner_account_for(current_user, user_id)
    issued = accounts.account_reset(actor=current_user, user=user, origin=origin())
    return _issued_page(issued, premises_id=request.form.get("premises_id", type=int), new=False)


@bp.post("/accounts/<int:user_id>/active")
@roles_required(*MANAGERS)
def set_active(user_id: int):
    user = owner_account_for(current_user, user_id)
    active = request.form.get("active") == "1"
    accounts.account_set_active(actor=current_user, user=user, active=active, origin=origin())
    flash(f"Учётная запись {user.login} {'включена' if active else 'отключена, все её сеансы завершены'}.", "success")
    premises_id = request.form.get("premises_id", type=int)
    target = url_for("manage.premises", premises_id=premises_id) if premises_id else url_for("manage.index")
    return redirect(target, code=303)


@bp.post("/accounts/<int:user_id>/letter")
@roles_required(*MANAGERS)
def letter(user_id: int):
    user = owner_account_for(current_user, user_id)
    form = LetterForm()
    password = form.password.data or ""
    if not accounts.letter_password_matches(actor=current_user, user=user, temporary_password=password):
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
