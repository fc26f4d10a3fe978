"""The baseline (not a test): a TechEmpower-Fortunes-style Flask page, served like the portal.

One query (all rows of a 12-row table), one row added in memory, sorted, rendered escaped into a Jinja template —
the TechEmpower "Fortunes" test — on the same database (DATABASE_URL) through the same SQLAlchemy engine options,
under the same gunicorn settings (deploy/gunicorn.conf.py), so "owner page ÷ Fortunes" is measured in one run:

    DATABASE_URL=… .venv/bin/gunicorn -c deploy/gunicorn.conf.py -b 127.0.0.1:8001 bench.fortunes:app
    .venv/bin/python -m bench.load --url http://127.0.0.1:8001 --paths /fortunes --rate 200 --duration 10

The table `bench_fortune` is created and filled on first start if missing (a bench database only).
"""

from flask import Flask, render_template_string
from sqlalchemy import create_engine, text

FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
]

TEMPLATE = """<!DOCTYPE html>
<html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>
{% for f in fortunes %}<tr><td>{{ f[0] }}</td><td>{{ f[1] }}</td></tr>
{% endfor %}</table></body></html>"""


def _url() -> str:
    from config import _database_url  # DATABASE_URL, as the portal reads it

    return _database_url()


def create() -> Flask:
    app = Flask(__name__)
    engine = create_engine(_url(), pool_pre_ping=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_fortune (id INTEGER PRIMARY KEY, message VARCHAR(2048))"))
        if not conn.execute(text("SELECT count(*) FROM bench_fortune")).scalar():
            conn.execute(text("INSERT INTO bench_fortune (id, message) VALUES (:id, :message)"),
                         [{"id": i, "message": m} for i, m in enumerate(FORTUNES, 1)])
    engine.dispose()  # each gunicorn worker opens its own pool

    @app.get("/fortunes")
    def fortunes():
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(text("SELECT id, message FROM bench_fortune"))]
        rows.append((0, "Additional fortune added at request time."))
        rows.sort(key=lambda r: r[1])
        return render_template_string(TEMPLATE, fortunes=rows)

    return app


app = create()
