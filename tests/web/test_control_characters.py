"""One rule for characters in typed text, over every form-backed POST route of the portal.

Each route gets a valid submission with one field poisoned at a time: a NUL (refused by the request-wide net with
400; on PostgreSQL it used to be a 500) and an ESC control character (refused next to the field with 422 by the
forms' base class or the service). Never a 500, and the character is never stored anywhere in the database.
Run on SQLite and on PostgreSQL (TEST_DATABASE_URL), where the 500s were.
"""

import io
from dataclasses import dataclass

import pytest
from sqlalchemy import String, Text, select

from app.extensions import db as _db
from app.models.base import utcnow
from app.services import announcements as ann
from app.services import appeals as appeals_svc
from app.services import notices as notices_svc
from app.services import questions as questions_svc
from app.services.periods import current_month
from app.services.validation import BAD_CHARACTERS
from tests.conftest import login_as
from tests.factories import MeterFactory

NUL, ESC = "\x00", "\x1b"
CHARS = {"nul": NUL, "esc": ESC}

# How an ESC in a field must be answered:
MESSAGE = "message"  # 422 with «Поле содержит недопустимые символы» (declared form fields, service text fields)
REFUSED = "refused"  # a 4xx with the field's own message (a number, a phone, a choice that cannot be parsed)
NO_500 = "no-500"  # whatever the route answers (e.g. a closed readings window), but no 500 and nothing stored


@dataclass(frozen=True)
class Case:
    name: str
    role: str
    setup: object  # (world) -> (path, data) or (path, data, headers)
    fields: dict[str, str]  # field -> what an ESC in it must give
    multipart: bool = False
    chars: tuple[str, ...] = ("nul", "esc")


# --- objects the routes act on ------------------------------------------------------------------------------


def _announcement(world):
    return ann.announcement_create(actor=world.neighbour, data=ann.AnnouncementInput(
        category="sale", title="Шкаф", body="Отдам шкаф, самовывоз.", author_name="Пётр"))


def _repair(world):
    return next(c.id for c in appeals_svc.categories_for(world.uk.id) if c.code == "REPAIR")


def _appeal(world, status=None):
    appeal = appeals_svc.appeal_file(actor=world.owner, premises=world.p1, category_id=_repair(world),
                                     place_kind="premises", place_detail=None, text="Течёт кран на кухне, капает.")
    if status:
        appeals_svc.appeal_set_status(actor=world.staff, appeal=appeal, to=status)
    return appeal


def _notice(world):
    return notices_svc.notice_publish(actor=world.staff, data=notices_svc.NoticeInput(
        category="meeting", title="Собрание", body="Собрание собственников во дворе.",
        building_ids=(world.building.id,)))


def _question(world):
    return questions_svc.question_ask(actor=world.owner, premises=world.p1, data=questions_svc.QuestionInput(
        addressee="uk", subject="Когда покрасят подъезд?", text="В первом подъезде облезла краска на стенах."))


def _row(world, data):
    appeal = _appeal(world)
    path = f"/manage/appeals/{appeal.id}/row"
    return path, data, {"HX-Request": "true", "HX-Target": f"appeal-row-{appeal.id}"}


def _meter(world):
    meter = MeterFactory(premises=world.p1)
    _db.session.commit()
    return meter


ANNOUNCEMENT = {"category": "sale", "title": "Отдам коляску", "body": "Коляска зима-лето, самовывоз.",
                "author_name": "Анна", "contact": "", "scope": "building", "days": "14"}
ANNOUNCEMENT_FIELDS = {"title": MESSAGE, "body": MESSAGE, "author_name": MESSAGE, "contact": MESSAGE, "days": MESSAGE,
                       "category": MESSAGE, "scope": MESSAGE}
METER = {"resource": "cold_water", "tariff": "single", "serial_number": "ХВ-777", "place": "кухня",
         "installed_on": "", "next_verification_on": "", "digits": "5", "initial_value": "0"}
METER_FIELDS = {name: MESSAGE for name in METER}
NOTICE = {"category": "meeting", "resource": "", "title": "Собрание", "body": "Подробности позже, ждите.",
          "starts_at": "", "ends_at": "", "valid_until": "", "entrances": ""}
NOTICE_FIELDS = {name: MESSAGE for name in NOTICE} | {"building_ids": REFUSED}
CSV = "\ufeffЛицевой счёт;Услуга;Сумма\n".encode()


def _file(name="import.csv"):
    return (io.BytesIO(CSV), name)


CASES = [
    Case("announcement new", "owner", lambda w: ("/announcements/new", ANNOUNCEMENT), ANNOUNCEMENT_FIELDS),
    Case("announcement edit", "neighbour", lambda w: (f"/announcements/{_announcement(w).id}/edit", ANNOUNCEMENT),
         ANNOUNCEMENT_FIELDS),
    Case("announcement report", "owner", lambda w: (f"/announcements/{_announcement(w).id}/report",
                                                    {"reason": "Реклама"}), {"reason": MESSAGE}),
    Case("announcement hide", "council", lambda w: (f"/announcements/{_announcement(w).id}/hide",
                                                    {"reason": "Реклама"}), {"reason": MESSAGE}),
    Case("apartment owner fields", "owner", lambda w: ("/apartment/owner-fields/edit",
                                                       {"actual_residents": "2", "emergency_phone": ""}),
         {"actual_residents": MESSAGE, "emergency_phone": MESSAGE}),
    Case("apartment switch", "owner", lambda w: ("/apartment/switch", {"premises_id": str(w.p1.id),
                                                                       "next": "/apartment/"}),
         {"premises_id": NO_500, "next": NO_500}),
    Case("appeal new", "owner", lambda w: ("/appeals/new", {
        "category_id": str(_repair(w)), "place_kind": "premises", "place_detail": "кухня",
        "text": "Течёт кран на кухне, капает.", "client_token": "tok-1"}),
        {"category_id": MESSAGE, "place_kind": MESSAGE, "place_detail": MESSAGE, "text": MESSAGE,
         "client_token": MESSAGE}, multipart=True),
    Case("appeal comment", "owner", lambda w: (f"/appeals/{_appeal(w).id}/comment",
                                               {"text": "Когда придёт мастер?"}), {"text": MESSAGE}, multipart=True),
    Case("appeal rate", "owner", lambda w: (f"/appeals/{_appeal(w, 'done').id}/rate",
                                            {"rating": "5", "rating_comment": "Спасибо"}),
         {"rating": REFUSED, "rating_comment": MESSAGE}),
    Case("appeal status", "staff", lambda w: (f"/appeals/{_appeal(w).id}/status",
                                              {"to": "rejected", "reason": "Не наша зона"}),
         {"reason": MESSAGE, "to": REFUSED}),
    Case("appeal row status", "staff", lambda w: _row(w, {"to": "rejected", "reason": "Не наша зона"}),
         {"reason": MESSAGE, "to": REFUSED}),
    Case("appeal row assign", "staff", lambda w: _row(w, {"action": "assign", "assignee_id": str(w.ukadmin.id)}),
         {"assignee_id": REFUSED}),
    # auth/* belongs to another helper and still uses FlaskForm: only the request-wide NUL net covers it here.
    Case("login", "anon", lambda w: ("/auth/login", {"login": "owner", "password": "wrong-password"}),
         {"login": NO_500, "password": NO_500}, chars=("nul",)),
    Case("change password", "owner", lambda w: ("/auth/password", {
        "current_password": "x", "new_password": "Длинный пароль 2026", "confirm_password": "Длинный пароль 2026"}),
        {"current_password": NO_500, "new_password": NO_500, "confirm_password": NO_500}, chars=("nul",)),
    Case("issue account", "staff", lambda w: (f"/manage/premises/{w.p2.id}/accounts", {
        "full_name": "Новый Собственник", "share": "", "login": "", "phone": "", "email": ""}),
        {"full_name": MESSAGE, "share": MESSAGE, "login": MESSAGE, "phone": MESSAGE, "email": MESSAGE}),
    Case("link account", "staff", lambda w: (f"/manage/premises/{w.p2.id}/owners",
                                             {"existing_login": "owner", "existing_share": ""}),
         {"existing_login": MESSAGE, "existing_share": MESSAGE}),
    Case("credential letter", "staff_other", lambda w: (f"/manage/accounts/{w.owner_other.id}/letter",
                                                        {"password": "x"}), {"password": REFUSED}),
    Case("set active", "staff", lambda w: (f"/manage/accounts/{w.neighbour.id}/active", {"active": "0"}),
         {"active": NO_500}),
    Case("meter new (building)", "staff", lambda w: (f"/manage/buildings/{w.building.id}/meters/new", METER),
         METER_FIELDS),
    Case("meter new (premises)", "staff", lambda w: (f"/manage/premises/{w.p1.id}/meters/new", METER),
         METER_FIELDS),
    Case("meter replace", "staff", lambda w: (f"/manage/meters/{_meter(w).id}/replace", METER), METER_FIELDS),
    Case("charges import", "staff", lambda w: ("/manage/charges/import", {
        "building": str(w.building.id), "period": "2026-10", "file": _file()}),
        {"building": REFUSED, "period": MESSAGE}, multipart=True),  # an unknown building is a 404 there
    Case("charges confirm", "staff", lambda w: ("/manage/charges/import/confirm", {
        "building": str(w.building.id), "period": "2026-10", "token": "abc"}),
        {"building": REFUSED, "period": REFUSED, "token": REFUSED}),
    Case("readings import", "staff", lambda w: ("/manage/readings/import", {"period": "2026-10", "file": _file()}),
         {"period": MESSAGE}, multipart=True),
    # The inbox reply and notice withdrawal routes (other helpers') answer a failed form.validate() with 400
    # and no message: refused, but not yet next to the field.
    Case("inbox reply", "staff", lambda w: (f"/manage/inbox/{_question(w).id}/reply",
                                            {"text": "Покрасим в мае.", "view": "list"}), {"text": REFUSED}),
    Case("notice new", "staff", lambda w: ("/notices/new", NOTICE | {"building_ids": str(w.building.id)}),
         NOTICE_FIELDS),
    Case("notice edit", "staff", lambda w: (f"/notices/{_notice(w).id}/edit",
                                            NOTICE | {"building_ids": str(w.building.id)}), NOTICE_FIELDS),
    Case("notice withdraw", "staff", lambda w: (f"/notices/{_notice(w).id}/withdraw", {"reason": "Перенесли"}),
         {"reason": REFUSED}),
    # profile/* belongs to another helper: its services refuse the character (clean_text) or cannot parse it.
    Case("profile name", "owner", lambda w: ("/profile/name/edit", {"full_name": "Иванова Анна Петровна"}),
         {"full_name": REFUSED}),  # 404 while the name is locked by the УК
    Case("profile contacts", "owner", lambda w: ("/profile/contacts/edit", {"phone": "", "email": "a@example.ru"}),
         {"phone": NO_500, "email": REFUSED}),
    Case("question new", "owner", lambda w: ("/questions/new", {
        "addressee": "uk", "subject": "Свет в подъезде", "text": "Не горит свет в подъезде уже неделю."}),
        {"addressee": MESSAGE, "subject": MESSAGE, "text": MESSAGE}),
    Case("question message", "owner", lambda w: (f"/questions/{_question(w).id}/messages",
                                                 {"text": "Спасибо, а в соседнем подъезде?"}), {"text": MESSAGE}),
    # Readings depend on today's window (open or closed): only "never a 500, nothing stored" is asserted.
    Case("readings submit", "owner", lambda w: ("/readings/", {f"m{_meter(w).id}": "124,5"}), {"m*": NO_500}),
    Case("readings cell", "council", lambda w: (
        f"/manage/readings/{current_month(utcnow()).strftime('%Y-%m')}/meters/{_meter(w).id}",
        {"value": "124,5", "version": ""}), {"value": NO_500, "version": NO_500}),
    Case("receipts batch", "staff", lambda w: ("/manage/receipts/batches", {"building": str(w.building.id),
                                                                           "period": "2026-10"}),
         {"building": NO_500, "period": NO_500}),
]


def _client(app, world, role):
    c = app.test_client()
    if role == "anon":
        return c
    login_as(c, world.by_role(role))
    if role == "owner":
        c.post("/apartment/switch", data={"premises_id": world.p1.id})
    return c


def _stored_with(char: str) -> list[str]:
    """Every text cell of every table holding the character: must stay empty."""
    _db.session.expire_all()
    found = []
    for table in _db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        if not columns:
            continue
        for row in _db.session.execute(select(*columns)):
            found += [f"{table.name}.{col.name}" for col, value in zip(columns, row, strict=True)
                      if isinstance(value, str) and char in value]
    return found


def _poison(data: dict, name: str, char: str) -> dict:
    data = dict(data)
    if name == "m*":
        name = next(k for k in data if k.startswith("m"))
    value = data.get(name, "")
    data[name] = (value or "x") + char + "y" if not isinstance(value, tuple) else value
    return data


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_control_characters_refused_never_500_never_stored(app, world, db, case):
    path, valid, *headers = case.setup(world)
    c = _client(app, world, case.role)
    for char_name in case.chars:
        char = CHARS[char_name]
        for name, expected in case.fields.items():
            data = _poison(valid, name, char)
            if case.multipart:
                data = {k: (_file() if k == "file" else v) for k, v in data.items()}
            r = c.post(path, data=data, headers=headers[0] if headers else None,
                       content_type="multipart/form-data" if case.multipart else None)
            where = f"{case.name}: {char_name} in {name} -> {r.status_code}"
            assert r.status_code != 500, where
            assert _stored_with(char) == [], where
            if char == NUL:
                assert r.status_code == 400 and BAD_CHARACTERS in r.text, where
            elif expected == MESSAGE:
                assert r.status_code == 422 and BAD_CHARACTERS in r.text, where
            elif expected == REFUSED:
                assert 400 <= r.status_code < 500, where


def test_line_breaks_kept_in_multi_line_text_refused_in_one_line_fields(app, world, db):
    c = _client(app, world, "owner")
    data = ANNOUNCEMENT | {"body": "Коляска зима-лето.\r\nЗабирать\tсамовывозом."}
    assert c.post("/announcements/new", data=data).status_code == 303
    assert "Забирать\tсамовывозом" in db.session.scalar(select(ann.Announcement.body))
    for char in ("\n", "\u2028"):
        r = c.post("/announcements/new", data=ANNOUNCEMENT | {"title": f"Отдам{char}коляску"})
        assert r.status_code == 422 and BAD_CHARACTERS in r.text
        assert 'id="title-error"' in r.text  # next to the field
        assert "Коляска зима-лето, самовывоз." in r.text  # nothing typed is lost
