"""Receipt batches on the job engine: chunks, a consumer killed mid-batch (kill -9), the watchdog, retry."""

import io
import os
import signal
from datetime import timedelta

import pytest
from pypdf import PdfReader

from app import jobs
from app.extensions import db as _db
from app.models.base import utcnow
from app.models.billing import ReceiptBatch, ReceiptBatchChunk
from app.services import receipt_batches as rb
from tests.conftest import login_as
from tests.jobs.conftest import OCT, close_building, consumer, wait_for


def _text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_batch_is_split_into_chunks_and_merged_in_order(world, db):
    close_building(world, db, premises=2)  # 5 receipts
    batch = rb.batch_create(actor=world.staff, building=world.building, period=OCT, chunk_size=2)
    assert [c.premises_ids for c in batch.chunks] == [[world.p1.id, world.p2.id], [world.p3.id, batch.chunks[1]
                                                                                   .premises_ids[1]],
                                                      batch.chunks[2].premises_ids]
    assert len(batch.chunks) == 3 and batch.status == "queued"
    jobs.batch_start([c.id for c in batch.chunks])  # immediate mode in tests: each chunk, then the merge
    db.session.expire_all()
    batch = db.session.get(ReceiptBatch, batch.id)
    assert (batch.status, batch.done, batch.total) == ("done", 5, 5)
    reader = PdfReader(io.BytesIO(batch.pdf))
    assert len(reader.pages) >= 5
    assert all(c.pdf is None and c.status == "done" for c in batch.chunks)  # parts dropped after the merge


def test_a_claimed_chunk_is_not_rendered_twice(world, db):
    close_building(world, db)
    batch = rb.batch_create(actor=world.staff, building=world.building, period=OCT, chunk_size=2)
    first, second = (c.id for c in batch.chunks)
    assert rb.chunk_run(first) is None  # one chunk left: no merge yet
    assert rb.chunk_run(first) is None  # a second delivery of the same job does nothing
    db.session.expire_all()
    assert db.session.get(ReceiptBatch, batch.id).done == 2
    assert rb.chunk_run(second) == batch.id  # the last one asks for the merge
    assert rb.batch_merge(batch.id).status == "done"
    assert rb.batch_merge(batch.id) is None  # merged once


def test_watchdog_requeues_a_dead_chunk_then_gives_up(world, db):
    close_building(world, db)
    batch = rb.batch_create(actor=world.staff, building=world.building, period=OCT, chunk_size=2)
    chunk = batch.chunks[0]
    t0 = utcnow()
    chunk.status, chunk.token, chunk.heartbeat_at, chunk.attempts = "running", "dead", t0, 1
    db.session.commit()
    assert rb.batches_watch(now=t0 + rb.CHUNK_TIMEOUT / 2) == ([], [])  # still alive as far as we know
    again, _ = rb.batches_watch(now=t0 + rb.CHUNK_TIMEOUT + timedelta(seconds=1))
    assert chunk.id in again
    db.session.refresh(chunk)
    assert (chunk.status, chunk.token) == ("queued", None)
    chunk.status, chunk.token, chunk.heartbeat_at, chunk.attempts = "running", "dead", t0, rb.MAX_CHUNK_ATTEMPTS
    db.session.commit()
    rb.batches_watch(now=t0 + rb.CHUNK_TIMEOUT + timedelta(seconds=1))
    db.session.refresh(batch)
    assert batch.status == "failed" and rb.DEAD_MESSAGE in batch.error


def test_page_never_polls_for_ever_and_offers_retry(app, world, db):
    close_building(world, db)
    batch = rb.batch_create(actor=world.staff, building=world.building, period=OCT, chunk_size=2)
    batch.created_at = batch.heartbeat_at = utcnow() - rb.STALE_AFTER - timedelta(minutes=1)  # no consumer ran
    db.session.commit()
    c = login_as(app.test_client(), world.staff)
    poll = c.get(f"/manage/receipts/batches/{batch.id}", headers={"HX-Request": "true",
                                                                   "HX-Target": "batch-progress"})
    assert poll.status_code == 286  # final: htmx stops polling
    assert "Не удалось подготовить файл" in poll.text and "Повторить" in poll.text
    r = c.post(f"/manage/receipts/batches/{batch.id}/retry")
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(ReceiptBatch, batch.id).status == "done"  # immediate mode: rendered at once
    assert c.post(f"/manage/receipts/batches/{batch.id}/retry").status_code == 409  # not failed any more


@pytest.mark.parametrize("role", ["owner", "council", "rso", "staff_other"])
def test_only_the_uk_may_retry(app, world, db, as_role, role):
    close_building(world, db)
    batch = rb.batch_create(actor=world.staff, building=world.building, period=OCT)
    batch.status = "failed"
    db.session.commit()
    r = as_role(role).post(f"/manage/receipts/batches/{batch.id}/retry")
    assert r.status_code == (404 if role == "staff_other" else 403)
    db.session.refresh(batch)
    assert batch.status == "failed"


@pytest.fixture
def jobs_url(tmp_path, request):
    """A real job storage (an SQLite file, or Redis db 5) for this process to enqueue into."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else f"sqlite:///{tmp_path}/jobs.db"
    yield url
    jobs.configure("immediate")


@pytest.mark.parametrize("jobs_url", ["sqlite", "redis"], indirect=True)
def test_kill_9_of_a_consumer_mid_batch_loses_nothing_and_renders_nothing_twice(jobs_url, world, db, tmp_path,
                                                                              _schema):
    close_building(world, db, premises=9)  # 12 receipts in 6 chunks
    jobs.configure(jobs_url)
    batch = rb.batch_create(actor=world.staff, building=world.building, period=OCT, chunk_size=2)
    batch_id, total = batch.id, batch.total
    jobs.batch_start([c.id for c in batch.chunks])  # into the real queue: nobody consumes yet
    assert jobs.huey.pending_count() == 6
    log = tmp_path / "consumer.log"

    def progress():
        db.session.expire_all()
        return db.session.get(ReceiptBatch, batch_id)

    url = jobs_url
    with consumer(_schema, url, log=log) as first:
        wait_for(lambda: 0 < progress().done < total and _running(batch_id), timeout=60,
                 what=f"the first consumer to be mid-batch ({log.read_text() if log.exists() else ''})")
        os.killpg(first.pid, signal.SIGKILL)  # kill -9 while a chunk is being rendered
        first.wait(10)
    killed_at = progress()
    done_at_kill = killed_at.done
    assert killed_at.status == "running" and 0 < done_at_kill < total
    stuck = _running(batch_id)
    assert len(stuck) == 1  # the chunk that was being rendered, claimed by a process that no longer exists

    # The watchdog (a periodic job) sees the stopped heartbeat and queues the chunk again. Seen from
    # CHUNK_TIMEOUT later, the chunks still waiting in the queue look lost too and are queued a second time:
    # each is then delivered twice, and the claim lets only one delivery render it.
    requeued, _ = rb.batches_watch(now=utcnow() + rb.CHUNK_TIMEOUT + timedelta(seconds=1))
    assert set(stuck) <= set(requeued)
    jobs.batch_start(requeued)
    with consumer(_schema, url, workers=2, log=log):
        wait_for(lambda: progress().status in rb.FINAL, timeout=90, what=f"the batch to finish ({log})")
    batch = progress()
    assert (batch.status, batch.done, batch.total) == ("done", total, total), log.read_text()
    text = _text_of(batch.pdf)
    from app.models import Premises

    numbers = [p.account_number for p in _db.session.query(Premises).filter_by(building_id=world.building.id)]
    counts = {n: text.count(n) for n in numbers}
    first_count = next(iter(counts.values()))
    assert first_count >= 1 and set(counts.values()) == {first_count}, counts  # every receipt, none twice
    print(f"\nkill -9 figures ({url.split(':')[0]}): killed at {done_at_kill}/{total}, 1 chunk stuck running, "
          f"{len(requeued)} chunk job(s) queued again by the watchdog, finished {batch.done}/{total}, "
          "each receipt once")


def _running(batch_id: int) -> list[int]:
    return [c for (c,) in _db.session.query(ReceiptBatchChunk.id).filter_by(batch_id=batch_id, status="running")]
