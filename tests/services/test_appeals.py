"""Appeals: numbering under concurrency, deadlines on the production calendar, the transition table, photos."""

import io
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image

from app.extensions import db as _db
from app.models import Appeal, AppealEvent, AppealPhoto, OutboxMessage, Premises, User
from app.models.appeals import AppealStatus
from app.services import appeals as svc
from app.services.errors import Conflict, Invalid, Locked, NotAllowed, NotFound
from app.services.workcalendar import add_working_days, is_working_day, working_deadline

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 23 Nov 2026, 11:00 in Chita
S = AppealStatus


def jpeg(size=(2400, 1800), exif=True) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "PhoneMaker"  # Make
        gps = data.get_ifd(0x8825)
        gps[1], gps[2] = "N", (52.0, 2.0, 0.0)  # a location that must not leak
        image.save(out, "JPEG", exif=data.tobytes())
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def category(world, code):
    return next(c for c in svc.categories_for(world.uk.id) if c.code == code)


def file(world, code="REPAIR", **kw):
    values = dict(actor=world.owner, premises=world.p1, category_id=category(world, code).id, place_kind="premises",
                  place_detail=None, text="Течёт кран на кухне, вода капает постоянно.", now=NOW)
    values.update(kw)
    return svc.appeal_file(**values)


# --- production calendar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "working"), [
    (date(2025, 11, 1), True),  # Saturday worked: its rest moved to 3 November
    (date(2025, 11, 3), False), (date(2025, 12, 31), False), (date(2026, 1, 9), False), (date(2026, 1, 12), True),
    (date(2026, 3, 9), False), (date(2026, 5, 11), False), (date(2026, 11, 4), False), (date(2026, 11, 5), True),
    (date(2027, 2, 20), True), (date(2027, 2, 22), False), (date(2027, 11, 5), False), (date(2026, 11, 28), False),
])
def test_production_calendar_2025_2027(day, working):
    assert is_working_day(day) is working


def test_working_days_across_new_year_holidays():
    assert add_working_days(date(2025, 12, 30), 1) == date(2026, 1, 12)
    assert add_working_days(date(2026, 12, 30), 2) == date(2027, 1, 12)
    # Registered on Tue 3 Nov 2026: 4 Nov is a holiday, so 1 working day ends on Thu 5 Nov, 24:00 Chita.
    registered = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)
    assert working_deadline(registered, 1) == datetime(2026, 11, 5, 15, 0, tzinfo=UTC)


def test_deadlines_by_category(world):
    assert file(world, "REPAIR").deadline_at == datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10 working days
    assert file(world, "INFO").deadline_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # next working day
    assert file(world, "EMERGENCY").deadline_at == NOW + timedelta(minutes=30)


# --- filing -------------------------------------------------------------------------------------------------


def test_number_registration_and_event(world, db):
    appeal = file(world)
    assert appeal.number == "2026-000001" and appeal.registered_at == NOW and appeal.status == S.REGISTERED
    assert file(world).number == "2026-000002"
    other_org = Premises  # a different organisation counts separately
    assert other_org
    event = db.session.query(AppealEvent).filter_by(appeal_id=appeal.id).one()
    assert event.kind == "registered"


def test_numbering_is_per_organisation_and_year(world, db):
    from tests.factories import OwnershipFactory

    OwnershipFactory(user=world.owner, premises=world.p_other)
    db.session.commit()
    mine = file(world)
    theirs = svc.appeal_file(actor=world.owner, premises=world.p_other,
                             category_id=svc.categories_for(world.uk_other.id)[1].id, place_kind="yard",
                             place_detail=None, text="Не убран снег во дворе уже неделю.", now=NOW)
    assert mine.number == theirs.number == "2026-000001"
    next_year = file(world, now=datetime(2027, 1, 12, 2, 0, tzinfo=UTC))
    assert next_year.number == "2027-000001"


def test_validation_and_nothing_stored(world, db):
    with pytest.raises(Invalid) as info:
        svc.appeal_file(actor=world.owner, premises=world.p1, category_id="nope", place_kind="moon",
                        place_detail="x" * 200, text="мало", now=NOW,
                        photos=[svc.Upload("a.jpg", b"not an image")])
    assert set(info.value.errors) == {"category_id", "place_kind", "place_detail", "text", "photos"}
    assert db.session.query(Appeal).count() == 0
    assert file(world).number == "2026-000001"  # a failed filing used no number


def test_only_the_owner_of_the_premises_files(world):
    for role in ("neighbour", "staff", "council"):
        with pytest.raises(NotAllowed):
            file(world, actor=world.by_role(role))


def test_double_submit_creates_one_appeal(world, db):
    first = file(world, client_token="tok-1")
    again = file(world, client_token="tok-1")
    assert first.id == again.id and db.session.query(Appeal).count() == 1


def test_photos_reencoded_exif_stripped_downscaled(world, db):
    appeal = file(world, photos=[svc.Upload("IMG_1.jpg", jpeg()), svc.Upload("shot.png", _png())])
    photos = db.session.query(AppealPhoto).filter_by(appeal_id=appeal.id).all()
    assert len(photos) == 2
    for p in photos:
        image = Image.open(io.BytesIO(p.data))
        assert image.format == "JPEG" and max(image.size) <= 1600
        assert not image.getexif()  # no camera, no GPS
    assert (photos[0].width, photos[0].height) == (1600, 1200)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 0, 255, 128)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(("upload", "message"), [
    (svc.Upload("virus.jpg", b"MZ\x90\x00" + b"\x00" * 500), "не фотография"),
    (svc.Upload("doc.jpg", b"%PDF-1.7 fake"), "не фотография"),
    (svc.Upload("big.jpg", b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 1)), "больше 10 МБ"),
    (svc.Upload("empty.jpg", b""), "пустой"),
])
def test_bad_uploads_are_refused(world, db, upload, message):
    with pytest.raises(Invalid, match=message):
        file(world, photos=[upload])
    assert db.session.query(Appeal).count() == 0 and db.session.query(AppealPhoto).count() == 0


def test_too_many_photos(world, db):
    with pytest.raises(Invalid, match="Не больше 3"):
        file(world, photos=[svc.Upload(f"{i}.jpg", jpeg(exif=False)) for i in range(4)])


# --- transitions ----------------------------------------------------------------------------------------------

ALL = list(AppealStatus)


@pytest.mark.parametrize("src", ALL)
@pytest.mark.parametrize("dst", ALL)
@pytest.mark.parametrize("who", ["staff", "owner"])
def test_transition_table(world, db, src, dst, who):
    appeal = file(world)
    appeal.status = src
    appeal.done_at = NOW if src == S.DONE else None
    db.session.commit()
    actor = world.staff if who == "staff" else world.owner
    allowed = svc.TRANSITIONS.get((src, dst)) == who
    if allowed:
        svc.appeal_set_status(actor=actor, appeal=appeal, to=dst.value, reason="Причина указана", now=NOW)
        assert appeal.status == dst
    else:
        with pytest.raises((Locked, NotAllowed)):
            svc.appeal_set_status(actor=actor, appeal=appeal, to=dst.value, reason="Причина указана", now=NOW)
        assert appeal.status == src


def test_reject_needs_a_reason_and_reopen_within_14_days(world, db):
    appeal = file(world)
    with pytest.raises(Invalid):
        svc.appeal_set_status(actor=world.staff, appeal=appeal, to="rejected", reason="", now=NOW)
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="done", now=NOW)
    with pytest.raises(Invalid):
        svc.appeal_set_status(actor=world.owner, appeal=appeal, to="in_progress", reason=" ", now=NOW)
    svc.appeal_set_status(actor=world.owner, appeal=appeal, to="in_progress", reason="Кран всё ещё течёт",
                          now=NOW + timedelta(days=2))
    assert appeal.reopen_count == 1 and appeal.status == S.IN_PROGRESS
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="done", now=NOW + timedelta(days=3))
    with pytest.raises(Locked, match="14 дней"):
        svc.appeal_set_status(actor=world.owner, appeal=appeal, to="in_progress", reason="Опять",
                              now=NOW + timedelta(days=18))
    svc.appeal_set_status(actor=world.owner, appeal=appeal, to="closed", now=NOW + timedelta(days=18))
    assert appeal.status == S.CLOSED and appeal.closed_at == NOW + timedelta(days=18)


def test_stale_page_conflicts(world, db):
    appeal = file(world)
    version = appeal.version
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="in_progress", expected_version=version, now=NOW)
    with pytest.raises(Conflict):
        svc.appeal_set_status(actor=world.ukadmin, appeal=appeal, to="done", expected_version=version, now=NOW)


def test_staff_of_another_organisation_cannot_touch(world, db):
    appeal = file(world)
    for role in ("staff_other", "neighbour", "council", "rso", "operator"):
        with pytest.raises(NotFound):
            svc.appeal_get(actor=world.by_role(role), id=appeal.id)
    with pytest.raises(NotFound):  # the staff board is for the УК only, not for the author
        svc.staff_appeal_get(actor=world.owner, id=appeal.id)
    assert svc.appeal_get(actor=world.owner, id=appeal.id) is appeal
    assert svc.staff_appeal_get(actor=world.ukadmin, id=appeal.id) is appeal
    for bad in (0, -1, 2**31, "x", None):
        with pytest.raises(NotFound):
            svc.appeal_get(actor=world.owner, id=bad)
    with pytest.raises(NotAllowed):
        svc.appeal_set_status(actor=world.staff_other, appeal=appeal, to="in_progress", now=NOW)


def test_internal_notes_never_reach_the_owner(world, db):
    appeal = file(world)
    svc.appeal_comment(actor=world.staff, appeal=appeal, text="Сантехник Петров, ключ у консьержа", internal=True,
                       photos=[svc.Upload("a.jpg", jpeg(exif=False))], now=NOW)
    svc.appeal_comment(actor=world.staff, appeal=appeal, text="Мастер придёт завтра с 10 до 12", now=NOW)
    owner_view = [e.text for e, _ in svc.timeline(world.owner, appeal)]
    staff_view = [e.text for e, _ in svc.timeline(world.staff, appeal)]
    assert "Сантехник Петров, ключ у консьержа" in staff_view and "Сантехник Петров, ключ у консьержа" not in owner_view
    assert "Мастер придёт завтра с 10 до 12" in owner_view
    internal_photo = db.session.query(AppealPhoto).filter_by(internal=True).one()
    with pytest.raises(NotFound):
        svc.photo_get(actor=world.owner, id=internal_photo.id)
    assert svc.photo_get(actor=world.staff, id=internal_photo.id) is internal_photo
    with pytest.raises(NotAllowed):
        svc.appeal_comment(actor=world.owner, appeal=appeal, text="Хочу заметку", internal=True, now=NOW)


def test_owner_emailed_on_each_status_change(world, db):
    appeal = file(world)
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="in_progress", now=NOW)
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="done", now=NOW)
    subjects = [m.subject for m in db.session.query(OutboxMessage).order_by(OutboxMessage.id)]
    assert subjects == [f"Обращение № {appeal.number}: в работе", f"Обращение № {appeal.number}: выполнено"]


def test_assign_and_rate(world, db):
    appeal = file(world)
    svc.appeal_assign(actor=world.staff, appeal=appeal, assignee_id=world.ukadmin.id, now=NOW)
    assert appeal.assignee_id == world.ukadmin.id
    with pytest.raises(Invalid):
        svc.appeal_assign(actor=world.staff, appeal=appeal, assignee_id=world.staff_other.id, now=NOW)
    with pytest.raises(Locked):
        svc.appeal_rate(actor=world.owner, appeal=appeal, rating=5, now=NOW)
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="done", now=NOW)
    with pytest.raises(Invalid):
        svc.appeal_rate(actor=world.owner, appeal=appeal, rating=7, now=NOW)
    svc.appeal_rate(actor=world.owner, appeal=appeal, rating=4, comment="Быстро", now=NOW)
    assert appeal.rating == 4


def test_board_overdue_first_and_counts(world, db):
    late = file(world, "EMERGENCY")
    fresh = file(world, "REPAIR")
    rows, counts = svc.board(world.staff, svc.BoardFilters(), NOW + timedelta(hours=2))
    assert [a.id for a in rows] == [late.id, fresh.id]
    assert counts["overdue"] == 1 and counts["registered"] == 2
    assert svc.board(world.staff_other, svc.BoardFilters(), NOW)[0] == []
    only = svc.board(world.staff, svc.BoardFilters(overdue=True), NOW + timedelta(hours=2))[0]
    assert [a.id for a in only] == [late.id]


# --- concurrency (PostgreSQL) --------------------------------------------------------------------------------


@pytest.fixture
def postgres_only(db):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("numbering under concurrency is tested on PostgreSQL (CI runs it with TEST_DATABASE_URL)")


def test_20_parallel_filings_get_unique_gapless_numbers(app, world, postgres_only):
    owner_id, premises_id = world.owner.id, world.p1.id
    category_id = category(world, "REPAIR").id
    barrier = threading.Barrier(20)
    numbers, errors = [], []

    def run(i):
        with app.app_context():
            try:
                barrier.wait()
                owner, premises = _db.session.get(User, owner_id), _db.session.get(Premises, premises_id)
                text = "Течёт кран на кухне." if i != 7 else "мало"  # one fails validation: no gap
                numbers.append(svc.appeal_file(actor=owner, premises=premises, category_id=category_id,
                                               place_kind="premises", place_detail=None, text=text,
                                               client_token=f"t{i}", now=NOW).number)
            except Invalid as error:
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(errors) == 1
    assert sorted(numbers) == [f"2026-{n:06d}" for n in range(1, 20)]


def test_control_characters_refused_nothing_stored(world, db):
    with pytest.raises(Invalid) as info:
        file(world, text="Течёт кран\x00 на кухне, капает.", place_detail="кухня\x1b")
    assert info.value.errors == {"text": "Поле содержит недопустимые символы",
                                 "place_detail": "Поле содержит недопустимые символы"}
    assert db.session.query(Appeal).count() == 0
    appeal = file(world, text="Течёт кран на кухне.\nКапает\tвсю ночь.")
    assert appeal.text == "Течёт кран на кухне.\nКапает\tвсю ночь."
    with pytest.raises(Invalid, match="недопустимые"):
        svc.appeal_comment(actor=world.owner, appeal=appeal, text="Когда\x07 придёт мастер?", now=NOW)
    with pytest.raises(Invalid, match="недопустимые"):
        svc.appeal_set_status(actor=world.staff, appeal=appeal, to="rejected", reason="Нет\x00", now=NOW)
    svc.appeal_set_status(actor=world.staff, appeal=appeal, to="done", now=NOW)
    with pytest.raises(Invalid, match="недопустимые"):
        svc.appeal_rate(actor=world.owner, appeal=appeal, rating=5, comment="Спасибо\x1b", now=NOW)
    assert appeal.rating is None and appeal.status == S.DONE


def test_assign_refuses_ids_out_of_range_and_strangers(world, db):
    appeal = file(world)
    for bad in (2**31, "99999999999999999999", -1, "abc", world.staff_other.id, world.owner.id):
        with pytest.raises(Invalid, match="Выберите сотрудника"):
            svc.appeal_assign(actor=world.staff, appeal=appeal, assignee_id=bad, now=NOW)
    svc.appeal_assign(actor=world.staff, appeal=appeal, assignee_id=str(world.ukadmin.id), now=NOW)
    svc.appeal_assign(actor=world.staff, appeal=appeal, assignee_id="", now=NOW)  # taken off
    assert appeal.assignee_id is None
    with pytest.raises(NotAllowed):
        svc.appeal_assign(actor=world.staff_other, appeal=appeal, assignee_id=None, now=NOW)


def test_board_choices_and_colleagues_are_the_actors_uk(world, db):
    buildings, categories = svc.board_choices(world.staff)
    assert {b.id for b in buildings} == {world.building.id, world.building2.id}
    assert {c.organisation_id for c in categories} == {world.uk.id}
    assert {u.id for u in svc.colleagues(world.staff)} == {world.staff.id, world.ukadmin.id}
    assert svc.board_choices(world.council) == ([], []) and svc.colleagues(world.owner) == []


# --- «Оспорить»: a receipt line attached to an appeal ----------------------------------------------------------

LINE = {"period": "2026-10-01", "line": "5", "service": "Холодное водоснабжение", "amount": "488.04",
        "volume": "10.5", "unit": "м³", "tariff": "46.48", "rule": "ПП 354 п. 42",
        "basis": "Объём по показаниям счётчика за октябрь"}


def test_appeal_stores_the_disputed_line(world):
    appeal = file(world, "OTHER", receipt_line=LINE)
    _db.session.expire_all()
    assert _db.session.get(Appeal, appeal.id).receipt_line == LINE


def test_an_appeal_without_a_line_stores_none(world):
    assert file(world).receipt_line is None


def test_the_stored_line_keeps_known_keys_as_bounded_strings():
    cleaned = svc.clean_receipt_line(LINE | {"premises_id": 99, "html": "<b>x</b>", "basis": "б" * 5000,
                                             "amount": 488.04})
    assert set(cleaned) == set(LINE) and len(cleaned["basis"]) == 1000 and cleaned["amount"] == "488.04"
    assert svc.clean_receipt_line({"service": "ХВС"}) is None  # no period: not a line
    assert svc.clean_receipt_line("ХВС за октябрь") is None


def test_a_refused_appeal_with_a_line_writes_nothing(world):
    with pytest.raises(Invalid):
        file(world, "OTHER", receipt_line=LINE, text="коротко")
    assert _db.session.query(Appeal).count() == 0


def test_dispute_category_prefers_billing_then_the_general_one(world):
    from app.models import AppealCategory
    from app.models.appeals import DeadlineUnit

    categories = svc.categories_for(world.uk.id)
    assert svc.dispute_category(categories).code == "OTHER"
    billing = AppealCategory(organisation_id=world.uk.id, code="CHARGES", name="Вопросы по начислениям",
                             deadline_unit=DeadlineUnit.WORKING_DAYS, deadline_value=10, sort_order=50)
    _db.session.add(billing)
    _db.session.commit()
    assert svc.dispute_category(svc.categories_for(world.uk.id)) == billing
    only_emergency = [c for c in categories if c.emergency]
    assert svc.dispute_category(only_emergency) is None
