"""Application factory."""

import hashlib
import os
from pathlib import Path

from flask import Flask, flash, has_request_context, redirect, render_template, request, url_for
from flask_login import current_user

from app import formatting, overload
from app.extensions import compress, csrf, db, limiter, login_manager, mail, migrate
from app.htmx import add_vary, is_htmx

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

BLUEPRINTS = (
    "auth",
    "home",
    "profile",
    "apartment",
    "readings",
    "receipts",
    "notices",
    "announcements",
    "appeals",
    "questions",
    "manage",
    "console",
)


def create_app(config: object | str | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    if config is None:
        config = os.environ.get(
            "PORTAL_CONFIG", "config.DevConfig" if os.environ.get("FLASK_DEBUG") else "config.Config"
        )
    app.config.from_object(config)
    if app.config.get("REQUIRE_SECRET_KEY") and app.config["SECRET_KEY"] == "dev-secret-change-me":
        raise RuntimeError("Set SECRET_KEY (a long random string) for production")
    if app.config["SECRET_KEY"] == "dev-secret-change-me" and not (app.debug or app.testing):
        # Anyone who reads config.py could sign sessions with the built-in key: only debug/tests may use it.
        raise RuntimeError(
            "SECRET_KEY is the built-in development key: set SECRET_KEY to a long random string "
            "(or FLASK_DEBUG=1 for local development)"
        )
    Path(app.root_path).parent.joinpath("instance").mkdir(exist_ok=True)

    from app import models  # noqa: F401  (register tables)
    from app.services import passwords

    passwords.configure(
        time_cost=app.config["ARGON2_TIME_COST"],
        memory_cost=app.config["ARGON2_MEMORY_COST"],
        parallelism=app.config["ARGON2_PARALLELISM"],
        max_concurrent=app.config.get("ARGON2_MAX_CONCURRENT", passwords.DEFAULT_MAX_CONCURRENT),
    )

    compress.init_app(app)  # first after_request registered = the last to run: it sees the final body
    overload.init_app(app)  # queue-time shedding (WSGI middleware), see app/overload.py
    db.init_app(app)
    _sqlite_unicode_lower(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    _init_login(app)
    formatting.register(app)

    import importlib

    _init_hardening(app)  # before the blueprints: their URL rules use the bounded int converter
    for name in BLUEPRINTS:
        module = importlib.import_module(f"app.blueprints.{name}")
        app.register_blueprint(module.bp)

    _init_static_versioning(app)
    _init_request_hooks(app)
    _init_errors(app)

    from app import jobs
    from app.cli import register as register_cli

    jobs.init_app(app)  # the job engine's storage (JOBS_URL) and the app its tasks run in

    register_cli(app)
    return app


def _sqlite_unicode_lower(app: Flask) -> None:
    """SQLite's lower() knows only ASCII: give it Python's, so Cyrillic search is case-insensitive there too."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def register(dbapi_connection, _record):
        dbapi_connection.create_function("lower", 1, lambda s: s.lower() if isinstance(s, str) else s,
                                         deterministic=True)


def _init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Войдите, чтобы продолжить."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str):
        # The session id is the token of a live user_sessions row (app/services/sessions.py): logout
        # revokes it, a password change, reset or deactivation bumps the user's session_version.
        from flask import g

        from app.services import sessions

        live = sessions.session_load(token=session_id)
        if live is None:
            return None
        g.user_session = live.session
        return live.user

    @login_manager.unauthorized_handler
    def unauthorized():
        login_url = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        if is_htmx():
            # Never swap a login page into a table row: make htmx navigate instead.
            return "", 401, {"HX-Redirect": login_url}
        flash(login_manager.login_message, "info")
        return redirect(login_url)


def _init_static_versioning(app: Flask) -> None:
    hashes: dict[str, str] = {}

    def file_hash(filename: str) -> str:
        if filename not in hashes or app.debug:
            path = Path(app.static_folder) / filename
            try:
                hashes[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            except OSError:
                hashes[filename] = "0"
        return hashes[filename]

    @app.url_defaults
    def static_version(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            values["v"] = file_hash(values["filename"])


def _init_request_hooks(app: Flask) -> None:
    allowed_while_forced = {"auth.change_password", "auth.logout", "static"}

    @app.before_request
    def force_password_change():
        if (
            current_user.is_authenticated
            and current_user.must_change_password
            and request.endpoint not in allowed_while_forced
        ):
            if is_htmx():
                return "", 401, {"HX-Redirect": url_for("auth.change_password")}
            return redirect(url_for("auth.change_password"))
        return None

    # Staff, council and operators after the grace period: enrol a second factor before anything else.
    allowed_while_two_factor = {"auth.two_factor", "auth.two_factor_start", "auth.two_factor_confirm",
                                "auth.change_password", "auth.logout", "static"}

    @app.before_request
    def force_two_factor():
        if not current_user.is_authenticated or request.endpoint in allowed_while_two_factor:
            return None
        from flask import g

        from app.models.base import utcnow
        from app.services import twofactor

        live = g.get("user_session")
        needed = twofactor.requirement(user=current_user, two_factor_passed=bool(live and live.two_factor_passed),
                                       now=utcnow(), grace_days=app.config["TWO_FACTOR_GRACE_DAYS"])
        if needed.overdue:
            if is_htmx():
                return "", 401, {"HX-Redirect": url_for("auth.two_factor")}
            return redirect(url_for("auth.two_factor"))
        return None

    @app.context_processor
    def layout_context():
        from app.blueprints.apartment.current import current_premises
        from app.blueprints.home.nav import navigation

        if not has_request_context() or not current_user.is_authenticated:  # e.g. emails rendered from CLI
            return {"nav": [], "current_premises": None}
        return {"nav": navigation(current_user), "current_premises": current_premises()}

    @app.after_request
    def security_headers(response):
        add_vary(response)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint == "static":
            if "v" in request.args:
                response.cache_control.no_cache = None
                response.cache_control.public = True
                response.cache_control.max_age = app.config["STATIC_MAX_AGE"]
                response.cache_control.immutable = True
        elif current_user.is_authenticated:
            # Personal data: never stored by shared caches or the browser's back-forward cache.
            response.cache_control.no_store = True
            response.cache_control.private = True
        return response

    @app.teardown_request
    def rollback_on_error(exc):
        if exc is not None:
            db.session.rollback()


def _init_errors(app: Flask) -> None:
    def page(template: str, code: int):
        def handler(error):
            if code == 500:
                db.session.rollback()
            return render_template(template, error=error), code

        return handler

    app.register_error_handler(403, page("errors/403.html", 403))
    app.register_error_handler(404, page("errors/404.html", 404))
    app.register_error_handler(405, page("errors/405.html", 405))
    app.register_error_handler(429, page("errors/429.html", 429))
    app.register_error_handler(500, page("errors/500.html", 500))

    from flask_wtf.csrf import CSRFError

    from app.services.errors import Conflict, Invalid, Locked, NotAllowed, NotFound

    app.register_error_handler(CSRFError, page("errors/csrf.html", 400))

    # A DomainError a route did not handle itself: the status the design asks for, with its message.
    def domain(code: int):
        def handler(error):
            db.session.rollback()
            return render_template("errors/domain.html", message=error.message, code=code), code

        return handler

    app.register_error_handler(NotAllowed, page("errors/403.html", 403))
    app.register_error_handler(NotFound, page("errors/404.html", 404))
    app.register_error_handler(Invalid, domain(422))
    app.register_error_handler(Locked, domain(409))
    app.register_error_handler(Conflict, domain(409))


def _init_hardening(app: Flask) -> None:
    """Ids in URLs within our keys; a NUL anywhere in a request refused before it reaches a view or the database;
    bodies over MAX_CONTENT_LENGTH (config) answered 413; a database refusing a value answered 400, not 500."""
    from sqlalchemy.exc import DataError
    from werkzeug.routing import IntegerConverter

    from app.access import MAX_ID

    class IdConverter(IntegerConverter):
        """`<int:...>` of every route: anything above a 32-bit key is a 404, never a database error."""

        def __init__(self, url_map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
            super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    app.url_map.converters["int"] = IdConverter

    def has_nul(value) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, dict):
            return any(has_nul(k) or has_nul(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return any(has_nul(v) for v in value)
        return False

    @app.before_request
    def refuse_nul():
        # Last resort: forms refuse control characters next to the field (app/forms.py); a NUL that gets this
        # far (a hand-made request, a field read without a form) must never reach PostgreSQL as a 500.
        values = [request.view_args or {}, *request.args.lists()]
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            values += list(request.form.lists())
            if request.is_json:
                values.append(request.get_json(silent=True))
        if any(has_nul(v) for v in values):
            return render_template("errors/400.html", reason="characters"), 400
        return None

    def bad_request(reason: str):
        def handler(error):
            db.session.rollback()
            return render_template("errors/400.html", reason=reason), 400

        return handler

    app.register_error_handler(DataError, bad_request("data"))

    @app.errorhandler(413)
    def too_large(error):
        limit_mb = (request.max_content_length or app.config["MAX_CONTENT_LENGTH"] or 0) // (1024 * 1024)
        return render_template("errors/413.html", limit_mb=limit_mb), 413
