"""Questions (Вопросы): an owner asks the УК of the building, its council or a supplier (РСО) serving it; the
addressee group answers from a shared inbox. Claiming («Я отвечу») is a courtesy that tells colleagues who is on
it, not a lock: anyone of the group may answer, and the reply records who did. The owner gets an email (a service
message) through the durable outbox when answered.

Who is the addressee group of a question:
- "uk": staff of the organisation the question was addressed to (the building's УК at the time of asking);
- "council": council members of the building (the УК does not see these: owners may write to the council
  about the УК itself);
- "rso": staff of that supplier.
Nobody answers their own question: a council member who asks the council sees it under «Вопросы», not in the inbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, case, false, func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from app.access import access_for, valid_id
from app.extensions import db
from app.formatting import datetime_ru
from app.models import (
    CouncilMembership,
    Organisation,
    Premises,
    Question,
    QuestionMessage,
    User,
    building_suppliers,
)
from app.models.appeals import QuestionStatus
from app.models.base import utcnow
from app.models.metering import RESOURCE_LABELS, Resource
from app.models.orgs import OrgKind, StaffRole
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, Locked, NotAllowed, NotFound
from app.services.mailer import outbox_enqueue
from app.services.validation import clean_text, validate_all

Addressee = Literal["uk", "council", "rso"]
Tab = Literal["new", "mine", "answered", "all"]

TABS: dict[str, str] = {"new": "Новые", "mine": "Мои", "answered": "С ответом", "all": "Все"}
PAGE_SIZE = 50  # the staff inbox, as every staff list (app/services/paging.py)
OWNER_PAGE_SIZE = 30
SUBJECT_MAX = 160
TEXT_MAX = 5000
QUESTION_MIN = 10
DAILY_LIMIT = 10  # questions per owner in 24 hours: enough for anyone, a brake on a stuck button or a script
REPEAT_WINDOW = timedelta(minutes=10)  # the same text again within this window is a double submit, not news
ROLE_OF_ADDRESSEE = {"uk": "staff", "council": "council", "rso": "rso"}
# The owner reads «new» as «waiting for an answer»; the inbox keeps the model's labels.
OWNER_STATUS_LABELS = {QuestionStatus.NEW: "Ждёт ответа", QuestionStatus.ANSWERED: "Есть ответ",
                       QuestionStatus.CLOSED: "Закрыт"}
STATUS_TAGS = {QuestionStatus.NEW: "tag-pending", QuestionStatus.ANSWERED: "tag-active", QuestionStatus.CLOSED: ""}


# --- texts -------------------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _message_text(raw: str | None, field_name: str, *, empty: str, min_len: int, short: str | None = None) -> str:
    """A multi-line text: line breaks kept (at most one empty line in a row), control characters dropped."""
    text = _CONTROL.sub("", (raw or "").replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if not text:
        raise Invalid(field_name, empty)
    if len(text) < min_len:
        raise Invalid(field_name, short or empty)
    if len(text) > TEXT_MAX:
        raise Invalid(field_name, f"Не больше {TEXT_MAX} символов, сейчас {len(text)}")
    return text


def addressee_label(question: Question) -> str:
    """To whom, as owners and staff read it: «Совет дома», or the organisation's short name."""
    if question.addressee == "council":
        return "Совет дома"
    return question.organisation.short_name if question.organisation else "Организация"


def sender_label(question: Question) -> str:
    """How a reply is signed for the owner: the group, not the person (like readings entered by staff)."""
    return addressee_label(question)


# --- the owner's side ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    key: str  # "uk", "council", "rso:<organisation id>": the value of the form's radio button
    addressee: Addressee
    organisation_id: int | None
    label: str
    hint: str


def question_recipients(*, actor: User, premises: Premises) -> list[Recipient]:
    """Whom an owner of these premises may ask: the УК, the council (if the building has one, other than the
    asker), every supplier serving the building."""
    building = premises.building
    result = [Recipient("uk", "uk", building.organisation_id, building.organisation.short_name,
                        "Управляющая организация: содержание и ремонт дома, уборка, начисления и квитанции")]
    council = db.session.scalar(select(func.count(CouncilMembership.id)).where(
        CouncilMembership.building_id == building.id, CouncilMembership.user_id != actor.id))
    if council:
        result.append(Recipient("council", "council", None, "Совет дома",
                                "Собственники, избранные общим собранием: собрания, решения жильцов, работа УК"))
    suppliers = db.session.scalars(
        select(Organisation).join(building_suppliers, building_suppliers.c.organisation_id == Organisation.id)
        .where(building_suppliers.c.building_id == building.id, Organisation.kind == OrgKind.RSO)
        .order_by(Organisation.short_name))
    for org in suppliers:
        resources = []
        for code in (org.settings or {}).get("resources", []):
            try:
                resources.append(RESOURCE_LABELS[Resource(code)].lower())
            except (ValueError, KeyError):
                continue
        hint = "Ресурсоснабжающая организация" + (f": {', '.join(resources)}" if resources else "")
        result.append(Recipient(f"rso:{org.id}", "rso", org.id, org.short_name, hint))
    return result


@dataclass(frozen=True)
class QuestionInput:
    addressee: str  # Recipient.key
    subject: str
    text: str


def question_ask(*, actor: User, premises: Premises, data: QuestionInput, now: datetime | None = None,
                 origin: Origin = NO_ORIGIN) -> Question:
    """Ask a question about own premises. A repeat of the same question within minutes returns the first one."""
    now = now or utcnow()
    if not access_for(actor).owns(premises):
        raise NotAllowed("Задать вопрос можно только о своём помещении")
    recipients = {r.key: r for r in question_recipients(actor=actor, premises=premises)}

    def recipient() -> Recipient:
        if not data.addressee:
            raise Invalid("addressee", "Выберите, кому адресован вопрос")
        if data.addressee not in recipients:
            raise Invalid("addressee", "Выберите адресата из списка: этот не обслуживает ваш дом")
        return recipients[data.addressee]

    values = validate_all({
        "addressee": recipient,
        "subject": lambda: clean_text(data.subject, "subject", "тему вопроса", max_len=SUBJECT_MAX),
        "text": lambda: _message_text(data.text, "text", empty="Напишите, что вы хотите узнать",
                                      min_len=QUESTION_MIN,
                                      short=f"Опишите вопрос подробнее: не меньше {QUESTION_MIN} символов"),
    })
    to: Recipient = values["addressee"]
    repeat = _repeated_question(actor, premises, to, values["subject"], values["text"], now)
    if repeat is not None:
        return repeat
    asked = db.session.scalar(select(func.count(Question.id)).where(
        Question.author_id == actor.id, Question.created_at >= now - timedelta(days=1))) or 0
    if asked >= DAILY_LIMIT:
        raise Invalid("subject", f"За сутки можно задать не больше {DAILY_LIMIT} вопросов. Дождитесь ответов "
                      "или допишите уточнение в уже заданный вопрос.")
    question = Question(author_id=actor.id, building_id=premises.building_id, premises_id=premises.id,
                        addressee=to.addressee, organisation_id=to.organisation_id, subject=values["subject"],
                        status=QuestionStatus.NEW, created_at=now, updated_at=now)
    question.messages.append(QuestionMessage(author_id=actor.id, from_owner=True, text=values["text"],
                                             created_at=now))
    db.session.add(question)
    db.session.flush()
    audit_record(actor=actor, action="question_asked", entity_type="question", entity_id=question.id,
                 changes={"addressee": to.key, "premises_id": premises.id}, origin=origin, role="owner")
    db.session.commit()
    return question


def _repeated_question(actor: User, premises: Premises, to: Recipient, subject: str, text: str,
                       now: datetime) -> Question | None:
    candidates = db.session.scalars(
        select(Question).where(Question.author_id == actor.id, Question.premises_id == premises.id,
                               Question.addressee == to.addressee, Question.subject == subject,
                               Question.created_at >= now - REPEAT_WINDOW)
        .order_by(Question.id.desc()).limit(3))
    for question in candidates:
        if question.messages and question.messages[0].text == text:
            return question
    return None


def _is_author(actor: User, question: Question) -> bool:
    return question.author_id is not None and question.author_id == actor.id


def question_add_message(*, actor: User, question: Question, text: str, now: datetime | None = None,
                         origin: Origin = NO_ORIGIN) -> QuestionMessage:
    """The owner writes again in the thread: the question waits for an answer again (status «new»)."""
    now = now or utcnow()
    if not _is_author(actor, question):
        raise NotAllowed("Дописать может только автор вопроса")
    if question.status == QuestionStatus.CLOSED:
        raise Locked("Вопрос закрыт, дописать в него нельзя. Если остались вопросы, задайте новый.")
    body = _message_text(text, "text", empty="Напишите сообщение", min_len=2)
    repeat = _repeated_message(question, actor, body, now)
    if repeat is not None:
        return repeat
    message = QuestionMessage(question_id=question.id, author_id=actor.id, from_owner=True, text=body,
                              created_at=now)
    db.session.add(message)
    done = db.session.execute(
        update(Question).where(Question.id == question.id, Question.status != QuestionStatus.CLOSED)
        .values(status=QuestionStatus.NEW, updated_at=now, version=Question.version + 1)
        .returning(Question.id).execution_options(synchronize_session=False)).first()
    if done is None:  # closed meanwhile (by staff)
        db.session.rollback()
        raise Locked("Вопрос только что закрыли, дописать в него нельзя. Если остались вопросы, задайте новый.")
    db.session.flush()
    audit_record(actor=actor, action="question_message", entity_type="question", entity_id=question.id,
                 changes={"message_id": message.id}, origin=origin, role="owner")
    db.session.commit()
    db.session.expire(question)
    return message


def _repeated_message(question: Question, actor: User, text: str, now: datetime) -> QuestionMessage | None:
    last = db.session.scalar(select(QuestionMessage).where(QuestionMessage.question_id == question.id)
                             .order_by(QuestionMessage.id.desc()).limit(1))
    recent = last is not None and last.created_at >= now - REPEAT_WINDOW
    return last if recent and last.author_id == actor.id and last.text == text else None


def question_close(*, actor: User, question: Question, now: datetime | None = None,
                   origin: Origin = NO_ORIGIN) -> Question:
    """The author, or anyone of the addressee group, closes the question. Closing is final (idempotent)."""
    now = now or utcnow()
    if _is_author(actor, question):
        role = "owner"
    elif inbox_scope(actor).covers(question):
        role = ROLE_OF_ADDRESSEE[question.addressee]
    else:
        raise NotAllowed("Закрыть вопрос может его автор или тот, кому он адресован")
    if question.status == QuestionStatus.CLOSED:
        return question
    previous = question.status.value
    done = db.session.execute(
        update(Question).where(Question.id == question.id, Question.status != QuestionStatus.CLOSED)
        .values(status=QuestionStatus.CLOSED, updated_at=now, version=Question.version + 1)
        .returning(Question.id).execution_options(synchronize_session=False)).first()
    if done is None:  # closed meanwhile by someone else: once is enough
        db.session.rollback()
        db.session.refresh(question)
        return question
    audit_record(actor=actor, action="question_closed", entity_type="question", entity_id=question.id,
                 changes={"status": [previous, "closed"]}, origin=origin, role=role)
    db.session.commit()
    db.session.expire(question)
    return question


@dataclass
class OwnerList:
    items: list[tuple[Question, Premises | None]]
    next_offset: int | None


def owner_questions(*, actor: User, offset: int = 0, limit: int = OWNER_PAGE_SIZE) -> OwnerList:
    """The actor's own questions, the latest activity first (two queries whatever the number of rows)."""
    rows = db.session.execute(
        select(Question, Premises).outerjoin(Premises, Premises.id == Question.premises_id)
        .where(Question.author_id == actor.id)
        .options(joinedload(Question.organisation))
        .order_by(Question.updated_at.desc(), Question.id.desc())
        .offset(offset).limit(limit + 1)).unique().all()
    items = [(q, p) for q, p in rows]
    return OwnerList(items[:limit], offset + limit if len(items) > limit else None)


def question_get(*, actor: User, id: int) -> tuple[Question, Premises | None]:  # noqa: A002
    """The question with its thread if the actor asked it, else NotFound (a 404)."""
    key = valid_id(id)
    row = db.session.execute(
        select(Question, Premises).outerjoin(Premises, Premises.id == Question.premises_id)
        .where(Question.id == key, Question.author_id == actor.id)
        .options(joinedload(Question.organisation), selectinload(Question.messages))).unique().first() if key else None
    if row is None:
        raise NotFound("Вопрос не найден")
    return row[0], row[1]


# --- the addressee's side: the shared inbox ------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxScope:
    """The groups an actor answers for, from the memberships already loaded with the user (no queries)."""

    actor_id: int
    uk_orgs: frozenset[int] = frozenset()
    rso_orgs: frozenset[int] = frozenset()
    council_buildings: frozenset[int] = frozenset()
    admin_orgs: frozenset[int] = frozenset()
    chair_buildings: frozenset[int] = frozenset()
    labels: tuple[str, ...] = field(default=(), compare=False)

    def __bool__(self) -> bool:
        return bool(self.uk_orgs or self.rso_orgs or self.council_buildings)

    def clause(self):
        """SQL condition on Question: addressed to one of the actor's groups and not asked by the actor."""
        groups = []
        if self.uk_orgs:
            groups.append(and_(Question.addressee == "uk", Question.organisation_id.in_(self.uk_orgs)))
        if self.rso_orgs:
            groups.append(and_(Question.addressee == "rso", Question.organisation_id.in_(self.rso_orgs)))
        if self.council_buildings:
            groups.append(and_(Question.addressee == "council", Question.building_id.in_(self.council_buildings)))
        if not groups:
            return false()
        return and_(or_(*groups), or_(Question.author_id.is_(None), Question.author_id != self.actor_id))

    def covers(self, question: Question) -> bool:
        if question.author_id is not None and question.author_id == self.actor_id:
            return False
        if question.addressee == "uk":
            return question.organisation_id in self.uk_orgs
        if question.addressee == "rso":
            return question.organisation_id in self.rso_orgs
        if question.addressee == "council":
            return question.building_id in self.council_buildings
        return False

    def heads(self, question: Question) -> bool:
        """The head of the group (УК or РСО admin, council chair) may take a question off a colleague."""
        if question.addressee in ("uk", "rso"):
            return question.organisation_id in self.admin_orgs
        return question.building_id in self.chair_buildings


def inbox_scope(actor: User) -> InboxScope:
    """The actor's groups, from the access layer; the labels name them for the page header."""
    access = access_for(actor)
    labels = [m.organisation.short_name for m in actor.staff_memberships
              if access.works_for(m.organisation_id)]
    labels += [f"совет дома {m.building.short_address}" for m in actor.council_memberships]
    return InboxScope(actor.id, access.uk_orgs, access.rso_orgs, access.council_buildings, access.uk_admin_orgs
                      | _rso_admin_orgs(actor), access.chair_buildings, tuple(labels))


def _rso_admin_orgs(actor: User) -> frozenset[int]:
    return frozenset(m.organisation_id for m in actor.staff_memberships
                     if m.organisation.kind == OrgKind.RSO and m.role == StaffRole.ADMIN)


def can_use_inbox(actor: User) -> bool:
    return bool(inbox_scope(actor))


def _tab_clause(tab: str, actor: User):
    if tab == "new":
        return and_(Question.status == QuestionStatus.NEW, Question.claimed_by_id.is_(None))
    if tab == "mine":
        return and_(Question.claimed_by_id == actor.id, Question.status != QuestionStatus.CLOSED)
    if tab == "answered":
        return Question.status == QuestionStatus.ANSWERED
    return None


_ORDER = {
    # The longest waiting first; my own work: what waits for my answer first.
    "new": (Question.created_at.asc(), Question.id.asc()),
    "mine": (case((Question.status == QuestionStatus.NEW, 0), else_=1), Question.updated_at.asc(), Question.id),
    "answered": (Question.updated_at.desc(), Question.id.desc()),
    "all": (Question.updated_at.desc(), Question.id.desc()),
}


@dataclass(frozen=True)
class InboxItem:
    """One question as the inbox shows it, with what the actor may do (the template only reads flags)."""

    question: Question
    place: str  # "ул. Ленина, д. 1, кв. 1"
    addressee: str
    mine: bool
    can_claim: bool
    can_release: bool
    can_answer: bool
    can_close: bool


@dataclass
class InboxPage:
    tab: str
    items: list[InboxItem]
    counts: dict[str, int]
    next_offset: int | None
    labels: tuple[str, ...]


def _item(actor: User, scope: InboxScope, question: Question, premises: Premises | None) -> InboxItem:
    open_ = question.status != QuestionStatus.CLOSED
    mine = question.claimed_by_id == actor.id
    place = question.building.short_address + (f", {premises.title}" if premises is not None else "")
    return InboxItem(
        question=question,
        place=place,
        addressee=addressee_label(question),
        mine=mine,
        can_claim=open_ and question.claimed_by_id is None,
        can_release=open_ and question.claimed_by_id is not None and (mine or scope.heads(question)),
        can_answer=open_,
        can_close=open_,
    )


def _inbox_query(scope: InboxScope):
    """Question with its premises, author, claimer, organisation and messages in a fixed number of queries.
    Users are loaded without their memberships (lazyload): the inbox shows their names only."""
    return (
        select(Question, Premises).outerjoin(Premises, Premises.id == Question.premises_id)
        .where(scope.clause())
        .options(joinedload(Question.organisation),
                 joinedload(Question.author).lazyload("*"),
                 joinedload(Question.claimed_by).lazyload("*"),
                 selectinload(Question.messages).joinedload(QuestionMessage.author).lazyload("*"))
    )


def inbox_counts(*, actor: User, scope: InboxScope | None = None) -> dict[str, int]:
    """Counts of every tab in one query."""
    scope = scope if scope is not None else inbox_scope(actor)
    if not scope:
        return dict.fromkeys(TABS, 0)
    columns = [func.count(case((_tab_clause(tab, actor), 1))) for tab in ("new", "mine", "answered")]
    row = db.session.execute(select(*columns, func.count(Question.id)).where(scope.clause())).one()
    return dict(zip(TABS, (int(v or 0) for v in row), strict=True))


def inbox_new_count(*, actor: User) -> int:
    """The navigation counter: questions nobody has taken and nobody has answered yet."""
    scope = inbox_scope(actor)
    if not scope:
        return 0
    return db.session.scalar(select(func.count(Question.id)).where(scope.clause(), _tab_clause("new", actor))) or 0


def inbox_for(*, actor: User, tab: str = "new", offset: int = 0, limit: int = PAGE_SIZE) -> InboxPage:
    """What the actor may see in the inbox on this tab, `limit` at a time (bounded queries, no N+1)."""
    tab = tab if tab in TABS else "new"
    scope = inbox_scope(actor)
    if not scope:
        return InboxPage(tab, [], dict.fromkeys(TABS, 0), None, ())
    query = _inbox_query(scope).order_by(*_ORDER[tab]).offset(max(offset, 0)).limit(limit + 1)
    condition = _tab_clause(tab, actor)
    if condition is not None:
        query = query.where(condition)
    rows = db.session.execute(query).unique().all()
    items = [_item(actor, scope, q, p) for q, p in rows[:limit]]
    return InboxPage(tab, items, inbox_counts(actor=actor, scope=scope), offset + limit if len(rows) > limit else None,
                     scope.labels)


def inbox_item_get(*, actor: User, id: int) -> InboxItem:  # noqa: A002
    """One question of the actor's inbox, else NotFound (a 404)."""
    scope = inbox_scope(actor)
    key = valid_id(id)
    row = db.session.execute(_inbox_query(scope).where(Question.id == key)).unique().first() \
        if scope and key else None
    if row is None:
        raise NotFound("Вопрос не найден")
    return _item(actor, scope, row[0], row[1])


def _member(actor: User, question: Question) -> InboxScope:
    scope = inbox_scope(actor)
    if not scope.covers(question):
        if _is_author(actor, question):
            raise NotAllowed("Это ваш вопрос: на него ответят другие")
        raise NotAllowed("Этот вопрос адресован не вам")
    return scope


def claimed_message(question: Question) -> str:
    who = question.claimed_by.full_name if question.claimed_by else "коллега"
    since = f" с {datetime_ru(question.claimed_at)}" if question.claimed_at else ""
    return (f"Этот вопрос уже взят в работу: отвечает {who}{since}. Ответить всё равно можно — ответ будет "
            "подписан вашим именем.")


def question_claim(*, actor: User, question: Question, now: datetime | None = None,
                   origin: Origin = NO_ORIGIN) -> Question:
    """«Я отвечу»: atomically take an unclaimed question (UPDATE … WHERE claimed_by_id IS NULL).

    A colleague's claim → Conflict naming them; a repeated click by the same person → no change.
    """
    now = now or utcnow()
    _member(actor, question)
    won = db.session.execute(
        update(Question)
        .where(Question.id == question.id, Question.claimed_by_id.is_(None), Question.status != QuestionStatus.CLOSED)
        .values(claimed_by_id=actor.id, claimed_at=now, updated_at=now, version=Question.version + 1)
        .returning(Question.id).execution_options(synchronize_session=False)).first()
    if won is None:
        db.session.rollback()
        db.session.refresh(question)
        if question.claimed_by_id == actor.id:
            return question
        if question.status == QuestionStatus.CLOSED:
            raise Locked("Вопрос уже закрыт — брать его в работу не нужно.")
        raise Conflict(claimed_message(question))
    audit_record(actor=actor, action="question_claimed", entity_type="question", entity_id=question.id,
                 origin=origin, role=ROLE_OF_ADDRESSEE[question.addressee])
    db.session.commit()
    db.session.expire(question)
    return question


def question_release(*, actor: User, question: Question, now: datetime | None = None,
                     origin: Origin = NO_ORIGIN) -> Question:
    """Give the question back to the group: by whoever claimed it, or by the head of the group."""
    now = now or utcnow()
    scope = _member(actor, question)
    holder = question.claimed_by_id
    if holder is None:
        return question
    if holder != actor.id and not scope.heads(question):
        raise NotAllowed("Вернуть вопрос в общие может тот, кто его взял, или руководитель")
    done = db.session.execute(
        update(Question).where(Question.id == question.id, Question.claimed_by_id == holder)
        .values(claimed_by_id=None, claimed_at=None, updated_at=now, version=Question.version + 1)
        .returning(Question.id).execution_options(synchronize_session=False)).first()
    if done is None:  # someone else released or re-claimed meanwhile: nothing of ours to release
        db.session.rollback()
        db.session.refresh(question)
        return question
    audit_record(actor=actor, action="question_released", entity_type="question", entity_id=question.id,
                 changes={"claimed_by_id": [holder, None]}, origin=origin, role=ROLE_OF_ADDRESSEE[question.addressee])
    db.session.commit()
    db.session.expire(question)
    return question


def question_answer(*, actor: User, question: Question, text: str, now: datetime | None = None,
                    origin: Origin = NO_ORIGIN) -> QuestionMessage:
    """Reply to the owner. Anyone of the addressee group may answer; the message records who did. An unclaimed
    question becomes the answerer's (the owner's follow-up comes back to them); the owner is emailed."""
    now = now or utcnow()
    _member(actor, question)
    if question.status == QuestionStatus.CLOSED:
        raise Locked("Вопрос закрыт — ответить на него уже нельзя.")
    body = _message_text(text, "text", empty="Напишите ответ", min_len=2)
    repeat = _repeated_message(question, actor, body, now)
    if repeat is not None:
        return repeat
    done = db.session.execute(
        update(Question).where(Question.id == question.id, Question.status != QuestionStatus.CLOSED)
        .values(status=QuestionStatus.ANSWERED, updated_at=now, version=Question.version + 1,
                claimed_at=case((Question.claimed_by_id.is_(None), now), else_=Question.claimed_at),
                claimed_by_id=func.coalesce(Question.claimed_by_id, actor.id))
        .returning(Question.id).execution_options(synchronize_session=False)).first()
    if done is None:
        db.session.rollback()
        raise Locked("Собственник только что закрыл вопрос — ответить на него уже нельзя.")
    message = QuestionMessage(question_id=question.id, author_id=actor.id, from_owner=False, text=body,
                              created_at=now)
    db.session.add(message)
    db.session.flush()
    emailed = _queue_answer_email(question, message, now)
    audit_record(actor=actor, action="question_answered", entity_type="question", entity_id=question.id,
                 changes={"message_id": message.id, "email": emailed}, origin=origin,
                 role=ROLE_OF_ADDRESSEE[question.addressee])
    db.session.commit()
    db.session.expire(question)
    return message


def _queue_answer_email(question: Question, message: QuestionMessage, now: datetime) -> bool:
    """A service message about the owner's own question (152-ФЗ ст. 6 ч. 1 п. 5: no consent needed)."""
    from app.urls import portal_url

    author = question.author
    if author is None or not author.active or not author.email:
        return False
    return outbox_enqueue(
        to=author.email,
        subject=f"Ответ на ваш вопрос: {question.subject}",
        template="question_answered",
        dedupe_key=f"question-answer:{message.id}",
        now=now,
        question=question,
        message=message,
        sender=sender_label(question),
        user=author,
        question_url=portal_url("questions.detail", question_id=question.id),
    )

