"""Questions and the shared inbox over HTTP: permission matrix (every route × role, another owner's question →
404), htmx contract of the question region and the counters, page forms without JavaScript (303, 422, 409),
nothing typed is lost, bounded queries and page budgets."""

import gzip
import re
from datetime import timedelta

import pytest

from app.extensions import db as _db
from app.models import AuditLog, OutboxMessage, Question, QuestionMessage, User
from app.models.appeals import QuestionStatus
from app.models.base import utcnow
from app.services import questions as svc
from tests.conftest import login_as
from tests.factories import OwnershipFactory, UserFactory
from tests.queries import QueryCounter

ROLES = ["anon", "owner", "neighbour", "owner_other", "council", "staff", "ukadmin", "staff_other", "rso",
         "operator"]
HX = {"HX-Request": "true"}


def hx(target: str) -> dict:
    return {**HX, "HX-Target": target}


def user_of(world, role):
    return world.owner_other if role == "owner_other" else world.by_role(role)


def client(app, world, role):
    c = app.test_client()
    return c if role == "anon" else login_as(c, user_of(world, role))


def ask(world, actor=None, premises=None, to="uk", subject="Когда покрасят подъезд?",
        text="В первом подъезде облезла краска на стенах.", now=None):
    return svc.question_ask(actor=actor or world.owner, premises=premises or world.p1,
                            data=svc.QuestionInput(addressee=to, subject=subject, text=text), now=now)


@pytest.fixture
def qs(world, db):
    """The owner's questions to the УК, the council and the supplier; the neighbour's question to the УК."""
    return {
        "q_uk": ask(world).id,
        "q_council": ask(world, to="council", subject="Собрание").id,
        "q_rso": ask(world, to=f"rso:{world.rso.id}", subject="Напор воды").id,
        "q_n": ask(world, world.neighbour, world.p2, subject="Соседский вопрос").id,
    }


OWNERS_ONLY = {"anon": 302, "owner": 200, "neighbour": 200, "owner_other": 200, "council": 200}
INBOX = {"anon": 302, "council": 200, "staff": 200, "ukadmin": 200, "staff_other": 200, "rso": 200}
NOT_OWNER = {"anon": 302, "owner": 404, "neighbour": 404, "owner_other": 404, "council": 404}
NOT_INBOX = {"anon": 302, "council": 404, "staff": 404, "ukadmin": 404, "staff_other": 404, "rso": 404}

GET_MATRIX = [
    ("/questions/", OWNERS_ONLY, 403),
    ("/questions/new", OWNERS_ONLY, 403),
    ("/questions/{q_uk}", {**NOT_OWNER, "owner": 200}, 403),
    ("/questions/{q_council}", {**NOT_OWNER, "owner": 200}, 403),
    ("/questions/{q_n}", {**NOT_OWNER, "neighbour": 200}, 403),
    ("/questions/999999", NOT_OWNER, 403),
    ("/manage/inbox", INBOX, 403),
    ("/manage/inbox?tab=all", INBOX, 403),
    ("/manage/inbox/counter", INBOX, 403),
    ("/manage/inbox/{q_uk}", {**NOT_INBOX, "staff": 200, "ukadmin": 200}, 403),
    ("/manage/inbox/{q_n}", {**NOT_INBOX, "staff": 200, "ukadmin": 200}, 403),
    ("/manage/inbox/{q_council}", {**NOT_INBOX, "council": 200}, 403),
    ("/manage/inbox/{q_rso}", {**NOT_INBOX, "rso": 200}, 403),
    ("/manage/inbox/999999", NOT_INBOX, 403),
]


@pytest.mark.parametrize(("path", "expected", "default"), GET_MATRIX, ids=[m[0] for m in GET_MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_get_matrix(app, world, qs, role, path, expected, default):
    r = client(app, world, role).get(path.format(**qs))
    assert r.status_code == expected.get(role, default), (role, path)


UK_GROUP = {**NOT_INBOX, "staff": 303, "ukadmin": 303}
POST_MATRIX = [
    ("/questions/new", {"addressee": "uk", "subject": "Тема", "text": "Подробный текст вопроса"},
     {"anon": 302, "owner": 303, "neighbour": 303, "owner_other": 303, "council": 303}, 403),
    ("/questions/{q_uk}/messages", {"text": "Уточнение"}, {**NOT_OWNER, "owner": 303}, 403),
    ("/questions/{q_n}/messages", {"text": "Уточнение"}, {**NOT_OWNER, "neighbour": 303}, 403),
    ("/questions/{q_uk}/close", {}, {**NOT_OWNER, "owner": 303}, 403),
    ("/questions/{q_n}/close", {}, {**NOT_OWNER, "neighbour": 303}, 403),
    ("/manage/inbox/{q_uk}/claim", {}, UK_GROUP, 403),
    ("/manage/inbox/{q_uk}/release", {}, UK_GROUP, 403),
    ("/manage/inbox/{q_uk}/reply", {"text": "Ответ"}, UK_GROUP, 403),
    ("/manage/inbox/{q_uk}/close", {}, UK_GROUP, 403),
    ("/manage/inbox/{q_council}/claim", {}, {**NOT_INBOX, "council": 303}, 403),
    ("/manage/inbox/{q_council}/reply", {"text": "Ответ"}, {**NOT_INBOX, "council": 303}, 403),
    ("/manage/inbox/{q_rso}/reply", {"text": "Ответ"}, {**NOT_INBOX, "rso": 303}, 403),
    ("/manage/inbox/{q_rso}/close", {}, {**NOT_INBOX, "rso": 303}, 403),
]


@pytest.mark.parametrize(("path", "data", "expected", "default"), POST_MATRIX, ids=[m[0] for m in POST_MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_post_matrix(app, world, qs, db, role, path, data, expected, default):
    before = db.session.query(QuestionMessage).count(), db.session.query(AuditLog).count()
    r = client(app, world, role).post(path.format(**qs), data=data)
    status = expected.get(role, default)
    assert r.status_code == status, (role, path, r.text[:300])
    if status != 303:  # refused: nothing written
        assert (db.session.query(QuestionMessage).count(), db.session.query(AuditLog).count()) == before


def test_another_owners_question_never_shows_its_text(app, world, qs):
    c = login_as(app.test_client(), world.owner)
    assert "Соседский вопрос" not in c.get("/questions/").text
    assert "Соседский вопрос" not in c.get(f"/questions/{qs['q_n']}").text


# --- the owner's pages -----------------------------------------------------------------------------------------


def owner_on_p1(app, world):
    """The owner's first premises (by address) is in ул. Горького; switch to ул. Ленина, 1 (council, supplier)."""
    c = login_as(app.test_client(), world.owner)
    assert c.post("/apartment/switch", data={"premises_id": world.p1.id}).status_code == 303
    return c


def test_questions_are_asked_about_the_current_premises(app, world, db):
    c = login_as(app.test_client(), world.owner)
    page = c.get("/questions/new").text
    assert "ул. Горького, д. 5, кв. 7" in page and "Совет дома" not in page  # no council, no supplier there
    assert re.search(r'value="uk" checked', page)  # the only choice is chosen
    c = owner_on_p1(app, world)
    assert c.post("/questions/new", data={"addressee": "council", "subject": "Тема",
                                           "text": "Подробный текст вопроса"}).status_code == 303
    assert db.session.query(Question).one().premises_id == world.p1.id


def test_ask_form_offers_the_buildings_addressees(app, world):
    page = owner_on_p1(app, world).get("/questions/new").text
    assert "ООО «УК Тест»" in page and "Совет дома" in page and "АО «Вода»" in page
    assert 'name="addressee" value="uk"' in page and f'value="rso:{world.rso.id}"' in page
    assert "ул. Ленина, д. 1, кв. 1" in page


def test_ask_errors_422_keep_everything_typed_and_store_nothing(app, world, db):
    c = owner_on_p1(app, world)
    r = c.post("/questions/new", data={"addressee": "council", "subject": "", "text": "Ой, <b>"})
    assert r.status_code == 422
    assert "<title>Ошибка: " in r.text and 'class="error-summary"' in r.text
    assert 'href="#subject">Введите тему вопроса' in r.text
    assert 'id="text-error"' in r.text and "не меньше 10 символов" in r.text
    assert "Ой, &lt;b&gt;</textarea>" in r.text  # kept, and as text
    assert re.search(r'value="council" checked', r.text)
    r = c.post("/questions/new", data={"subject": "Тема", "text": "Достаточно длинный текст"})
    assert r.status_code == 422 and 'href="#addressee">Выберите, кому адресован вопрос' in r.text
    assert 'id="addressee"' in r.text  # the summary link has a target
    assert db.session.query(Question).count() == 0


def test_ask_then_thread_then_follow_up_and_close(app, world, db):
    c = login_as(app.test_client(), world.owner)
    r = c.post("/questions/new", data={"addressee": "uk", "subject": "Свет в подъезде",
                                        "text": "На третьем этаже не горит лампа."})
    assert r.status_code == 303
    question = db.session.query(Question).one()
    assert r.headers["Location"] == f"/questions/{question.id}"
    page = c.get(r.headers["Location"]).text
    assert "Вопрос отправлен" in page and "На третьем этаже не горит лампа." in page and "Ждёт ответа" in page
    svc.question_answer(actor=world.staff, question=question, text="Заменим сегодня до 18:00.")
    page = c.get(f"/questions/{question.id}").text
    assert "Заменим сегодня до 18:00." in page and "Есть ответ" in page
    assert "ООО «УК Тест»" in page and "Морозова" not in page  # signed by the organisation
    r = c.post(f"/questions/{question.id}/messages", data={"text": ""})
    assert r.status_code == 422 and "Напишите сообщение" in r.text and "<title>Ошибка: " in r.text
    r = c.post(f"/questions/{question.id}/messages", data={"text": "Спасибо, а в соседнем подъезде?"})
    assert r.status_code == 303 and r.headers["Location"].endswith("#thread-end")
    db.session.expire_all()
    assert db.session.get(Question, question.id).status == QuestionStatus.NEW
    assert c.post(f"/questions/{question.id}/close").status_code == 303
    page = c.get(f"/questions/{question.id}").text
    assert "Вопрос закрыт" in page and 'name="text"' not in page
    r = c.post(f"/questions/{question.id}/messages", data={"text": "Ещё вопрос"})
    assert r.status_code == 409 and "дописать в него нельзя" in r.text and "Ещё вопрос" in r.text


def test_owner_list_shows_statuses_and_addressees(app, world, qs):
    svc.question_answer(actor=world.council, question=_db.session.get(Question, qs["q_council"]), text="Ответ")
    page = login_as(app.test_client(), world.owner).get("/questions/").text
    assert len(re.findall(r'href="/questions/\d+"', page)) == 3
    assert "Есть ответ" in page and "Ждёт ответа" in page
    assert "Кому: Совет дома" in page and "Кому: АО «Вода»" in page


def test_owner_list_pages(app, world, db):
    for i in range(svc.OWNER_PAGE_SIZE + 2):
        ask(world, subject=f"Вопрос {i:02d}", now=utcnow() - timedelta(days=40 - i))
    c = login_as(app.test_client(), world.owner)
    first = c.get("/questions/").text
    assert "Вопрос 31" in first and "Вопрос 00" not in first and "Заданные раньше" in first
    rest = c.get(f"/questions/?offset={svc.OWNER_PAGE_SIZE}").text
    assert "Вопрос 00" in rest and "Вопрос 01" in rest and "Вопрос 31" not in rest


# --- the inbox: htmx contract --------------------------------------------------------------------------------------


def _root(text):
    return re.match(r'<(\w+) id="([\w-]+)"', text.strip())


def test_claim_inline_returns_the_region_and_triggers_the_counters(app, world, qs):
    c = login_as(app.test_client(), world.staff)
    qid = qs["q_uk"]
    r = c.post(f"/manage/inbox/{qid}/claim", data={"next": "/manage/inbox", "view": "list"},
               headers=hx(f"question-{qid}"))
    assert r.status_code == 200 and "<html" not in r.text
    assert _root(r.text).groups() == ("article", f"question-{qid}")
    assert r.headers["HX-Trigger"] == "inbox:changed" and "HX-Request" in r.headers["Vary"]
    assert "Вы отвечаете" in r.text and "Я отвечу" not in r.text
    assert re.search(rf'<textarea[^>]*id="reply-{qid}"[^>]*autofocus', r.text)  # ready to type the answer
    assert len(gzip.compress(r.data)) <= 5 * 1024


def test_a_colleague_is_refused_409_with_the_name_and_sees_the_claim(app, world, qs):
    qid = qs["q_uk"]
    login_as(app.test_client(), world.staff).post(f"/manage/inbox/{qid}/claim", headers=hx(f"question-{qid}"))
    r = login_as(app.test_client(), world.ukadmin).post(f"/manage/inbox/{qid}/claim",
                                                        headers=hx(f"question-{qid}"))
    assert r.status_code == 409 and _root(r.text).group(2) == f"question-{qid}"
    assert "уже взят в работу: отвечает Морозова Ольга" in r.text and 'role="alert"' in r.text
    assert "Отвечает: <strong>Морозова Ольга</strong>" in r.text
    assert r.headers["HX-Trigger"] == "inbox:changed"  # the page was stale: refresh the counts
    assert "Отправить ответ" in r.text  # answering is still possible


def test_reply_inline_422_keeps_text_then_answers(app, world, qs, db):
    qid = qs["q_uk"]
    c = login_as(app.test_client(), world.ukadmin)
    r = c.post(f"/manage/inbox/{qid}/reply", data={"text": "   ", "view": "list"}, headers=hx(f"question-{qid}"))
    assert r.status_code == 422 and _root(r.text).group(2) == f"question-{qid}"
    assert "Напишите ответ" in r.text and 'aria-invalid="true"' in r.text and "HX-Trigger" not in r.headers
    long = "Ответ <i>курсивом</i>\n" + "х" * 5001
    r = c.post(f"/manage/inbox/{qid}/reply", data={"text": long}, headers=hx(f"question-{qid}"))
    assert r.status_code == 422 and "Не больше 5000 символов" in r.text
    assert "Ответ &lt;i&gt;курсивом&lt;/i&gt;" in r.text  # typed text kept, escaped
    r = c.post(f"/manage/inbox/{qid}/reply", data={"text": "Покрасим в мае.", "view": "list"},
               headers=hx(f"question-{qid}"))
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "inbox:changed"
    assert "Есть ответ" in r.text and "Покрасим в мае." in r.text and "Ответ отправлен собственнику" in r.text
    assert "Вы отвечаете" in r.text  # answering an unclaimed question takes it
    message = db.session.query(QuestionMessage).filter_by(from_owner=False).one()
    assert message.author_id == world.ukadmin.id
    assert db.session.query(OutboxMessage).one().dedupe_key == f"question-answer:{message.id}"


def test_reply_to_a_question_closed_meanwhile_is_409_and_shows_the_unsent_text(app, world, qs):
    qid = qs["q_uk"]
    svc.question_close(actor=world.owner, question=_db.session.get(Question, qid))
    r = login_as(app.test_client(), world.staff).post(f"/manage/inbox/{qid}/reply", data={"text": "Поздний ответ"},
                                                      headers=hx(f"question-{qid}"))
    assert r.status_code == 409 and "ответить на него уже нельзя" in r.text
    assert "Ваш ответ не отправлен" in r.text and "Поздний ответ" in r.text


def test_full_view_region_keeps_the_whole_thread(app, world, qs):
    qid = qs["q_uk"]
    question = _db.session.get(Question, qid)
    svc.question_answer(actor=world.staff, question=question, text="Первый ответ")
    svc.question_add_message(actor=world.owner, question=question, text="Уточнение собственника")
    c = login_as(app.test_client(), world.staff)
    listed = c.get("/manage/inbox?tab=all").text.split(f'<article id="question-{qid}"')[1].split("</article>")[0]
    assert "Вся переписка (3)" in listed and "Первый ответ" in listed and "облезла краска" not in listed
    page = c.get(f"/manage/inbox/{qid}").text
    assert "облезла краска" in page and "Закрыть вопрос" in page and "<h1" in page
    r = c.post(f"/manage/inbox/{qid}/reply", data={"text": "Второй ответ", "view": "full"},
               headers=hx(f"question-{qid}"))
    assert "облезла краска" in r.text and "Второй ответ" in r.text and "Закрыть вопрос" in r.text
    r = c.get(f"/manage/inbox/{qid}", headers=hx(f"question-{qid}"))
    assert r.status_code == 200 and _root(r.text).group(2) == f"question-{qid}"


def test_release_and_close_inline(app, world, qs):
    qid = qs["q_uk"]
    c = login_as(app.test_client(), world.staff)
    c.post(f"/manage/inbox/{qid}/claim", headers=hx(f"question-{qid}"))
    r = c.post(f"/manage/inbox/{qid}/release", headers=hx(f"question-{qid}"))
    assert r.status_code == 200 and "Я отвечу" in r.text and r.headers["HX-Trigger"] == "inbox:changed"
    r = c.post(f"/manage/inbox/{qid}/close", data={"view": "full"}, headers=hx(f"question-{qid}"))
    assert r.status_code == 200 and "Закрыт" in r.text and "Отправить ответ" not in r.text
    actions = [a.action for a in _db.session.query(AuditLog).filter_by(entity_type="question", entity_id=qid)]
    assert actions == ["question_asked", "question_claimed", "question_released", "question_closed"]


def test_counter_partial_and_tabs_fragment(app, world, qs):
    c = login_as(app.test_client(), world.staff)
    r = c.get("/manage/inbox/counter", headers=HX)
    assert r.status_code == 200 and "<html" not in r.text and "HX-Request" in r.headers["Vary"]
    assert r.text.startswith('<span id="inbox-counter"') and ">2<" in r.text
    assert 'hx-trigger="inbox:changed from:body, every 30s"' in r.text
    tabs = c.get("/manage/inbox?tab=mine", headers=hx("inbox-tabs"))
    assert _root(tabs.text).groups() == ("nav", "inbox-tabs") and "<html" not in tabs.text
    assert 'data-count="new">2<' in tabs.text and 'hx-trigger="inbox:changed from:body"' in tabs.text
    assert re.search(r'href="/manage/inbox\?tab=mine" class="button" aria-current="page"', tabs.text)
    svc.question_answer(actor=world.ukadmin, question=_db.session.get(Question, qs["q_uk"]), text="Ответ")
    assert ">1<" in c.get("/manage/inbox/counter").text
    svc.question_claim(actor=world.ukadmin, question=_db.session.get(Question, qs["q_n"]))
    empty = c.get("/manage/inbox/counter").text
    assert 'class="badge badge-empty"' in empty and re.search(r'hx-swap="outerHTML"></span>$', empty.strip())
    counts = c.get("/manage/inbox", headers=hx("inbox-tabs")).text
    assert 'data-count="new">0<' in counts and 'data-count="answered">1<' in counts and 'data-count="all">2<' in counts


def test_more_fragment(app, world, db):
    users = [UserFactory(login=f"n{i}") for i in range(svc.PAGE_SIZE + 2)]
    for u in users:
        OwnershipFactory(user=u, premises=world.p2)
    db.session.commit()
    for i, u in enumerate(users):
        ask(world, u, world.p2, subject=f"Вопрос {i:02d}", now=utcnow() - timedelta(hours=50 - i))
    c = login_as(app.test_client(), world.staff)
    page = c.get("/manage/inbox").text
    assert page.count('<article id="question-') == svc.PAGE_SIZE and 'id="inbox-more"' in page
    more = c.get(f"/manage/inbox?offset={svc.PAGE_SIZE}", headers=hx("inbox-more"))
    assert "<html" not in more.text and more.text.count('<article id="question-') == 2
    assert f"Вопрос {svc.PAGE_SIZE + 1:02d}" in more.text and 'id="inbox-more"' not in more.text
    full = c.get(f"/manage/inbox?offset={svc.PAGE_SIZE}").text  # the same link without JavaScript
    assert "<html" in full and "К началу" in full and f"Вопрос {svc.PAGE_SIZE + 1:02d}" in full


# --- the inbox without JavaScript --------------------------------------------------------------------------------


def test_page_forms_without_javascript(app, world, qs, db):
    qid = qs["q_uk"]
    c = login_as(app.test_client(), world.staff)
    r = c.post(f"/manage/inbox/{qid}/claim", data={"next": "/manage/inbox?tab=new", "view": "list"})
    assert r.status_code == 303 and r.headers["Location"] == f"/manage/inbox?tab=new#question-{qid}"
    page = c.get("/manage/inbox?tab=mine").text
    assert "Вопрос за вами" in page and "Вы отвечаете" in page
    r = c.post(f"/manage/inbox/{qid}/reply", data={"text": "", "next": "/manage/inbox?tab=mine"})
    assert r.status_code == 422 and "<html" in r.text and "<title>Ошибка: " in r.text
    assert f'href="#reply-{qid}">Напишите ответ' in r.text
    r = c.post(f"/manage/inbox/{qid}/reply", data={"text": "Ответ без JS", "next": "/manage/inbox?tab=mine"})
    assert r.status_code == 303 and r.headers["Location"].startswith("/manage/inbox?tab=mine#")
    other = login_as(app.test_client(), world.ukadmin)
    r = other.post(f"/manage/inbox/{qs['q_n']}/claim")
    r = login_as(app.test_client(), world.staff).post(f"/manage/inbox/{qs['q_n']}/claim",
                                                      data={"next": "/manage/inbox"})
    assert r.status_code == 409 and "<html" in r.text and "отвечает Семёнов Дмитрий" in r.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/manage/inbox", "/manage/inbox//x",
                                    "/profile/"])
def test_next_never_leaves_the_inbox(app, world, qs, target):
    r = login_as(app.test_client(), world.staff).post(f"/manage/inbox/{qs['q_uk']}/release", data={"next": target})
    assert r.status_code == 303 and r.headers["Location"] == f"/manage/inbox#question-{qs['q_uk']}"


def test_forms_carry_csrf_tokens(app_factory, world, qs):
    app = app_factory(WTF_CSRF_ENABLED=True)
    c = login_as(app.test_client(), world.staff)
    page = c.get("/manage/inbox").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    qid = qs["q_uk"]
    assert c.post(f"/manage/inbox/{qid}/claim").status_code == 400
    assert c.post(f"/manage/inbox/{qid}/claim", data={"csrf_token": token}).status_code == 303
    r = c.post(f"/manage/inbox/{qid}/reply", data={"text": "Ответ"},
               headers={**hx(f"question-{qid}"), "X-CSRFToken": token})
    assert r.status_code == 200


def test_unauthenticated_htmx_gets_401_with_redirect(app, world, qs):
    r = app.test_client().post(f"/manage/inbox/{qs['q_uk']}/claim", headers=hx(f"question-{qs['q_uk']}"))
    assert r.status_code == 401 and "/auth/login" in r.headers["HX-Redirect"]


def test_texts_are_shown_as_text(app, world):
    q = ask(world, subject="<script>alert(1)</script>", text="<img src=x onerror=alert(1)> подробности")
    for user, path in ((world.owner, f"/questions/{q.id}"), (world.owner, "/questions/"),
                       (world.staff, "/manage/inbox"), (world.staff, f"/manage/inbox/{q.id}")):
        html = login_as(app.test_client(), user).get(path).text
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- budgets -------------------------------------------------------------------------------------------------------


def _many_questions(world, db, n):
    users = [UserFactory(login=f"u{n}-{i}", full_name=f"Собственник Номер {i}") for i in range(n)]
    for u in users:
        OwnershipFactory(user=u, premises=world.p2)
    db.session.commit()
    text = "Добрый день! " + "Подробное описание ситуации в подъезде и во дворе. " * 4
    for i, u in enumerate(users):
        q = ask(world, u, world.p2, subject=f"Вопрос жителя номер {i}", text=text)
        if i % 2:
            svc.question_answer(actor=world.ukadmin, question=q, text="Ответ управляющей организации. " * 4)


def _queries(app, user_id, path):
    c = login_as(app.test_client(), _db.session.get(User, user_id))
    assert c.get(path).status_code == 200  # warm: the first request also fills the user's unread-badge cache
    _db.session.expire_all()
    with QueryCounter() as counter:
        r = c.get(path)
        assert r.status_code == 200
    return counter.count, r


@pytest.mark.parametrize("path", ["/manage/inbox?tab=all", "/manage/inbox?tab=new"])
def test_inbox_queries_do_not_grow_with_questions(app, world, db, path):
    _many_questions(world, db, 2)
    few, _ = _queries(app, world.staff.id, path)
    _many_questions(world, db, 16)
    many, r = _queries(app, world.staff.id, path)
    assert r.text.count('<article id="question-') > 8
    assert many == few and many <= 10, (few, many)  # measured: 8 (session user 4, page, messages, counts, nav)


def test_owner_list_queries_do_not_grow(app, world, db):
    for i in range(2):
        ask(world, subject=f"Вопрос {i}", now=utcnow() - timedelta(days=30 - i))
    few, _ = _queries(app, world.owner.id, "/questions/")
    for i in range(2, 12):
        ask(world, subject=f"Вопрос {i}", to=("council" if i % 2 else "uk"), now=utcnow() - timedelta(days=30 - i))
    many, r = _queries(app, world.owner.id, "/questions/")
    assert len(re.findall(r'href="/questions/\d+"', r.text)) == 12
    assert many == few and many <= 8, (few, many)


def test_inbox_page_within_budget(app, world, db):
    _many_questions(world, db, svc.PAGE_SIZE)
    r = login_as(app.test_client(), world.staff).get("/manage/inbox?tab=all")
    assert r.text.count('<article id="question-') == svc.PAGE_SIZE
    assert len(gzip.compress(r.data)) <= 14 * 1024, len(gzip.compress(r.data))
