"""Small forms refuse bad input with the message next to the field and keep what was typed (422, not 400)."""

from app.services import notices, questions
from tests.conftest import login_as


def _notice(world):
    return notices.notice_publish(actor=world.staff, data=notices.NoticeInput(
        category="info", title="Собрание", body="Приглашаем на собрание в пятницу.", building_ids=(world.building.id,)))


def test_withdraw_without_reason_keeps_the_page_and_says_why(app, world, db):
    notice = _notice(world)
    c = login_as(app.test_client(), world.staff)
    r = c.post(f"/notices/{notice.id}/withdraw", data={"reason": "   "})
    assert r.status_code == 422 and 'id="reason-error"' in r.text and 'aria-invalid="true"' in r.text
    r = c.post(f"/notices/{notice.id}/withdraw", data={"reason": "ремонт\x1bотменён"})
    assert r.status_code == 422 and "недопустимые символы" in r.text and 'value="ремонт' in r.text
    db.session.expire_all()
    assert notice.status == "published"
    r = c.post(f"/notices/{notice.id}/withdraw", data={"reason": "Работы перенесены"})
    assert r.status_code == 303
    db.session.expire_all()
    assert notice.status == "withdrawn"


def test_inbox_reply_with_a_control_character_is_a_field_error(app, world, db):
    q = questions.question_ask(actor=world.owner, premises=world.p1, data=questions.QuestionInput(
        addressee="uk", subject="Когда покрасят подъезд?", text="Облезла краска."))
    c = login_as(app.test_client(), world.staff)
    headers = {"HX-Request": "true", "HX-Target": f"question-{q.id}"}
    r = c.post(f"/manage/inbox/{q.id}/reply", data={"text": "Покрасим\x07 в мае"}, headers=headers)
    assert r.status_code == 422 and "недопустимые символы" in r.text and "Покрасим" in r.text
    db.session.expire_all()
    assert q.status.value == "new" and not q.messages[1:]
