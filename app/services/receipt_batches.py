"""All receipts of a building for a period in one PDF, built in the background (see app/jobs.py)."""

from datetime import date

from sqlalchemy import select

from app.access import access_for, valid_id
from app.extensions import db
from app.models import Premises, Statement, User
from app.models.base import utcnow
from app.models.billing import ReceiptBatch
from app.services.errors import Invalid, NotAllowed, NotFound
from app.services.receipts import receipt_data, render_receipts_html


def batch_create(*, actor: User, building, period: date) -> ReceiptBatch:
    if not access_for(actor).uk_manages(building):
        raise NotAllowed("Квитанции дома готовит управляющая организация")
    total = db.session.scalar(select(db.func.count(Statement.id)).join(Premises).where(
        Premises.building_id == building.id, Statement.period == period)) or 0
    if not total:
        raise Invalid("period", "За этот месяц квитанций нет: сначала закройте период или загрузите начисления")
    batch = ReceiptBatch(building_id=building.id, period=period, total=total, created_by_id=actor.id)
    db.session.add(batch)
    db.session.commit()
    return batch


def batch_get(*, actor: User, id: int) -> ReceiptBatch:  # noqa: A002
    """A building batch of the actor's УК, else NotFound."""
    key = valid_id(id)
    batch = db.session.get(ReceiptBatch, key) if key else None
    if batch is None or batch.building_id not in access_for(actor).uk_buildings:
        raise NotFound("Пакет квитанций не найден")
    return batch


def building_batches(*, building, limit: int = 5) -> list[ReceiptBatch]:
    return list(db.session.scalars(select(ReceiptBatch).where(ReceiptBatch.building_id == building.id)
                                   .order_by(ReceiptBatch.id.desc()).limit(limit)))


def building_summary(*, building, period: date) -> dict:
    """Statements of a building for a month: how many, charged and due in total."""
    row = db.session.execute(
        select(db.func.count(Statement.id), db.func.coalesce(db.func.sum(Statement.charged), 0),
               db.func.coalesce(db.func.sum(Statement.amount_due), 0))
        .join(Premises, Premises.id == Statement.premises_id)
        .where(Premises.building_id == building.id, Statement.period == period)).one()
    return {"count": row[0], "charged": row[1], "due": row[2]}


def batch_run(batch_id: int, *, chunk: int = 10) -> ReceiptBatch:
    """Render every receipt of the batch into one PDF, saving progress as it goes (runs in a worker)."""
    batch = db.session.get(ReceiptBatch, batch_id)
    if batch is None or batch.status not in ("queued", "failed"):
        return batch
    batch.status, batch.started_at, batch.done, batch.error = "running", utcnow(), 0, None
    db.session.commit()
    try:
        premises = sorted(db.session.scalars(select(Premises).join(Statement).where(
            Premises.building_id == batch.building_id, Statement.period == batch.period)), key=lambda p: p.sort_key)
        from weasyprint import HTML

        documents = []
        for start in range(0, len(premises), chunk):
            part = [receipt_data(p, batch.period) for p in premises[start:start + chunk]]
            documents.append(HTML(string=render_receipts_html(part)).render())  # laid out chunk by chunk
            batch.done = start + len(part)
            db.session.commit()
        pages = [page for document in documents for page in document.pages]
        batch.pdf = documents[0].copy(pages).write_pdf()
        batch.status, batch.finished_at = "done", utcnow()
    except Exception as error:  # the page shows it; the worker logs it
        db.session.rollback()
        batch = db.session.get(ReceiptBatch, batch_id)
        batch.status, batch.error, batch.finished_at = "failed", f"{type(error).__name__}: {error}"[:500], utcnow()
    db.session.commit()
    return batch


def batches_pending() -> list[int]:
    return list(db.session.scalars(select(ReceiptBatch.id).where(ReceiptBatch.status == "queued")
                                   .order_by(ReceiptBatch.id)))
