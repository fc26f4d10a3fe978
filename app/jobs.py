"""Background work that must not block web workers (the building's receipts in one PDF).

JOBS_MODE: "thread" (default: a single background thread in the web process, fine for one server),
"external" (production with several servers: `flask receipts work` runs as its own process and picks up
queued batches), or "sync" (tests: run at once in the request).
"""

from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app

_executor: ThreadPoolExecutor | None = None


def submit(fn, *args) -> None:
    app: Flask = current_app._get_current_object()
    mode = app.config.get("JOBS_MODE", "thread")
    if mode == "external":
        return
    if mode == "sync":
        fn(*args)
        return
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portal-jobs")

    def run():
        with app.app_context():
            from app.extensions import db

            try:
                fn(*args)
            finally:
                db.session.remove()

    _executor.submit(run)
