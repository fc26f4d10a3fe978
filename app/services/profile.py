"""The owner's own profile: contacts, name, notification flag and the mailing-consent ledger."""

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import ConsentRecord, User
from app.models.audit import ConsentAction, ConsentChannel
from app.models.base import utcnow
from app.services.audit import audit_record, diff
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Invalid, Locked
from app.services.validation import clean_text, normalize_email, normalize_phone, validate_all


def profile_update_contacts(*, actor: User, phone: str | None, email: str | None, origin: Origin = NO_ORIGIN) -> dict:
    values = validate_all({"phone": lambda: normalize_phone(phone), "email": lambda: normalize_email(email)})
    changes = diff(actor, values)
    if changes:
        audit_record(actor=actor, action="profile_contacts", entity_type="user", entity_id=actor.id,
                     changes=changes, origin=origin)
    db.session.commit()
    return changes


def profile_update_name(*, actor: User, full_name: str, origin: Origin = NO_ORIGIN) -> dict:
    if actor.full_name_locked:
        raise Locked("ФИО внесено управляющей организацией по документам. Чтобы исправить, обратитесь в УК")
    changes = diff(actor, {"full_name": clean_text(full_name, "full_name", "ФИО", max_len=200)})
    if changes:
        audit_record(actor=actor, action="profile_name", entity_type="user", entity_id=actor.id,
                     changes=changes, origin=origin)
    db.session.commit()
    return changes


def profile_set_preferences(
    *,
    actor: User,
    notify_new_notice: bool,
    consents: dict[ConsentChannel, bool],
    text_version: str,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
) -> dict:
    """The 'email me about new notices' flag and the mailing consents, in one transaction."""
    if notify_new_notice and not actor.email:
        raise Invalid(
            "notify_new_notice",
            "Чтобы получать письма об оповещениях, сначала укажите адрес электронной почты в разделе «Контакты»",
        )
    changes = diff(actor, {"notify_new_notice": bool(notify_new_notice)})
    if changes:
        audit_record(actor=actor, action="profile_notifications", entity_type="user", entity_id=actor.id,
                     changes=changes, origin=origin)
    added = _consents_apply(actor=actor, wanted=consents, text_version=text_version, now=now or utcnow(),
                            origin=origin, recorded_by=actor, source="online")
    for row in added:
        changes[f"consent_{row.channel}"] = row.action.value
    db.session.commit()
    return changes


def notice_email_effective(user: User) -> bool:
    """'Email me about new notices' works only when an email is set."""
    return bool(user.notify_new_notice and user.email)


def consent_state(user: User) -> dict[ConsentChannel, ConsentRecord | None]:
    """The record in force for each channel (the latest one), or None if never given."""
    state: dict[ConsentChannel, ConsentRecord | None] = {c: None for c in ConsentChannel}
    rows = db.session.scalars(
        select(ConsentRecord).where(ConsentRecord.user_id == user.id).order_by(ConsentRecord.id)
    )
    for row in rows:
        state[row.channel] = row
    return state


def consent_given(user: User, channel: ConsentChannel) -> bool:
    record = consent_state(user)[channel]
    return record is not None and record.action == ConsentAction.GIVEN


def consents_set(
    *,
    actor: User,
    wanted: dict[ConsentChannel, bool],
    text_version: str,
    now: datetime | None = None,
    origin: Origin = NO_ORIGIN,
    recorded_by: User | None = None,
    source: str = "online",
) -> list[ConsentRecord]:
    """Append a ledger row for every channel whose state changes; withdrawal takes effect at once."""
    added = _consents_apply(actor=actor, wanted=wanted, text_version=text_version, now=now or utcnow(),
                            origin=origin, recorded_by=recorded_by or actor, source=source)
    db.session.commit()
    return added


def _consents_apply(*, actor, wanted, text_version, now, origin, recorded_by, source) -> list[ConsentRecord]:
    current = consent_state(actor)
    added = []
    for channel, give in wanted.items():
        record = current[channel]
        is_given = record is not None and record.action == ConsentAction.GIVEN
        if give == is_given:
            continue
        row = ConsentRecord(
            user_id=actor.id,
            channel=channel,
            action=ConsentAction.GIVEN if give else ConsentAction.WITHDRAWN,
            text_version=text_version,
            at=now,
            ip=origin.ip,
            user_agent=(origin.user_agent or "")[:300] or None,
            recorded_by_id=recorded_by.id,
            source=source,
        )
        db.session.add(row)
        added.append(row)
    return added


def consent_history(user: User) -> list[ConsentRecord]:
    return list(
        db.session.scalars(
            select(ConsentRecord).where(ConsentRecord.user_id == user.id).order_by(ConsentRecord.id.desc())
        )
    )
