"""Questions: whom an owner may ask, who sees what in the shared inbox, claim (atomic, also under a race of ten
on PostgreSQL), release, answers by anyone of the group, the owner's follow-up and closing, emails, audit."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.models import AuditLog, OutboxMessage, Question, QuestionMessage, User
from app.models.appeals import QuestionStatus
from app.services import questions as svc
from app.services.errors import Conflict, Invalid, Locked, NotAllowed, NotFound
from tests.factories import CouncilFactory, OrganisationFactory, OwnershipFactory, StaffFactory, UserFactory
from tests.queries import QueryCounter

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 11:00 in Chita


def _inbox(actor, question_id):
    """The inbox item, or None where the access layer answers NotFound."""
    try:
        return svc.inbox_item_get(actor=actor, id=question_id)
    except NotFound:
        return None


def ask(world, actor=None, premises=None, *, to="uk", subject="Когда покрасят подъезд?",
        text="В первом подъезде облезла краска на стенах.", now=NOW):
    return svc.question_ask(actor=actor or world.owner, premises=premises or world.p1,
                            data=svc.QuestionInput(addressee=to, subject=subject, text=text), now=now)


def audit_actions(question_id):
    return [a.action for a in _db.session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "question", AuditLog.entity_id == question_id)
        .order_by(AuditLog.id))]


def fresh(question):
    _db.session.expire_all()
    return _db.session.get(Question, question.id)


# --- asking --------------------------------------------------------------------------------------------------------


def test_recipients_of_a_building_with_council_and_supplier(world):
    recipients = svc.question_recipients(actor=world.owner, premises=world.p1)
    assert [r.key for r in recipients] == ["uk", "council", f"rso:{world.rso.id}"]
    assert recipients[0].label == "ООО «УК Тест»" and recipients[0].organisation_id == world.uk.id
    assert recipients[2].label == "АО «Вода»" and "холодная вода" in recipients[2].hint


def test_building_without_council_and_suppliers_offers_the_uk_only(world):
    assert [r.key for r in svc.question_recipients(actor=world.owner, premises=world.p_b2)] == ["uk"]


def test_the_only_council_member_is_not_offered_to_write_to_themselves(world, db):
    assert "council" not in [r.key for r in svc.question_recipients(actor=world.council, premises=world.p3)]
    CouncilFactory(user=world.neighbour, building=world.building)
    db.session.commit()
    assert "council" in [r.key for r in svc.question_recipients(actor=world.council, premises=world.p3)]


@pytest.mark.parametrize(("to", "addressee", "org"), [("uk", "uk", "uk"), ("council", "council", None),
                                                      ("rso", "rso", "rso")])
def test_ask_stores_question_first_message_and_audit(world, to, addressee, org):
    key = f"rso:{world.rso.id}" if to == "rso" else to
    q = ask(world, to=key)
    q = fresh(q)
    assert (q.addressee, q.status, q.author_id, q.building_id, q.premises_id) == (
        addressee, QuestionStatus.NEW, world.owner.id, world.building.id, world.p1.id)
    assert q.organisation_id == (getattr(world, org).id if org else None)
    assert [(m.from_owner, m.text) for m in q.messages] == [(True, "В первом подъезде облезла краска на стенах.")]
    assert audit_actions(q.id) == ["question_asked"]


def test_ask_reports_every_problem_at_once_and_stores_nothing(world, db):
    with pytest.raises(Invalid) as error:
        ask(world, to="", subject="  ", text="Краска")
    assert error.value.errors == {"addressee": "Выберите, кому адресован вопрос", "subject": "Введите тему вопроса",
                                  "text": "Опишите вопрос подробнее: не меньше 10 символов"}
    with pytest.raises(Invalid) as error:
        ask(world, subject="Т" * 161, text="х" * 5001)
    assert error.value.errors["subject"] == "Не больше 160 символов"
    assert error.value.errors["text"].startswith("Не больше 5000 символов")
    assert db.session.query(Question).count() == 0 and db.session.query(QuestionMessage).count() == 0


@pytest.mark.parametrize("to", ["council", "rso:{rso}", "rso:{other}", "operator"])
def test_addressees_outside_the_building_are_refused(world, db, to):
    other = OrganisationFactory(kind="rso", short_name="ООО «Тепло»")
    db.session.commit()
    with pytest.raises(Invalid) as error:  # building2 has no council and no supplier
        ask(world, premises=world.p_b2, to=to.format(rso=world.rso.id, other=other.id))
    assert error.value.field == "addressee"


def test_only_about_own_premises(world):
    with pytest.raises(NotAllowed):
        ask(world, premises=world.p2)


def test_text_keeps_line_breaks_and_drops_control_characters(world):
    q = ask(world, text="Первая строка  \r\n\r\n\r\n\r\nвторая\x00 строка\x07\n")
    assert fresh(q).messages[0].text == "Первая строка\n\nвторая строка"


def test_double_submit_returns_the_same_question(world, db):
    first = ask(world)
    again = ask(world, now=NOW + timedelta(seconds=5))
    assert again.id == first.id and db.session.query(Question).count() == 1
    later = ask(world, now=NOW + svc.REPEAT_WINDOW + timedelta(seconds=1))
    assert later.id != first.id


def test_daily_limit(world):
    for i in range(svc.DAILY_LIMIT):
        ask(world, subject=f"Вопрос {i}", now=NOW + timedelta(minutes=i))
    with pytest.raises(Invalid) as error:
        ask(world, subject="Ещё один", now=NOW + timedelta(hours=1))
    assert "не больше 10 вопросов" in error.value.message
    assert ask(world, subject="Завтра", now=NOW + timedelta(days=1, minutes=1)).id


# --- who sees what -------------------------------------------------------------------------------------------------


@pytest.fixture
def three(world, db):
    """One question to each addressee of ул. Ленина, 1, plus a question of another УК's building."""
    uk = ask(world, subject="В УК")
    council = ask(world, to="council", subject="В совет")
    rso = ask(world, to=f"rso:{world.rso.id}", subject="В водоканал")
    elsewhere = ask(world, world.owner_other, world.p_other, subject="Чужая УК")
    return uk, council, rso, elsewhere


@pytest.mark.parametrize(("role", "sees"), [
    ("staff", {"В УК"}), ("ukadmin", {"В УК"}), ("council", {"В совет"}), ("rso", {"В водоканал"}),
    ("staff_other", {"Чужая УК"}), ("owner", set()), ("neighbour", set()), ("operator", set()),
])
def test_inbox_shows_only_questions_addressed_to_the_actor(world, three, role, sees):
    actor = world.by_role(role)
    page = svc.inbox_for(actor=actor, tab="all")
    assert {i.question.subject for i in page.items} == sees
    assert page.counts["all"] == len(sees)
    for q in three:
        assert (_inbox(actor, q.id) is not None) == (q.subject in sees)
    assert svc.can_use_inbox(actor) == (role not in ("owner", "neighbour", "operator"))


def test_the_uk_does_not_see_questions_to_the_council(world, three):
    _, council, *_ = three
    with pytest.raises(NotAllowed):
        svc.question_answer(actor=world.staff, question=council, text="Ответ УК", now=NOW)


def test_a_council_member_does_not_answer_their_own_question(world, db):
    member = UserFactory(login="member2", full_name="Второй Член Совета")
    CouncilFactory(user=member, building=world.building)
    db.session.commit()
    q = ask(world, world.council, world.p3, to="council", subject="Свой вопрос")
    assert _inbox(world.council, q.id) is None
    assert _inbox(member, q.id) is not None
    with pytest.raises(NotAllowed, match="ваш вопрос"):
        svc.question_claim(actor=world.council, question=q, now=NOW)


def test_tabs_counts_and_order(world, db):
    a = ask(world, subject="Первый", now=NOW)
    b = ask(world, subject="Второй", now=NOW + timedelta(minutes=1))
    c = ask(world, subject="Третий", now=NOW + timedelta(minutes=2))
    d = ask(world, subject="Четвёртый", now=NOW + timedelta(minutes=3))
    svc.question_claim(actor=world.staff, question=b, now=NOW + timedelta(hours=1))
    svc.question_answer(actor=world.ukadmin, question=c, text="Ответ", now=NOW + timedelta(hours=1))
    svc.question_close(actor=world.owner, question=d, now=NOW + timedelta(hours=2))
    counts = svc.inbox_counts(actor=world.staff)
    assert counts == {"new": 1, "mine": 1, "answered": 1, "all": 4}
    assert svc.inbox_new_count(actor=world.staff) == 1
    assert [i.question.id for i in svc.inbox_for(actor=world.staff, tab="new").items] == [a.id]
    assert [i.question.id for i in svc.inbox_for(actor=world.staff, tab="mine").items] == [b.id]
    # answering an unclaimed question takes it
    assert [i.question.id for i in svc.inbox_for(actor=world.ukadmin, tab="mine").items] == [c.id]
    assert [i.question.id for i in svc.inbox_for(actor=world.staff, tab="answered").items] == [c.id]
    assert [i.question.id for i in svc.inbox_for(actor=world.staff, tab="all").items] == [d.id, c.id, b.id, a.id]
    assert svc.inbox_for(actor=world.staff, tab="nonsense").tab == "new"


def test_paging(world):
    for i in range(svc.PAGE_SIZE + 3):
        ask(world, subject=f"Вопрос {i:02d}", now=NOW + timedelta(hours=3 * i))  # under the daily limit
    first = svc.inbox_for(actor=world.staff, tab="new")
    assert len(first.items) == svc.PAGE_SIZE and first.next_offset == svc.PAGE_SIZE
    rest = svc.inbox_for(actor=world.staff, tab="new", offset=first.next_offset)
    assert [i.question.subject for i in rest.items] == [f"Вопрос {svc.PAGE_SIZE + k:02d}" for k in range(3)]
    assert rest.next_offset is None


def _inbox_queries(world, tab):
    staff_id = world.staff.id
    _db.session.expire_all()  # nothing served from objects the test already loaded
    with QueryCounter() as counter:
        staff = _db.session.get(User, staff_id)
        page = svc.inbox_for(actor=staff, tab=tab)
        for item in page.items:  # everything the template reads
            q = item.question
            _ = (q.author.full_name, q.claimed_by and q.claimed_by.full_name, item.place, item.addressee,
                 [(m.text, m.author and m.author.full_name) for m in q.messages])
    return counter.count, len(page.items)


@pytest.mark.parametrize("tab", ["new", "all"])
def test_inbox_queries_do_not_grow_with_rows(world, db, tab):
    for i in range(2):
        ask(world, subject=f"Вопрос {i}", now=NOW + timedelta(minutes=i))
    few, n_few = _inbox_queries(world, tab)
    neighbours = [UserFactory(login=f"n{i}", full_name=f"Сосед {i}") for i in range(12)]
    for user in neighbours:
        OwnershipFactory(user=user, premises=world.p2)
    db.session.commit()
    for i, user in enumerate(neighbours):
        q = ask(world, user, world.p2, subject=f"Соседский {i}", now=NOW + timedelta(minutes=10 + i))
        if i % 3 == 0:
            svc.question_answer(actor=world.ukadmin, question=q, text="Ответ", now=NOW + timedelta(hours=1))
            svc.question_add_message(actor=user, question=q, text="Уточнение", now=NOW + timedelta(hours=2))
    many, n_many = _inbox_queries(world, tab)
    assert n_many > n_few
    assert many == few, (few, many)
    assert many <= 7  # the user and its memberships (4), the page, the messages, the counts


# --- claim, release ------------------------------------------------------------------------------------------------


def test_claim_then_a_colleague_is_refused_with_the_name(world):
    q = ask(world)
    svc.question_claim(actor=world.staff, question=q, now=NOW + timedelta(minutes=5))
    q = fresh(q)
    assert q.claimed_by_id == world.staff.id and q.claimed_at == NOW + timedelta(minutes=5)
    with pytest.raises(Conflict) as error:
        svc.question_claim(actor=world.ukadmin, question=q, now=NOW + timedelta(minutes=6))
    assert "Морозова Ольга" in error.value.message and "23.11.2026 11:05" in error.value.message
    assert fresh(q).claimed_by_id == world.staff.id
    svc.question_claim(actor=world.staff, question=q, now=NOW + timedelta(minutes=7))  # a second click: no error
    assert fresh(q).claimed_at == NOW + timedelta(minutes=5)
    assert audit_actions(q.id) == ["question_asked", "question_claimed"]


def test_claim_refusals(world):
    q = ask(world)
    for actor in (world.staff_other, world.rso_user, world.council, world.owner):
        with pytest.raises(NotAllowed):
            svc.question_claim(actor=actor, question=q, now=NOW)
    svc.question_close(actor=world.owner, question=q, now=NOW)
    with pytest.raises(Locked):
        svc.question_claim(actor=world.staff, question=fresh(q), now=NOW)


def test_release_by_the_holder_or_the_head(world):
    q = ask(world)
    svc.question_claim(actor=world.staff, question=q, now=NOW)
    svc.question_release(actor=world.staff, question=fresh(q), now=NOW)
    assert fresh(q).claimed_by_id is None and fresh(q).claimed_at is None
    svc.question_claim(actor=world.ukadmin, question=fresh(q), now=NOW)
    with pytest.raises(NotAllowed):  # a colleague cannot take it off the admin
        svc.question_release(actor=world.staff, question=fresh(q), now=NOW)
    svc.question_release(actor=world.ukadmin, question=fresh(q), now=NOW)
    svc.question_claim(actor=world.staff, question=fresh(q), now=NOW)
    svc.question_release(actor=world.ukadmin, question=fresh(q), now=NOW)  # the admin may
    assert fresh(q).claimed_by_id is None
    svc.question_release(actor=world.staff, question=fresh(q), now=NOW)  # nothing to release: no error, no audit
    assert audit_actions(q.id).count("question_released") == 3


def test_item_flags(world):
    q = ask(world)
    item = _inbox(world.staff, q.id)
    assert (item.can_claim, item.can_release, item.can_answer, item.mine) == (True, False, True, False)
    svc.question_claim(actor=world.staff, question=q, now=NOW)
    mine = _inbox(world.staff, q.id)
    assert (mine.mine, mine.can_claim, mine.can_release) == (True, False, True)
    colleague = _inbox(world.ukadmin, q.id)
    assert (colleague.mine, colleague.can_claim, colleague.can_release, colleague.can_answer) == (
        False, False, True, True)  # the admin heads the group
    svc.question_close(actor=world.owner, question=fresh(q), now=NOW)
    closed = _inbox(world.staff, q.id)
    assert not (closed.can_claim or closed.can_release or closed.can_answer or closed.can_close)


# --- answers -------------------------------------------------------------------------------------------------------


def test_anyone_of_the_group_answers_and_is_recorded(world, db):
    q = ask(world)
    svc.question_claim(actor=world.staff, question=q, now=NOW)
    message = svc.question_answer(actor=world.ukadmin, question=fresh(q), text="Покрасим в мае.\nГрафик на стенде.",
                                  now=NOW + timedelta(hours=1))
    q = fresh(q)
    assert q.status == QuestionStatus.ANSWERED and q.claimed_by_id == world.staff.id  # the claim stays
    assert (message.author_id, message.from_owner, message.text) == (world.ukadmin.id, False,
                                                                     "Покрасим в мае.\nГрафик на стенде.")
    log = db.session.scalars(select(AuditLog).where(AuditLog.action == "question_answered")).one()
    assert (log.actor_id, log.actor_role, log.changes["message_id"]) == (world.ukadmin.id, "staff", message.id)


def test_answering_an_unclaimed_question_makes_it_the_answerers(world):
    q = ask(world)
    svc.question_answer(actor=world.ukadmin, question=q, text="Ответ", now=NOW)
    assert fresh(q).claimed_by_id == world.ukadmin.id and fresh(q).claimed_at == NOW


def test_answer_queues_one_email_per_message(world, db):
    q = ask(world)
    first = svc.question_answer(actor=world.staff, question=q, text="Покрасим в мае.", now=NOW)
    second = svc.question_answer(actor=world.staff, question=fresh(q), text="Уточню: во второй половине мая.",
                                 now=NOW + timedelta(minutes=30))
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.dedupe_key for r in rows] == [f"question-answer:{first.id}", f"question-answer:{second.id}"]
    mail = rows[0]
    assert mail.to_address == "owner@example.ru" and mail.subject == "Ответ на ваш вопрос: Когда покрасят подъезд?"
    assert "Покрасим в мае." in mail.body_text and "ООО «УК Тест»" in mail.body_text
    assert f"/questions/{q.id}" in mail.body_text and f"/questions/{q.id}" in mail.body_html
    assert "Морозова" not in mail.body_text  # signed by the organisation, not the employee


@pytest.mark.parametrize("case", ["no_email", "inactive"])
def test_no_email_without_an_address_or_for_a_deactivated_account(world, db, case):
    q = ask(world)
    if case == "no_email":
        world.owner.email = None
    else:
        world.owner.active = False
    db.session.commit()
    svc.question_answer(actor=world.staff, question=q, text="Ответ", now=NOW)
    assert db.session.query(OutboxMessage).count() == 0
    assert fresh(q).status == QuestionStatus.ANSWERED


def test_answer_refusals(world, db):
    q = ask(world)
    with pytest.raises(Invalid) as error:
        svc.question_answer(actor=world.staff, question=q, text="  \n ", now=NOW)
    assert error.value.errors == {"text": "Напишите ответ"}
    for actor in (world.staff_other, world.rso_user, world.owner, world.neighbour):
        with pytest.raises(NotAllowed):
            svc.question_answer(actor=actor, question=q, text="Ответ", now=NOW)
    svc.question_close(actor=world.owner, question=q, now=NOW)
    with pytest.raises(Locked):
        svc.question_answer(actor=world.staff, question=fresh(q), text="Ответ", now=NOW)
    assert db.session.query(QuestionMessage).count() == 1 and db.session.query(OutboxMessage).count() == 0


def test_a_double_submitted_answer_is_stored_once(world, db):
    q = ask(world)
    a = svc.question_answer(actor=world.staff, question=q, text="Ответ", now=NOW)
    b = svc.question_answer(actor=world.staff, question=fresh(q), text="Ответ", now=NOW + timedelta(seconds=2))
    assert a.id == b.id and db.session.query(OutboxMessage).count() == 1


def test_council_and_supplier_answer_their_questions(world, db):
    council_q = ask(world, to="council", subject="Собрание")
    rso_q = ask(world, to=f"rso:{world.rso.id}", subject="Напор воды")
    svc.question_answer(actor=world.council, question=council_q, text="Собрание в субботу", now=NOW)
    svc.question_answer(actor=world.rso_user, question=rso_q, text="Напор восстановлен", now=NOW)
    roles = dict(db.session.execute(select(AuditLog.entity_id, AuditLog.actor_role)
                                    .where(AuditLog.action == "question_answered")).all())
    assert roles == {council_q.id: "council", rso_q.id: "rso"}
    bodies = {m.dedupe_key: m.body_text for m in db.session.scalars(select(OutboxMessage))}
    assert any("От кого: Совет дома" in b for b in bodies.values())
    assert any("От кого: АО «Вода»" in b for b in bodies.values())


def test_staff_of_another_supplier_does_not_see_rso_questions(world, db):
    other = OrganisationFactory(kind="rso", short_name="ООО «Тепло»")
    stranger = UserFactory(login="teplo")
    StaffFactory(user=stranger, organisation=other)
    db.session.commit()
    q = ask(world, to=f"rso:{world.rso.id}")
    assert _inbox(stranger, q.id) is None
    assert svc.inbox_for(actor=stranger, tab="all").items == []


# --- the owner's follow-up and closing -------------------------------------------------------------------------


def test_follow_up_returns_the_question_to_new_and_keeps_the_claim(world, db):
    q = ask(world)
    svc.question_answer(actor=world.staff, question=q, text="Покрасим в мае.", now=NOW)
    svc.question_add_message(actor=world.owner, question=fresh(q), text="А какой краской?",
                             now=NOW + timedelta(hours=1))
    q = fresh(q)
    assert q.status == QuestionStatus.NEW and q.claimed_by_id == world.staff.id
    assert [m.from_owner for m in q.messages] == [True, False, True]
    assert [i.question.id for i in svc.inbox_for(actor=world.staff, tab="mine").items] == [q.id]
    assert svc.inbox_new_count(actor=world.staff) == 0  # taken: not in the colleagues' «new»
    assert audit_actions(q.id)[-1] == "question_message"


def test_follow_up_refusals(world):
    q = ask(world)
    with pytest.raises(NotAllowed):
        svc.question_add_message(actor=world.neighbour, question=q, text="Чужое", now=NOW)
    with pytest.raises(Invalid):
        svc.question_add_message(actor=world.owner, question=q, text=" ", now=NOW)
    svc.question_close(actor=world.owner, question=q, now=NOW)
    with pytest.raises(Locked):
        svc.question_add_message(actor=world.owner, question=fresh(q), text="Ещё вопрос", now=NOW)


@pytest.mark.parametrize(("role", "audit_role"), [("owner", "owner"), ("staff", "staff")])
def test_close_by_the_author_or_the_addressee(world, db, role, audit_role):
    q = ask(world)
    svc.question_close(actor=world.by_role(role), question=q, now=NOW)
    assert fresh(q).status == QuestionStatus.CLOSED
    svc.question_close(actor=world.by_role(role), question=fresh(q), now=NOW)  # idempotent
    logs = db.session.scalars(select(AuditLog).where(AuditLog.action == "question_closed")).all()
    assert [(log.actor_role, log.changes) for log in logs] == [(audit_role, {"status": ["new", "closed"]})]


@pytest.mark.parametrize("role", ["neighbour", "staff_other", "rso", "council"])
def test_close_refused_to_others(world, role):
    with pytest.raises(NotAllowed):
        svc.question_close(actor=world.by_role(role), question=ask(world), now=NOW)


def test_owner_sees_only_own_questions(world):
    mine = ask(world)
    theirs = ask(world, world.neighbour, world.p2, subject="Соседский")
    assert [q.id for q, _ in svc.owner_questions(actor=world.owner).items] == [mine.id]
    with pytest.raises(NotFound):
        svc.question_get(actor=world.owner, id=theirs.id)
    question, premises = svc.question_get(actor=world.owner, id=mine.id)
    assert question.id == mine.id and premises.id == world.p1.id


def test_counter_drops_when_anyone_claims_or_answers(world):
    a, b = ask(world, subject="А"), ask(world, subject="Б")
    assert svc.inbox_new_count(actor=world.staff) == svc.inbox_new_count(actor=world.ukadmin) == 2
    svc.question_claim(actor=world.ukadmin, question=a, now=NOW)
    assert svc.inbox_new_count(actor=world.staff) == 1
    svc.question_answer(actor=world.ukadmin, question=b, text="Ответ", now=NOW)
    assert svc.inbox_new_count(actor=world.staff) == 0
    assert svc.inbox_new_count(actor=world.council) == 0 and svc.inbox_new_count(actor=world.owner) == 0


# --- concurrency (PostgreSQL) ----------------------------------------------------------------------------------


@pytest.fixture
def postgres_only(db):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it with TEST_DATABASE_URL)")


def test_ten_colleagues_claim_at_once_exactly_one_wins(app, world, db, postgres_only):
    colleagues = []
    for i in range(10):
        user = UserFactory(login=f"colleague{i}", full_name=f"Сотрудник Номер{i}")
        StaffFactory(user=user, organisation=world.uk)
        colleagues.append(user)
    db.session.commit()
    q = ask(world)
    ids, question_id = [u.id for u in colleagues], q.id
    barrier = threading.Barrier(len(ids))
    outcomes: dict[int, object] = {}

    def run(user_id):
        with app.app_context():
            try:
                actor = _db.session.get(User, user_id)
                question = _db.session.get(Question, question_id)
                barrier.wait()
                svc.question_claim(actor=actor, question=question, now=NOW)
                outcomes[user_id] = "ok"
            except Conflict as error:
                outcomes[user_id] = ("conflict", error.message)
            except Exception as error:  # pragma: no cover - reported by the assertion below
                outcomes[user_id] = ("error", repr(error))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [uid for uid, o in outcomes.items() if o == "ok"]
    assert len(outcomes) == 10 and len(winners) == 1, outcomes
    winner = _db.session.get(User, winners[0])
    losers = [o for o in outcomes.values() if o != "ok"]
    assert all(o[0] == "conflict" and winner.full_name in o[1] for o in losers), losers
    assert fresh(q).claimed_by_id == winner.id
    assert audit_actions(q.id).count("question_claimed") == 1
