"""Benchmark (not a test): a receipt PDF cold and cached, and all 120 receipts of a building in one PDF.

Run: `.venv/bin/python -m bench.receipts` (throw-away SQLite with the demo data).
"""

import os
import statistics
import tempfile
import time

from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Building, Premises, ReceiptPdf, Statement
from app.services import receipt_batches, receipts
from config import TestConfig


def main(rounds: int = 10) -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app(type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, "TESTING": False}))
    with app.app_context(), app.test_request_context():
        upgrade()
        app.test_cli_runner().invoke(args=["seed-demo"])
        big = db.session.scalar(select(Building).where(Building.house == "108"))
        period = db.session.scalar(select(Statement.period).order_by(Statement.period.desc()).limit(1))
        premises = sorted(db.session.scalars(select(Premises).where(Premises.building_id == big.id)),
                          key=lambda p: p.sort_key)
        receipts.receipt_pdf(premises[-1], period)  # warm up WeasyPrint (fonts, imports)
        cold, cached = [], []
        for p in premises[:rounds]:
            t = time.perf_counter()
            pdf, hit = receipts.receipt_pdf(p, period)
            cold.append((time.perf_counter() - t) * 1000)
            assert not hit
            t = time.perf_counter()
            _, hit = receipts.receipt_pdf(p, period)
            cached.append((time.perf_counter() - t) * 1000)
            assert hit
        print(f"one receipt, cold (render + store): median {statistics.median(cold):.0f} ms, "
              f"max {max(cold):.0f} ms, {len(pdf)} bytes")
        print(f"one receipt, cached (data hash + read): median {statistics.median(cached):.1f} ms, "
              f"max {max(cached):.1f} ms")
        db.session.query(ReceiptPdf).delete()
        db.session.commit()
        batch = receipt_batches.batch_create(actor=_staff(), building=big, period=period)
        t = time.perf_counter()
        done = receipt_batches.batch_run(batch.id)
        seconds = time.perf_counter() - t
        print(f"building of {done.total} premises in one PDF: {seconds:.1f} s "
              f"({seconds / done.total * 1000:.0f} ms per receipt), {len(done.pdf) / 1e6:.1f} MB")


def _staff():
    from app.models import User

    return db.session.scalar(select(User).where(User.login == "staff"))


if __name__ == "__main__":
    main()
