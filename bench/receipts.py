"""Benchmark (not a test): a receipt PDF cold and cached, and N receipts rendered the way a building batch does.

Run: `.venv/bin/python -m bench.receipts [--rounds 10] [--n 1000]` (throw-away SQLite with the demo data, or
BENCH_DATABASE_URL). N receipts cycle over the premises of the demo's biggest building (ул. Амурская, 108) and are
rendered in chunks of 10 into one PDF, as app/services/receipt_batches.py does; the figure is for one core.
"""

import argparse
import os
import statistics
import tempfile
import time

from flask_migrate import upgrade
from sqlalchemy import event, select

from app import create_app
from app.extensions import db
from app.models import Building, Premises, ReceiptPdf, Statement
from app.services import receipts
from config import TestConfig


def main(rounds: int = 10, n: int = 1000, chunk: int = 10) -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app(type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, "TESTING": False}))
    with app.app_context(), app.test_request_context():
        upgrade()
        app.test_cli_runner().invoke(args=["seed-demo"])
        big = db.session.scalar(select(Building).where(Building.house == "108"))
        period = db.session.scalar(select(Statement.period).order_by(Statement.period.desc()).limit(1))
        premises = sorted(db.session.scalars(select(Premises).join(Statement).where(
            Premises.building_id == big.id, Statement.period == period)), key=lambda p: p.sort_key)
        receipts.receipt_pdf(premises[-1], period)  # warm up WeasyPrint (fonts, imports)
        queries = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
        cold, cached, cached_queries = [], [], []
        for p in premises[:rounds]:
            t = time.perf_counter()
            pdf, hit = receipts.receipt_pdf(p, period)
            cold.append((time.perf_counter() - t) * 1000)
            assert not hit
            queries.clear()
            t = time.perf_counter()
            _, hit = receipts.receipt_pdf(p, period)
            cached.append((time.perf_counter() - t) * 1000)
            cached_queries.append(len(queries))
            assert hit
        print(f"one receipt, cold (data + render + store): median {statistics.median(cold):.0f} ms, "
              f"max {max(cold):.0f} ms, {len(pdf)} bytes")
        print(f"one receipt, cached (key + read): median {statistics.median(cached):.1f} ms, "
              f"max {max(cached):.1f} ms, {max(cached_queries)} query(ies)")
        _qr_report(receipts.receipt_data(premises[0], period))
        db.session.query(ReceiptPdf).delete()
        db.session.commit()
        _batch(premises, period, n, chunk)


def _qr_report(data) -> None:
    import segno

    if not data.qr_text:
        print(f"no QR: {getattr(data, 'qr_problem', None)}")
        return
    # qr_bytes: the encoding the ST0001x header names (the code before this change had UTF-8 only)
    payload = receipts.qr_bytes(data.qr_text) if hasattr(receipts, "qr_bytes") else data.qr_text.encode()
    print(f"payment QR: {len(payload)} bytes, version {segno.make(payload, error='m', mode='byte').version} (level M)")


def _batch(premises, period, n: int, chunk: int) -> None:
    from weasyprint import HTML

    order = [premises[i % len(premises)] for i in range(n)]
    t = time.perf_counter()
    documents = []
    for start in range(0, n, chunk):
        part = [receipts.receipt_data(p, period) for p in order[start:start + chunk]]
        documents.append(HTML(string=receipts.render_receipts_html(part)).render())
    pages = [page for document in documents for page in document.pages]
    pdf = documents[0].copy(pages).write_pdf()
    seconds = time.perf_counter() - t
    print(f"{n} receipts in one PDF (chunks of {chunk}): {seconds:.1f} s ({seconds / n * 1000:.0f} ms per receipt), "
          f"{len(pages)} pages, {len(pdf) / 1e6:.1f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=10)
    args = parser.parse_args()
    main(args.rounds, args.n, args.chunk)
