"""Open-loop load generator (not a test): a constant arrival rate of owner requests, distinct owners.

Requests are scheduled at fixed times (rate R for D seconds) whatever the server does, and each latency is
measured from its *scheduled* start, so a server that falls behind is charged for the queue it builds (no
coordinated omission). Every request carries `X-Request-Start: t=<scheduled start>` as nginx would set it, so the
app's queue-time shedding (app/overload.py) sees the real waiting time without nginx in front.

Sessions: `--sessions N` opens N sessions of distinct owners (logins `o<b>-<n>` of bench/scale.py) directly in the
database with the app's own service and signs their cookies with SECRET_KEY (the server must use the same key),
so the run measures pages, not argon2 logins.

    SECRET_KEY=bench-secret-0123456789 DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_overload \\
        .venv/bin/python -m bench.load --url http://127.0.0.1:8000 --rate 50 --duration 20 --sessions 2000
    .venv/bin/python -m bench.load --url http://127.0.0.1:8001 --paths /fortunes --rate 200 --duration 10

Only loopback targets are allowed. The run is bounded: at most rate × duration requests, each with a timeout.
"""

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from urllib.parse import urlsplit

OWNER_MIX = [("/home", 50), ("/readings/", 25), ("/receipts/", 15), ("/apartment/", 10)]


def owner_cookies(n: int, seed: int = 1) -> list[str]:
    """Session cookies of n distinct owners (opened in the database through app.services.sessions)."""
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.services import sessions

    app = create_app("config.Config")
    with app.app_context():
        logins = list(db.session.scalars(select(User.login).where(User.login.like("o%-%"))))
        random.Random(seed).shuffle(logins)
        users = list(db.session.scalars(select(User).where(User.login.in_(logins[:n]))))
        serializer = app.session_interface.get_signing_serializer(app)
        name = app.config["SESSION_COOKIE_NAME"]
        cookies = []
        for user in users:
            token = sessions.session_start(user=user, grace_starts=False)
            cookies.append(f"{name}={serializer.dumps({'_user_id': token, '_fresh': True})}")
        return cookies


async def one(host: str, port: int, path: str, cookie: str | None, scheduled: float, timeout: float) -> tuple:
    """(status or 'timeout'/'error', latency from the scheduled start in ms, bytes)."""

    async def go():
        reader, writer = await asyncio.open_connection(host, port)
        head = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
                "Accept-Encoding: br, gzip", f"X-Request-Start: t={scheduled:.3f}"]
        if cookie:
            head.append(f"Cookie: {cookie}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        data = await reader.read()
        writer.close()
        return int(data.split(b" ", 2)[1]), len(data)

    wall_scheduled = scheduled
    try:
        status, size = await asyncio.wait_for(go(), timeout)
    except TimeoutError:
        return "timeout", (time.time() - wall_scheduled) * 1000, 0
    except (OSError, ValueError, IndexError):
        return "error", (time.time() - wall_scheduled) * 1000, 0
    return status, (time.time() - wall_scheduled) * 1000, size


async def run(url: str, paths: list[tuple[str, int]], cookies: list[str], rate: float, duration: float,
              timeout: float, seed: int = 2) -> list[tuple]:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("bench.load only targets this machine (127.0.0.1)")
    rng = random.Random(seed)
    choices, weights = zip(*paths, strict=True)
    total = int(rate * duration)
    start = time.time() + 0.2
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        path = rng.choices(choices, weights)[0]
        cookie = cookies[i % len(cookies)] if cookies else None
        tasks.append(asyncio.create_task(one(parts.hostname, parts.port or 80, path, cookie, scheduled, timeout)))
    return await asyncio.gather(*tasks)


def report(results: list[tuple], rate: float, duration: float) -> str:
    ok = [lat for status, lat, _ in results if status == 200]
    shed = sum(1 for status, *_ in results if status == 503)
    timeouts = sum(1 for status, *_ in results if status == "timeout")
    other = len(results) - len(ok) - shed - timeouts

    def q(p):
        return statistics.quantiles(ok, n=100)[p - 1] if len(ok) >= 2 else float("nan")

    return (f"rate {rate:g}/s × {duration:g} s = {len(results)} requests: 200 {len(ok)}, 503 {shed}, "
            f"timeouts {timeouts}, other {other}; latency of 200s p50 {q(50):.0f} ms, p95 {q(95):.0f} ms, "
            f"p99 {q(99):.0f} ms, max {max(ok, default=float('nan')):.0f} ms; load average "
            f"{os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--sessions", type=int, default=0, help="distinct owners (0: anonymous requests)")
    parser.add_argument("--paths", default="", help="comma-separated paths instead of the owner mix")
    args = parser.parse_args()
    if args.rate * args.duration > 20_000 or args.duration > 120:
        sys.exit("keep runs short: at most 20 000 requests and 120 s")
    paths = [(p, 1) for p in args.paths.split(",") if p] or OWNER_MIX
    cookies = owner_cookies(args.sessions) if args.sessions else []
    results = asyncio.run(run(args.url, paths, cookies, args.rate, args.duration, args.timeout))
    print(report(results, args.rate, args.duration))


if __name__ == "__main__":
    main()
