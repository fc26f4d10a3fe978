"""Profile, apartment and credential issuing through HTTP (rules themselves are tested in services/)."""

import io
import re

from pypdf import PdfReader

from app.models import AuditLog, ConsentRecord, User
from tests.conftest import login_as


def test_profile_shows_account_and_sections(app, world):
    page = login_as(app.test_client(), world.owner).get("/profile/").text
    for text in ("Мой профиль", "owner", "Собственник", "Контакты", "owner@example.ru", "Уведомления и рассылки",
                 "Сменить пароль", "ФИО внесено управляющей организацией"):
        assert text in page


def test_preferences_record_consent_with_ip_and_agent(app, world, db):
    c = login_as(app.test_client(), world.owner)
    r = c.post("/profile/preferences/edit", data={"notify_new_notice": "y", "consent_email": "y"},
               headers={"User-Agent": "TestPhone/1.0"}, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert r.status_code == 303
    row = db.session.query(ConsentRecord).one()
    assert (row.channel, row.action, row.ip, row.user_agent) == ("email", "given", "192.0.2.7", "TestPhone/1.0")
    page = c.get("/profile/").text
    assert "согласие дано" in page and "включены" in page
    # Withdraw: unchecked box.
    c.post("/profile/preferences/edit", data={"notify_new_notice": "y"})
    assert [r.action for r in db.session.query(ConsentRecord).order_by(ConsentRecord.id)] == ["given", "withdrawn"]
    assert "согласие отозвано" in c.get("/profile/").text


def test_preferences_without_email_explains_and_keeps_choices(app, world, db):
    world.owner.email = None
    db.session.commit()
    c = login_as(app.test_client(), world.owner)
    r = c.post("/profile/preferences/edit", data={"notify_new_notice": "y", "consent_sms": "y"},
               headers={"HX-Request": "true", "HX-Target": "profile-preferences"})
    assert r.status_code == 422
    assert "сначала укажите адрес электронной почты" in r.text
    assert re.search(r'id="consent_sms"[^>]*checked|checked[^>]*id="consent_sms"', r.text)
    assert db.session.query(ConsentRecord).count() == 0  # nothing half-written


def test_unlocked_name_can_be_edited(app, world, db):
    world.owner.full_name_locked = False
    db.session.commit()
    c = login_as(app.test_client(), world.owner)
    r = c.post("/profile/name/edit", data={"full_name": ""})
    assert r.status_code == 422 and "Введите ФИО" in r.text
    r = c.post("/profile/name/edit", data={"full_name": "Иванова Анна Сергеевна"})
    assert r.status_code == 303
    assert db.session.get(User, world.owner.id).full_name == "Иванова Анна Сергеевна"


def test_apartment_page_and_owner_fields(app, world, db):
    c = login_as(app.test_client(), world.neighbour)
    page = c.get("/apartment/").text
    for text in ("Технические данные", world.p2.account_number, "48,6 м²", "обратитесь в управляющую организацию"):
        assert text in page
    r = c.post("/apartment/owner-fields/edit", data={"actual_residents": "много", "emergency_phone": "89145550011"},
               headers={"HX-Request": "true", "HX-Target": "apartment-owner-fields"})
    assert r.status_code == 422 and 'value="много"' in r.text and 'value="89145550011"' in r.text
    r = c.post("/apartment/owner-fields/edit", data={"actual_residents": "4", "emergency_phone": "89145550011"},
               headers={"HX-Request": "true", "HX-Target": "apartment-owner-fields"})
    assert r.status_code == 200 and "4 чел." in r.text and "+7 914 555-00-11" in r.text
    # The УК sees the change in the premises history.
    staff_page = login_as(app.test_client(), world.staff).get(f"/manage/premises/{world.p2.id}").text
    assert "Петров Пётр Петрович" in staff_page and "проживает: — → 4" in staff_page


def test_issue_account_shows_password_once_and_letter_pdf(app, world, db):
    c = login_as(app.test_client(), world.council)
    r = c.post(f"/manage/premises/{world.p2.id}/accounts",
               data={"full_name": "Новикова Ольга Ивановна", "share": "1/2", "login": "", "phone": "", "email": ""})
    assert r.status_code == 200
    assert "no-store" in r.headers["Cache-Control"]
    password = re.search(r'<dd class="mono big">([a-z0-9-]{14})</dd>', r.text).group(1)
    login = re.search(r'<dt>Логин</dt><dd class="mono">([^<]+)</dd>', r.text).group(1)
    user = db.session.query(User).filter_by(login=login).one()
    assert user.must_change_password
    assert password not in user.password_hash
    letter = c.post(f"/manage/accounts/{user.id}/letter", data={"password": password})
    assert letter.status_code == 200 and letter.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(letter.data)).pages)
    for expected in ("Новикова Ольга Ивановна", login, password, "ул. Ленина", world.p2.account_number,
                     "Временный пароль действует до"):
        assert expected in text
    # A wrong password gives no letter.
    assert c.post(f"/manage/accounts/{user.id}/letter", data={"password": "guess"}).status_code == 422


def test_issue_account_errors_next_to_fields_and_nothing_stored(app, world, db):
    c = login_as(app.test_client(), world.staff)
    before = db.session.query(User).count()
    r = c.post(f"/manage/premises/{world.p2.id}/accounts",
               data={"full_name": "Новикова", "login": "owner", "phone": "12", "email": "x@", "share": "5/3"})
    assert r.status_code == 422
    for message in ("занят", "Введите номер телефона", "Введите адрес электронной почты", "Доля должна быть"):
        assert message in r.text
    assert 'value="Новикова"' in r.text and 'value="5/3"' in r.text
    assert db.session.query(User).count() == before


def test_reset_and_deactivate_from_premises_page(app, world, db):
    c = login_as(app.test_client(), world.staff)
    r = c.post(f"/manage/accounts/{world.neighbour.id}/reset", data={"premises_id": world.p2.id})
    assert r.status_code == 200 and "Новый пароль выдан" in r.text
    r = c.post(f"/manage/accounts/{world.neighbour.id}/active", data={"active": "0", "premises_id": world.p2.id})
    assert r.status_code == 303
    page = c.get(r.headers["Location"]).text
    assert "отключена" in page and "Включить" in page
    actions = {a.action for a in db.session.query(AuditLog).filter_by(entity_id=world.neighbour.id)}
    assert {"password_reset", "account_deactivated"} <= actions


def test_building_filters(app, world):
    c = login_as(app.test_client(), world.staff)
    r = c.get(f"/manage/buildings/{world.building.id}", query_string={"entrance": 2},
              headers={"HX-Request": "true", "HX-Target": "premises-table"})
    assert "Помещения: 1" in r.text
    r = c.get(f"/manage/buildings/{world.building.id}", query_string={"access": "none"})
    assert "Помещения: 0" in r.text


def test_link_and_unlink_existing_account(app, world, db):
    c = login_as(app.test_client(), world.staff)
    r = c.post(f"/manage/premises/{world.p2.id}/owners", data={"existing_login": "", "existing_share": "1/2"})
    assert r.status_code == 422 and "Введите логин собственника" in r.text and 'value="1/2"' in r.text
    assert "<title>Ошибка: " in r.text
    r = c.post(f"/manage/premises/{world.p2.id}/owners", data={"existing_login": "owner", "existing_share": ""})
    assert r.status_code == 303
    page = c.get(r.headers["Location"]).text
    assert "владелец увидит запрос" in page and "Иванова Анна Петровна" not in page
    owner_client = login_as(app.test_client(), world.owner)
    # Nothing is shared before the owner accepts the request in the profile.
    assert owner_client.post("/apartment/switch", data={"premises_id": world.p2.id}).status_code == 404
    from app.models import OwnershipLinkRequest

    request = db.session.query(OwnershipLinkRequest).filter_by(user_id=world.owner.id).one()
    assert owner_client.post(f"/profile/links/{request.id}/accept").status_code == 303
    assert owner_client.post("/apartment/switch", data={"premises_id": world.p2.id}).status_code == 303
    assert "Иванова Анна Петровна" in c.get(f"/manage/premises/{world.p2.id}").text
    r = c.post(f"/manage/premises/{world.p2.id}/owners/{world.owner.id}/remove")
    assert r.status_code == 303
    assert owner_client.post("/apartment/switch", data={"premises_id": world.p2.id}).status_code == 404


def test_unlink_outside_scope_is_404(app, world):
    c = login_as(app.test_client(), world.staff_other)
    assert c.post(f"/manage/premises/{world.p2.id}/owners/{world.neighbour.id}/remove").status_code == 404
    c = login_as(app.test_client(), world.owner)
    assert c.post(f"/manage/premises/{world.p2.id}/owners/{world.neighbour.id}/remove").status_code == 403
