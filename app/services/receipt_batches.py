"""All receipts of a building for a period in one PDF, built by the job engine (app/jobs.py).

A batch is split into chunks of CHUNK_SIZE premises. Each chunk is one job: any consumer on any machine claims it
atomically (queued -> running with a fresh token, one UPDATE checked by its rowcount), renders its receipts with
WeasyPrint, keeps a heartbeat while it works and stores its PDF. The last chunk to finish queues the merge
(pypdf), which is claimed the same way. So 1,000 receipts on two consumers take about half the time of one.

Nothing stays «Готовится» for ever:
- `batches_watch` (every minute, in the consumer) queues again a chunk whose heartbeat stopped (its consumer was
  killed) and fails the batch once a chunk has died MAX_CHUNK_ATTEMPTS times;
- `batch_progress` (the page) fails a batch that nobody has touched for STALE_AFTER (no consumer runs at all);
- a failed batch can be started again (`batch_retry`): only its unfinished chunks are rendered again.

Only `receipts.receipt_data(premises, period)` and `receipts.render_receipts_html(items)` come from
app/services/receipts.py (the document itself lives there).
"""

from __future__ import annotations

import io
import logging
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update

from app.access import access_for, valid_id
from app.extensions import db
from app.models import Premises, Statement, User
from app.models.base import utcnow
from app.models.billing import ReceiptBatch, ReceiptBatchChunk
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from app.services.receipts import receipt_data, render_receipts_html

CHUNK_SIZE = 50
CHUNK_TIMEOUT = timedelta(minutes=2)  # no heartbeat for this long: the chunk's consumer is dead
MAX_CHUNK_ATTEMPTS = 3
STALE_AFTER = timedelta(minutes=10)  # no sign of life of the whole batch: no consumer runs
FINAL = ("done", "failed")

DEAD_MESSAGE = "фоновый обработчик несколько раз прервался на одной и той же части файла"
STALE_MESSAGE = "фоновый обработчик не отвечает"


def batch_create(*, actor: User, building, period: date, chunk_size: int = CHUNK_SIZE,
                 now: datetime | None = None) -> ReceiptBatch:
    """A queued batch with its chunks (committed); app/jobs.py `batch_start` queues the chunk jobs."""
    if not access_for(actor).uk_manages(building):
        raise NotAllowed("Квитанции дома готовит управляющая организация")
    premises = _premises(building.id, period)
    if not premises:
        raise Invalid("period", "За этот месяц квитанций нет: сначала закройте период или загрузите начисления")
    now = now or utcnow()
    batch = ReceiptBatch(building_id=building.id, period=period, total=len(premises), created_by_id=actor.id,
                         created_at=now, heartbeat_at=now)
    db.session.add(batch)
    _split(batch, premises, chunk_size, now)
    db.session.commit()
    return batch


def _premises(building_id: int, period: date) -> list[Premises]:
    return sorted(db.session.scalars(select(Premises).join(Statement).where(
        Premises.building_id == building_id, Statement.period == period)), key=lambda p: p.sort_key)


def _split(batch: ReceiptBatch, premises: list[Premises], chunk_size: int, now: datetime) -> None:
    batch.chunks = [ReceiptBatchChunk(seq=i, premises_ids=[p.id for p in premises[start:start + chunk_size]],
                                      status="queued", attempts=0, queued_at=now)
                    for i, start in enumerate(range(0, len(premises), max(chunk_size, 1)))]


def batch_get(*, actor: User, id: int) -> ReceiptBatch:  # noqa: A002
    """A building batch of the actor's УК, else NotFound."""
    key = valid_id(id)
    batch = db.session.get(ReceiptBatch, key) if key else None
    if batch is None or batch.building_id not in access_for(actor).uk_buildings:
        raise NotFound("Пакет квитанций не найден")
    return batch


def batch_progress(*, actor: User, id: int, now: datetime | None = None) -> ReceiptBatch:  # noqa: A002
    """The batch for its page; one that nobody worked on for STALE_AFTER is failed here, so the page offers
    «Повторить» instead of polling for ever."""
    batch = batch_get(actor=actor, id=id)
    now = now or utcnow()
    last = batch.heartbeat_at or batch.started_at or batch.created_at
    if batch.status not in FINAL and last is not None and now - last > STALE_AFTER:
        _fail(batch.id, STALE_MESSAGE, now)
        db.session.refresh(batch)
    return batch


def batch_retry(*, actor: User, id: int, now: datetime | None = None) -> list[int]:  # noqa: A002
    """Start a failed batch again; the ids of the chunks to queue (finished chunks are kept)."""
    batch = batch_get(actor=actor, id=id)  # only the УК's staff reach it
    now = now or utcnow()
    restarted = db.session.execute(update(ReceiptBatch).where(ReceiptBatch.id == batch.id,
                                                              ReceiptBatch.status == "failed")
                                   .values(status="queued", error=None, finished_at=None, heartbeat_at=now))
    # (finished_at also marks a claimed merge: cleared so the retried batch can be merged)
    if restarted.rowcount != 1:
        db.session.rollback()
        raise Conflict("Файл уже готовится заново или готов: обновите страницу.")
    db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.batch_id == batch.id,
                                                       ReceiptBatchChunk.status != "done")
                       .values(status="queued", token=None, attempts=0, error=None, queued_at=now))
    db.session.commit()
    return _unfinished(batch.id)


def _unfinished(batch_id: int) -> list[int]:
    return list(db.session.scalars(select(ReceiptBatchChunk.id).where(
        ReceiptBatchChunk.batch_id == batch_id, ReceiptBatchChunk.status != "done").order_by(ReceiptBatchChunk.seq)))


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


def chunk_run(chunk_id: int, *, now=None) -> int | None:
    """Render one chunk if this worker wins its claim. The batch id when it was the last one (the merge is due).

    `now` is a callable giving the time (tests move the clock); heartbeats use it.
    """
    clock = now or utcnow
    token = uuid.uuid4().hex
    claimed = db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.id == chunk_id,
                                                                 ReceiptBatchChunk.status == "queued")
                                 .values(status="running", token=token, attempts=ReceiptBatchChunk.attempts + 1,
                                         heartbeat_at=clock()))
    db.session.commit()
    if claimed.rowcount != 1:
        return None  # another consumer has it, it is done, or the batch failed
    chunk = db.session.get(ReceiptBatchChunk, chunk_id)
    db.session.refresh(chunk)
    batch_id = chunk.batch_id
    db.session.execute(update(ReceiptBatch).where(ReceiptBatch.id == batch_id, ReceiptBatch.status == "queued")
                       .values(status="running", started_at=clock()))
    db.session.commit()
    batch = db.session.get(ReceiptBatch, batch_id)
    try:
        premises = {p.id: p for p in db.session.scalars(select(Premises).where(
            Premises.id.in_(chunk.premises_ids)))}
        items = []
        for premises_id in chunk.premises_ids:
            items.append(receipt_data(premises[premises_id], batch.period))
            if not _beat(chunk_id, token, batch_id, clock()):
                return None  # the watchdog gave the chunk to someone else
        from weasyprint import HTML

        pdf = HTML(string=render_receipts_html(items)).write_pdf()
    except Exception as error:  # a bug or bad data: the whole batch fails visibly and the consumer logs it
        db.session.rollback()
        logging.getLogger(__name__).exception("receipt batch %s chunk %s failed", batch_id, chunk_id)
        _fail(batch_id, f"{type(error).__name__}: {error}", clock())
        return None
    stored = db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.id == chunk_id,
                                                                ReceiptBatchChunk.token == token,
                                                                ReceiptBatchChunk.status == "running")
                                .values(status="done", pdf=pdf, heartbeat_at=clock()))
    if stored.rowcount != 1:
        db.session.rollback()
        return None
    db.session.execute(update(ReceiptBatch).where(ReceiptBatch.id == batch_id)
                       .values(done=ReceiptBatch.done + len(chunk.premises_ids), heartbeat_at=clock()))
    db.session.commit()
    return None if _unfinished(batch_id) else batch_id


def _beat(chunk_id: int, token: str, batch_id: int, at: datetime) -> bool:
    alive = db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.id == chunk_id,
                                                               ReceiptBatchChunk.token == token,
                                                               ReceiptBatchChunk.status == "running")
                               .values(heartbeat_at=at))
    db.session.execute(update(ReceiptBatch).where(ReceiptBatch.id == batch_id).values(heartbeat_at=at))
    db.session.commit()
    return alive.rowcount == 1


def batch_merge(batch_id: int, *, now: datetime | None = None) -> ReceiptBatch | None:
    """Join the chunk PDFs in order into the batch's file (once: the merge is claimed like a chunk)."""
    from pypdf import PdfWriter

    now = now or utcnow()
    if _unfinished(batch_id):
        return None
    # The merge is claimed by setting finished_at on a running batch (the status words stay the four the
    # pages know); a merge whose consumer died is released by the watchdog.
    claimed = db.session.execute(update(ReceiptBatch).where(ReceiptBatch.id == batch_id,
                                                            ReceiptBatch.status.in_(("queued", "running")),
                                                            ReceiptBatch.finished_at.is_(None))
                                 .values(status="running", finished_at=now, heartbeat_at=now))
    db.session.commit()
    if claimed.rowcount != 1:
        return None
    writer = PdfWriter()
    for (pdf,) in db.session.execute(select(ReceiptBatchChunk.pdf).where(ReceiptBatchChunk.batch_id == batch_id)
                                     .order_by(ReceiptBatchChunk.seq)):
        writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    db.session.execute(update(ReceiptBatch).where(ReceiptBatch.id == batch_id)
                       .values(pdf=out.getvalue(), status="done", finished_at=now, heartbeat_at=now))
    db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.batch_id == batch_id).values(pdf=None))
    db.session.commit()
    return db.session.get(ReceiptBatch, batch_id)


def _fail(batch_id: int, message: str, now: datetime) -> None:
    db.session.execute(update(ReceiptBatch).where(ReceiptBatch.id == batch_id, ReceiptBatch.status.notin_(FINAL))
                       .values(status="failed", error=message[:500], finished_at=now))
    db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.batch_id == batch_id,
                                                       ReceiptBatchChunk.status != "done")
                       .values(status="failed", token=None))
    db.session.commit()


def batches_watch(*, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """The watchdog: (chunk ids to queue again, batch ids whose merge is due). Chunks whose heartbeat stopped
    are queued again (their old token is void, so a consumer that was only slow cannot store them twice); after
    MAX_CHUNK_ATTEMPTS the batch fails. Queued chunks that nobody took for CHUNK_TIMEOUT (the job was lost, e.g.
    the queue was flushed) are queued again too."""
    now = now or utcnow()
    dead = now - CHUNK_TIMEOUT
    requeue: list[int] = []
    for chunk in db.session.scalars(select(ReceiptBatchChunk).where(
            ReceiptBatchChunk.status == "running", ReceiptBatchChunk.heartbeat_at < dead)):
        if chunk.attempts >= MAX_CHUNK_ATTEMPTS:
            _fail(chunk.batch_id, DEAD_MESSAGE, now)
            continue
        again = db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.id == chunk.id,
                                                                   ReceiptBatchChunk.token == chunk.token)
                                   .values(status="queued", token=None, queued_at=now))
        if again.rowcount == 1:
            requeue.append(chunk.id)
    db.session.commit()
    requeue += list(db.session.scalars(select(ReceiptBatchChunk.id).join(ReceiptBatch).where(
        ReceiptBatchChunk.status == "queued", ReceiptBatchChunk.queued_at < dead,
        ReceiptBatch.status.in_(("queued", "running")))))
    for chunk_id in requeue:
        db.session.execute(update(ReceiptBatchChunk).where(ReceiptBatchChunk.id == chunk_id).values(queued_at=now))
    # A merge whose consumer died: back to running, so it can be claimed again.
    db.session.execute(update(ReceiptBatch).where(ReceiptBatch.status == "running",
                                                  ReceiptBatch.finished_at.is_not(None),
                                                  ReceiptBatch.heartbeat_at < dead).values(finished_at=None))
    db.session.commit()
    not_done = select(ReceiptBatchChunk.id).where(ReceiptBatchChunk.batch_id == ReceiptBatch.id,
                                                  ReceiptBatchChunk.status != "done").exists()
    merges = list(db.session.scalars(select(ReceiptBatch.id).where(
        ReceiptBatch.status == "running", ReceiptBatch.finished_at.is_(None), ~not_done,
        ReceiptBatch.heartbeat_at < dead)))
    return sorted(set(requeue)), merges


def batch_run(batch_id: int, *, chunk: int | None = None) -> ReceiptBatch:
    """Every chunk in this process, one after another, then the merge (benchmarks, `flask receipts build`).
    `chunk` re-splits a batch that has not started yet."""
    batch = db.session.get(ReceiptBatch, batch_id)
    if batch is None or batch.status == "done":
        return batch
    if (chunk or not batch.chunks) and batch.status == "queued" and not batch.done:
        db.session.execute(ReceiptBatchChunk.__table__.delete().where(ReceiptBatchChunk.batch_id == batch_id))
        db.session.expire(batch, ["chunks"])
        premises = _premises(batch.building_id, batch.period)
        batch.total = len(premises)
        _split(batch, premises, chunk or CHUNK_SIZE, utcnow())
        db.session.commit()
    for chunk_id in _unfinished(batch_id):
        chunk_run(chunk_id)
    batch_merge(batch_id)
    db.session.expire_all()
    return db.session.get(ReceiptBatch, batch_id)


def batches_pending() -> list[int]:
    """Queued batches, oldest first (`flask receipts work --once`)."""
    return list(db.session.scalars(select(ReceiptBatch.id).where(ReceiptBatch.status == "queued")
                                   .order_by(ReceiptBatch.id)))


def batch_counts() -> dict[str, int]:
    """Batches by status (for `flask jobs status`)."""
    return dict(db.session.execute(select(ReceiptBatch.status, func.count()).group_by(ReceiptBatch.status)).all())
