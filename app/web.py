"""Small helpers shared by routes: the request's origin and turning DomainErrors into form errors."""

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required
from wtforms import Form

from app.extensions import client_ip
from app.services.context import Origin
from app.services.errors import DomainError, Invalid


def roles_required(*roles: str):
    """Route gate: the user must be logged in and hold one of the roles (else 403).

    Only a gate for whole sections; which objects the user reaches is decided by app/access.py.
    """

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def origin() -> Origin:
    return Origin(ip=client_ip(), user_agent=request.headers.get("User-Agent", "")[:300])


def form_error(form: Form, error: DomainError, fallback_field: str | None = None) -> None:
    """Attach a service error to the field(s) it names (or to a fallback field / the form)."""
    errors = error.errors if isinstance(error, Invalid) else {fallback_field: error.message}
    for name, message in errors.items():
        field = getattr(form, name, None) if name else None
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]


def edit_region(*, region_id: str, partial: str, page: str, form, save, context, page_url: str):
    """Click-to-edit for one region of a page, with and without JavaScript.

    GET shows the region in edit mode: the partial when htmx targets the region, else the whole page.
    POST validates and calls save() (a service call that may raise DomainError): on success the region
    in view mode (htmx) or a 303 back to the page; on error the same form with messages, status 422.
    `context` is a callable so that the view is rendered from fresh data after saving.
    """
    from flask import flash, redirect, render_template

    from app.htmx import render_fragment, targets

    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                message = save()
            except DomainError as error:
                form_error(form, error)
            else:
                if message:
                    flash(message, "success")
                if targets(region_id):
                    return render_fragment(partial, editing=None, **context())
                return redirect(page_url, code=303)
    if targets(region_id):
        return render_fragment(partial, status=status, editing=region_id, form=form, **context())
    return render_template(page, editing=region_id, form=form, **context()), status
