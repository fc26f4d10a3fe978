from flask import abort, current_app, flash, redirect, url_for
from flask_login import current_user, login_required

from app.blueprints.profile import bp
from app.blueprints.profile.forms import ContactsForm, NameForm, PreferencesForm
from app.htmx import render_fragment, targets
from app.models.audit import ConsentAction, ConsentChannel
from app.services import accounts
from app.services import profile as profile_service
from app.services.errors import Conflict
from app.web import edit_region, origin

SECTIONS = ("contacts", "name", "preferences")


def _context() -> dict:
    state = profile_service.consent_state(current_user)
    return {
        "user": current_user,
        "consents": state,
        "consent_given": {c: r is not None and r.action == ConsentAction.GIVEN for c, r in state.items()},
        "consent_version": current_app.config["CONSENT_TEXT_VERSION"],
        "notice_email_effective": profile_service.notice_email_effective(current_user),
        "link_requests": accounts.link_requests_for_owner(actor=current_user),
    }


def _form(section: str):
    user = current_user
    if section == "contacts":
        return ContactsForm(data={"phone": user.phone or "", "email": user.email or ""})
    if section == "name":
        return NameForm(data={"full_name": user.full_name})
    consents = profile_service.consent_state(user)
    return PreferencesForm(data={
        "notify_new_notice": user.notify_new_notice,
        "consent_email": _given(consents[ConsentChannel.EMAIL]),
        "consent_sms": _given(consents[ConsentChannel.SMS]),
    })


def _given(record) -> bool:
    return record is not None and record.action == ConsentAction.GIVEN


def _save(section: str, form):
    def save():
        if section == "contacts":
            changes = profile_service.profile_update_contacts(
                actor=current_user, phone=form.phone.data, email=form.email.data, origin=origin())
        elif section == "name":
            changes = profile_service.profile_update_name(
                actor=current_user, full_name=form.full_name.data, origin=origin())
        else:
            changes = profile_service.profile_set_preferences(
                actor=current_user,
                notify_new_notice=form.notify_new_notice.data,
                consents={ConsentChannel.EMAIL: form.consent_email.data, ConsentChannel.SMS: form.consent_sms.data},
                text_version=current_app.config["CONSENT_TEXT_VERSION"],
                origin=origin(),
            )
        return "Изменения сохранены." if changes else "Изменений нет."

    return save


@bp.get("/")
@login_required
def index():
    from flask import render_template

    from app.services import twofactor

    return render_template("profile/index.html", editing=None, two_factor_on=twofactor.is_enabled(current_user),
                           **_context())


@bp.get("/<section>")
@login_required
def section(section: str):
    """One region in view mode (the 'Cancel' of click-to-edit)."""
    if section not in SECTIONS:
        abort(404)
    if targets(f"profile-{section}"):
        return render_fragment(f"profile/_{section}.html", editing=None, **_context())
    return redirect(url_for("profile.index"))


@bp.route("/<section>/edit", methods=["GET", "POST"])
@login_required
def edit(section: str):
    if section not in SECTIONS or (section == "name" and current_user.full_name_locked):
        abort(404)
    form = _form(section)
    return edit_region(
        region_id=f"profile-{section}",
        partial=f"profile/_{section}.html",
        page="profile/index.html",
        form=form,
        save=_save(section, form),
        context=_context,
        page_url=url_for("profile.index"),
    )


@bp.post("/links/<int:request_id>/accept")
@login_required
def link_accept(request_id: int):
    """The owner agrees to add the premises to their account (only now is it shared)."""
    try:
        ownership = accounts.link_request_accept(actor=current_user, request_id=request_id, origin=origin())
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash(f"Помещение добавлено: {ownership.premises.full_address}.", "success")
    return redirect(url_for("profile.index"), code=303)


@bp.post("/links/<int:request_id>/decline")
@login_required
def link_decline(request_id: int):
    try:
        accounts.link_request_decline(actor=current_user, request_id=request_id, origin=origin())
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash("Запрос отклонён. Помещение не добавлено.", "success")
    return redirect(url_for("profile.index"), code=303)
