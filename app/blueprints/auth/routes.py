from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.auth import bp
from app.blueprints.auth.forms import ChangePasswordForm, LoginForm
from app.extensions import limiter, login_form_key
from app.services import accounts
from app.services.errors import Invalid
from app.web import form_error, origin


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


def _failed(response) -> bool:
    """Only failed attempts count towards the login limits."""
    return response.status_code != 303


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=login_form_key,
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(login=form.login.data, password=form.password.data, origin=origin())
        except Invalid as error:
            form_error(form, error)
            status = 422
        else:
            login_user(user)
            if user.must_change_password:
                flash("Вы вошли по временному паролю. Придумайте свой пароль, чтобы продолжить.", "info")
                return redirect(url_for("auth.change_password"), code=303)
            return redirect(_safe_next(request.args.get("next")), code=303)
    elif form.is_submitted():
        status = 422
    # The password is never sent back into the page.
    form.password.data = ""
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("Вы вышли из личного кабинета.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.password_change(
                actor=current_user,
                current_password=form.current_password.data,
                new_password=form.new_password.data,
                confirm_password=form.confirm_password.data,
                origin=origin(),
            )
        except Invalid as error:
            form_error(form, error)
            status = 422
        else:
            # The version was bumped: other sessions end, this one is renewed.
            login_user(current_user._get_current_object(), fresh=True)
            flash("Пароль изменён. На других устройствах нужно войти заново.", "success")
            return redirect(url_for("profile.index"), code=303)
    elif form.is_submitted():
        status = 422
    return render_template("auth/change_password.html", form=form, forced=current_user.must_change_password), status
