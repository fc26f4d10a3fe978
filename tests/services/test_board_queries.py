"""The board and grid queries by index lookups give exactly what the old full scans gave (randomised building),
and the owners' board is one aggregate query whatever the number of flats and readings."""

import random
from datetime import date
from decimal import Decimal

from sqlalchemy import event, func, select

from app.extensions import db as _db
from app.models import Meter, Reading
from app.services import readings as svc
from app.services.periods import add_months
from tests import factories as F

NOV = date(2026, 11, 1)
RESOURCES = ["cold_water", "hot_water", "electricity"]


def _old_previous_for(meter_ids, period):
    """The implementation before issue #13: MAX(period) GROUP BY meter over every earlier reading."""
    latest = (
        select(Reading.meter_id, func.max(Reading.period).label("period"))
        .where(Reading.meter_id.in_(meter_ids), Reading.period < period)
        .group_by(Reading.meter_id).subquery()
    )
    rows = _db.session.scalars(
        select(Reading).join(latest, (Reading.meter_id == latest.c.meter_id) & (Reading.period == latest.c.period)))
    return {r.meter_id: r for r in rows}


def _random_building(world, seed, flats=40):
    rng = random.Random(seed)
    building = F.BuildingFactory(organisation=world.uk, street="ул. Случайная", house=str(seed), entrances=3)
    meters = []
    for n in range(1, flats + 1):
        p = F.PremisesFactory(building=building, number=str(n), entrance=rng.randint(1, 3))
        for _ in range(rng.choice([0, 1, 2, 3])):  # some flats have no meters at all
            meters.append(F.MeterFactory(premises=p, resource=rng.choice(RESOURCES),
                                         archived=rng.random() < 0.1))
    for m in meters:
        value = Decimal(rng.randint(0, 500))
        for back in range(24, -1, -1):  # two years of history with random gaps, sometimes this month too
            if rng.random() < 0.35:
                continue
            value += Decimal(rng.randint(0, 30))
            _db.session.add(Reading(meter_id=m.id, period=add_months(NOV, -back), value=value,
                                    source=rng.choice(["owner", "council", "staff"])))
    _db.session.commit()
    return building


def _old_statuses(building, period, resources=None):
    return [(r.premises.id, r.status) for r in svc.board_rows(building, period, resources=resources)]


def test_previous_for_matches_the_old_query_on_random_buildings(world, db):
    for seed in (1, 2, 3):
        building = _random_building(world, seed)
        ids = list(_db.session.scalars(select(Meter.id).where(Meter.building_id == building.id)))
        for period in (NOV, add_months(NOV, -1), add_months(NOV, -7), add_months(NOV, -30), add_months(NOV, 3)):
            new, old = svc._previous_for(ids, period), _old_previous_for(ids, period)
            assert {k: v.id for k, v in new.items()} == {k: v.id for k, v in old.items()}, (seed, period)
        assert any(svc._previous_for(ids, NOV))  # the random building really has history
    assert svc._previous_for([], NOV) == {}


def test_board_tiles_match_board_rows_on_random_buildings(world, db):
    for seed in (4, 5):
        building = _random_building(world, seed)
        for period in (NOV, add_months(NOV, -2), add_months(NOV, -40)):
            for resources in (None, {"cold_water"}, {"hot_water", "electricity"}):
                tiles = svc.board_tiles(building, period, resources=resources)
                assert [(t.premises.id, t.status) for t in tiles] == _old_statuses(building, period, resources)
                old_total, old_entr = svc.board_progress(svc.board_rows(building, period, resources=resources))
                new_total, new_entr = svc.board_progress(tiles)
                assert new_total == old_total and new_entr == old_entr
        statuses = {t.status for t in svc.board_tiles(building, NOV)}
        assert {"none", "done", "missing"} <= statuses or {"none", "partial", "missing"} <= statuses


def test_board_tiles_status_rules(world, db):
    building = F.BuildingFactory(organisation=world.uk, street="ул. Правил", house="1")
    empty, done, partial, missing = (F.PremisesFactory(building=building, number=str(n)) for n in (1, 2, 3, 4))
    a, b = F.MeterFactory(premises=done), F.MeterFactory(premises=done)
    c, _d = F.MeterFactory(premises=partial), F.MeterFactory(premises=partial)
    F.MeterFactory(premises=missing)
    F.MeterFactory(premises=empty, archived=True)  # an archived register does not count
    for m in (a, b, c):
        F.ReadingFactory(meter=m, period=NOV)
    F.ReadingFactory(meter=F.MeterFactory(premises=missing), period=add_months(NOV, -1))  # last month only
    _db.session.commit()
    tiles = {t.premises.number: t.status for t in svc.board_tiles(building, NOV)}
    assert tiles == {"1": "none", "2": "done", "3": "partial", "4": "missing"}


class Queries:
    def __init__(self):
        self.statements = []

    def __enter__(self):
        event.listen(_db.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc):
        event.remove(_db.engine, "before_cursor_execute", self._hit)

    def _hit(self, conn, cursor, statement, *args):
        self.statements.append(statement)


def test_owners_board_is_one_query_and_grid_query_count_is_flat(world, db):
    small = _random_building(world, 7, flats=5)
    big = _random_building(world, 8, flats=60)
    counts = {}
    for name, building in (("small", small), ("big", big)):
        _db.session.expire_all()
        assert building.id  # refresh the building itself outside the count
        with Queries() as tiles_q:
            svc.board_tiles(building, NOV)
        with Queries() as rows_q:
            svc.board_rows(building, NOV)
        counts[name] = (len(tiles_q.statements), len(rows_q.statements))
    assert counts["small"] == counts["big"], counts
    assert counts["big"][0] == 1
    assert counts["big"][1] <= 5  # premises, meters, this month's readings, latest-before ids, those readings


def test_previous_for_reads_by_meter_not_by_history(world, db):
    """The query is driven from the meters with LIMIT 1 per meter: no GROUP BY over the readings."""
    building = _random_building(world, 9, flats=3)
    ids = list(_db.session.scalars(select(Meter.id).where(Meter.building_id == building.id)))
    with Queries() as q:
        svc._previous_for(ids, NOV)
    assert q.statements and all("GROUP BY" not in s.upper() for s in q.statements)
    assert "LIMIT" in q.statements[0].upper() and "FROM meters" in q.statements[0]
