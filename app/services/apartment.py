"""The premises card: technical data, and the two fields the owner keeps up to date."""

from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Premises, User
from app.services.audit import audit_record, diff, primary_role
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Invalid, NotAllowed
from app.services.validation import normalize_phone, validate_all

MAX_RESIDENTS = 50


def premises_update_owner_fields(
    *,
    actor: User,
    premises: Premises,
    actual_residents: str | int | None,
    emergency_phone: str | None,
    origin: Origin = NO_ORIGIN,
) -> dict:
    """The owner updates how many people actually live there and an emergency contact phone."""
    if not any(o.premises_id == premises.id for o in actor.ownerships):
        raise NotAllowed("Изменять эти сведения может только собственник помещения")
    values = validate_all({
        "actual_residents": lambda: _parse_residents(actual_residents),
        "emergency_phone": lambda: normalize_phone(emergency_phone, field="emergency_phone"),
    })
    changes = diff(premises, values)
    if changes:
        audit_record(
            actor=actor,
            role=primary_role(actor, premises.building_id),
            action="premises_owner_fields",
            entity_type="premises",
            entity_id=premises.id,
            changes=changes,
            origin=origin,
        )
    db.session.commit()
    return changes


def _parse_residents(raw) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise Invalid("actual_residents", "Введите число проживающих целым числом, например 3") from None
    if value < 0 or value > MAX_RESIDENTS:
        raise Invalid("actual_residents", f"Число проживающих должно быть от 0 до {MAX_RESIDENTS}")
    return value


def premises_history(premises: Premises, limit: int = 50) -> list[AuditLog]:
    return list(
        db.session.scalars(
            select(AuditLog)
            .where(AuditLog.entity_type == "premises", AuditLog.entity_id == premises.id)
            .order_by(AuditLog.id.desc())
            .limit(limit)
        )
    )
