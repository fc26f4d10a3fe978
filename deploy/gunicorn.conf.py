"""gunicorn for the portal: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (systemd: deploy/systemd/portal-web.service).

Sync workers: requests are short (PDF batches, mail and reminders run in the job consumers, deploy/systemd/
portal-jobs@.service), so a worker is never held for long. nginx buffers slow clients in front of them.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = 30  # a request longer than this is a bug (heavy work belongs to the job engine); the worker is replaced
graceful_timeout = 20
keepalive = 5  # behind nginx's upstream keepalive
backlog = 64  # small: when every worker is busy, nginx answers 502/504 quickly instead of queuing minutes
max_requests = 5000  # recycle workers now and then (memory stayed flat over 5,000 requests; this is a guard)
max_requests_jitter = 500
forwarded_allow_ips = "127.0.0.1"  # trust X-Forwarded-* from the local nginx only
accesslog = "-"
errorlog = "-"
loglevel = "info"
preload_app = False  # each worker opens its own database pool
