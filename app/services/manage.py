"""Back-office views of a building: premises with their owners' account states."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Building, Ownership, Premises, User
from app.models.base import utcnow

ACCOUNT_STATUS_LABELS = {
    "active": "вход выполнен",
    "pending": "ждёт первого входа",
    "expired": "временный пароль истёк",
    "disabled": "отключена",
}


def account_status(user: User, now: datetime | None = None) -> str:
    now = now or utcnow()
    if not user.active:
        return "disabled"
    if user.must_change_password:
        if user.temp_password_expires_at and user.temp_password_expires_at < now:
            return "expired"
        return "pending"
    return "active"


@dataclass
class PremisesRow:
    premises: Premises
    owners: list[tuple[User, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.owners:
            return "none"
        statuses = {s for _, s in self.owners}
        return "active" if "active" in statuses else "pending"


def building_premises_rows(building: Building, *, entrance: int | None = None, status: str = "") -> list[PremisesRow]:
    """All premises of a building with owners and account states, in two queries."""
    query = select(Premises).where(Premises.building_id == building.id)
    if entrance:
        query = query.where(Premises.entrance == entrance)
    rows = {p.id: PremisesRow(p) for p in db.session.scalars(query)}
    if rows:
        pairs = db.session.execute(
            select(Ownership.premises_id, User)
            .join(User, User.id == Ownership.user_id)
            .where(Ownership.premises_id.in_(rows.keys()))
            .order_by(User.full_name)
        ).all()
        now = utcnow()
        for premises_id, user in pairs:
            rows[premises_id].owners.append((user, account_status(user, now)))
    result = sorted(rows.values(), key=lambda r: r.premises.sort_key)
    if status in {"none", "pending", "active"}:
        result = [r for r in result if r.status == status]
    return result
