"""gunicorn for the portal: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (systemd: deploy/systemd/portal-web.service).

Sync workers: requests are short (PDF batches, mail and reminders run in the job consumers, deploy/systemd/
portal-jobs@.service), so a worker is never held for long. nginx buffers slow clients in front of them.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))  # longer than this is a bug (heavy work belongs to the job
# engine): the worker is killed and replaced
graceful_timeout = 20
keepalive = 5  # behind nginx's upstream keepalive
# The listen queue. Overload (issue #13): a request that still waits in it after OVERLOAD_QUEUE_LIMIT_MS (3 s,
# app/overload.py, measured from nginx's X-Request-Start) is answered with a fast 503 + Retry-After instead of being
# worked on after its client left. The queue must be long enough to absorb a burst (the 25th, ~200 req/s for a
# few seconds) so those requests are shed rather than refused: at ~300 req/s served by 5 workers, 3 s of queue is
# ~900 requests; beyond the backlog the kernel drops connections and nginx answers 502 after
# proxy_connect_timeout. The kernel caps it at net.core.somaxconn (4 096 on current kernels).
backlog = int(os.environ.get("GUNICORN_BACKLOG", 2048))
max_requests = 5000  # recycle workers now and then (memory stayed flat over 5,000 requests; this is a guard)
max_requests_jitter = 500
forwarded_allow_ips = "127.0.0.1"  # trust X-Forwarded-* from the local nginx only
accesslog = "-"
errorlog = "-"
loglevel = "info"
preload_app = False  # each worker opens its own database pool
