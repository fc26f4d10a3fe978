"""Benchmark data (not a test): the 20,000-apartment portal of the 25th on PostgreSQL, built with COPY.

100 buildings × 200 flats (5 entrances × 10 floors × 4), one owner account a flat (login `o<building>-<flat>`,
password `bench-owner-2026`), a council chair a building (`c<building>`), one staff account (`bench-staff`),
three meters a flat (cold, hot water, electricity: 60,000), 24 months of readings (1.44 M) and 12 months of
charges for 6 services (1.44 M). Ids are assigned here, so nothing is read back (no RETURNING); the sequences
are moved past them at the end.

Run (a throw-away database: it is emptied first):
    createdb -h 127.0.0.1 -U postgres bench_scale
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale \\
        .venv/bin/python -m bench.scale [--buildings 100] [--flats 200] [--months 24] [--charge-months 12]
"""

import argparse
import itertools
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.services import passwords
from app.services.periods import add_months, current_month
from config import TestConfig

OWNER_PASSWORD = "bench-owner-2026"
SERVICES = [  # code, name, unit, method, tariff
    ("SOD", "Содержание жилого помещения", "м²", "area", Decimal("28.40")),
    ("HVS", "Холодное водоснабжение", "м³", "meter", Decimal("48.20")),
    ("GVS", "Горячее водоснабжение", "м³", "meter", Decimal("221.50")),
    ("EL", "Электроснабжение", "кВт·ч", "meter", Decimal("4.26")),
    ("OTOP", "Отопление", "Гкал", "heating", Decimal("2830.11")),
    ("TKO", "Обращение с ТКО", "чел.", "residents", Decimal("176.70")),
]
METERS = [("cold_water", "ХВС", (2, 9)), ("hot_water", "ГВС", (1, 6)), ("electricity", "ЭЛ", (80, 260))]


def defaults_for(table) -> dict:
    """Python-side scalar/callable defaults of a table (COPY bypasses SQLAlchemy, so fill them in once)."""
    values = {}
    for column in table.c:
        default = column.default
        if default is None or column.primary_key:
            continue
        if default.is_scalar:
            values[column.name] = default.arg
        elif default.is_callable:
            values[column.name] = default.arg(None)
    return values


class Copier:
    def __init__(self, cursor):
        self.cursor, self.counts = cursor, {}

    def copy(self, name: str, rows) -> None:
        """COPY rows (dicts with the same keys) into table `name`, adding the model's defaults."""
        table = db.metadata.tables[name]
        base = defaults_for(table)
        it = iter(rows)
        first = next(it, None)
        if first is None:
            return
        columns = list(dict.fromkeys([*base, *first]))
        n = 0
        with self.cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as cp:
            for r in itertools.chain([first], it):
                merged = base | r
                cp.write_row(tuple(_plain(merged.get(c)) for c in columns))
                n += 1
        self.counts[name] = self.counts.get(name, 0) + n


def _plain(value):
    if hasattr(value, "value") and not isinstance(value, Decimal | datetime):  # StrEnum members
        return value.value
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return value


def build(*, buildings: int, flats: int, months: int, charge_months: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    this_month = current_month(now)
    owner_hash = passwords.hash_password(OWNER_PASSWORD)  # one argon2 hash for all: hashing 20k would take minutes
    raw = db.engine.raw_connection()
    cursor = raw.driver_connection.cursor()
    c = Copier(cursor)
    c.copy("organisations", [dict(id=1, kind="uk", name="ООО «УК Бенч»", short_name="УК Бенч", inn="7536000001")])
    c.copy("services", [dict(id=i, organisation_id=1, code=code, name=name, unit=unit, method=method,
                             sort_order=i * 10) for i, (code, name, unit, method, _) in enumerate(SERVICES, 1)])
    c.copy("users", [dict(id=1, login="bench-staff", full_name="Бенч Сотрудник", password_hash=owner_hash)])
    c.copy("staff_memberships", [dict(id=1, user_id=1, organisation_id=1, role="staff")])
    c.copy("buildings", [dict(id=b, organisation_id=1, street="ул. Бенчмарк", house=str(b), entrances=5, floors=10,
                              reading_start_day=1, reading_end_day=28) for b in range(1, buildings + 1)])

    def premises_rows():
        for b in range(1, buildings + 1):
            for n in range(1, flats + 1):
                pid = (b - 1) * flats + n
                yield dict(id=pid, building_id=b, number=str(n), entrance=(n - 1) // (flats // 5 or 1) + 1,
                           floor=((n - 1) // 4) % 10 + 1, account_number=f"9{pid:07d}",
                           total_area=Decimal(rng.randint(300, 900)) / 10, registered_residents=rng.randint(1, 4))

    c.copy("premises", premises_rows())
    total = buildings * flats
    c.copy("users", ({"id": 1 + p, "login": f"o{(p - 1) // flats + 1}-{(p - 1) % flats + 1}",
                      "full_name": f"Собственник {p}", "password_hash": owner_hash} for p in range(1, total + 1)))
    c.copy("ownerships", ({"id": p, "user_id": 1 + p, "premises_id": p} for p in range(1, total + 1)))
    council_base = 1 + total
    c.copy("users", ({"id": council_base + b, "login": f"c{b}", "full_name": f"Председатель совета {b}",
                      "password_hash": owner_hash} for b in range(1, buildings + 1)))
    c.copy("council_memberships", ({"id": b, "user_id": council_base + b, "building_id": b, "is_chair": True}
                                   for b in range(1, buildings + 1)))

    c.copy("meters", ({"id": (p - 1) * len(METERS) + k, "premises_id": p, "building_id": (p - 1) // flats + 1,
                       "resource": resource, "serial_number": f"{prefix}{p:06d}", "digits": 6, "initial_value": 0}
                      for p in range(1, total + 1) for k, (resource, prefix, _) in enumerate(METERS, 1)))

    periods = [add_months(this_month, -back) for back in range(months, 0, -1)]

    def reading_rows():
        rid = 0
        for p in range(1, total + 1):
            for k, (_, _, (lo, hi)) in enumerate(METERS, 1):
                value = rng.randint(10, 500)
                mid = (p - 1) * len(METERS) + k
                for period in periods:
                    value += rng.randint(lo, hi)
                    rid += 1
                    yield {"id": rid, "meter_id": mid, "period": period, "value": value, "source": "owner",
                           "entered_at": datetime.combine(period, datetime.min.time(), UTC) + timedelta(days=52),
                           "version": 1}

    c.copy("readings", reading_rows())
    charge_periods = [add_months(this_month, -back) for back in range(charge_months, 0, -1)]

    def charge_rows():
        cid = 0
        for p in range(1, total + 1):
            for period in charge_periods:
                for s, (*_, tariff) in enumerate(SERVICES, 1):
                    volume = Decimal(rng.randint(10, 900)) / 10
                    amount = (volume * tariff).quantize(Decimal("0.01"))
                    cid += 1
                    yield {"id": cid, "premises_id": p, "period": period, "service_id": s, "volume": volume,
                           "tariff": tariff, "amount": amount, "total": amount, "source": "computed",
                           "created_at": now}

    c.copy("charges", charge_rows())
    for name in c.counts:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
    raw.driver_connection.commit()
    cursor.execute("ANALYZE")
    raw.driver_connection.commit()
    raw.close()
    return c.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=100)
    parser.add_argument("--flats", type=int, default=200)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--charge-months", type=int, default=12)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        sys.exit("BENCH_DATABASE_URL=postgresql+psycopg://… (a throw-away database: it is emptied first)")
    app = create_app(type("ScaleConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, "TESTING": False}))
    with app.app_context():
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        migrated = time.perf_counter()
        counts = build(buildings=args.buildings, flats=args.flats, months=args.months,
                       charge_months=args.charge_months)
        done = time.perf_counter()
    print(f"load average {os.getloadavg()[0]:.1f}; schema {migrated - started:.1f} s, data {done - migrated:.1f} s")
    for name, n in counts.items():
        print(f"  {name:22} {n:>10,}".replace(",", " "))


if __name__ == "__main__":
    main()
