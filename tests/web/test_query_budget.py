"""Fixed cost per request: SQL statements per page (an event on the engine counts every statement).

- every owner page issues at most OWNER_BUDGET statements once the badge is warm (the user, their memberships
  and the session are one query; the unread badge comes with the user's row);
- the same pages on a small portal and on one ten times as large (buildings, premises, meters, readings,
  notices, owners) issue the same number of statements: nothing grows with the data.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import event, func, insert, select

from app.extensions import db as _db
from app.models import (
    Building,
    Meter,
    Notice,
    NoticeTarget,
    Ownership,
    Premises,
    Reading,
    Service,
    Tariff,
    User,
)
from app.services import billing
from app.services import notices as notices_svc
from tests.conftest import login_as
from tests.factories import MeterFactory, password_hash

OWNER_BUDGET = 4
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
OCT = date(2026, 10, 1)

OWNER_PAGES = ["/home", "/readings/", "/receipts/", "/receipts/2026-10", "/apartment/", "/notices/", "/appeals/",
               "/profile/"]
STAFF_PAGES = ["/home", "/manage/", "/manage/buildings/{building}", "/manage/readings", "/manage/appeals",
               "/manage/inbox", "/manage/receipts", "/readings/building", "/notices/"]
COUNCIL_PAGES = ["/home", "/manage/", "/manage/premises/{p3}", "/manage/readings", "/readings/building"]


@pytest.fixture(autouse=True)
def _frozen():
    with freeze_time(NOW):
        yield


class Statements:
    """Every statement sent to the database while the block runs."""

    def __init__(self, engine):
        self.engine, self.sql = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._hit)

    def _hit(self, _conn, _cursor, statement, *_args):
        self.sql.append(" ".join(statement.split()))

    @property
    def count(self) -> int:
        return len(self.sql)


def count_page(client, path: str) -> tuple[int, list[str]]:
    _db.session.expunge_all()  # no help from objects the test has loaded
    with Statements(_db.engine) as statements:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return statements.count, statements.sql


def measure(clients: dict, pages: dict) -> dict:
    """(role, path) -> statements, each page requested twice: the second, warm request is measured (the
    first after a change may count the badge and store it)."""
    result = {}
    for role, paths in pages.items():
        for path in paths:
            count_page(clients[role], path)
            result[role, path] = count_page(clients[role], path)
    return result


@pytest.fixture
def portal(app, world, db):
    """The world with a month billed, meters, readings and notices in the owner's building."""
    s = Service(organisation_id=world.uk.id, code="MAINT", name="Содержание жилого помещения", unit="м²",
                method="area")
    s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=Decimal("30"))]
    db.session.add(s)
    for p in (world.p1, world.p2, world.p3, world.p_b2):
        MeterFactory(premises=p, resource="cold_water")
        MeterFactory(premises=p, resource="hot_water")
    db.session.commit()
    for building in (world.building, world.building2):
        billing.period_close(actor=world.staff, building=building, period=OCT, now=datetime(2026, 11, 1, tzinfo=UTC))
    for user in (world.owner, world.neighbour, world.council):
        user.created_at = NOW - timedelta(days=365)
    db.session.commit()
    return world


def ids_of(world) -> dict:
    """Ids the helpers need after the session has let go of the world's objects."""
    return {"uk": world.uk.id, "uk_other": world.uk_other.id, "building": world.building.id, "p1": world.p1.id,
            "p3": world.p3.id, "staff": world.staff.id}


def grow(ids: dict, units: range) -> None:
    """Bulk-insert `len(units)` units of data: per unit 2 buildings of 20 flats (one per УК), an owner and two
    meters per flat with 12 months of readings, 12 more months for the owner's meters, 5 notices to the owner's
    building and 5 elsewhere. No ORM objects, no RETURNING: a 10× portal takes well under a second."""
    session = _db.session
    hashed = password_hash()
    first_period = date(2025, 11, 1)
    periods = [date(first_period.year + (first_period.month - 1 + m) // 12, (first_period.month - 1 + m) % 12 + 1, 1)
               for m in range(12)]
    next_ids = {model: (session.scalar(select(func.max(model.id))) or 0) + 1
                for model in (Building, Premises, User, Meter, Notice)}
    buildings, premises, users, ownerships, meters, readings, notices, targets = [], [], [], [], [], [], [], []
    for unit in units:
        for org_id in (ids["uk"], ids["uk_other"]):
            b_id = next_ids[Building]
            next_ids[Building] += 1
            buildings.append({"id": b_id, "organisation_id": org_id, "city": "Чита", "street": "ул. Бабушкина",
                              "house": f"{unit}-{org_id}", "entrances": 2, "floors": 5})
            for flat in range(1, 21):
                p_id, u_id = next_ids[Premises], next_ids[User]
                next_ids[Premises] += 1
                next_ids[User] += 1
                premises.append({"id": p_id, "building_id": b_id, "number": str(flat), "entrance": 1 + flat % 2,
                                 "floor": 1, "rooms": 2, "total_area": Decimal("48.60"),
                                 "account_number": f"8{p_id:07d}", "registered_residents": 2})
                users.append({"id": u_id, "login": f"bulk{u_id}", "password_hash": hashed,
                              "full_name": f"Собственник {u_id}", "session_version": 1, "is_active": True,
                              "created_at": NOW - timedelta(days=400)})
                ownerships.append({"user_id": u_id, "premises_id": p_id, "share_num": 1, "share_den": 1})
                for resource in ("cold_water", "hot_water"):
                    m_id = next_ids[Meter]
                    next_ids[Meter] += 1
                    meters.append({"id": m_id, "premises_id": p_id, "building_id": b_id, "resource": resource,
                                   "serial_number": f"B{m_id:07d}", "digits": 5})
                    readings += [{"meter_id": m_id, "period": period, "value": Decimal(10 * i + 1),
                                  "source": "owner", "submitted_at": NOW - timedelta(days=30 * (12 - i))}
                                 for i, period in enumerate(periods)]
        for k in range(10):
            n_id = next_ids[Notice]
            next_ids[Notice] += 1
            notices.append({"id": n_id, "author_role": "staff", "organisation_id": ids["uk"],
                            "category": "info", "title": f"Новость {unit}-{k}", "body": "Текст новости для жителей.",
                            "status": "published", "published_at": NOW - timedelta(days=k * 4, hours=unit),
                            "valid_until": NOW + timedelta(days=14), "urgent": False, "version": 1})
            targets.append({"notice_id": n_id,
                            "building_id": ids["building"] if k % 2 == 0 else buildings[-1]["id"]})
    owner_meters = list(_db.session.scalars(select(Meter.id).where(Meter.premises_id == ids["p1"])))
    for unit in units:  # a year of history further back per unit, for the owner's own meters
        for m_id in owner_meters:
            for month in range(12):
                year = 2024 - unit
                readings.append({"meter_id": m_id, "period": date(year, month + 1, 1), "value": Decimal(month),
                                 "source": "owner", "submitted_at": NOW - timedelta(days=400 + unit * 365)})
    for model, rows in ((Building, buildings), (Premises, premises), (User, users), (Ownership, ownerships),
                        (Meter, meters), (Reading, readings), (Notice, notices), (NoticeTarget, targets)):
        if rows:
            session.execute(insert(model), rows)
    session.commit()
    if _db.engine.dialect.name == "postgresql":  # explicit ids do not move the sequences
        from sqlalchemy import text

        for model in (Building, Premises, User, Meter, Notice):
            table = model.__tablename__
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))
        session.commit()


def _pages(ids):
    fmt = {"building": ids["building"], "p3": ids["p3"]}
    return {"owner": OWNER_PAGES,
            "staff": [p.format(**fmt) for p in STAFF_PAGES],
            "council": [p.format(**fmt) for p in COUNCIL_PAGES]}


def _clients(app, world):
    clients = {role: login_as(app.test_client(), world.by_role(role)) for role in ("owner", "staff", "council")}
    clients["owner"].post("/apartment/switch", data={"premises_id": ids_of(world)["p1"]})
    return clients


# Pages whose own queries (not the fixed cost, which is one statement) still exceed the budget on this branch:
# the page code belongs to the «scale» work of issue #13. strict: once one is fixed, its mark must go.
OVER_BUDGET = {
    "/home": "balance, payments since, meters and two readings queries (app/services/home.py)",
    "/receipts/2026-10": "receipt_data: charges, meters, readings, area, payments, instalments (receipts.py)",
    "/notices/": "pinned, page, targets and reads are four queries (notices.notice_feed)",
}


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=OVER_BUDGET[p])) if p in OVER_BUDGET else p
    for p in OWNER_PAGES
])
def test_owner_page_within_the_fixed_budget(app, portal, path):
    grow(ids_of(portal), range(1))
    client = _clients(app, portal)["owner"]
    count_page(client, path)  # warm: the badge is counted and stored once
    n, sql = count_page(client, path)
    assert n <= OWNER_BUDGET, f"{path}: {n}\n  " + "\n  ".join(s[:160] for s in sql)
    # the fixed cost: one statement loads the user with memberships and session; none loads memberships again
    assert "user_sessions" in sql[0] and "ownerships" in sql[0] and "staff_memberships" in sql[0]
    assert not any("FROM ownerships" in s or "FROM staff_memberships" in s or "FROM council_memberships" in s
                   or "user_sessions" in s for s in sql[1:]), sql


def test_badge_costs_no_query_when_warm_and_one_after_a_change(app, portal):
    """The unread count rides on the user's row; after a publish the next page counts once, then it is warm."""
    ids = ids_of(portal)
    grow(ids, range(1))
    client = _clients(app, portal)["owner"]
    warm, _ = count_page(client, "/readings/")
    warm, sql = count_page(client, "/readings/")
    assert not any("count(notices.id)" in s for s in sql)
    notices_svc.notice_publish(actor=_db.session.get(User, ids["staff"]), data=notices_svc.NoticeInput(
        category="info", title="Новое", body="Собрание собственников в субботу.", building_ids=(ids["building"],)))
    after, sql = count_page(client, "/readings/")
    assert any("count(notices.id)" in s for s in sql) and after > warm
    again, sql = count_page(client, "/readings/")
    assert again == warm and not any("count(notices.id)" in s for s in sql)


def test_query_counts_do_not_grow_with_the_portal(app, portal):
    ids = ids_of(portal)
    pages = _pages(ids)
    grow(ids, range(1))
    clients = _clients(app, portal)
    small = measure(clients, pages)
    grow(ids, range(1, 10))  # ten times the buildings, premises, owners, meters, readings and notices
    assert _db.session.scalar(select(func.count(Notice.id))) >= 100
    big = measure(clients, pages)
    grew = {key: (small[key][0], big[key][0]) for key in small if big[key][0] != small[key][0]}
    assert not grew, grew
