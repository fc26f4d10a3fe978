"""«Из чего сложилась сумма»: reading Charge.basis and Statement.penalty_basis into what the receipt page shows,
with worked bases; tolerant of missing keys and bad values; the disputed line only from one's own statement."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.models import Charge, Service, Statement, Tariff
from app.services import billing
from app.services import receipt_explain as ex
from app.services.errors import NotFound
from tests.factories import MeterFactory

OCT = date(2026, 10, 1)
D = Decimal


def charge(basis, note="", name="Холодное водоснабжение", unit="м³", total="0", service_id=7):
    service = Service(id=service_id, name=name, unit=unit, code="X", method="meter")
    return Charge(service=service, service_id=service_id, basis=basis, note=note, total=D(total),
                  volume=D("0"), tariff=D("0"))


def test_meter_line_with_its_readings():
    basis = {"rule": "ПП 354 п. 42", "method": "meter", "text": "Объём по показаниям",
             "meters": [{"meter_id": 11, "serial": "ВС-1", "method": "meter", "volume": "10.500",
                         "previous": {"period": "2026-09-01", "value": "100.000"},
                         "current": {"period": "2026-10-01", "value": "110.500"}, "average_periods": None,
                         "missing": 0}], "norm": None, "common": None, "recalculation": None}
    line = ex.explain_charge(charge(basis, total="488.04"), own_meter_ids={11})
    assert (line.has_basis, line.rule, line.method_label) == (True, "ПП 354 п. 42", "по показаниям счётчика")
    [m] = line.meters
    assert (m.meter_id, m.serial, m.volume, m.linkable) == (11, "ВС-1", D("10.500"), True)
    assert m.previous == ex.Point(date(2026, 9, 1), D("100.000")) and m.current == ex.Point(OCT, D("110.500"))
    assert m.current.value - m.previous.value == m.volume  # the explanation adds up
    # a meter that is not this premises' is never linked to a readings page
    assert not ex.explain_charge(charge(basis), own_meter_ids={12}).meters[0].linkable


def test_average_months_shown_for_missing_readings():
    """ПП 354 п. 59 «б»: readings Jan–Jun 100 → 160, none in July: July billed by the average of 6 months."""
    periods = [f"2026-0{m}-01" for m in range(1, 7)]
    basis = {"rule": "ПП 354 п. 59 «б»", "method": "average", "text": "Показания не переданы: по среднему",
             "meters": [{"meter_id": 3, "serial": "ВС-3", "method": "average", "volume": "10.000",
                         "previous": None, "current": None, "average_periods": list(reversed(periods)),
                         "missing": 1}]}
    line = ex.explain_charge(charge(basis))
    [m] = line.meters
    assert m.average_periods == [date(2026, month, 1) for month in range(1, 7)]  # sorted
    assert (m.missing, m.method_label, m.volume) == (1, "по среднему", D("10"))
    assert line.rule == "ПП 354 п. 59 «б»"


def test_norm_and_why():
    """ПП 354 п. 42: no meter where one can be installed — норматив × residents × the raising coefficient 1.5."""
    basis = {"method": "norm_no_meter", "norm": {"value": "3.6", "unit": "м³/чел.", "people": 2, "factor": "1.5"}}
    line = ex.explain_charge(charge(basis))
    assert line.norm == ex.NormBasis(D("3.6"), "м³/чел.", 2, D("1.5"),
                                     "прибор учёта не установлен — начислено по нормативу; "
                                     "с повышающим коэффициентом 1.5")
    assert line.rule == "ПП 354 п. 42"  # the basis named no rule: the paragraph of the method
    after = ex.explain_charge(charge({"method": "norm", "norm": {"value": "3.6", "unit": "м³", "people": 1}}))
    assert after.rule == "ПП 354 п. 60" and after.norm.why.startswith("показания не передавались дольше")
    assert after.norm.factor is None


def test_recalculation_of_months_billed_by_average():
    """ПП 354 п. 61, the Jan–Sep case: Jul and Aug billed 10 + 10 m³ by the average; the September reading shows
    50 m³ over Jul–Sep, so the 20 m³ already billed are taken off: the explanation carries both figures."""
    basis = {"method": "meter", "rule": "ПП 354 п. 42",
             "recalculation": {"rule": "ПП 354 п. 61", "periods": ["2026-07-01", "2026-08-01"], "billed": "20",
                               "actual": "50", "amount": "-974.40", "text": "Июль и август по показаниям"}}
    rc = ex.explain_charge(charge(basis)).recalculation
    assert rc == ex.Recalculation("ПП 354 п. 61", [date(2026, 7, 1), date(2026, 8, 1)], D("20"), D("50"),
                                  D("-974.40"), "Июль и август по показаниям")


def test_common_property_known_keys_only():
    basis = {"method": "common_house", "common": {"house_volume": "120.5", "premises_volume": "100", "share": "0.02",
                                                  "secret": "x", "nested": {"a": 1}, "decision": True}}
    rows = ex.explain_charge(charge(basis)).common
    assert rows == [("Объём по общедомовому счётчику", "120.5"), ("Объём по всем помещениям", "100"),
                    ("Доля помещения", "0.02"), ("Решение общего собрания", "да")]


def test_imported_line_without_basis_shows_its_note():
    line = ex.explain_charge(charge(None, note="из расчётной системы УК", total="50"))
    assert (line.has_basis, line.text, line.meters, line.rule) == (False, "из расчётной системы УК", [], "")


@pytest.mark.parametrize("basis", [
    {}, {"method": 5}, {"meters": "ВС-1"}, {"meters": [None, 1, "x", {"volume": "много", "previous": "вчера",
                                                                      "average_periods": ["июль", None, 3]}]},
    {"norm": ["3.6"]}, {"norm": {"value": "NaN", "people": "двое", "factor": "1,5"}}, {"recalculation": "да"},
    {"rule": None, "text": 42}, ["not", "a", "dict"],
])
def test_broken_bases_never_raise(basis):
    line = ex.explain_charge(charge(basis, note="запасная заметка"))
    assert line.service == "Холодное водоснабжение"
    for m in line.meters:
        assert m.volume is None and m.previous is None and m.average_periods == []
    if line.norm:
        assert line.norm.value is None and line.norm.people is None and line.norm.factor == D("1.5")


def test_penalty_crossing_day_90():
    """ЖК РФ ст. 155 ч. 14: a debt of 1 000 ₽, key rate 16 %: days 31–90 at 1/300 (60 days: 32,00 ₽), from the 91st
    at 1/130 (10 days: 12,31 ₽). The billing computes them; the explanation shows each span."""
    items = [{"period": "2026-07-01", "debt": "1000.00", "from": "2026-09-09", "to": "2026-11-07", "days": 60,
              "fraction": "1/300", "rate": "16", "amount": "32.00"},
             {"period": "2026-07-01", "debt": "1000.00", "from": "2026-11-08", "to": "2026-11-17", "days": 10,
              "fraction": "1/130", "rate": "16", "amount": "12.31"}]
    statement = Statement(penalty=D("44.31"), penalty_basis={"rule": "ЖК РФ ст. 155 ч. 14", "items": items,
                                                             "text": "Пени на долг за июль"})
    line = ex.explain_penalty(statement)
    assert (line.key, line.service, line.amount, line.rule) == ("penalty", "Пени", D("44.31"), "ЖК РФ ст. 155 ч. 14")
    first, second = line.penalty_items
    assert (first.start, first.end, first.days, first.fraction) == (date(2026, 9, 9), date(2026, 11, 7), 60, "1/300")
    assert first.amount == (D("1000") * D("0.16") * 60 / 300).quantize(D("0.01"))
    assert second.amount == (D("1000") * D("0.16") * 10 / 130).quantize(D("0.01"))
    assert first.amount + second.amount == line.amount
    assert ex.explain_penalty(Statement(penalty=D("0"))) is None
    bare = ex.explain_penalty(Statement(penalty=D("5.00"), penalty_basis=None))
    assert (bare.has_basis, bare.rule, bare.penalty_items) == (False, "ЖК РФ ст. 155 ч. 14", [])


# --- the disputed line -------------------------------------------------------------------------------------------

@pytest.fixture
def october(world, db):
    s = Service(organisation_id=world.uk.id, code="MAINT", name="Содержание жилого помещения", unit="м²",
                method="area")
    s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=D("30"))]
    db.session.add(s)
    db.session.commit()
    billing.period_close(actor=world.staff, building=world.building, period=OCT,
                         now=datetime(2026, 11, 1, tzinfo=UTC))
    return s


def test_receipt_line_snapshot(world, october, db):
    own = db.session.query(Charge).filter_by(premises_id=world.p1.id, period=OCT).one()
    own.basis = {"rule": "ЖК РФ ст. 156", "method": "area", "text": "48,6 м² × 30,00 ₽"}
    db.session.commit()
    snap = ex.receipt_line_get(actor=world.owner, premises=world.p1, period="2026-10", line=str(october.id))
    assert snap == {"period": "2026-10-01", "line": str(october.id), "service": "Содержание жилого помещения",
                    "amount": f"{own.total:.2f}", "rule": "ЖК РФ ст. 156", "basis": "48,6 м² × 30,00 ₽",
                    "volume": f"{own.volume.normalize():f}", "unit": "м²", "tariff": "30"}
    text = ex.dispute_text(snap).replace("\u00a0", " ")
    assert text.startswith("Прошу проверить начисление «Содержание жилого помещения» за октябрь 2026 (")


@pytest.mark.parametrize(("who", "premises", "period", "line"), [
    ("neighbour", "p1", "2026-10", "maint"),  # another owner's flat
    ("staff", "p1", "2026-10", "maint"),  # staff own nothing: no disputes on their behalf
    ("owner", "p1", "2026-09", "maint"),  # no statement
    ("owner", "p1", "2026-10", "999"),  # no such line
    ("owner", "p1", "2026-10", "penalty"),  # no пени this month
    ("owner", "p1", "2026-10", "1 "), ("owner", "p1", "2026-10", "١"), ("owner", "p1", "2026-10", None),
    ("owner", "p1", None, "maint"), ("owner", "p1", "октябрь", "maint"),
    ("owner", "p_other", "2026-10", "maint"),  # not theirs either
])
def test_receipt_line_refusals(world, october, who, premises, period, line):
    line = str(october.id) if line == "maint" else line
    with pytest.raises(NotFound):
        ex.receipt_line_get(actor=world.by_role(who), premises=getattr(world, premises), period=period, line=line)


def test_receipt_lines_in_order_with_penalty_last(world, october, db):
    meter = MeterFactory(premises=world.p1)
    statement = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one()
    statement.penalty = D("1.23")
    db.session.commit()
    lines = ex.explain_receipt(charges=billing.charges_for(world.p1.id, OCT), statement=statement, meters=[meter])
    assert [ln.key for ln in lines] == [str(october.id), "penalty"]
    snap = ex.receipt_line_get(actor=world.owner, premises=world.p1, period="2026-10", line="penalty")
    assert (snap["service"], snap["amount"], snap["rule"]) == ("Пени", "1.23", "ЖК РФ ст. 155 ч. 14")


def test_stored_line_reads_old_snapshots_tolerantly():
    assert ex.stored_line(None) is None and ex.stored_line("x") is None
    line = ex.stored_line({"period": "2026-10-01", "service": "ХВС", "amount": "abc", "volume": "7.992"})
    assert (line.period, line.service, line.amount, line.basis, line.volume) == (OCT, "ХВС", None, "", D("7.992"))
