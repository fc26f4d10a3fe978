"""Receipts over HTTP: owners see only their premises' receipts (HTML and PDF); staff back office."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from app.models import ReceiptBatch, Service, Statement, Tariff
from app.services import billing
from tests.conftest import login_as
from tests.factories import OwnershipFactory, UserFactory

OCT = date(2026, 10, 1)


@pytest.fixture(autouse=True)
def _frozen():
    with freeze_time("2026-11-22 03:00:00"):
        yield


@pytest.fixture
def closed(world, db):
    s = Service(organisation_id=world.uk.id, code="MAINT", name="Содержание жилого помещения", unit="м²",
                method="area")
    s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=Decimal("30"))]
    db.session.add(s)
    db.session.commit()
    for building in (world.building, world.building2):
        billing.period_close(actor=world.staff, building=building, period=OCT,
                             now=datetime(2026, 11, 1, tzinfo=UTC))
    return s


def norm(text: str) -> str:
    """Babel separates thousands and the currency sign with no-break spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def owner_on_p1(app, world):
    c = login_as(app.test_client(), world.owner)
    c.post("/apartment/switch", data={"premises_id": world.p1.id})
    return c


def test_owner_list_detail_pdf(app, world, closed):
    c = owner_on_p1(app, world)
    page = norm(c.get("/receipts/").text)
    assert "октябрь 2026" in page and "1 458,00 ₽" in page and "не оплачено" in page
    assert "К оплате сейчас" in page
    detail = c.get("/receipts/2026-10")
    assert detail.status_code == 200 and "Содержание жилого помещения" in detail.text
    assert "Оплатить до 16.11.2026" in detail.text
    pdf = c.get("/receipts/2026-10.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["X-Receipt-Cache"] == "miss"
    assert "attachment" in pdf.headers["Content-Disposition"]
    again = c.get("/receipts/2026-10.pdf?print=1")
    assert again.headers["X-Receipt-Cache"] == "hit" and "inline" in again.headers["Content-Disposition"]
    assert c.get("/receipts/?period=2026-10").headers["Location"] == "/receipts/2026-10"
    assert "1 458,00 ₽" in norm(c.get("/home").text)  # current debt on the home page


def test_missing_or_bad_month_is_404(app, world, closed):
    c = owner_on_p1(app, world)
    for path in ("/receipts/2026-09", "/receipts/2026-09.pdf", "/receipts/nonsense", "/receipts/2026-13.pdf"):
        assert c.get(path).status_code == 404


def test_another_owner_never_gets_the_receipt(app, world, closed, db):
    # The neighbour can only ever reach their own premises: the URL carries no premises id to tamper with.
    c = login_as(app.test_client(), world.neighbour)
    html = c.get("/receipts/2026-10").text
    assert world.p2.account_number in html and world.p1.account_number not in html
    assert c.post("/apartment/switch", data={"premises_id": world.p1.id}).status_code == 404
    other = login_as(app.test_client(), world.owner_other)
    assert other.get("/receipts/2026-10").status_code == 404  # no statement for their building
    assert other.get("/receipts/2026-10.pdf").status_code == 404


def test_staff_premises_receipt_and_council_only_if_allowed(app, world, closed, db):
    path = f"/manage/premises/{world.p1.id}/receipts/2026-10.pdf"
    assert login_as(app.test_client(), world.staff).get(path).status_code == 200
    assert login_as(app.test_client(), world.staff_other).get(path).status_code == 404
    assert login_as(app.test_client(), world.owner).get(path).status_code == 403
    council = login_as(app.test_client(), world.council)
    assert council.get(path).status_code == 404
    world.uk.settings = {**world.uk.settings, "council_sees_receipts": True}
    db.session.commit()
    assert council.get(path).status_code == 200


def test_co_owners_both_see_the_receipt(app, world, closed, db):
    co = UserFactory(login="coowner", full_name="Иванов Пётр")
    OwnershipFactory(user=co, premises=world.p1, share_num=1, share_den=2)
    db.session.commit()
    r = login_as(app.test_client(), co).get("/receipts/2026-10.pdf")
    assert r.status_code == 200


def test_back_office_close_and_batch_with_polling(app, world, closed, db):
    c = login_as(app.test_client(), world.staff)
    page = c.get("/manage/receipts", query_string={"building": world.building.id, "period": "2026-10"})
    assert page.status_code == 200 and "Квитанций: 3" in page.text
    r = c.post("/manage/receipts/close", data={"building": world.building.id, "period": "2026-10"})
    assert r.status_code == 303
    assert "Период закрыт" in c.get(r.headers["Location"]).text
    r = c.post("/manage/receipts/batches", data={"building": world.building.id, "period": "2026-10"})
    assert r.status_code == 303
    batch = db.session.query(ReceiptBatch).one()
    assert batch.status == "done"  # JOBS_MODE=sync in tests
    poll = c.get(r.headers["Location"], headers={"HX-Request": "true", "HX-Target": "batch-progress"})
    assert poll.status_code == 286 and "Скачать PDF" in poll.text and "<html" not in poll.text
    pdf = c.get(f"/manage/receipts/batches/{batch.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_polling_continues_while_running(app, world, closed, db):
    batch = ReceiptBatch(building_id=world.building.id, period=OCT, total=3, status="running", done=1)
    db.session.add(batch)
    db.session.commit()
    c = login_as(app.test_client(), world.staff)
    poll = c.get(f"/manage/receipts/batches/{batch.id}", headers={"HX-Request": "true",
                                                                   "HX-Target": "batch-progress"})
    assert poll.status_code == 200 and 'hx-trigger="every 2s"' in poll.text and "1 из 3" in poll.text


@pytest.mark.parametrize(("role", "status"), [("council", 403), ("owner", 403), ("rso", 403),
                                              ("staff_other", 404), ("ukadmin", 200)])
def test_back_office_permissions(app, world, closed, db, role, status):
    batch = ReceiptBatch(building_id=world.building.id, period=OCT, total=3, status="done", pdf=b"%PDF-1.7")
    db.session.add(batch)
    db.session.commit()
    c = login_as(app.test_client(), world.by_role(role))
    assert c.get(f"/manage/receipts/batches/{batch.id}").status_code == status
    assert c.get(f"/manage/receipts/batches/{batch.id}.pdf").status_code == status
    if role == "staff_other":
        assert c.get("/manage/receipts", query_string={"building": world.building.id}).status_code == 404
        assert c.post("/manage/receipts/close", data={"building": world.building.id}).status_code == 404


def test_no_statement_means_no_batch(app, world, closed, db):
    c = login_as(app.test_client(), world.staff)
    r = c.post("/manage/receipts/batches", data={"building": world.building.id, "period": "2026-09"})
    assert r.status_code == 303
    assert "квитанций нет" in c.get(r.headers["Location"]).text
    assert db.session.query(Statement).filter_by(period=date(2026, 9, 1)).count() == 0
