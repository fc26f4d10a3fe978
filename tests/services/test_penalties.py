"""Пени by ЖК РФ ст. 155 ч. 14: worked examples computed by hand, the rate rules, the statements that carry them,
the operator's key-rate table and the migration's seed data."""

import importlib.util
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event

from app.models import AuditLog, Charge, OpeningBalance, Payment, Service, Statement
from app.models.billing import KeyRate, PenaltyRule
from app.services import gis_ids, penalties, statements
from app.services.errors import Invalid, NotAllowed
from app.services.penalties import PaymentIn, Rule, Tables

AUG, SEP, OCT, NOV, DEC = (date(2026, m, 1) for m in (8, 9, 10, 11, 12))
JAN27 = date(2027, 1, 1)
NOW = datetime(2027, 1, 5, tzinfo=UTC)
CAP = "ПП РФ № 474 (ред. ПП № 329)"


def tables(rates=None, rules=None) -> Tables:
    """The tables in force at the end of 2026: key rate 16 % (15.5 % from 16.02.2026), capped at 9.5 %."""
    rates = rates if rates is not None else [(date(2025, 12, 22), Decimal("16.00")),
                                             (date(2026, 2, 16), Decimal("15.50"))]
    rules = rules if rules is not None else [Rule(date(2025, 1, 1), date(2026, 12, 31), "capped", Decimal("9.5"),
                                                  CAP)]
    return Tables(list(rates), list(rules))


def compute(debts, payments=(), window=DEC, t=None):
    start, end = penalties.window_of(window)
    return penalties.penalty_compute(debts=debts, payments=list(payments), start=start, end=end,
                                     tables=t or tables(), due=statements.due_date)


def rows(result):
    return [(i.period, i.debt, i.start, i.end, i.days, i.fraction, i.rate, i.amount) for i in result.items]


# --- due dates -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("period", "due"), [
    (date(2026, 1, 1), date(2026, 2, 10)),  # the 10th, a Tuesday
    (date(2025, 12, 1), date(2026, 1, 12)),  # the 10th falls in the New Year holidays: Monday 12.01 (ГК ст. 193)
    (date(2026, 2, 1), date(2026, 3, 16)),  # from 01.03.2026 the 15th; 15.03.2026 is a Sunday
    (AUG, date(2026, 9, 15)),
    (SEP, date(2026, 10, 15)),
    (OCT, date(2026, 11, 16)),  # 15.11.2026 is a Sunday
])
def test_due_date_by_the_10th_then_the_15th_moved_off_days_off(period, due):
    assert statements.due_date(period) == due


# --- worked examples ------------------------------------------------------------------------------------------


def test_debt_crossing_day_90():
    # August 2026: 10 000,00 ₽ due 15.09.2026. Day 31 = 16.10.2026, day 90 = 14.12.2026, day 91 = 15.12.2026.
    # December's statement, days 01.12–31.12 (key rate 16 %, capped at 9.5 % by ПП № 474):
    #   01.12–14.12 (days 77–90), 14 days × 1/300: 10 000 × 9.5 % × 14 / 300 = 44.333… → 44,33
    #   15.12–31.12 (days 91–107), 17 days × 1/130: 10 000 × 9.5 % × 17 / 130 = 124.230… → 124,23
    #   total 168,56
    result = compute({AUG: Decimal("10000.00")})
    assert rows(result) == [
        (AUG, Decimal("10000.00"), date(2026, 12, 1), date(2026, 12, 14), 14, 300, Decimal("9.50"), Decimal("44.33")),
        (AUG, Decimal("10000.00"), date(2026, 12, 15), date(2026, 12, 31), 17, 130, Decimal("9.50"),
         Decimal("124.23"))]
    assert result.amount == Decimal("168.56")


def test_no_penalty_for_the_first_30_days_after_the_due_date():
    # September 2026 is due 15.10.2026: day 30 is 14.11, day 31 is 15.11 — November carries 16 days
    # 3 000 × 9.5 % × 16 / 300 = 15,20
    result = compute({SEP: Decimal("3000.00")}, window=NOV)
    assert [(i.start, i.end, i.amount) for i in result.items] == [(date(2026, 11, 15), date(2026, 11, 30),
                                                                   Decimal("15.20"))]
    assert compute({SEP: Decimal("3000.00")}, window=OCT).amount == 0
    assert compute({OCT: Decimal("3000.00")}, window=NOV).amount == 0


def test_partial_payment_in_the_middle_reduces_the_base_from_its_day():
    # August's 10 000,00; 4 000,00 paid on 10.12.2026 (no period named → the oldest debt, August).
    #   the paid 4 000: 01.12–09.12, 9 days × 1/300: 4 000 × 9.5 % × 9 / 300 = 11,40 (rate of the payment day)
    #   the unpaid 6 000: 01.12–14.12, 14 × 1/300: 6 000 × 9.5 % × 14 / 300 = 26,60
    #                     15.12–31.12, 17 × 1/130: 6 000 × 9.5 % × 17 / 130 = 74.538… → 74,54
    #   total 112,54 (base view: 10 000 × 9 days + 6 000 × 5 days at 1/300 = 28,50 + 9,50 = 38,00 = 11,40 + 26,60)
    result = compute({AUG: Decimal("10000.00")}, [PaymentIn(date(2026, 12, 10), Decimal("4000.00"))])
    assert [(i.debt, i.days, i.fraction, i.amount, i.paid_on) for i in result.items] == [
        (Decimal("4000.00"), 9, 300, Decimal("11.40"), date(2026, 12, 10)),
        (Decimal("6000.00"), 14, 300, Decimal("26.60"), None),
        (Decimal("6000.00"), 17, 130, Decimal("74.54"), None)]
    assert result.amount == Decimal("112.54")


def test_payment_naming_a_period_goes_to_that_period():
    # August 10 000 (days 77–107 in December) and September 3 000 (due 15.10, days 47–77: all at 1/300);
    # 3 000 paid on 20.12.2026 naming September 2026:
    #   August unpaid: 44,33 + 124,23 = 168,56
    #   September paid 20.12: 01.12–19.12, 19 days: 3 000 × 9.5 % × 19 / 300 = 18,05      total 186,61
    debts = {AUG: Decimal("10000.00"), SEP: Decimal("3000.00")}
    named = compute(debts, [PaymentIn(date(2026, 12, 20), Decimal("3000.00"), SEP)])
    assert named.amount == Decimal("186.61")
    assert [(i.period, i.paid_on) for i in named.items if i.paid_on] == [(SEP, date(2026, 12, 20))]
    # Without a period the same money pays the oldest debt, August, which is already at 1/130:
    #   August paid 3 000: 01.12–14.12: 3 000 × 9.5 % × 14 / 300 = 13,30; 15.12–19.12: × 5 / 130 = 10.961… → 10,96
    #   August unpaid 7 000: × 14 / 300 = 31.033… → 31,03; × 17 / 130 = 86.961… → 86,96
    #   September 3 000 unpaid, 31 days: 3 000 × 9.5 % × 31 / 300 = 29,45          total 171,70
    oldest = compute(debts, [PaymentIn(date(2026, 12, 20), Decimal("3000.00"))])
    assert oldest.amount == Decimal("171.70")


def test_moratorium_span_2020_no_penalty_on_suspended_days():
    # January 2020: 10 000,00 due 10.02.2020; day 31 = 11.03.2020. ПП № 424 suspends пени from 06.04.2020.
    # April 2020 carries 01.04–05.04 only (days 51–55, 1/300) at the key rate of the calculation day 30.04.2020
    # (5,5 % from 27.04.2020; it was 6 % on 01.04): 10 000 × 5.5 % × 5 / 300 = 9.166… → 9,17
    t = tables(rates=[(date(2020, 2, 10), Decimal("6.00")), (date(2020, 4, 27), Decimal("5.50"))],
               rules=[Rule(date(2020, 4, 6), date(2020, 12, 31), "suspended", None, "ПП РФ № 424 п. 5")])
    result = compute({date(2020, 1, 1): Decimal("10000.00")}, window=date(2020, 4, 1), t=t)
    assert rows(result) == [(date(2020, 1, 1), Decimal("10000.00"), date(2020, 4, 1), date(2020, 4, 5), 5, 300,
                             Decimal("5.50"), Decimal("9.17"))]
    assert any("ПП РФ № 424" in note for note in result.notes)
    assert compute({date(2020, 1, 1): Decimal("10000.00")}, window=date(2020, 6, 1), t=t).amount == 0


def test_key_rate_change_in_the_middle_of_the_period():
    # After the moratorium (ЖК ст. 155 ч. 14 as is, the key rate on the payment day). October 2026: 6 000,00,
    # due 16.11.2026, day 31 = 17.12.2026; January 2027 is days 46–76 (1/300). Key rate 15 %, 14 % from 18.01.2027;
    # 2 000 paid on 11.01.2027:
    #   the paid 2 000: 01.01–10.01, 10 days at the rate of 11.01 (15 %): 2 000 × 15 % × 10 / 300 = 10,00
    #   the unpaid 4 000: 31 days at the rate of the calculation day 31.01 (14 %): 4 000 × 14 % × 31 / 300
    #     = 57.866… → 57,87                                                            total 67,87
    t = tables(rates=[(date(2026, 12, 21), Decimal("15.00")), (date(2027, 1, 18), Decimal("14.00"))],
               rules=[Rule(date(2027, 1, 1), None, "payment_day", None, "ЖК РФ ст. 155 ч. 14")])
    result = compute({OCT: Decimal("6000.00")}, [PaymentIn(date(2027, 1, 11), Decimal("2000.00"))], JAN27, t)
    assert [(i.debt, i.days, i.rate, i.amount) for i in result.items] == [
        (Decimal("2000.00"), 10, Decimal("15.00"), Decimal("10.00")),
        (Decimal("4000.00"), 31, Decimal("14.00"), Decimal("57.87"))]
    assert result.amount == Decimal("67.87")


def test_rule_change_in_the_middle_of_the_period_splits_the_days():
    # The cap ends on 15.01.2027 (hypothetical), the key rate is 15 %: October's 6 000 unpaid, days 46–76:
    #   01.01–15.01 at 9.5 %: 6 000 × 9.5 % × 15 / 300 = 28,50; 16.01–31.01 at 15 %: 6 000 × 15 % × 16 / 300 = 48,00
    t = tables(rates=[(date(2026, 12, 21), Decimal("15.00"))],
               rules=[Rule(date(2025, 1, 1), date(2027, 1, 15), "capped", Decimal("9.5"), CAP)])
    result = compute({OCT: Decimal("6000.00")}, window=JAN27, t=t)
    assert [(i.start.day, i.end.day, i.rate, i.amount, i.citation) for i in result.items] == [
        (1, 15, Decimal("9.50"), Decimal("28.50"), CAP), (16, 31, Decimal("15.00"), Decimal("48.00"),
                                                          penalties.LAW)]


def test_capped_rule_takes_the_lower_key_rate_and_fixed_rule_its_own():
    low = tables(rates=[(date(2026, 1, 1), Decimal("7.00"))])
    # 10 000 × 7 % × 14 / 300 = 32.666… → 32,67; × 17 / 130 = 91.538… → 91,54
    assert compute({AUG: Decimal("10000.00")}, t=low).amount == Decimal("124.21")
    fixed = tables(rules=[Rule(date(2026, 1, 1), None, "fixed", Decimal("5.00"), "test")])
    # 10 000 × 5 % × 14 / 300 = 23.333… → 23,33; × 17 / 130 = 65.384… → 65,38
    assert compute({AUG: Decimal("10000.00")}, t=fixed).amount == Decimal("88.71")


def test_no_key_rate_means_no_penalty_and_a_note():
    result = compute({AUG: Decimal("10000.00")}, t=tables(rates=[]))
    assert result.amount == 0 and "не задана" in " ".join(result.notes)


# --- allocation -----------------------------------------------------------------------------------------------


def test_allocation_oldest_first_named_period_and_advance():
    debts = {AUG: Decimal("100"), SEP: Decimal("100"), OCT: Decimal("100")}
    paid = penalties.allocate(debts, [PaymentIn(date(2026, 10, 5), Decimal("150")),
                                      PaymentIn(date(2026, 10, 6), Decimal("80"), OCT),
                                      PaymentIn(date(2026, 10, 7), Decimal("90"))])
    assert paid == {AUG: [(date(2026, 10, 5), Decimal("100"))],
                    SEP: [(date(2026, 10, 5), Decimal("50")), (date(2026, 10, 7), Decimal("50"))],
                    OCT: [(date(2026, 10, 6), Decimal("80")), (date(2026, 10, 7), Decimal("20"))]}
    # an advance before a period begins covers it on its first day; a payment naming a future period waits for it
    paid = penalties.allocate({SEP: Decimal("100"), OCT: Decimal("100")},
                              [PaymentIn(date(2026, 8, 20), Decimal("130")),
                               PaymentIn(date(2026, 9, 2), Decimal("100"), OCT)])
    assert paid == {SEP: [(SEP, Decimal("100"))], OCT: [(OCT, Decimal("100"))]}


# --- statements -----------------------------------------------------------------------------------------------


@pytest.fixture
def rates(db):
    db.session.add_all([KeyRate(valid_from=date(2025, 12, 22), rate=Decimal("16.00"), source="test"),
                        PenaltyRule(valid_from=date(2025, 1, 1), valid_to=date(2026, 12, 31), mode="capped",
                                    fixed_rate=Decimal("9.5"), citation=CAP)])
    db.session.commit()


@pytest.fixture
def maint(world, db):
    s = Service(organisation_id=world.uk.id, code="MAINT", name="Содержание", unit="м²", method="fixed")
    db.session.add(s)
    db.session.commit()
    return s


def charge(db, premises, service, period, total):
    db.session.add(Charge(premises_id=premises.id, period=period, service_id=service.id, volume=1,
                          tariff=Decimal(total), amount=Decimal(total), total=Decimal(total), source="computed"))


def issue(world, db, period, premises=None):
    result = statements.statements_issue(premises=premises or [world.p1], period=period, now=NOW)
    db.session.commit()
    return result


def test_statement_carries_penalty_basis_and_amount_due(world, db, rates, maint):
    charge(db, world.p1, maint, AUG, "10000.00")
    db.session.commit()
    [s] = issue(world, db, DEC)
    assert s.penalty == Decimal("168.56")
    assert s.amount_due == s.opening_balance + s.charged + s.penalty - s.paid == Decimal("10168.56")
    basis = s.penalty_basis
    assert basis["rule"] == "ЖК РФ ст. 155 ч. 14" and basis["window"] == {"from": "2026-12-01", "to": "2026-12-31"}
    assert basis["items"][0] == {"period": "2026-08-01", "debt": "10000.00", "from": "2026-12-01",
                                 "to": "2026-12-14", "days": 14, "fraction": "1/300", "rate": "9.50",
                                 "amount": "44.33", "citation": CAP}
    assert basis["items"][1]["fraction"] == "1/130" and basis["items"][1]["amount"] == "124.23"
    assert "168,56" in basis["text"] and "август 2026" in basis["text"]


def test_no_penalty_on_earlier_penalties(world, db, rates, maint):
    charge(db, world.p1, maint, AUG, "10000.00")
    db.session.commit()
    issue(world, db, OCT)
    [n] = issue(world, db, NOV)
    # November: days 47–76 of August's debt: 10 000 × 9.5 % × 30 / 300 = 95,00; October's 31–46: 16 days = 50,67
    oct_penalty = db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one().penalty
    assert (oct_penalty, n.penalty) == (Decimal("50.67"), Decimal("95.00"))
    [d] = issue(world, db, DEC)
    # the opening balance carries the earlier пени, the base does not: December is 168,56 as without them
    assert d.opening_balance == Decimal("10000.00") + Decimal("50.67") + Decimal("95.00")
    assert d.penalty == Decimal("168.56")
    assert {i["debt"] for i in d.penalty_basis["items"]} == {"10000.00"}


def test_opening_debt_counts_as_the_month_before_and_payments_apply(world, db, rates, maint):
    db.session.add(OpeningBalance(premises_id=world.p1.id, period=SEP, amount=Decimal("10000.00")))
    db.session.add(Payment(premises_id=world.p1.id, paid_on=date(2026, 12, 10), amount=Decimal("4000.00")))
    db.session.commit()
    [s] = issue(world, db, DEC)
    assert s.penalty == Decimal("112.54")  # the partial-payment example: the opening debt is August's
    assert s.paid == Decimal("4000.00")


def test_reissue_bumps_version_and_sets_payment_document_id(world, db, rates, maint, monkeypatch):
    monkeypatch.setattr(gis_ids, "payment_document_id", lambda *, premises, period: f"ИПД-{premises.id}-{period:%m%y}")
    [s] = issue(world, db, DEC)
    assert (s.version, s.payment_document_id) == (1, f"ИПД-{world.p1.id}-1226")
    issue(world, db, DEC)
    [again] = issue(world, db, DEC)
    assert again.id == s.id and again.version == 3


def test_statements_issue_is_bulk(world, db, rates, maint):
    premises = [world.p1, world.p2, world.p3, world.p_b2, world.p_other]
    for p in premises:
        charge(db, p, maint, AUG, "1000.00")
        db.session.add(Payment(premises_id=p.id, paid_on=date(2026, 12, 3), amount=Decimal("10.00")))
    db.session.commit()
    def selects(items) -> int:
        seen = []

        def record(conn, cursor, sql, *args):
            seen.append(sql)

        [p.id for p in items]  # loaded before counting (a rollback expires them)
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            statements.statements_issue(premises=items, period=DEC, now=NOW)
            db.session.flush()
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        db.session.rollback()
        return sum(1 for sql in seen if sql.lstrip().upper().startswith("SELECT"))

    one, five = selects(premises[:1]), selects(premises)
    assert 0 < one == five <= 8  # a fixed number of queries, whatever the number of premises


# --- the operator's table -------------------------------------------------------------------------------------


def test_key_rate_add_checks_and_audit(world, db):
    row = penalties.key_rate_add(actor=world.operator, valid_from="20.03.2026", rate="15,00",
                                 source="Банк России, 20.03.2026")
    assert (row.valid_from, row.rate) == (date(2026, 3, 20), Decimal("15.00"))
    entry = db.session.query(AuditLog).filter_by(action="key_rate_added").one()
    assert entry.entity_id == row.id and entry.changes["rate"] == "15.00"
    with pytest.raises(Invalid) as error:
        penalties.key_rate_add(actor=world.operator, valid_from="2026-03-20", rate="14", source="x")
    assert error.value.errors == {"valid_from": "Ставка с 20.03.2026 уже есть в таблице: проверьте дату"}
    with pytest.raises(Invalid) as error:
        penalties.key_rate_add(actor=world.operator, valid_from="31.02.2026", rate="100", source="")
    assert set(error.value.errors) == {"valid_from", "rate", "source"}
    assert error.value.errors["rate"] == "Ставка — от 0 до 99,99 % годовых"
    for bad in ("abc", "-1", "1,234", "NaN"):
        with pytest.raises(Invalid):
            penalties.key_rate_add(actor=world.operator, valid_from="01.04.2026", rate=bad, source="x")
    for role in ("ukadmin", "staff", "owner", "council", "rso"):
        with pytest.raises(NotAllowed):
            penalties.key_rate_add(actor=world.by_role(role), valid_from="01.04.2026", rate="15", source="x")
    assert db.session.query(KeyRate).count() == 1


def test_penalty_rule_add_refuses_overlaps_and_end_fixes_them(world, db):
    first = penalties.penalty_rule_add(actor=world.operator, valid_from="01.01.2025", valid_to="", mode="capped",
                                       fixed_rate="9,5", citation="ПП РФ № 474")
    with pytest.raises(Invalid) as error:
        penalties.penalty_rule_add(actor=world.operator, valid_from="01.01.2027", valid_to="", mode="payment_day",
                                   fixed_rate="", citation="ЖК РФ ст. 155 ч. 14")
    assert "Пересекается с правилом с 01.01.2025 без даты окончания" in error.value.errors["valid_from"]
    penalties.penalty_rule_end(actor=world.operator, rule=first, valid_to="31.12.2026")
    second = penalties.penalty_rule_add(actor=world.operator, valid_from="01.01.2027", valid_to="",
                                        mode="payment_day", fixed_rate="", citation="ЖК РФ ст. 155 ч. 14")
    assert second.fixed_rate is None
    with pytest.raises(Invalid) as error:
        penalties.penalty_rule_add(actor=world.operator, valid_from="01.01.2020", valid_to="31.12.2019",
                                   mode="fixed", fixed_rate="", citation="x")
    assert set(error.value.errors) == {"fixed_rate"}
    with pytest.raises(Invalid, match="раньше"):
        penalties.penalty_rule_add(actor=world.operator, valid_from="01.01.2020", valid_to="31.12.2019",
                                   mode="suspended", fixed_rate="", citation="x")
    with pytest.raises(Invalid) as error:
        penalties.penalty_rule_add(actor=world.operator, valid_from="01.01.2020", valid_to="", mode="other",
                                   fixed_rate="", citation="")
    assert set(error.value.errors) == {"mode", "citation"}
    assert [a.action for a in db.session.query(AuditLog).order_by(AuditLog.id)] == [
        "penalty_rule_added", "penalty_rule_ended", "penalty_rule_added"]
    with pytest.raises(NotAllowed):
        penalties.penalty_rule_end(actor=world.ukadmin, rule=first, valid_to="")


def test_rules_from_the_database_drive_the_statement(world, db, maint):
    penalties.penalty_rule_add(actor=world.operator, valid_from="01.12.2026", valid_to="31.12.2026",
                               mode="suspended", fixed_rate="", citation="Мораторий (тест)")
    penalties.key_rate_add(actor=world.operator, valid_from="01.01.2026", rate="16", source="x")
    charge(db, world.p1, maint, AUG, "10000.00")
    db.session.commit()
    [s] = issue(world, db, DEC)
    assert s.penalty == 0 and "Мораторий (тест)" in s.penalty_basis["text"]


# --- the migration's seed -------------------------------------------------------------------------------------


def _migration():
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0011_key_rates.py"
    spec = importlib.util.spec_from_file_location("m0011", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_covers_2022_on_and_rules_do_not_overlap():
    m = _migration()
    days = [d for d, _, _ in m.KEY_RATES]
    assert days == sorted(days) and len(set(days)) == len(days) and days[0] <= date(2022, 1, 1)
    t = Tables([(d, Decimal(r)) for d, r, _ in m.KEY_RATES],
               [Rule(a, b, mode, Decimal(r) if r else None, c) for a, b, mode, r, c in m.PENALTY_RULES])
    assert t.key_rate(date(2022, 1, 1)) == Decimal("8.50")
    assert t.key_rate(date(2022, 2, 27)) == Decimal("9.50")  # the rate ПП № 474 fixes
    assert t.key_rate(date(2024, 12, 31)) == Decimal("21.00")
    spans = [(a, b or date.max) for a, b, *_ in m.PENALTY_RULES]
    assert all(prev[1] < nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))
    assert all(len(c) <= 300 and c for *_, c in m.PENALTY_RULES)
    assert t.rule(date(2020, 6, 1)).mode == "suspended" and t.rule(date(2022, 3, 1)).mode == "capped"
    assert t.rule(date(2026, 12, 31)).fixed_rate == Decimal("9.50") and t.rule(JAN27).mode == "payment_day"
