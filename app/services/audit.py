from app.extensions import db
from app.models import AuditLog, User
from app.services.context import NO_ORIGIN, Origin


def primary_role(actor: User | None, building_id: int | None = None) -> str | None:
    """The role in which the actor acts on an object of the given building."""
    if actor is None:
        return "system"
    if building_id is not None:
        if any(m.building_id == building_id for m in actor.council_memberships):
            return "council"
        if any(p.building_id == building_id for p in actor.premises_list):
            return "owner"
    for role in ("operator", "ukadmin", "staff", "rso", "council", "owner"):
        if role in actor.roles:
            return role
    return None


def audit_record(
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    changes: dict | None = None,
    origin: Origin = NO_ORIGIN,
    role: str | None = None,
) -> AuditLog:
    """Add an audit row to the current transaction (the caller commits)."""
    entry = AuditLog(
        actor_id=actor.id if actor else None,
        actor_role=role or primary_role(actor),
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=changes or {},
        ip=origin.ip,
    )
    db.session.add(entry)
    return entry


def diff(obj, values: dict) -> dict:
    """Apply values to obj and return {field: [old, new]} for the ones that changed (JSON-safe)."""
    changes = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            changes[field] = [_jsonable(old), _jsonable(new)]
            setattr(obj, field, new)
    return changes


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)
