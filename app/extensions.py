"""Extension objects, bound to the app in create_app()."""

from flask import Flask, request, session
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Stable constraint names so that Alembic migrations work on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()


class StaticCompressCache:
    """Compressed static files, kept per process: their URLs carry a content hash (?v=…), so a key never goes
    stale. Only keys of static files are stored (see `compress_cache_key`); pages are compressed afresh every time
    and never cached, as they carry personal data."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        if ";static:" in key and len(self.data) < 256:
            self.data[key] = value


def compress_cache_key(req) -> str:
    if req.endpoint == "static":
        return "static:" + req.full_path
    return f"page:{id(req)}"  # never stored by StaticCompressCache


class PortalCompress(Compress):
    """Compression by the app itself (gzip and brotli) for when no proxy compresses (`make run`, gunicorn alone).

    Only text types above COMPRESS_MIN_SIZE; PDFs, PNGs, XLSX and every other binary type pass as they are.
    Behind nginx the proxy sees Content-Encoding and passes the body through. Set COMPRESS_REGISTER=False
    (env PORTAL_COMPRESS=0) to leave it all to the proxy.
    """

    def init_app(self, app: Flask) -> None:
        import os

        defaults = {
            "COMPRESS_REGISTER": os.environ.get("PORTAL_COMPRESS", "1") != "0",
            "COMPRESS_MIMETYPES": ["text/html", "text/css", "text/plain", "text/csv", "text/javascript",
                                   "application/javascript", "application/json", "image/svg+xml"],
            "COMPRESS_ALGORITHM": ["br", "gzip"],
            "COMPRESS_ALGORITHM_STREAMING": ["br"],  # Flask-Compress cannot stream gzip
            "COMPRESS_BR_LEVEL": 5,
            "COMPRESS_LEVEL": 6,
            "COMPRESS_MIN_SIZE": 512,
            "COMPRESS_CACHE_BACKEND": StaticCompressCache,
            "COMPRESS_CACHE_KEY": compress_cache_key,
        }
        for key, value in defaults.items():
            app.config.setdefault(key, value)
        super().init_app(app)
        if app.config["COMPRESS_REGISTER"]:
            # Registered after Compress: runs before it. A static file is a streamed file wrapper; read it into
            # memory (they are small) so it is compressed once, cached, and not re-compressed on every request.
            app.after_request(_materialise_static)

    def after_request(self, response):
        if response.status_code == 206:  # a byte range of the file as stored: never re-encode it
            return response
        return super().after_request(response)


def _materialise_static(response):
    if request.endpoint == "static" and response.status_code == 200 and response.is_streamed:
        response.direct_passthrough = False
        response.set_data(response.get_data())
    return response


compress = PortalCompress()


def client_ip() -> str:
    return get_remote_address() or "unknown"


class PortalLimiter(Limiter):
    """Flask-Limiter that refuses to run production on per-process memory storage.

    With memory:// every gunicorn worker counts on its own, so the login limits multiply by the number of
    workers and reset on restart. A config with RATELIMIT_REQUIRE_SHARED_STORAGE (ProdConfig) must name a
    shared store (RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0) unless it is debug/testing or
    RATELIMIT_ALLOW_MEMORY=1 says explicitly that one process is all there is.
    """

    def init_app(self, app: Flask) -> None:
        uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
        if (
            uri.startswith("memory://")
            and app.config.get("RATELIMIT_REQUIRE_SHARED_STORAGE")
            and not (app.debug or app.testing or app.config.get("RATELIMIT_ALLOW_MEMORY"))
        ):
            raise RuntimeError(
                "Rate limits need shared storage in production: set RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 "
                "(or RATELIMIT_ALLOW_MEMORY=1 for a single process)"
            )
        super().init_app(app)


limiter = PortalLimiter(key_func=client_ip, default_limits=[])


def _submitted_login() -> str:
    return (request.form.get("login") or "").strip().lower()[:100]


def login_form_key() -> str:
    """Rate-limit key for the account being tried (the submitted login), from any address."""
    return "login:" + _submitted_login()


def login_account_ip_key() -> str:
    """Rate-limit key for one account tried from one address: what a guesser behind one address hits first."""
    return f"login-ip:{_submitted_login()}|{client_ip()}"


def login_ip_key() -> str:
    """The ceiling for one address over all accounts (high: a block of flats may share one NAT address)."""
    return "login-from:" + client_ip()


def two_factor_key() -> str:
    """The account at the second login step (kept in the session between the two steps)."""
    pending = session.get("2fa_pending") or {}
    return f"2fa:{pending.get('u', 'none')}"


def actor_key() -> str:
    """Rate-limit key for the logged-in actor (e.g. how many link requests one manager sends)."""
    from flask_login import current_user

    return f"actor:{current_user.get_id() and current_user.id}" if current_user.is_authenticated else client_ip()
