"""Benchmark (not a test): credential letters for a building of 200 flats, issued and printed in one request.

Run: `.venv/bin/python -m bench.letters [flats]` (throw-away SQLite). Uses the production argon2 parameters
(config.Config), since hashing 200 temporary passwords is half of the work.
"""

import os
import sys
import tempfile
import time

from flask_migrate import upgrade
from pypdf import PdfReader

from app import create_app
from app.extensions import db
from app.models import Building, Organisation, OwnerRecord, Premises, StaffMembership, User
from app.models.orgs import OrgKind, StaffRole
from app.services import onboarding_letters, passwords
from app.services.letters import credential_letters_pdf
from config import Config, TestConfig


def main(flats: int = 200) -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app(type("BenchConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, "TESTING": False}))
    passwords.configure(time_cost=Config.ARGON2_TIME_COST, memory_cost=Config.ARGON2_MEMORY_COST,
                        parallelism=Config.ARGON2_PARALLELISM)
    with app.app_context(), app.test_request_context():
        upgrade()
        uk = Organisation(kind=OrgKind.UK, name="ООО «УК Бенч»", short_name="УК Бенч", inn="7536000011",
                          address="672000, г. Чита, ул. Ленина, д. 1", phones="+7 3022 00-00-00")
        building = Building(organisation=uk, street="ул. Бенчмарковая", house="200", entrances=5)
        db.session.add_all([uk, building])
        for n in range(1, flats + 1):
            premises = Premises(building=building, number=str(n), entrance=1 + (n - 1) * 5 // flats,
                                account_number=f"9{n:07d}")
            db.session.add(OwnerRecord(premises=premises, full_name=f"Собственникова Анна Петровна {n}"))
        staff = User(login="bench-staff", password_hash="x", full_name="Сотрудник")
        staff.staff_memberships.append(StaffMembership(organisation=uk, role=StaffRole.STAFF))
        db.session.add(staff)
        db.session.commit()
        credential_letters_pdf(letters=[], portal_url="https://dom.example")  # warm up WeasyPrint
        t0 = time.perf_counter()
        result = onboarding_letters.letters_issue(actor=staff, building=building)
        t1 = time.perf_counter()
        pdf = credential_letters_pdf(letters=result.letters, portal_url="https://dom.example")
        t2 = time.perf_counter()
        pages = len(PdfReader(__import__("io").BytesIO(pdf)).pages)
        print(f"{len(result.letters)} accounts issued (argon2id, {Config.ARGON2_MEMORY_COST // 1024} MiB, "
              f"t={Config.ARGON2_TIME_COST}): {t1 - t0:.1f} s")
        print(f"PDF of {pages} pages, {len(pdf) // 1024} KB: {t2 - t1:.1f} s")
        print(f"total: {t2 - t0:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
