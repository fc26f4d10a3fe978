import time
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.auth import bp
from app.blueprints.auth.forms import (
    ChangePasswordForm,
    LoginForm,
    RecoveryCodesForm,
    TwoFactorConfirmForm,
    TwoFactorDisableForm,
    TwoFactorLoginForm,
    TwoFactorStartForm,
)
from app.extensions import limiter, login_account_ip_key, login_form_key, login_ip_key, two_factor_key
from app.formatting import date_ru
from app.models.base import utcnow
from app.services import accounts, sessions, twofactor
from app.services.errors import Conflict, Invalid
from app.web import form_error, origin

# Between the password and the code: who passed the password, for how long (seconds), where to go next.
PENDING = "2fa_pending"
PENDING_SECONDS = 5 * 60


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("home.index")


def _failed(response) -> bool:
    """Only failed attempts count towards the login limits."""
    return response.status_code != 303


def _lifetime():
    return current_app.permanent_session_lifetime


def _issuer() -> str:
    return current_app.config["PORTAL_NAME"]


def _session_token() -> str | None:
    return session.get("_user_id")


def _after_login(user, next_url: str | None, *, two_factor_passed: bool, remember: bool = False):
    """The session is open: the forced password change first, then the grace-period reminder.

    A remembered session also gets Flask-Login's remember cookie, holding the same server-side token: when the
    phone's browser drops the session cookie, the token still finds its user_sessions row (and nothing once
    the row is revoked, expired or idle — app/services/sessions.py)."""
    login_user(user, remember=remember, duration=sessions.REMEMBER_LIFETIME if remember else None)
    if user.must_change_password:
        flash("Вы вошли по временному паролю. Придумайте свой пароль, чтобы продолжить.", "info")
        return redirect(url_for("auth.change_password"), code=303)
    needed = twofactor.requirement(user=user, two_factor_passed=two_factor_passed, now=utcnow(),
                                   grace_days=current_app.config["TWO_FACTOR_GRACE_DAYS"])
    if needed.in_grace:
        flash(f"Для вашей учётной записи нужен вход с кодом из приложения на телефоне. Включите его "
              f"до {date_ru(needed.deadline)} на странице «Вход с кодом» в разделе «Мой профиль».", "warning")
    elif needed.overdue:
        return redirect(url_for("auth.two_factor"), code=303)
    return redirect(_safe_next(next_url), code=303)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], key_func=login_ip_key, methods=["POST"],
               deduct_when=_failed)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=login_form_key, methods=["POST"],
               deduct_when=_failed)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT_IP"], key_func=login_account_ip_key,
               methods=["POST"], deduct_when=_failed)
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
            if twofactor.is_enabled(user):
                session[PENDING] = {"u": user.id, "v": user.session_version, "t": int(time.time()),
                                    "next": request.args.get("next")}
                return redirect(url_for("auth.two_factor_login"), code=303)
            remember = bool(form.remember.data) and sessions.remember_allowed(user)
            sessions.session_start(user=user, origin=origin(), lifetime=_lifetime(), remember=remember)
            return _after_login(user, request.args.get("next"), two_factor_passed=False, remember=remember)
    elif form.is_submitted():
        status = 422
    # The password is never sent back into the page.
    form.password.data = ""
    return render_template("auth/login.html", form=form), status


def _pending() -> dict | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("u"), int):
        return None
    if time.time() - pending.get("t", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return pending


@bp.route("/2fa", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["TWO_FACTOR_LIMIT"], key_func=two_factor_key, methods=["POST"],
               deduct_when=_failed)
def two_factor_login():
    """The second login step: a code from the app or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    pending = _pending()
    if pending is None:
        flash("Время на ввод кода истекло. Войдите ещё раз.", "info")
        return redirect(url_for("auth.login"), code=303)
    form = TwoFactorLoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user, _token = twofactor.login_complete(user_id=pending["u"], session_version=pending.get("v", -1),
                                                    code=form.code.data, origin=origin(), lifetime=_lifetime())
        except Invalid as error:
            if twofactor.LOGIN_FIELD in error.errors:
                session.pop(PENDING, None)
                flash(error.errors[twofactor.LOGIN_FIELD], "info")
                return redirect(url_for("auth.login"), code=303)
            form_error(form, error)
            status = 422
        else:
            session.pop(PENDING, None)
            return _after_login(user, pending.get("next"), two_factor_passed=True)
    elif form.is_submitted():
        status = 422
    form.code.data = ""
    return render_template("auth/two_factor_login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    sessions.session_end(token=_session_token())
    logout_user()
    session.pop(PENDING, None)
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
            # Every session of the user ends; this browser gets a new one.
            user = current_user._get_current_object()
            live = g.get("user_session")
            remembered = bool(live and live.remember) and sessions.remember_allowed(user)
            sessions.session_renew(user=user, token=_session_token(), origin=origin(), lifetime=_lifetime())
            login_user(user, fresh=True, remember=remembered,
                       duration=sessions.REMEMBER_LIFETIME if remembered else None)
            flash("Пароль изменён. На других устройствах нужно войти заново.", "success")
            return redirect(url_for("profile.index"), code=303)
    elif form.is_submitted():
        status = 422
    return render_template("auth/change_password.html", form=form, forced=current_user.must_change_password), status


# --- second factor: settings and enrolment -------------------------------------------------------------------

def _settings_page(*, status: int = 200, confirm_form=None, disable_form=None, codes_form=None):
    user = current_user._get_current_object()
    live = g.get("user_session")
    enabled = twofactor.is_enabled(user)
    return render_template(
        "auth/two_factor.html",
        enabled=enabled,
        enrolment=None if enabled else twofactor.enrolment_pending(actor=user, issuer=_issuer()),
        codes_left=twofactor.recovery_codes_left(user) if enabled else 0,
        required=twofactor.required_for(user),
        needed=twofactor.requirement(user=user, two_factor_passed=bool(live and live.two_factor_passed),
                                     now=utcnow(), grace_days=current_app.config["TWO_FACTOR_GRACE_DAYS"]),
        start_form=TwoFactorStartForm(),
        confirm_form=confirm_form or TwoFactorConfirmForm(formdata=None),
        disable_form=disable_form or TwoFactorDisableForm(prefix="off", formdata=None),
        codes_form=codes_form or RecoveryCodesForm(prefix="renew", formdata=None),
    ), status


@bp.get("/two-factor")
@login_required
def two_factor():
    return _settings_page()


@bp.post("/two-factor/start")
@login_required
def two_factor_start():
    form = TwoFactorStartForm()
    if form.validate_on_submit():
        try:
            twofactor.enrolment_begin(actor=current_user, issuer=_issuer())
        except Conflict as error:
            flash(error.message, "info")
    return redirect(url_for("auth.two_factor"), code=303)


@bp.post("/two-factor/confirm")
@login_required
def two_factor_confirm():
    form = TwoFactorConfirmForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.enrolment_confirm(actor=current_user, code=form.code.data,
                                                session_token=_session_token(), origin=origin())
        except Invalid as error:
            form_error(form, error)
        else:
            return render_template("auth/recovery_codes.html", codes=codes, first=True)
    form.code.data = ""
    return _settings_page(status=422, confirm_form=form)


@bp.post("/two-factor/disable")
@login_required
def two_factor_disable():
    form = TwoFactorDisableForm(prefix="off")
    if form.validate_on_submit():
        try:
            twofactor.two_factor_disable(actor=current_user, password=form.password.data, code=form.code.data,
                                         origin=origin())
        except Invalid as error:
            form_error(form, error)
        else:
            flash("Вход с кодом отключён.", "success")
            return redirect(url_for("auth.two_factor"), code=303)
    form.password.data = ""
    form.code.data = ""
    return _settings_page(status=422, disable_form=form)


@bp.post("/two-factor/recovery-codes")
@login_required
def two_factor_codes():
    form = RecoveryCodesForm(prefix="renew")
    if form.validate_on_submit():
        try:
            codes = twofactor.recovery_codes_regenerate(actor=current_user, code=form.code.data, origin=origin())
        except Invalid as error:
            form_error(form, error)
        else:
            return render_template("auth/recovery_codes.html", codes=codes, first=False)
    form.code.data = ""
    return _settings_page(status=422, codes_form=form)


@bp.post("/two-factor/reset/<int:user_id>")
@login_required
def two_factor_reset(user_id: int):
    """A УК administrator (their staff) or the operator switches off someone's second factor (lost phone).
    The button lives on the account's page in the back office; `next` says where to return."""
    form = TwoFactorStartForm()
    user = twofactor.reset_target_get(actor=current_user, id=user_id)
    if form.validate_on_submit():
        try:
            twofactor.two_factor_reset(actor=current_user, user=user, origin=origin())
        except Conflict as error:
            flash(error.message, "info")
        else:
            flash(f"Вход с кодом для «{user.full_name}» сброшен: при следующем входе он подключит новый телефон.",
                  "success")
    return redirect(_safe_next(request.form.get("next")), code=303)
