"""Queue-time shedding: a request that waited too long before a worker picked it up gets a fast 503.

On the 25th a burst past capacity used to snowball: gunicorn's listen queue filled, every request waited behind
the ones whose clients had already given up, and the backlog lasted minutes (issue #13). nginx stamps each request
with the time it received it (`proxy_set_header X-Request-Start "t=${msec}";`, deploy/nginx-portal.conf); when a
sync worker finally takes the request, this middleware compares that stamp with the clock. Past the limit
(OVERLOAD_QUEUE_LIMIT_MS, 3 s by default) the client has most likely left or is about to: the worker answers a
small Russian 503 page with Retry-After in well under a millisecond — no session, no database, no template — and
moves on to a request that can still be served in time.

Never shed: static files (the page the owner already has must keep its CSS) and health checks. Without the
header (`make run`, tests, a proxy that does not set it) nothing is shed. Gunicorn itself cannot tell how long a
connection sat in the kernel's listen queue, so the proxy's stamp is the only honest queue clock; the backlog and
timeouts in deploy/gunicorn.conf.py bound the queue's length.

It is a WSGI middleware around `app.wsgi_app`, outside Flask, so a shed request costs no request context.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

DEFAULT_LIMIT_MS = 3000
RETRY_AFTER_SECONDS = 60
NEVER_SHED_PREFIXES = ("/static/", "/health", "/favicon")

MESSAGE = "Слишком много обращений, повторите через минуту"

PAGE = (
    '<!doctype html>\n<html lang="ru"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    f"<title>{MESSAGE}</title></head><body><main><h1>{MESSAGE}</h1>"
    "<p>Сейчас на портал заходит очень много людей, и ваш запрос ждал своей очереди слишком долго. "
    "Ничего не сохранено и не изменено: обновите страницу через минуту.</p></main></body></html>\n"
).encode()

FRAGMENT = f'<p class="cell-msg bad" role="alert">{MESSAGE}</p>'.encode()

HEADERS = [
    ("Retry-After", str(RETRY_AFTER_SECONDS)),
    ("Cache-Control", "no-store"),
    ("Vary", "HX-Request, HX-Target, Accept-Encoding"),
    ("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
]


def parse_request_start(value: str | None) -> float | None:
    """Seconds since the epoch from an X-Request-Start header, or None when it is missing or unreadable.

    Accepts nginx's `t=1764000000.123` (seconds with milliseconds) and the integer forms other proxies send:
    milliseconds (`t=1764000000123`) and microseconds (`t=1764000000123456`).
    """
    if not value:
        return None
    text = value.strip()
    if text.startswith("t="):
        text = text[2:]
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number <= 0 or number == float("inf"):  # NaN, negative, infinite
        return None
    if number > 1e14:
        return number / 1e6
    if number > 1e11:
        return number / 1e3
    return number


def queue_wait_ms(environ: dict, now: float) -> float | None:
    """How long the proxy says this request has been waiting, in ms (None: not known)."""
    started = parse_request_start(environ.get("HTTP_X_REQUEST_START"))
    if started is None:
        return None
    return (now - started) * 1000.0


def never_shed(path: str) -> bool:
    return path.startswith(NEVER_SHED_PREFIXES)


class QueueShedder:
    """WSGI middleware: 503 + Retry-After for requests that waited in the queue longer than `limit_ms`."""

    def __init__(self, wsgi_app: Callable, *, limit_ms: float, clock: Callable[[], float] = time.time,
                 on_shed: Callable[[dict, float], None] | None = None):
        self.wsgi_app = wsgi_app
        self.limit_ms = limit_ms
        self.clock = clock
        self.on_shed = on_shed
        self.shed_count = 0

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.limit_ms > 0 and not never_shed(environ.get("PATH_INFO", "")):
            waited = queue_wait_ms(environ, self.clock())
            if waited is not None and waited > self.limit_ms:
                self.shed_count += 1
                if self.on_shed is not None:
                    self.on_shed(environ, waited)
                htmx = environ.get("HTTP_HX_REQUEST") == "true"
                body = FRAGMENT if htmx else PAGE
                headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                           *HEADERS]
                start_response("503 Service Unavailable", headers)
                return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
        return self.wsgi_app(environ, start_response)


def init_app(app) -> None:
    """Wrap the app: limit from OVERLOAD_QUEUE_LIMIT_MS (config or environment; 0 turns shedding off)."""
    limit = app.config.get("OVERLOAD_QUEUE_LIMIT_MS")
    if limit is None:
        limit = os.environ.get("OVERLOAD_QUEUE_LIMIT_MS", DEFAULT_LIMIT_MS)
    logger = app.logger

    def log(environ: dict, waited: float) -> None:
        logger.warning("shed %s %s after %.0f ms in the queue", environ.get("REQUEST_METHOD"),
                       environ.get("PATH_INFO"), waited)

    app.wsgi_app = QueueShedder(app.wsgi_app, limit_ms=float(limit), on_shed=log)
