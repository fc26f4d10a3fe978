"""Configuration: everything comes from environment variables with safe defaults."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Accept the common postgres:// and postgresql:// forms and use psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    return f"sqlite:///{INSTANCE_DIR / 'portal.db'}"


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-secret-change-me")
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    PORTAL_NAME = os.environ.get("PORTAL_NAME", "Личный кабинет собственника")
    PORTAL_URL = os.environ.get("PORTAL_URL", "http://127.0.0.1:5000")
    TIMEZONE = "Asia/Chita"

    # Sessions and cookies
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session

    # Passwords: argon2id, OWASP minimum (m=19 MiB, t=2, p=1)
    ARGON2_TIME_COST = 2
    ARGON2_MEMORY_COST = 19 * 1024
    ARGON2_PARALLELISM = 1
    # Hashes at once per process (a login burst must not starve page traffic; total = workers × this)
    ARGON2_MAX_CONCURRENT = int(os.environ.get("ARGON2_MAX_CONCURRENT", "1"))
    # A request that waited longer than this in the queue (nginx's X-Request-Start) gets a fast 503; 0 = off
    OVERLOAD_QUEUE_LIMIT_MS = int(os.environ.get("OVERLOAD_QUEUE_LIMIT_MS", "3000"))
    TEMP_PASSWORD_DAYS = 14

    # Rate limits (Flask-Limiter); memory by default, Redis in production
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = False
    # Failed logins (docs/decisions.md «Login rate limits»): one account from one address is limited
    # tightly; one account from everywhere and one address over all accounts (a NAT) have higher ceilings.
    RATELIMIT_ALLOW_MEMORY = _bool("RATELIMIT_ALLOW_MEMORY")  # production on memory:// only if set
    LOGIN_LIMIT_PER_ACCOUNT_IP = "5 per minute; 20 per hour"
    LOGIN_LIMIT_PER_ACCOUNT = "20 per minute; 100 per hour"
    LOGIN_LIMIT_PER_IP = "100 per minute; 1000 per hour"
    # Second factor: wrong codes per account; days staff, council and operators may still log in without it
    TWO_FACTOR_LIMIT = "5 per minute; 20 per hour"
    TWO_FACTOR_GRACE_DAYS = int(os.environ.get("TWO_FACTOR_GRACE_DAYS", "14"))

    # Requests to link an existing account to a premises, per manager (probing logins stays slow)
    LINK_REQUEST_LIMIT = os.environ.get("LINK_REQUEST_LIMIT", "30 per hour; 100 per day")

    # Mail
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_USE_SSL = _bool("MAIL_USE_SSL")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "portal@localhost")
    MAIL_SUPPRESS_SEND = _bool("MAIL_SUPPRESS_SEND")

    # Request bodies: at most 35 MB (3 appeal photos of 10 MB each and the form); larger ones are answered 413
    # before they are read. Each upload has its own, smaller limit checked where it is read.
    MAX_CONTENT_LENGTH = 35 * 1024 * 1024

    # Static files carry a content hash in their URL and are cached for a year
    STATIC_MAX_AGE = 60 * 60 * 24 * 365

    # How often pages with a live status (appeals) ask the server for changes
    LIVE_POLL_SECONDS = int(os.environ.get("LIVE_POLL_SECONDS", "30"))

    # Background jobs (app/jobs.py, Huey): sqlite:///… (default: no extra server, `make run` starts a consumer),
    # redis://host:6379/0 in production (consumers on several machines), "immediate" in tests
    JOBS_URL = os.environ.get("JOBS_URL", f"sqlite:///{INSTANCE_DIR / 'jobs.db'}")
    SMTP_TIMEOUT = int(os.environ.get("SMTP_TIMEOUT", "30"))  # seconds per SMTP command

    # Version of the mailing consent text (152-FZ art. 9): bump on any change of the text
    CONSENT_TEXT_VERSION = "2026-11-01"


class DevConfig(Config):
    DEBUG = True


class ProdConfig(Config):
    REQUIRE_SECRET_KEY = True
    RATELIMIT_REQUIRE_SHARED_STORAGE = True
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    RATELIMIT_STORAGE_URI = "memory://"
    MAIL_SUPPRESS_SEND = True
    PORTAL_URL = "http://localhost"
    JOBS_URL = "immediate"
