"""/manage/audit: the account-authority log for the УК admin (their organisation only) and the operator."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from app.extensions import db as _db
from app.models import AuditLog, OwnershipLinkRequest
from app.services import accounts
from app.services.context import Origin
from app.services.errors import NotAllowed
from app.services.manage import audit_entries
from tests.conftest import login_as

ROLES = ["owner", "neighbour", "council", "staff", "ukadmin", "staff_other", "rso", "operator"]


@pytest.fixture
def history(world, db):
    """Account actions in both organisations, from known addresses."""
    a, b = Origin(ip="10.0.0.1"), Origin(ip="10.0.0.2")
    accounts.account_reset(actor=world.council, user=world.neighbour, origin=a)
    accounts.account_issue(actor=world.staff, premises=world.p2, full_name="Новикова Ольга", login="novikova",
                           origin=a)
    accounts.ownership_link_request(actor=world.staff, premises=world.p2, login="nobody-at-all", origin=a)
    accounts.account_reset(actor=world.staff_other, user=world.owner_other, origin=b)
    accounts.account_set_active(actor=world.staff_other, user=world.owner_other, active=False, origin=b)
    accounts.ownership_link_request(actor=world.staff_other, premises=world.p_other, login="owner", origin=b)
    request = db.session.query(OwnershipLinkRequest).filter_by(login="owner").one()
    accounts.link_request_decline(actor=world.owner, request_id=request.id, origin=Origin(ip="10.0.0.3"))
    return world


@pytest.mark.parametrize("role", ROLES)
def test_who_may_open_the_log(app, world, role):
    r = login_as(app.test_client(), world.by_role(role)).get("/manage/audit")
    assert r.status_code == (200 if role in ("ukadmin", "operator") else 403), role
    assert app.test_client().get("/manage/audit").status_code == 302


def test_ukadmin_sees_only_their_organisation(app, history):
    page = login_as(app.test_client(), history.ukadmin).get("/manage/audit").text
    for seen in ("Козлова Ирина Николаевна", "выдан новый пароль", "Петров Пётр Петрович (логин neighbour)",
                 "Новикова Ольга (логин novikova)", "запрос для логина «nobody-at-all»", "10.0.0.1",
                 "ул. Ленина, д. 1, кв. 2"):
        assert seen in page, seen
    for unseen in ("Чужой Сотрудник", "Сидоров", "10.0.0.2", "10.0.0.3", "ул. Чкалова", "отклонил",
                   "<td>учётная запись отключена</td>"):
        assert unseen not in page, unseen


def test_operator_sees_everything(app, history):
    page = login_as(app.test_client(), history.operator).get("/manage/audit").text
    for seen in ("Козлова Ирина Николаевна", "Чужой Сотрудник", "Сидоров Сидор Сидорович (логин other)",
                 "10.0.0.1", "10.0.0.2", "10.0.0.3", "собственник отклонил запрос", "ул. Чкалова, д. 9, кв. 1"):
        assert seen in page, seen


def test_ukadmin_of_the_other_organisation_sees_nothing_of_the_first(history, db):
    from tests.factories import StaffFactory, UserFactory

    admin_b = UserFactory(login="adminb", full_name="Админ Б")
    StaffFactory(user=admin_b, organisation=history.uk_other, role="admin")
    db.session.commit()
    rows = audit_entries(actor=admin_b).rows
    assert {r.entry.actor_id for r in rows} == {history.staff_other.id}
    assert {r.entry.action for r in rows} == {"password_reset", "account_deactivated", "link_requested"}
    for actor in (history.staff, history.council, history.owner, history.rso_user):
        with pytest.raises(NotAllowed):
            audit_entries(actor=actor)


def test_filters_by_action_and_local_dates(app, history, db):
    # Move one entry to 23:30 Chita time on 01.11.2026 (14:30 UTC) and one to the next local day.
    first, second = db.session.query(AuditLog).filter_by(action="password_reset").order_by(AuditLog.id).all()
    first.at = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)
    second.at = datetime(2026, 11, 1, 15, 30, tzinfo=UTC)  # 02.11.2026 00:30 in Chita
    db.session.commit()
    c = login_as(app.test_client(), history.operator)
    page = c.get("/manage/audit", query_string={"action": "password_reset", "date_from": "01.11.2026",
                                                "date_to": "01.11.2026"}).text
    assert "01.11.2026 23:30" in page and "02.11.2026 00:30" not in page and "Записи: 1" in page
    page = c.get("/manage/audit", query_string={"action": "password_reset", "date_from": "2026-11-02"}).text
    assert "02.11.2026 00:30" in page and "01.11.2026 23:30" not in page
    page = c.get("/manage/audit", query_string={"action": "link_requested"}).text
    assert "Записи: 2" in page and "<td>выдан новый пароль</td>" not in page


def test_bad_filters_are_shown_next_to_the_field_and_kept(app, history):
    c = login_as(app.test_client(), history.ukadmin)
    r = c.get("/manage/audit", query_string={"action": "drop_table", "date_from": "31.02.2026", "date_to": "вчера"})
    assert r.status_code == 422 and "<title>Ошибка: " in r.text
    assert "Выберите действие из списка" in r.text and r.text.count("Введите дату в виде ДД.ММ.ГГГГ") >= 2
    assert 'value="вчера"' in r.text and 'value="31.02.2026"' in r.text
    r = c.get("/manage/audit", query_string={"date_from": "02.11.2026", "date_to": "01.11.2026"})
    assert r.status_code == 422 and "не раньше" in r.text


def _count_queries(app, fn) -> int:
    count = 0

    def before(*args, **kwargs):
        nonlocal count
        count += 1

    event.listen(_db.engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(_db.engine, "before_cursor_execute", before)
    return count


def test_pages_of_fifty_in_a_bounded_number_of_queries(app, history, db):
    c = login_as(app.test_client(), history.ukadmin)
    few = _count_queries(app, lambda: c.get("/manage/audit"))
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(120):
        db.session.add(AuditLog(at=base + timedelta(minutes=i), actor_id=history.staff.id, actor_role="staff",
                                action="password_reset", entity_type="user", entity_id=history.neighbour.id,
                                changes={"premises_ids": [history.p2.id]}, ip="10.1.1.1"))
    db.session.commit()
    many = _count_queries(app, lambda: c.get("/manage/audit"))
    assert many <= few + 2, (few, many)
    first = c.get("/manage/audit").text
    # Newest first: the history's 3 entries about УК A, then the 120 older ones.
    assert first.count('<td class="mono">') == 50 and first.count('<td class="mono">10.1.1.1<') == 47
    assert "page=2" in first
    third = c.get("/manage/audit", query_string={"page": 3}).text
    assert "page=2" in third and "page=4" not in third
    assert third.count('<td class="mono">') == 123 - 100


def test_navigation_link_for_ukadmin_and_operator_only(app, world):
    for role in ROLES:
        nav = login_as(app.test_client(), world.by_role(role)).get("/home").text
        assert ('href="/manage/audit"' in nav) == (role in ("ukadmin", "operator")), role


def test_console_actions_are_in_the_log_with_named_targets(app, world, db):
    """What the operator does in the console reaches the log; the УК admin sees it for their organisation only."""
    from app.services import organisations as orgs_svc
    from app.services.audit import audit_record

    orgs_svc.organisation_set_active(actor=world.operator, org=world.uk_other, active=False)
    audit_record(actor=world.operator, action="building_updated", entity_type="building", entity_id=world.building.id)
    audit_record(actor=world.operator, action="building_updated", entity_type="building",
                 entity_id=world.building_other.id)
    db.session.commit()
    admin_page = login_as(app.test_client(), world.ukadmin).get("/manage/audit").text
    assert "данные дома изменены" in admin_page and world.building.short_address in admin_page
    assert world.building_other.short_address not in admin_page
    operator_page = login_as(app.test_client(), world.operator).get("/manage/audit").text
    assert world.building_other.short_address in operator_page
    assert "организация отключена" in operator_page and world.uk_other.short_name in operator_page
    assert world.uk_other.short_name not in admin_page
