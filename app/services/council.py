"""The council of a building (совет МКД, ЖК РФ ст. 161.1): members, the chair, the term and the ОСС protocol
that elected them.

The operator and the staff of the building's УК keep the list. A member is chosen among the accounts that
own a premises in the building — never by typing a login (docs/access.md: no account takeover); the
council's back-office rights follow from the membership (app/access.py).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from app.access import NOT_FOUND, access_for, row_get, valid_id
from app.extensions import db
from app.models import Building, CouncilMembership, Ownership, Premises, User
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.meters import parse_date
from app.services.validation import clean_text, validate_all


def may_keep_council(actor: User, building: Building) -> bool:
    access = access_for(actor)
    return access.operator or access.uk_manages(building)


def council_building_get(*, actor: User, id: int) -> Building:  # noqa: A002
    """A building whose council list the actor keeps (operator, staff of its УК)."""
    building = row_get(Building, id)
    if not may_keep_council(actor, building):
        raise NotFound(NOT_FOUND)
    return building


def council_membership_get(*, actor: User, id: int) -> CouncilMembership:  # noqa: A002
    membership = row_get(CouncilMembership, id)
    if not may_keep_council(actor, membership.building):
        raise NotFound(NOT_FOUND)
    return membership


def council_members(building: Building) -> list[CouncilMembership]:
    return list(db.session.scalars(
        select(CouncilMembership).join(User, User.id == CouncilMembership.user_id)
        .options(contains_eager(CouncilMembership.user))
        .where(CouncilMembership.building_id == building.id)
        .order_by(CouncilMembership.is_chair.desc(), User.full_name)))


def owner_candidates(building: Building) -> list[tuple[User, list[str]]]:
    """Accounts that own a premises in the building and are not on its council yet, with their premises."""
    rows = db.session.execute(
        select(User, Premises).join(Ownership, Ownership.user_id == User.id)
        .join(Premises, Premises.id == Ownership.premises_id)
        .where(Premises.building_id == building.id, User.active.is_(True),
               User.id.not_in(select(CouncilMembership.user_id)
                              .where(CouncilMembership.building_id == building.id)))
        .order_by(User.full_name, User.id)).all()
    result: dict[int, tuple[User, list[str]]] = {}
    for user, premises in rows:
        result.setdefault(user.id, (user, []))[1].append(premises.title)
    return list(result.values())


def _candidate(building: Building, raw) -> User:
    key = valid_id(raw)
    user = db.session.get(User, key) if key is not None else None
    if user is None or not user.active or not any(o.premises.building_id == building.id for o in user.ownerships):
        raise Invalid("user_id", "Выберите собственника помещения в этом доме из списка")
    return user


def council_add(*, actor: User, building: Building, user_id, is_chair: bool = False,
                term_from: str | date | None = None, term_to: str | date | None = None,
                protocol_number: str | None = None, protocol_date: str | date | None = None,
                origin: Origin = NO_ORIGIN) -> CouncilMembership:
    if not may_keep_council(actor, building):
        raise NotAllowed("Состав совета дома ведёт управляющая организация или оператор портала")
    values = validate_all({
        "user_id": lambda: _candidate(building, user_id),
        "term_from": lambda: parse_date(term_from, "term_from", "дату начала полномочий"),
        "term_to": lambda: parse_date(term_to, "term_to", "дату окончания полномочий"),
        "protocol_number": lambda: clean_text(protocol_number, "protocol_number", "номер протокола ОСС",
                                              max_len=40),
        "protocol_date": lambda: parse_date(protocol_date, "protocol_date", "дату протокола ОСС"),
    })
    errors = {}
    if values["protocol_date"] is None:
        errors["protocol_date"] = "Введите дату протокола ОСС в формате ДД.ММ.ГГГГ"
    if values["term_from"] and values["term_to"] and values["term_to"] < values["term_from"]:
        errors["term_to"] = "Срок полномочий не может закончиться раньше, чем начался"
    if values["protocol_date"] and values["term_from"] and values["term_from"] < values["protocol_date"]:
        errors["term_from"] = "Полномочия начинаются не раньше даты протокола, которым совет избран"
    user = values["user_id"]
    if user.id in {m.user_id for m in council_members(building)}:
        errors["user_id"] = "Этот собственник уже в совете дома"
    if is_chair and any(m.is_chair for m in council_members(building)):
        errors["is_chair"] = "У совета уже есть председатель. Сначала исключите его или снимите отметку"
    if errors:
        raise Invalid.from_errors(errors)
    membership = CouncilMembership(user_id=user.id, building_id=building.id, is_chair=bool(is_chair),
                                   term_from=values["term_from"], term_to=values["term_to"],
                                   protocol_number=values["protocol_number"], protocol_date=values["protocol_date"])
    db.session.add(membership)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Этого собственника только что добавили в совет. Обновите страницу") from None
    audit_record(actor=actor, action="council_member_added", entity_type="user", entity_id=user.id,
                 changes={"building_id": building.id, "is_chair": bool(is_chair),
                          "term_from": str(values["term_from"] or ""), "term_to": str(values["term_to"] or ""),
                          "protocol_number": values["protocol_number"],
                          "protocol_date": str(values["protocol_date"])},
                 origin=origin)
    db.session.commit()
    return membership


def council_end(*, actor: User, membership: CouncilMembership, origin: Origin = NO_ORIGIN) -> None:
    """End a membership (term over, resigned, re-elected council without them): the row goes, the audit
    log keeps who it was, when and under which protocol."""
    if not may_keep_council(actor, membership.building):
        raise NotAllowed("Состав совета дома ведёт управляющая организация или оператор портала")
    audit_record(actor=actor, action="council_member_removed", entity_type="user", entity_id=membership.user_id,
                 changes={"building_id": membership.building_id, "is_chair": membership.is_chair,
                          "protocol_number": membership.protocol_number,
                          "protocol_date": str(membership.protocol_date or "")},
                 origin=origin)
    user = membership.user
    user.council_memberships.remove(membership)
    db.session.delete(membership)
    db.session.commit()

