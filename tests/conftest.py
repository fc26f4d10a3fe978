"""Fixtures: a fresh database per test (SQLite file by default, PostgreSQL with TEST_DATABASE_URL),
the schema built by the real Alembic migrations once per session, a small world of users per role."""

import os
from dataclasses import dataclass

import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db as _db
from app.extensions import limiter
from config import TestConfig
from tests import factories


class FreshGlobalsClient(FlaskClient):
    """The tests keep an app context pushed (to use db.session directly), and Flask reuses it for
    requests; give every request a fresh `g` so nothing (e.g. Flask-Login's user) leaks between requests."""

    def open(self, *args, **kwargs):
        ctx = _cv_app.get(None)
        if ctx is None:
            return super().open(*args, **kwargs)
        saved = ctx.g
        ctx.g = self.application.app_ctx_globals_class()
        try:
            return super().open(*args, **kwargs)
        finally:
            ctx.g = saved


def _config_for(url: str, **overrides):
    return type("PerTestConfig", (TestConfig,), {"SQLALCHEMY_DATABASE_URI": url, **overrides})


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def _schema(database_url):
    """Run the migrations once: they are tested on SQLite and PostgreSQL alike."""
    app = create_app(_config_for(database_url))
    with app.app_context():
        if _db.engine.dialect.name == "postgresql":
            with _db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        _db.engine.dispose()
    return database_url


def _wipe():
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            _db.session.execute(text(f"DELETE FROM {name}"))
    _db.session.commit()


@pytest.fixture
def app_factory(_schema):
    """Build an app on the test database with config overrides (e.g. CSRF on)."""
    apps = []

    def make(**overrides):
        application = create_app(_config_for(_schema, **overrides))
        application.test_client_class = FreshGlobalsClient
        apps.append(application)
        return application

    yield make
    for application in apps:
        with application.app_context():
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture
def app(app_factory):
    application = app_factory()
    with application.app_context():
        _wipe()
        limiter.reset()
        factories.bind(_db.session)
        yield application
        _db.session.remove()


@pytest.fixture
def db(app):
    return _db


@dataclass
class World:
    uk: object
    uk_other: object
    rso: object
    building: object
    building2: object
    building_other: object
    p1: object
    p2: object
    p3: object
    p_b2: object
    p_other: object
    owner: object
    neighbour: object
    owner_other: object
    council: object
    staff: object
    ukadmin: object
    staff_other: object
    rso_user: object
    operator: object

    def by_role(self, role: str):
        return {
            "owner": self.owner,
            "neighbour": self.neighbour,
            "council": self.council,
            "staff": self.staff,
            "ukadmin": self.ukadmin,
            "staff_other": self.staff_other,
            "rso": self.rso_user,
            "operator": self.operator,
        }[role]


@pytest.fixture
def world(db):
    F = factories
    uk = F.OrganisationFactory(short_name="ООО «УК Тест»")
    uk_other = F.OrganisationFactory(short_name="ООО «Другая УК»")
    rso = F.OrganisationFactory(kind="rso", short_name="АО «Вода»", settings={"resources": ["cold_water"]})
    building = F.BuildingFactory(organisation=uk, street="ул. Ленина", house="1", entrances=2)
    building2 = F.BuildingFactory(organisation=uk, street="ул. Горького", house="5")
    building_other = F.BuildingFactory(organisation=uk_other, street="ул. Чкалова", house="9")
    building.suppliers.append(rso)
    p1 = F.PremisesFactory(building=building, number="1", entrance=1)
    p2 = F.PremisesFactory(building=building, number="2", entrance=1)
    p3 = F.PremisesFactory(building=building, number="3", entrance=2)
    p_b2 = F.PremisesFactory(building=building2, number="7")
    p_other = F.PremisesFactory(building=building_other, number="1")
    owner = F.UserFactory(login="owner", full_name="Иванова Анна Петровна", email="owner@example.ru")
    F.OwnershipFactory(user=owner, premises=p1)
    F.OwnershipFactory(user=owner, premises=p_b2)
    neighbour = F.UserFactory(login="neighbour", full_name="Петров Пётр Петрович")
    F.OwnershipFactory(user=neighbour, premises=p2)
    owner_other = F.UserFactory(login="other", full_name="Сидоров Сидор Сидорович")
    F.OwnershipFactory(user=owner_other, premises=p_other)
    council = F.UserFactory(login="council", full_name="Козлова Ирина Николаевна")
    F.OwnershipFactory(user=council, premises=p3)
    F.CouncilFactory(user=council, building=building, is_chair=True)
    staff = F.UserFactory(login="staff", full_name="Морозова Ольга")
    F.StaffFactory(user=staff, organisation=uk)
    ukadmin = F.UserFactory(login="ukadmin", full_name="Семёнов Дмитрий")
    F.StaffFactory(user=ukadmin, organisation=uk, role="admin")
    staff_other = F.UserFactory(login="staffother", full_name="Чужой Сотрудник")
    F.StaffFactory(user=staff_other, organisation=uk_other)
    rso_user = F.UserFactory(login="rso", full_name="Цыренов Баир")
    F.StaffFactory(user=rso_user, organisation=rso)
    operator = F.UserFactory(login="admin", full_name="Оператор", is_operator=True)
    db.session.commit()
    return World(uk, uk_other, rso, building, building2, building_other, p1, p2, p3, p_b2, p_other,
                 owner, neighbour, owner_other, council, staff, ukadmin, staff_other, rso_user, operator)


def login_as(client, user):
    """Log a test client in without the login form (the form itself is tested separately)."""
    from app.services import sessions

    token = sessions.session_start(user=user, grace_starts=False)
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    return client


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def as_role(app, world):
    """as_role('owner') -> a test client logged in as that world user."""

    def make(role: str):
        return login_as(app.test_client(), world.by_role(role))

    return make


_DEMO_SNAPSHOTS: dict[str, dict[str, list[dict]]] = {}


def load_demo(application) -> None:
    """Load the demo data into the (empty) test database: seeded once per session, then copied back.

    `flask seed-demo` takes seconds (a year of readings, charges and payments); restoring its rows takes a
    fraction of that. The CLI itself is tested separately in tests/test_cli_and_demo.py.
    """
    key = str(_db.engine.url)
    snapshot = _DEMO_SNAPSHOTS.get(key)
    if snapshot is None:
        result = application.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        _DEMO_SNAPSHOTS[key] = {t.name: [dict(r._mapping) for r in _db.session.execute(t.select())]
                                for t in _db.metadata.sorted_tables}
        return
    for table in _db.metadata.sorted_tables:
        rows = snapshot[table.name]
        if rows:
            _db.session.execute(table.insert(), rows)
    if _db.engine.dialect.name == "postgresql":  # explicit ids do not move the sequences
        for table in _db.metadata.sorted_tables:
            if "id" in table.c and snapshot[table.name]:
                _db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"))
    _db.session.commit()


@pytest.fixture
def demo(app, db):
    load_demo(app)
