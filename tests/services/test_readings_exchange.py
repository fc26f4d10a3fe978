"""Export and import of readings (CSV/XLSX): scope per role, file formats, row checks, all-or-nothing apply."""

import csv
import io
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import event

from app.models import AuditLog, Reading, ReadingImport, ReadingRevision
from app.models.metering import ReadingSource
from app.services import readings_exchange as svc
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from tests import factories as F

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # 22.11.2026 12:00 in Chita
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
HEADER = "Лицевой счёт;Заводской номер;Тариф-зона;Показание"


@pytest.fixture
def meters(world, db):
    """Registers in the world's premises with October readings; some November readings."""
    m = SimpleNamespace(
        cold1=F.MeterFactory(premises=world.p1, resource="cold_water", serial_number="ВС100001"),
        hot1=F.MeterFactory(premises=world.p1, resource="hot_water", serial_number="ГВ100002"),
        day2=F.MeterFactory(premises=world.p2, resource="electricity", serial_number="Э200001", zone="T1", digits=6),
        night2=F.MeterFactory(premises=world.p2, resource="electricity", serial_number="Э200001", zone="T2",
                              digits=6),
        cold3=F.MeterFactory(premises=world.p3, resource="cold_water", serial_number="ВС300003"),
        b2=F.MeterFactory(premises=world.p_b2, resource="cold_water", serial_number="ВС700007"),
        other=F.MeterFactory(premises=world.p_other, resource="cold_water", serial_number="ВС900009"),
    )
    for meter in vars(m).values():
        F.ReadingFactory(meter=meter, period=OCT, value=Decimal("100"), entered_at=NOW - timedelta(days=30))
    F.ReadingFactory(meter=m.cold1, period=NOV, value=Decimal("110.5"), source="owner",
                     entered_at=datetime(2026, 11, 20, 1, 5, tzinfo=UTC))
    F.ReadingFactory(meter=m.day2, period=NOV, value=Decimal("150"), source="council", entered_at=NOW)
    db.session.commit()
    return m


def _csv(*lines: str, header: str = HEADER, encoding: str = "utf-8-sig") -> bytes:
    return "\r\n".join([header, *lines]).encode(encoding)


def _preview(world, content: bytes, *, filename="file.csv", period=NOV, actor=None):
    return svc.reading_import_preview(actor=actor or world.staff, period=period, filename=filename, content=content,
                                      now=NOW)


def _by_line(reading_import) -> dict[int, dict]:
    return {row["line"]: row for row in reading_import.rows}


@contextmanager
def count_queries(db):
    statements = []

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


# ---------------------------------------------------------------------------------------------------------
# Export: scope
# ---------------------------------------------------------------------------------------------------------


def test_export_building_lists_every_register_with_the_period_values(world, meters):
    rows = svc.readings_export_rows(actor=world.staff, period=NOV, building=world.building)
    assert [(r.premises, r.serial, r.zone) for r in rows] == [
        ("кв. 1", "ВС100001", ""), ("кв. 1", "ГВ100002", ""), ("кв. 2", "Э200001", "T1"),
        ("кв. 2", "Э200001", "T2"), ("кв. 3", "ВС300003", ""),
    ]
    cold1 = rows[0]
    assert cold1.address == "г. Чита, ул. Ленина, д. 1" and cold1.account == world.p1.account_number
    assert (cold1.resource, cold1.value, cold1.consumption, cold1.source) == (
        "Холодная вода", Decimal("110.5"), Decimal("10.5"), "собственник")
    assert cold1.entered_at == datetime(2026, 11, 20, 1, 5, tzinfo=UTC)
    assert rows[1].value is None and rows[1].consumption is None and rows[1].source == ""
    assert rows[2].source == "совет дома"


def test_export_whole_organisation_for_staff(world, meters):
    rows = svc.readings_export_rows(actor=world.staff, period=NOV)
    assert {r.serial for r in rows} == {"ВС100001", "ГВ100002", "Э200001", "ВС300003", "ВС700007"}
    assert [r.address for r in rows] == sorted(r.address for r in rows)  # grouped by building


def test_export_for_council_is_its_own_building(world, meters):
    rows = svc.readings_export_rows(actor=world.council, period=NOV)
    assert {r.account for r in rows} == {world.p1.account_number, world.p2.account_number, world.p3.account_number}
    with pytest.raises(NotFound):
        svc.readings_export_rows(actor=world.council, period=NOV, building=world.building2)


def test_export_for_rso_is_its_resources_in_supplied_buildings(world, meters, db):
    world.rso.settings = {"resources": ["cold_water", "hot_water"]}
    db.session.commit()
    rows = svc.readings_export_rows(actor=world.rso_user, period=NOV)
    assert {r.serial for r in rows} == {"ВС100001", "ГВ100002", "ВС300003"}  # no electricity, no building2
    assert [b.id for b in svc.export_buildings(world.rso_user)] == [world.building.id]
    with pytest.raises(NotFound):
        svc.readings_export_rows(actor=world.rso_user, period=NOV, building=world.building2)


def test_rso_without_configured_resources_exports_nothing(world, meters, db):
    world.rso.settings = {}
    db.session.commit()
    assert svc.readings_export_rows(actor=world.rso_user, period=NOV) == []
    with pytest.raises(NotFound):
        svc.readings_export_rows(actor=world.rso_user, period=NOV, building=world.building)


def test_export_outside_scope(world, meters):
    with pytest.raises(NotFound):
        svc.readings_export_rows(actor=world.staff_other, period=NOV, building=world.building)
    assert {r.serial for r in svc.readings_export_rows(actor=world.staff_other, period=NOV)} == {"ВС900009"}
    with pytest.raises(NotAllowed):
        svc.readings_export_rows(actor=world.owner, period=NOV)


def test_export_keeps_archived_register_only_with_a_reading(world, meters, db):
    replaced = F.MeterFactory(premises=world.p3, serial_number="OLD1", archived=True)
    gone = F.MeterFactory(premises=world.p3, serial_number="OLD2", archived=True)
    F.ReadingFactory(meter=replaced, period=NOV, value=Decimal("5"), source="staff")
    F.ReadingFactory(meter=gone, period=OCT, value=Decimal("5"))
    db.session.commit()
    serials = {r.serial for r in svc.readings_export_rows(actor=world.staff, period=NOV, building=world.building)}
    assert "OLD1" in serials and "OLD2" not in serials


def test_export_queries_do_not_grow_with_the_data(world, meters, db):
    with count_queries(db) as small:
        svc.readings_export_rows(actor=world.staff, period=NOV)
    for i in range(30):
        premises = F.PremisesFactory(building=world.building2, number=str(100 + i))
        meter = F.MeterFactory(premises=premises)
        F.ReadingFactory(meter=meter, period=OCT, value=Decimal(i))
        F.ReadingFactory(meter=meter, period=NOV, value=Decimal(i + 1))
    db.session.commit()
    db.session.expire_all()
    with count_queries(db) as big:
        rows = svc.readings_export_rows(actor=world.staff, period=NOV)
    assert len(rows) == 36
    assert len(big) == len(small) <= 8  # 4 of them load the actor and their memberships


# ---------------------------------------------------------------------------------------------------------
# Export: files
# ---------------------------------------------------------------------------------------------------------


def test_csv_is_excel_friendly(world, meters, db):
    meters.cold3.serial_number = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    exported = svc.readings_export(actor=world.staff, period=NOV, building=world.building, fmt="csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    assert exported.filename == "Показания 11.2026 ул. Ленина, д. 1.csv" and exported.rows == 5
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert table[0] == list(svc.COLUMNS)
    assert table[1] == ["г. Чита, ул. Ленина, д. 1", "кв. 1", world.p1.account_number, "Холодная вода", "",
                        "ВС100001", "11.2026", "110,500", "10,500", "собственник", "20.11.2026 10:05", ""]
    assert table[2][7:11] == ["", "", "", ""]
    assert table[5][5] == "'=HYPERLINK(\"http://x\")"  # a formula is never run by the spreadsheet


def test_xlsx_has_numbers_dates_and_no_formulas(world, meters, db):
    meters.cold3.serial_number = "=1+1"
    meters.day2.next_verification_on = date(2026, 1, 1)
    reading = db.session.query(Reading).filter_by(meter_id=meters.day2.id, period=NOV).one()
    reading.not_for_billing = True
    db.session.commit()
    exported = svc.readings_export(actor=world.staff, period=NOV, building=world.building, fmt="xlsx")
    assert exported.mimetype == svc.XLSX_MIMETYPE and exported.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == list(svc.COLUMNS)
    cold1 = rows[1]
    assert cold1[7].value == pytest.approx(110.5) and cold1[7].number_format == "0.000"
    assert cold1[8].value == pytest.approx(10.5)
    assert cold1[10].value == datetime(2026, 11, 20, 10, 5) and cold1[10].number_format == "DD.MM.YYYY HH:MM"
    assert cold1[2].data_type == "s" and cold1[6].value == "11.2026"
    assert rows[3][11].value == "да"  # day2: not for billing
    assert rows[5][5].value == "=1+1" and rows[5][5].data_type == "s"


def test_export_rejects_unknown_format(world, meters):
    with pytest.raises(Invalid):
        svc.readings_export(actor=world.staff, period=NOV, fmt="pdf")


def test_template_is_the_header_line():
    assert svc.template_csv() == ("\ufeff" + ";".join(svc.COLUMNS) + "\r\n").encode()


# ---------------------------------------------------------------------------------------------------------
# Import: preview
# ---------------------------------------------------------------------------------------------------------


def test_preview_statuses_and_messages(world, meters, db):
    F.MeterFactory(premises=world.p3, serial_number="АРХ1", archived=True)
    db.session.commit()
    a1, a2, a3 = world.p1.account_number, world.p2.account_number, world.p3.account_number
    content = _csv(
        f"{a1};ВС100001;;111,5",  # 2 changed 110.5 -> 111.5
        f"{a1};ГВ100002;;120",  # 3 new
        f"{a2};Э200001;T1;150",  # 4 unchanged
        f"{a2};Э200001;T2;",  # 5 skipped
        f"{a3};ВС300003;;99",  # 6 lower than previous
        "0000000;ВС100001;;5",  # 7 unknown account
        f"{a1};НЕТ555;;5",  # 8 no such meter in the premises
        f"{a3};АРХ1;;5",  # 9 archived
        f"{world.p_other.account_number};ВС900009;;120",  # 10 another organisation's building
        f"{a1};ГВ100002;;121",  # 11 duplicate of line 3
        f"{a2};Э200001;;160",  # 12 zone needed
        f"{a2};Э200001;T4;160",  # 13 zone not recognised
        f"{a3};ВС300003;;",  # 14 skipped
        ";ВС300003;;5",  # 15 no account
        f"{a3};;;5",  # 16 no serial
    )
    imp = _preview(world, content)
    rows = _by_line(imp)
    assert imp.applied_at is None and imp.organisation_id == world.uk.id and imp.period == NOV
    assert (rows[2]["status"], rows[2]["old"], rows[2]["new"]) == ("changed", "110.500", "111.5")
    assert (rows[3]["status"], rows[3]["old"], rows[3]["new"]) == ("new", None, "120")
    assert rows[3]["place"] == "ул. Ленина, д. 1, кв. 1" and rows[3]["meter"] == "Горячая вода, № ГВ100002"
    assert rows[4]["status"] == "unchanged" and rows[5]["status"] == rows[14]["status"] == "skipped"
    expected_errors = {
        6: "Меньше предыдущего показания (100)", 7: "Лицевой счёт 0000000 не найден",
        8: "Счётчик № НЕТ555 не найден в помещении кв. 1", 9: "снят с учёта",
        10: "не обслуживает ваша организация", 11: "уже есть в строке 3", 12: "несколько тарифных зон (T1, T2)",
        13: "Тариф-зона «T4» не распознана", 15: "Не указан лицевой счёт", 16: "Не указан заводской номер",
    }
    for line, text in expected_errors.items():
        assert rows[line]["status"] == "error", (line, rows[line])
        assert text in rows[line]["message"], (line, rows[line]["message"])
    assert rows[6]["meter"] == "Холодная вода, № ВС300003"  # an error row still says what it is about
    assert "place" not in rows[10]  # nothing about another organisation's premises is shown
    totals = svc.import_totals(imp)
    assert (totals.new, totals.changed, totals.unchanged, totals.skipped, totals.errors) == (1, 1, 1, 2, 10)
    assert totals.rows == 15
    assert db.session.query(ReadingRevision).count() == 0  # a preview writes no reading
    assert db.session.get(ReadingImport, imp.id).rows == imp.rows


@pytest.mark.parametrize(
    ("value", "message"),
    [("абв", "Введите число, например 123,456"), ("1,2345", "Не больше трёх знаков после запятой"),
     ("123456", "На этом счётчике не больше 5 цифр до запятой"), ("-5", "не может быть отрицательным"),
     ("1.2.3", "Введите число")],
)
def test_preview_value_errors(world, meters, value, message):
    row = _preview(world, _csv(f"{world.p3.account_number};ВС300003;;{value}")).rows[0]
    assert row["status"] == "error" and row["message"].startswith(f"Показание «{value}»: ")
    assert message in row["message"]
    assert row["meter_id"] == meters.cold3.id


def test_preview_matches_serials_and_zones_loosely(world, meters):
    a2 = world.p2.account_number
    content = _csv(f"{world.p1.account_number};bc 100001;;111",  # Latin look-alikes, a space, lower case
                   f"{a2};Э200001;т2;170", f"{a2};Э200001;день (T1);150")
    rows = _by_line(_preview(world, content))
    assert rows[2]["meter_id"] == meters.cold1.id and rows[2]["status"] == "changed"
    assert rows[3]["meter_id"] == meters.night2.id and rows[3]["status"] == "new"
    assert rows[4]["meter_id"] == meters.day2.id and rows[4]["status"] == "unchanged"


def test_same_number_on_two_meters_needs_the_resource(world, meters, db):
    hot3 = F.MeterFactory(premises=world.p3, resource="hot_water", serial_number="ВС300003")
    db.session.commit()
    a3 = world.p3.account_number
    header = "Лицевой счёт;Заводской номер;Ресурс;Показание"
    rows = _by_line(_preview(world, _csv(f"{a3};ВС300003;;120", f"{a3};ВС300003;горячая вода;50",
                                         f"{a3};ВС300003;cold_water;120", f"{a3};ВС300003;Газ;1",
                                         f"{a3};ВС300003;вода;1", header=header)))
    assert "несколько счётчиков № ВС300003 (горячая вода, холодная вода): заполните «Ресурс»" in rows[2]["message"]
    assert (rows[3]["meter_id"], rows[3]["status"]) == (hot3.id, "new")
    assert (rows[4]["meter_id"], rows[4]["status"]) == (meters.cold3.id, "new")
    assert "Счётчик № ВС300003 (газ) не найден в помещении кв. 3" in rows[5]["message"]
    assert "Ресурс «вода» не распознан" in rows[6]["message"]


def test_preview_checks_the_period_column_and_future_periods(world, meters):
    header = "Лицевой счёт;Заводской номер;Период;Показание"
    a1 = world.p1.account_number
    rows = _by_line(_preview(world, _csv(f"{a1};ВС100001;11.2026;111", f"{a1};ГВ100002;10.2026;120",
                                         header=header)))
    assert rows[2]["status"] == "changed"
    assert "Период в строке (10.2026) не совпадает с выбранным (11.2026)" in rows[3]["message"]
    with pytest.raises(Invalid) as info:
        _preview(world, _csv(f"{a1};ВС100001;;111"), period=date(2026, 12, 1))
    assert info.value.field == "period"


def test_preview_refuses_a_value_above_a_later_reading(world, meters):
    # September is before the October reading (100): 120 would make October's consumption negative.
    rows = _by_line(_preview(world, _csv(f"{world.p1.account_number};ВС100001;;120"), period=SEP))
    assert "Больше показания за октябрь 2026 (100)" in rows[2]["message"]


def test_preview_warns_about_expired_verification(world, meters, db):
    meters.hot1.next_verification_on = date(2026, 11, 1)
    db.session.commit()
    rows = _by_line(_preview(world, _csv(f"{world.p1.account_number};ГВ100002;;120")))
    assert rows[2]["status"] == "new" and "не для расчёта" in rows[2]["message"]


def test_preview_only_for_uk_staff(world, meters):
    for actor in (world.council, world.rso_user, world.owner):
        with pytest.raises(NotAllowed):
            _preview(world, _csv(f"{world.p1.account_number};ВС100001;;111"), actor=actor)


def test_staff_of_another_organisation_cannot_touch_these_buildings(world, meters, db):
    imp = _preview(world, _csv(f"{world.p1.account_number};ВС100001;;111"), actor=world.staff_other)
    assert imp.organisation_id == world.uk_other.id
    assert "не обслуживает ваша организация" in imp.rows[0]["message"]
    mine = _preview(world, _csv(f"{world.p1.account_number};ВС100001;;111"))
    with pytest.raises(NotFound):
        svc.reading_import_get(actor=world.staff_other, import_id=mine.id)
    with pytest.raises(NotAllowed):
        svc.reading_import_apply(actor=world.staff_other, reading_import=mine, now=NOW)
    assert svc.reading_import_get(actor=world.ukadmin, import_id=mine.id) is mine


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("a.csv", b"", "Файл пустой"),
        ("a.pdf", b"%PDF-1.4", "Загрузите файл CSV или XLSX"),
        ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "XLS (Excel 97–2003) не поддерживается"),
        ("a.xlsx", b"just text", "Файл не похож на XLSX"),
        ("a.xlsx", b"PK\x03\x04broken", "Не удалось прочитать файл XLSX"),
        # the messages of the unified reader (app/services/tabular.py), the same for every import
        ("a.csv", "Адрес;Сумма\r\n1;2".encode(), "Не найдена строка заголовков"),
        ("a.csv", "Адрес;Показание\r\n1;2".encode(), "нет обязательных столбцов: «Лицевой счёт», «Заводской номер»"),
        ("a.csv", "Лицевой счёт;Помещение;Показание\r\n1;2;3".encode(), "нет обязательных столбцов: «Заводской номер»"),
        ("a.csv", (HEADER + "\r\n;;;\r\n").encode(), "В файле нет строк с показаниями"),
    ],
)
def test_unusable_files_store_nothing(world, meters, db, filename, content, message):
    with pytest.raises(Invalid) as info:
        _preview(world, content, filename=filename)
    assert info.value.field == "file" and message in info.value.message
    assert db.session.query(ReadingImport).count() == 0


def test_file_size_and_row_limits(world, meters, db, monkeypatch):
    with pytest.raises(Invalid) as info:
        _preview(world, b"x" * (svc.MAX_FILE_BYTES + 1))
    assert "Файл больше 2 МБ" in info.value.message
    monkeypatch.setattr(svc, "MAX_ROWS", 2)
    line = f"{world.p1.account_number};ВС100001;;111"
    assert len(_preview(world, _csv(line, line)).rows) == 2
    with pytest.raises(Invalid) as info:
        _preview(world, _csv(line, line, line))
    assert "больше 2 строк" in info.value.message


def test_csv_dialects_russian_excel_writes(world, meters):
    a1 = world.p1.account_number
    cp1251 = _preview(world, _csv(f"{a1};ВС100001;;111,5", encoding="cp1251"))
    assert cp1251.rows[0]["status"] == "changed" and cp1251.rows[0]["new"] == "111.5"
    comma = _preview(world, _csv(f'{a1},ВС100001,,"111,5"', header=HEADER.replace(";", ",")))
    assert comma.rows[0]["new"] == "111.5"
    loose = _preview(world, _csv(f"{a1};111 ,5;ВС100001", header=" лицевой  счет;ПОКАЗАНИЕ;Заводской номер"))
    assert loose.rows[0]["new"] == "111.5"  # headers in any case and order, «е» for «ё», spaces in the number
    titled = _preview(world, _csv("Показания за ноябрь", "", HEADER, f"{a1};ВС100001;;111,5", header="Отчёт УК"))
    assert titled.rows[0]["line"] == 5 and titled.rows[0]["status"] == "changed"  # lines counted as in Excel


def test_xlsx_with_numeric_cells(world, meters):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Примечание"])
    sheet.append(["Лицевой счёт", "Заводской номер", "Показание", "Тариф-зона"])
    sheet.append([int(world.p1.account_number), "ВС100001", 111.456, None])
    sheet.append([int(world.p2.account_number), "Э200001", 150, "T1"])
    sheet.append([world.p1.account_number, "ГВ100002", 120.1234, ""])
    out = io.BytesIO()
    workbook.save(out)
    rows = _by_line(_preview(world, out.getvalue(), filename="Показания.xlsx"))
    assert (rows[3]["status"], rows[3]["new"]) == ("changed", "111.456")
    assert rows[4]["status"] == "unchanged"
    assert "Не больше трёх знаков" in rows[5]["message"]


# ---------------------------------------------------------------------------------------------------------
# Import: apply
# ---------------------------------------------------------------------------------------------------------


def _good_file(world) -> bytes:
    a1, a2 = world.p1.account_number, world.p2.account_number
    return _csv(f"{a1};ВС100001;;111,5", f"{a1};ГВ100002;;120", f"{a2};Э200001;T1;150", f"{a2};Э200001;T2;")


def test_apply_writes_import_readings_with_revisions(world, meters, db):
    imp = _preview(world, _good_file(world))
    result = svc.reading_import_apply(actor=world.staff, reading_import=imp, now=NOW + timedelta(minutes=5))
    assert (result.new, result.changed, result.unchanged, result.skipped) == (1, 1, 1, 1)
    cold1 = db.session.query(Reading).filter_by(meter_id=meters.cold1.id, period=NOV).one()
    hot1 = db.session.query(Reading).filter_by(meter_id=meters.hot1.id, period=NOV).one()
    day2 = db.session.query(Reading).filter_by(meter_id=meters.day2.id, period=NOV).one()
    assert (cold1.value, cold1.source, cold1.entered_by_id, cold1.version) == (
        Decimal("111.5"), ReadingSource.IMPORT, world.staff.id, 2)
    assert (hot1.value, hot1.source, hot1.not_for_billing) == (Decimal("120"), ReadingSource.IMPORT, False)
    assert day2.source == ReadingSource.COUNCIL  # unchanged: left as it was
    revisions = db.session.query(ReadingRevision).order_by(ReadingRevision.id).all()
    assert [(r.meter_id, r.old_value, r.new_value, r.source, r.actor_role) for r in revisions] == [
        (meters.cold1.id, Decimal("110.5"), Decimal("111.5"), ReadingSource.IMPORT, "staff"),
        (meters.hot1.id, None, Decimal("120"), ReadingSource.IMPORT, "staff"),
    ]
    assert imp.applied_at == NOW + timedelta(minutes=5)
    audit = db.session.query(AuditLog).filter_by(action="readings_import").one()
    assert audit.entity_id == imp.id and audit.changes["new"] == 1 and audit.changes["changed"] == 1


def test_apply_marks_expired_meters_not_for_billing(world, meters, db):
    meters.hot1.next_verification_on = date(2026, 11, 1)
    db.session.commit()
    imp = _preview(world, _csv(f"{world.p1.account_number};ГВ100002;;120"))
    svc.reading_import_apply(actor=world.staff, reading_import=imp, now=NOW)
    assert db.session.query(Reading).filter_by(meter_id=meters.hot1.id, period=NOV).one().not_for_billing


def test_apply_is_all_or_nothing(world, meters, db):
    content = _good_file(world) + f"\r\n{world.p3.account_number};ВС300003;;99".encode()
    imp = _preview(world, content)
    with pytest.raises(Invalid) as info:
        svc.reading_import_apply(actor=world.staff, reading_import=imp, now=NOW)
    assert "Ничего не загружено: ошибок в файле — 1" in info.value.message
    assert db.session.query(ReadingRevision).count() == 0
    assert db.session.query(Reading).filter_by(meter_id=meters.cold1.id, period=NOV).one().value == Decimal("110.5")
    assert db.session.get(ReadingImport, imp.id).applied_at is None


def test_import_is_applied_once(world, meters, db):
    imp = _preview(world, _good_file(world))
    svc.reading_import_apply(actor=world.staff, reading_import=imp, now=NOW)
    with pytest.raises(Conflict) as info:
        svc.reading_import_apply(actor=world.ukadmin, reading_import=imp, now=NOW)
    assert "уже загружен 22.11.2026 12:00" in info.value.message
    assert db.session.query(ReadingRevision).count() == 2


def test_same_file_again_changes_nothing(world, meters, db):
    svc.reading_import_apply(actor=world.staff, reading_import=_preview(world, _good_file(world)), now=NOW)
    again = _preview(world, _good_file(world))
    assert {r["status"] for r in again.rows} == {"unchanged", "skipped"}
    result = svc.reading_import_apply(actor=world.staff, reading_import=again, now=NOW + timedelta(hours=1))
    assert (result.new, result.changed) == (0, 0)
    assert db.session.query(ReadingRevision).count() == 2
    cold1 = db.session.query(Reading).filter_by(meter_id=meters.cold1.id, period=NOV).one()
    assert (cold1.version, cold1.entered_at) == (2, NOW)


def test_a_reading_entered_after_the_preview_stops_the_apply(world, meters, db):
    imp = _preview(world, _good_file(world))
    F.ReadingFactory(meter=meters.hot1, period=NOV, value=Decimal("119"), source="owner")  # meanwhile, online
    db.session.commit()
    with pytest.raises(Conflict) as info:
        svc.reading_import_apply(actor=world.staff, reading_import=imp, now=NOW)
    assert "показания в базе изменились" in info.value.message
    assert db.session.query(ReadingRevision).count() == 0
    refreshed = _by_line(db.session.get(ReadingImport, imp.id))
    assert (refreshed[3]["status"], refreshed[3]["old"]) == ("changed", "119.000")
    # The user saw the refreshed preview and confirms it: now it applies.
    result = svc.reading_import_apply(actor=world.staff, reading_import=imp, now=NOW)
    assert result.changed == 2


def test_parallel_confirmations_apply_once(app, world, meters, db):
    """Ten confirmations of one import at the same moment (double clicks, two tabs): one applies."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it with TEST_DATABASE_URL)")
    import threading

    from app.models import User

    import_id, staff_id = _preview(world, _good_file(world)).id, world.staff.id
    barrier, outcomes = threading.Barrier(10), []

    def run():
        with app.app_context():
            barrier.wait()
            try:
                svc.reading_import_apply(actor=db.session.get(User, staff_id),
                                         reading_import=db.session.get(ReadingImport, import_id), now=NOW)
                outcomes.append("ok")
            except Conflict as error:
                outcomes.append(error.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("ok") == 1 and len(outcomes) == 10, outcomes
    assert all("уже загружен" in o for o in outcomes if o != "ok"), outcomes
    db.session.expire_all()
    assert db.session.query(ReadingRevision).count() == 2
    # What the user confirmed stays on record (a late loser does not overwrite it with "unchanged").
    assert [r["status"] for r in db.session.get(ReadingImport, import_id).rows] == [
        "changed", "new", "unchanged", "skipped"]


def test_preview_queries_do_not_grow_with_rows(world, meters, db):
    def file_for(count):
        lines = []
        for i in range(count):
            premises = F.PremisesFactory(building=world.building2, number=f"{count}-{i}")
            meter = F.MeterFactory(premises=premises)
            F.ReadingFactory(meter=meter, period=OCT, value=Decimal(1))
            lines.append(f"{premises.account_number};{meter.serial_number};;{i + 2}")
        db.session.commit()
        return _csv(*lines)

    small, big = file_for(3), file_for(40)
    with count_queries(db) as few:
        _preview(world, small)
    with count_queries(db) as many:
        imp = _preview(world, big)
    assert {r["status"] for r in imp.rows} == {"new"}
    # 4 of them load the actor and their memberships; 1 looks for a pending preview of the same file (a re-upload
    # refreshes it instead of storing another one, app/services/tabular.py preview_store)
    assert len(many) == len(few) <= 11


# ---------------------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(world, meters, db, fmt):
    F.ReadingFactory(meter=meters.hot1, period=NOV, value=Decimal("123.456"), source="staff")
    F.ReadingFactory(meter=meters.night2, period=NOV, value=Decimal("80.1"), source="owner")
    db.session.commit()
    exported = svc.readings_export(actor=world.staff, period=NOV, fmt=fmt)
    imp = _preview(world, exported.content, filename=exported.filename)
    statuses = {r["line"]: r["status"] for r in imp.rows}
    assert len(statuses) == exported.rows == 6
    assert set(statuses.values()) == {"unchanged", "skipped"}  # cold3 and b2 have no November reading
    assert sum(s == "skipped" for s in statuses.values()) == 2
    svc.reading_import_apply(actor=world.staff, reading_import=imp, now=NOW)
    assert db.session.query(ReadingRevision).count() == 0


def test_demo_round_trip_has_no_errors(app, db):
    """The demo's shapes (multi-zone registers, one number on a cold and a hot water meter) survive a round trip."""
    from sqlalchemy import func

    from app.models import User

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    staff = db.session.query(User).filter_by(login="staff").one()
    period = db.session.scalar(func.max(Reading.period))
    for fmt in ("csv", "xlsx"):
        exported = svc.readings_export(actor=staff, period=period, fmt=fmt)
        imp = svc.reading_import_preview(actor=staff, period=period, filename=exported.filename,
                                         content=exported.content)
        totals = svc.import_totals(imp)
        assert totals.rows == exported.rows > 100
        assert (totals.errors, totals.new, totals.changed) == (0, 0, 0), [r for r in imp.rows if r.get("message")][:3]
        assert totals.unchanged > 0
