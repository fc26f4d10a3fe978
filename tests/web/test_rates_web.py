"""The console's «Ставки и пени» (operator only): permissions of every route, refused POSTs change nothing,
Russian messages next to the fields with what was typed kept, 303 after success, audit rows, CSRF."""

import re
from datetime import date
from decimal import Decimal

import pytest

from app.extensions import limiter
from app.models import AuditLog
from app.models.billing import KeyRate, PenaltyRule
from tests.conftest import login_as
from tests.web.test_post_refusals import changed_tables, snapshot

ROLES = ["anon", "owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]
RATE = {"valid_from": "20.03.2026", "rate": "15,00", "source": "Банк России, решение от 20.03.2026"}
RULE = {"valid_from": "01.01.2027", "valid_to": "", "mode": "payment_day", "fixed_rate": "",
        "citation": "ЖК РФ ст. 155 ч. 14"}


def _client(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, world.by_role(role))


@pytest.fixture
def rule(db):
    r = PenaltyRule(valid_from=date(2025, 1, 1), valid_to=date(2026, 12, 31), mode="capped",
                    fixed_rate=Decimal("9.5"), citation="ПП РФ № 474 (ред. ПП № 329)")
    db.session.add(r)
    db.session.commit()
    return r


@pytest.mark.parametrize("role", ROLES)
def test_page_is_for_the_operator_only(app, world, rule, role):
    r = _client(app, world, role).get("/console/rates")
    expected = {"anon": 302, "operator": 200}.get(role, 403)
    assert r.status_code == expected
    if role == "operator":
        assert "Ставки и пени" in r.text and "ПП РФ № 474" in r.text and "9,5 %" in r.text
        assert "01.01.2025 по 31.12.2026" in r.text


@pytest.mark.parametrize("role", [r for r in ROLES if r != "operator"])
@pytest.mark.parametrize(("path", "data"), [("/console/rates/key", RATE), ("/console/rates/rules", RULE),
                                            ("/console/rates/rules/{rule}/end", {"valid_to": "31.12.2027"}),
                                            ("/console/rates/rules/999999/end", {"valid_to": "31.12.2027"})])
def test_refused_posts_change_nothing(app, world, rule, role, path, data):
    before = snapshot()
    r = _client(app, world, role).post(path.format(rule=rule.id), data=data)
    assert r.status_code == (302 if role == "anon" else 403)
    assert changed_tables(before, snapshot()) == []


def test_operator_adds_a_key_rate_and_the_audit_records_it(app, world, db):
    c = _client(app, world, "operator")
    r = c.post("/console/rates/key", data=RATE)
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/rates")
    row = db.session.query(KeyRate).one()
    assert (row.valid_from, row.rate, row.created_by_id) == (date(2026, 3, 20), Decimal("15.00"), world.operator.id)
    entry = db.session.query(AuditLog).filter_by(action="key_rate_added").one()
    assert entry.actor_id == world.operator.id and entry.changes["valid_from"] == "2026-03-20"
    page = c.get("/console/rates")
    assert "20.03.2026" in page.text and "15 %" in page.text
    # the same date again: a message next to the field, nothing written, what was typed kept
    again = c.post("/console/rates/key", data={**RATE, "rate": "14,5"})
    assert again.status_code == 422 and "Ставка с 20.03.2026 уже есть в таблице" in again.text
    assert 'value="14,5"' in again.text and "<title>Ошибка:" in again.text
    assert db.session.query(KeyRate).count() == 1


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"valid_from": "2026/03/20"}, "valid_from", "Введите дату, с которой действует ставка в формате ДД.ММ.ГГГГ"),
    ({"valid_from": ""}, "valid_from", "в формате ДД.ММ.ГГГГ"),
    ({"valid_from": "31.02.2026"}, "valid_from", "в формате ДД.ММ.ГГГГ"),
    ({"rate": "100"}, "rate", "Ставка — от 0 до 99,99 % годовых"),
    ({"rate": "-1"}, "rate", "Ставка — от 0 до 99,99 % годовых"),
    ({"rate": "пятнадцать"}, "rate", "Введите ставку числом"),
    ({"rate": "15,125"}, "rate", "Не больше двух знаков после запятой"),
    ({"rate": "1e400"}, "rate", "Ставка — от 0 до 99,99"),
    ({"source": ""}, "source", "Введите источник"),
    ({"source": "x" * 301}, "source", "Не больше 300 символов"),
])
def test_key_rate_validation_messages_next_to_the_field(app, world, db, data, field, message):
    r = _client(app, world, "operator").post("/console/rates/key", data={**RATE, **data})
    assert r.status_code == 422 and message in r.text
    assert re.search(rf'id="{field}-error"', r.text), "the message sits next to its field"
    assert db.session.query(KeyRate).count() == 0 and db.session.query(AuditLog).count() == 0


def test_operator_adds_and_ends_rules(app, world, db, rule):
    c = _client(app, world, "operator")
    overlap = c.post("/console/rates/rules", data={**RULE, "valid_from": "01.06.2026"})
    assert overlap.status_code == 422 and "Пересекается с правилом с 01.01.2025 по 31.12.2026" in overlap.text
    assert 'value="01.06.2026"' in overlap.text
    assert c.post("/console/rates/rules", data=RULE).status_code == 303
    assert db.session.query(PenaltyRule).count() == 2
    capped = c.post("/console/rates/rules", data={**RULE, "valid_from": "01.01.2020", "valid_to": "31.12.2020",
                                                  "mode": "capped"})
    assert capped.status_code == 422 and "Введите ставку, % годовых" in capped.text
    bad = c.post("/console/rates/rules", data={**RULE, "mode": "whatever", "citation": ""})
    assert bad.status_code == 422 and "Выберите порядок начисления из списка" in bad.text
    assert "Введите основание" in bad.text
    # extend the moratorium: the next rule is in the way until its start moves
    blocked = c.post(f"/console/rates/rules/{rule.id}/end", data={"valid_to": "31.12.2027"})
    assert blocked.status_code == 422 and "Пересекается с правилом с 01.01.2027" in blocked.text
    assert 'value="31.12.2027"' in blocked.text
    bad_date = c.post(f"/console/rates/rules/{rule.id}/end", data={"valid_to": "32.12.2026"})
    assert bad_date.status_code == 422 and "Введите дату окончания в формате ДД.ММ.ГГГГ" in bad_date.text
    assert c.post(f"/console/rates/rules/{rule.id}/end", data={"valid_to": "30.06.2026"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(PenaltyRule, rule.id).valid_to == date(2026, 6, 30)
    assert [a.action for a in db.session.query(AuditLog).order_by(AuditLog.id)] == [
        "penalty_rule_added", "penalty_rule_ended"]
    assert c.post("/console/rates/rules/999999/end", data={"valid_to": ""}).status_code == 404


def test_console_home_links_the_page(app, world):
    r = _client(app, world, "operator").get("/console/")
    assert 'href="/console/rates"' in r.text


def test_csrf_is_required(app_factory, world, db):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        limiter.reset()
        c = login_as(app.test_client(), world.operator)
        assert c.post("/console/rates/key", data=RATE).status_code == 400
        assert c.post("/console/rates/rules", data=RULE).status_code == 400
        page = c.get("/console/rates").text
        tokens = re.findall(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert tokens
        assert c.post("/console/rates/key", data={**RATE, "csrf_token": tokens[0]}).status_code == 303
    assert db.session.query(KeyRate).count() == 1
