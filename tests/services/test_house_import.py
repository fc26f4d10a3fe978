"""Onboarding a house from a file: premises, the register of owners and meters; bad input of every kind."""

import codecs
import io
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import event

from app.models import AuditLog, Meter, OwnerRecord, Premises, TabularImport, User
from app.models.housing import PremisesKind
from app.services import house_import as svc
from app.services import tabular
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from tests import factories as F

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
HEADER = ["Номер помещения", "Вид помещения", "Подъезд", "Этаж", "Количество комнат", "Общая площадь, м²",
          "Жилая площадь, м²", "Кадастровый номер", "Лицевой счёт", "ФИО собственника", "Доля", "Телефон",
          "Эл. почта", "Зарегистрировано", "Ресурс", "Заводской номер", "Дата поверки", "Показание",
          "Дата показания"]
KEYS = svc.TEMPLATE_KEYS


def line(**values) -> list[str]:
    return [str(values.get(k, "")) for k in KEYS]


def flat(n, **values):
    base = {"number": str(n), "kind": "квартира", "entrance": "1", "floor": "2", "rooms": "2", "total_area": "48,6",
            "living_area": "30,2", "account": f"9{n:06d}", "owner": f"Собственник {n}", "share": "1",
            "residents": "2"}
    base.update(values)
    return line(**base)


def csv_bytes(rows, *, header=HEADER, sep=";", encoding="utf-8-sig") -> bytes:
    def cell(value):
        return f'"{value}"' if sep in value else value

    return "\r\n".join(sep.join(cell(v) for v in r) for r in [header, *rows]).encode(encoding)


def xlsx_bytes(rows, *, header=HEADER, build=None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    if build:
        build(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def preview(world, content, *, filename="house.csv", actor=None, building=None, now=NOW):
    return svc.house_import_preview(actor=actor or world.staff, building=building or world.building,
                                    filename=filename, content=content, now=now)


def apply(world, imp, *, actor=None, building=None, now=NOW):
    return svc.house_import_apply(actor=actor or world.staff, building=building or world.building, imp=imp, now=now)


def by_line(imp):
    return {r["line"]: r for r in imp.rows}


def premises_state(db):
    return sorted((p.building_id, p.number, p.kind, p.entrance, p.floor, p.rooms, p.total_area, p.living_area,
                   p.account_number, p.registered_residents) for p in db.session.query(Premises))


def everything(db):
    return (premises_state(db), sorted((r.premises_id, r.full_name, r.share_num, r.share_den, r.phone, r.email)
                                       for r in db.session.query(OwnerRecord)),
            sorted((m.premises_id, m.resource, m.serial_number, m.next_verification_on, m.initial_value)
                   for m in db.session.query(Meter)))


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


# --- the happy path -------------------------------------------------------------------------------------------


def test_preview_then_apply_writes_premises_owners_and_meters(world, db):
    rows = [
        flat(10, owner="Иванова Анна Петровна", share="1/2", phone="8 (914) 123-45-67", email="Anna@Example.ru",
             resource="Холодная вода", serial="ХВ-1", verification="01.06.2030", reading="123,456",
             reading_date="20.11.2026"),
        line(number="10", owner="Иванов Пётр Сергеевич", share="0,5", resource="ГВС", serial="ГВ-1",
             verification="2030-06-01", reading="98.1"),
        flat(11, kind="нежилое", owner="ООО «Ромашка»", share="", total_area="25", living_area=""),
    ]
    imp = preview(world, csv_bytes(rows))
    assert imp.kind == "house" and imp.building_id == world.building.id and imp.applied_at is None
    assert [r["status"] for r in imp.rows] == ["new", "new", "new"], [r["message"] for r in imp.rows]
    s = imp.summary
    assert (s["premises_new"], s["owners_new"], s["meters_new"], s["errors"]) == (2, 3, 2, 0)
    # the building's premises 1, 2, 3 are not in the file: listed, never deleted
    assert s["absent_premises"] == ["кв. 1", "кв. 2", "кв. 3"]
    assert db.session.query(Premises).filter_by(building_id=world.building.id).count() == 3  # nothing yet
    result = apply(world, imp)
    assert (result.premises_new, result.owners_new, result.meters_new) == (2, 3, 2)
    p10 = db.session.query(Premises).filter_by(building_id=world.building.id, number="10").one()
    assert (p10.kind, p10.entrance, p10.floor, p10.rooms, p10.total_area, p10.living_area, p10.account_number,
            p10.registered_residents) == (PremisesKind.APARTMENT, 1, 2, 2, Decimal("48.60"), Decimal("30.20"),
                                          "9000010", 2)
    owners = sorted((r.full_name, r.share_num, r.share_den, r.phone, r.email, r.source, r.user_id)
                    for r in db.session.query(OwnerRecord).filter_by(premises_id=p10.id))
    assert owners == [("Иванов Пётр Сергеевич", 1, 2, None, None, "import", None),
                      ("Иванова Анна Петровна", 1, 2, "+79141234567", "anna@example.ru", "import", None)]
    assert db.session.query(User).count() == 9  # no accounts are created
    meters = sorted((m.resource, m.serial_number, m.next_verification_on, m.initial_value, m.zone, m.digits)
                    for m in db.session.query(Meter).filter_by(premises_id=p10.id))
    assert meters == [("cold_water", "ХВ-1", date(2030, 6, 1), Decimal("123.456"), None, 5),
                      ("hot_water", "ГВ-1", date(2030, 6, 1), Decimal("98.100"), None, 5)]
    p11 = db.session.query(Premises).filter_by(building_id=world.building.id, number="11").one()
    assert p11.kind == PremisesKind.NON_RESIDENTIAL and p11.living_area is None
    assert [(r.full_name, r.share_num, r.share_den) for r in db.session.query(OwnerRecord).filter_by(
        premises_id=p11.id)] == [("ООО «Ромашка»", 1, 1)]  # one owner without a share: the whole premises
    audit = db.session.query(AuditLog).filter_by(action="house_imported").one()
    assert audit.changes["premises_new"] == 2 and audit.changes["readings"][0][1:] == ["ХВ-1", "123.456",
                                                                                        "20.11.2026"]
    assert db.session.get(TabularImport, imp.id).applied_at is not None


def test_reupload_updates_and_never_duplicates(world, db):
    rows = [flat(10, resource="Холодная вода", serial="ХВ-1", verification="01.06.2030", reading="5"),
            flat(11)]
    apply(world, preview(world, csv_bytes(rows)))
    before = everything(db)
    again = preview(world, csv_bytes(rows), now=NOW + timedelta(hours=1))
    assert {r["status"] for r in again.rows} == {"unchanged"}
    apply(world, again, now=NOW + timedelta(hours=1))
    assert everything(db) == before
    # a changed file: area, phone, share split, verification date; flat 11 left out
    changed = [flat(10, total_area="49,1", phone="+79140000000", share="1/2", resource="Холодная вода",
                    serial="хв 1", verification="01.07.2031"),
               line(number="10", owner="Новый Совладелец", share="1/2")]
    imp = preview(world, csv_bytes(changed), now=NOW + timedelta(hours=2))
    first = by_line(imp)[2]
    assert first["status"] == "changed" and "Общая площадь" in first["what"] and "дата поверки" in first["what"]
    assert by_line(imp)[3]["status"] == "new"
    assert "кв. 11" in imp.summary["absent_premises"]
    apply(world, imp, now=NOW + timedelta(hours=2))
    p10 = db.session.query(Premises).filter_by(building_id=world.building.id, number="10").one()
    assert p10.total_area == Decimal("49.10")
    assert db.session.query(Premises).filter_by(building_id=world.building.id).count() == 5  # 11 kept
    assert db.session.query(Meter).filter_by(premises_id=p10.id).count() == 1  # «хв 1» is «ХВ-1»
    assert db.session.query(Meter).filter_by(premises_id=p10.id).one().next_verification_on == date(2031, 7, 1)
    assert sorted((r.full_name, r.share_num, r.share_den, r.phone) for r in db.session.query(OwnerRecord)
                  .filter_by(premises_id=p10.id)) == [("Новый Совладелец", 1, 2, None),
                                                      ("Собственник 10", 1, 2, "+79140000000")]


def test_existing_premises_of_the_building_are_matched_by_number(world, db):
    imp = preview(world, csv_bytes([flat(1, account=world.p1.account_number, total_area="55")]))
    row = imp.rows[0]
    assert row["status"] == "new"  # the premises changes, its owner record is new
    assert imp.summary["premises_changed"] == 1 and imp.summary["premises_new"] == 0
    apply(world, imp)
    db.session.refresh(world.p1)
    assert world.p1.total_area == Decimal("55.00")
    assert db.session.query(Premises).filter_by(building_id=world.building.id).count() == 3


def test_meter_reading_changes_only_while_the_meter_has_no_readings(world, db):
    meter = F.MeterFactory(premises=world.p1, resource="cold_water", serial_number="С-77", initial_value=1)
    F.ReadingFactory(meter=meter, period=date(2026, 10, 1), value=Decimal(10))
    db.session.commit()
    imp = preview(world, csv_bytes([line(number="1", resource="Холодная вода", serial="С-77", reading="500")]))
    assert imp.rows[0]["status"] == "unchanged" and "не перенесено" in imp.rows[0]["message"]
    apply(world, imp)
    assert db.session.get(Meter, meter.id).initial_value == Decimal(1)


def test_the_same_file_refreshes_the_pending_preview_and_a_preview_applies_once(world, db):
    content = csv_bytes([flat(10)])
    first, second = preview(world, content), preview(world, content, now=NOW + timedelta(minutes=1))
    assert first.id == second.id and db.session.query(TabularImport).count() == 1
    apply(world, second)
    with pytest.raises(Conflict, match="уже загружен"):
        apply(world, second)
    assert db.session.query(Premises).filter_by(number="10").count() == 1


def test_shipped_templates_import_as_they_are(world, db):
    for filename, content in (("Образец.xlsx", svc.template_xlsx()), ("Образец.csv", svc.template_csv())):
        imp = preview(world, content, filename=filename)
        assert [r["status"] for r in imp.rows] == ["new", "new", "new"], [r["message"] for r in imp.rows]
        assert imp.summary["owners_new"] == 3 and imp.summary["meters_new"] == 2
    assert svc.template_csv().startswith(codecs.BOM_UTF8)


# --- ГИС ЖКХ and other column names ---------------------------------------------------------------------------


def test_gis_gkh_column_names_and_split_names(world, db):
    header = ["Номер ЛС (или иной идентификатор потребителя)", "Номер помещения", "Общая площадь, кв. м",
              "Жилая площадь, кв.м", "Количество проживающих", "Фамилия", "Имя", "Отчество", "Доля собственности"]
    rows = [["9100001", "12", "40,5", "20", "1", "Петрова", "Мария", "Ивановна", "1"]]
    imp = preview(world, csv_bytes(rows, header=header))
    assert imp.rows[0]["status"] == "new", imp.rows[0]["message"]
    apply(world, imp)
    p = db.session.query(Premises).filter_by(number="12").one()
    assert (p.account_number, p.total_area, p.registered_residents) == ("9100001", Decimal("40.50"), 1)
    assert db.session.query(OwnerRecord).filter_by(premises_id=p.id).one().full_name == "Петрова Мария Ивановна"


# --- bad input: a Russian message per row, or a clear refusal; nothing half-applied ------------------------


@pytest.mark.parametrize(("values", "message"), [
    ({"total_area": "-5"}, "«Общая площадь, м²» не может быть отрицательным"),
    ({"total_area": "48.6.1"}, "«Общая площадь, м²»: «48.6.1» — не число"),
    ({"total_area": "0"}, "«Общая площадь, м²» должна быть больше нуля"),
    ({"living_area": "60"}, "«Жилая площадь, м²» больше общей"),
    ({"total_area": "48,605"}, "больше двух знаков после запятой"),
    ({"floor": "2,5"}, "«Этаж»: «2,5» — не целое число"),
    ({"entrance": "0"}, "«Подъезд» не может быть меньше 1"),
    ({"residents": "-1"}, "«Зарегистрировано» не может быть отрицательным"),
    ({"kind": "гараж"}, "«Вид помещения»: «гараж» — укажите «квартира» или «нежилое»"),
    ({"share": "3/2"}, "«Доля»: 3/2 — больше 1"),
    ({"share": "половина"}, "«Доля»: «половина» — не доля"),
    ({"share": "1/0"}, "не доля"),
    ({"phone": "12345"}, "«Телефон»: «12345» — не номер телефона"),
    ({"email": "не-почта"}, "«Эл. почта»: «не-почта» — не адрес электронной почты"),
    ({"account": ""}, "Не заполнено «Лицевой счёт» для нового помещения"),
    ({"number": "12345678901"}, "«Номер помещения» длиннее 10 символов"),
    ({"resource": "Вода", "serial": "1", "verification": "01.01.2030"}, "«Ресурс»: «Вода» не распознан"),
    ({"serial": "1"}, "Для счётчика заполните «Ресурс»"),
    ({"resource": "Газ", "serial": "1"}, "Для нового счётчика № 1 заполните «Дата поверки»"),
    ({"resource": "Газ", "serial": "1", "verification": "31.02.2030"}, "«Дата поверки»: «31.02.2030» — не дата"),
    ({"resource": "Газ", "serial": "1", "verification": "01.01.2030", "reading": "-3"},
     "«Показание» не может быть отрицательным"),
    ({"resource": "Газ", "serial": "1", "verification": "01.01.2030", "reading": "1", "reading_date": "01.12.2026"},
     "«Дата показания» в будущем (01.12.2026)"),
    ({"account": "x" * 21}, "«Лицевой счёт» длиннее 20 символов"),
])
def test_row_errors(world, db, values, message):
    imp = preview(world, csv_bytes([flat(20), flat(21, **values)]))
    rows = by_line(imp)
    assert rows[2]["status"] == "new"
    assert rows[3]["status"] == "error" and message in rows[3]["message"], rows[3]["message"]
    before = everything(db)
    with pytest.raises(Invalid, match="Ничего не загружено: строк с ошибками — 1"):
        apply(world, imp)
    assert everything(db) == before and db.session.get(TabularImport, imp.id).applied_at is None


def test_missing_number_is_a_row_error(world, db):
    imp = preview(world, csv_bytes([flat(20), line(owner="Кто-то")]))
    assert "Не заполнено «Номер помещения»" in by_line(imp)[3]["message"]


def test_shares_must_add_up_to_one_per_premises(world, db):
    rows = [flat(30, share="1/2"), line(number="30", owner="Второй", share="1/3"),
            flat(31, share="1/2"), line(number="31", owner="Второй", share="1/2"),
            flat(32, share=""), line(number="32", owner="Второй", share="")]
    rows_by = by_line(preview(world, csv_bytes(rows)))
    assert "Доли собственников помещения 30 в сумме 5/6, а должны составлять 1" in rows_by[2]["message"]
    assert rows_by[4]["status"] == "new" and rows_by[5]["status"] == "new"
    assert "несколько собственников: укажите «Доля» каждого" in rows_by[6]["message"]


def test_duplicate_premises_rows_with_conflicting_data(world, db):
    rows = [flat(40), line(number="40", total_area="50", owner="Второй"),
            flat(41, account="9000040")]
    rows_by = by_line(preview(world, csv_bytes(rows)))
    assert "Помещение 40 уже описано в строке 2: «Общая площадь, м²» там 48,6, здесь 50" in rows_by[3]["message"]
    assert "Лицевой счёт 9000040 уже указан в строке 2 для другого помещения" in rows_by[4]["message"]


def test_conflicts_with_the_database(world, db):
    F.MeterFactory(premises=world.p2, resource="gas", serial_number="ГАЗ-1")
    db.session.commit()
    rows = [flat(50, account=world.p1.account_number), flat(51, account=world.p_other.account_number),
            flat(52, resource="Газ", serial="газ-1", verification="01.01.2030"),
            flat(53, resource="Газ", serial="Г-9", verification="01.01.2030"),
            line(number="53", resource="Газ", serial="Г-9", verification="01.01.2030")]
    rows_by = by_line(preview(world, csv_bytes(rows)))
    assert "Лицевой счёт " + world.p1.account_number + " уже принадлежит помещения кв. 1 этого дома" \
        in rows_by[2]["message"]
    # another organisation's building is never named
    assert rows_by[3]["message"].endswith("уже принадлежит помещения в другом доме")
    assert "Счётчик № газ-1 уже числится: кв. 2" in rows_by[4]["message"]
    assert "Счётчик № Г-9 (газ) уже есть в строке 5" in rows_by[6]["message"]


def test_owner_repeated_with_another_share(world, db):
    rows = [flat(60, share="1/2"), line(number="60", owner="Собственник 60", share="1/3")]
    assert "в строке 2 доля 1/2, здесь 1/3" in by_line(preview(world, csv_bytes(rows)))[3]["message"]


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("h.csv", b"", "Файл пустой. Выберите файл с помещениями"),
    ("h.csv", csv_bytes([]), "В файле нет строк с помещениями — только заголовки"),
    ("h.csv", csv_bytes([], header=["Номер помещения"]), "нет обязательных столбцов: «Лицевой счёт»"),
    ("h.csv", "Квартира;Площадь\r\n1;2\r\n".encode("koi8-r"), "Если вместо русских букв в файле непонятные знаки"),
    ("h.csv", b"\x98\x98\x98;\xff", "Не удалось прочитать текст файла"),
    ("h.xlsx", "Номер;Что-то\r\n1;2".encode(), "Файл не похож на XLSX"),
    ("h.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "XLS (Excel 97–2003) не поддерживается"),
    ("h.docx", b"PK\x03\x04rest", "Загрузите файл CSV или XLSX"),
    ("h.csv", b"x" * (svc.MAX_FILE_BYTES + 1), "Файл больше 5 МБ"),
])
def test_unusable_files_are_refused_and_nothing_is_stored(world, db, filename, content, message):
    with pytest.raises(Invalid) as error:
        preview(world, content, filename=filename)
    assert error.value.field == "file" and message in error.value.message, error.value.message
    assert db.session.query(TabularImport).count() == 0


def test_encodings_and_delimiters(world, db):
    for encoding, sep in (("utf-8-sig", ";"), ("utf-8", ","), ("cp1251", ";"), ("utf-16", "\t"), ("cp1251", "\t")):
        header = [h.replace("м²", "кв.м") for h in HEADER] if encoding == "cp1251" else HEADER  # no ² in CP1251
        imp = preview(world, csv_bytes([flat(70, total_area="48.6" if sep == "," else "48,6")], sep=sep,
                                       encoding=encoding, header=header))
        assert imp.rows[0]["status"] == "new", (encoding, sep, imp.rows[0]["message"])


def test_xlsx_renamed_csv_and_csv_renamed_xlsx_are_read_by_their_content(world, db):
    as_xlsx = xlsx_bytes([flat(71)])
    assert preview(world, as_xlsx, filename="дом.csv").rows[0]["status"] == "new"
    assert preview(world, csv_bytes([flat(72)]), filename="дом.xlsx").rows[0]["status"] == "new"


def test_xlsx_typed_cells_formulas_and_empty_rows(world, db):
    def build(sheet):
        sheet.append([])
        sheet.append([])
        sheet.append(["81", "нежилое", 1, 1, None, "=20+5", None, None, "9000081", "Владелец", 1])  # no saved value
        sheet.append([82, None, 2, 3, 1, 33.3, 20.1, None, 9000082, "Второй", 0.5, None, None, 1, "Электроэнергия",
                      "Э-1", datetime(2031, 1, 31), 1234.5, datetime(2026, 11, 1)])
        sheet.append([82, None, None, None, None, None, None, None, None, "Третий", "1/2"])

    imp = preview(world, xlsx_bytes([], build=build), filename="дом.xlsx")
    rows = by_line(imp)
    assert set(rows) == {4, 5, 6}  # empty rows skipped; numbers as Excel shows them
    assert rows[4]["status"] == "error" and "формула =20+5 без сохранённого значения" in rows[4]["message"]
    assert rows[5]["status"] == "new" and rows[6]["status"] == "new", rows[5]["message"]
    assert rows[5]["cells"]["verification"] == "31.01.2031" and rows[5]["cells"]["total_area"] == "33.3"


def test_xlsx_formula_with_a_saved_value_is_its_value(world, db, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(flat(83))
    sheet["F2"] = "=40+8.6"
    path = tmp_path / "f.xlsx"
    book.save(path)
    # what Excel writes: the formula and its last value side by side
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet_xml = parts["xl/worksheets/sheet1.xml"].decode()
    sheet_xml = sheet_xml.replace("<f>40+8.6</f><v></v>", "<f>40+8.6</f><v>48.6</v>").replace(
        "<f>40+8.6</f><v/>", "<f>40+8.6</f><v>48.6</v>")
    if "<v>48.6</v>" not in sheet_xml:
        sheet_xml = sheet_xml.replace("<f>40+8.6</f>", "<f>40+8.6</f><v>48.6</v>")
    parts["xl/worksheets/sheet1.xml"] = sheet_xml.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    imp = preview(world, out.getvalue(), filename="f.xlsx")
    assert imp.rows[0]["status"] == "new" and imp.rows[0]["cells"]["total_area"] == "48.6", imp.rows[0]


def test_merged_cells_are_refused_title_merges_are_fine(world, db):
    def merged_data(sheet):
        sheet.append(flat(90))
        sheet.append(line(number="", owner="Второй", share="1/2"))
        sheet.merge_cells("A2:A3")

    with pytest.raises(Invalid, match=r"объединённые ячейки \(A2:A3\)"):
        preview(world, xlsx_bytes([], build=merged_data), filename="m.xlsx")

    book = Workbook()
    sheet = book.active
    sheet.append(["Реестр помещений дома ул. Ленина, 1"])
    sheet.merge_cells("A1:H1")
    sheet.append(HEADER)
    sheet.append(flat(91))
    out = io.BytesIO()
    book.save(out)
    assert preview(world, out.getvalue(), filename="m.xlsx").rows[0]["line"] == 3


def test_a_hundred_thousand_rows_are_refused_by_the_limit(world, db, monkeypatch):
    content = ("Номер помещения;Лицевой счёт\r\n" + "1;2\r\n" * 100_000).encode()
    assert len(content) < svc.MAX_FILE_BYTES
    read = []
    original = tabular._csv_cells

    def counting(*args):
        for item in original(*args):
            read.append(item[0])
            yield item

    monkeypatch.setattr(tabular, "_csv_cells", counting)
    with pytest.raises(Invalid, match="В файле больше 20\u00a0000 строк"):
        preview(world, content)
    assert len(read) == svc.MAX_ROWS + 2  # stopped at the limit: the rest is never read
    assert db.session.query(TabularImport).count() == 0


def test_a_failure_in_the_middle_of_apply_writes_nothing(world, db, monkeypatch):
    imp = preview(world, csv_bytes([flat(n, resource="Газ", serial=f"Г{n}", verification="01.01.2030")
                                    for n in range(100, 120)]))
    before = everything(db)
    real_execute = svc.db.session.execute
    seen = []

    def execute_then_die(statement, *args, **kwargs):  # the process dies once premises and owners are written
        table = getattr(getattr(statement, "table", None), "name", None)
        seen.append(table)
        if table == "meters":
            raise RuntimeError("killed")
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(svc.db.session, "execute", execute_then_die)
    with pytest.raises(RuntimeError):
        apply(world, imp)
    monkeypatch.undo()
    assert "premises" in seen and "owner_records" in seen  # half of it had been sent to the database
    db.session.expire_all()
    assert everything(db) == before
    assert db.session.get(TabularImport, imp.id).applied_at is None
    assert db.session.query(AuditLog).filter_by(action="house_imported").count() == 0
    apply(world, db.session.get(TabularImport, imp.id))  # and it can still be applied
    assert db.session.query(Premises).filter_by(building_id=world.building.id).count() == 23


def test_changes_between_preview_and_confirmation_refresh_the_preview(world, db):
    imp = preview(world, csv_bytes([flat(1, account=world.p1.account_number, total_area="55")]))
    world.p1.total_area = Decimal("55")
    db.session.commit()
    with pytest.raises(Conflict, match="данные дома изменились"):
        apply(world, imp)
    refreshed = db.session.get(TabularImport, imp.id)
    assert refreshed.applied_at is None and "Общая площадь" not in refreshed.rows[0]["what"]
    apply(world, refreshed)


def test_expired_preview(world, db):
    imp = preview(world, csv_bytes([flat(10)]))
    with pytest.raises(Invalid, match="устарела"):
        apply(world, imp, now=NOW + tabular.PREVIEW_MAX_AGE + timedelta(minutes=1))


# --- who -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "council", "rso", "staff_other"])
def test_only_the_buildings_uk_and_the_operator(world, db, role):
    actor = world.by_role(role)
    with pytest.raises(NotFound):
        svc.house_import_building_get(actor=actor, id=world.building.id)
    with pytest.raises(NotAllowed):
        preview(world, csv_bytes([flat(10)]), actor=actor)
    imp = preview(world, csv_bytes([flat(10)]))
    with pytest.raises(NotFound):
        svc.house_import_get(actor=actor, building=world.building, import_id=imp.id)
    with pytest.raises(NotAllowed):
        apply(world, imp, actor=actor)
    assert db.session.query(Premises).filter_by(number="10").count() == 0


def test_operator_may_onboard_any_building(world, db):
    assert svc.house_import_building_get(actor=world.operator, id=world.building_other.id) is world.building_other
    imp = preview(world, csv_bytes([flat(10)]), actor=world.operator, building=world.building_other)
    assert svc.house_import_get(actor=world.operator, building=world.building_other, import_id=imp.id) is imp
    with pytest.raises(NotFound):  # the preview of one building is not another's
        svc.house_import_get(actor=world.operator, building=world.building, import_id=imp.id)
    apply(world, imp, actor=world.operator, building=world.building_other)
    assert db.session.query(Premises).filter_by(building_id=world.building_other.id, number="10").count() == 1


# --- performance -----------------------------------------------------------------------------------------------


def test_preview_and_apply_of_200_flats_use_a_bounded_number_of_queries(world, db):
    def file_for(first, count):
        return csv_bytes([flat(n, resource="Холодная вода", serial=f"Х{n}", verification="01.01.2030",
                               reading="1") for n in range(first, first + count)])

    small, big = file_for(1000, 10), file_for(2000, 200)
    with count_queries(db) as preview_small:
        imp_small = preview(world, small)
    with count_queries(db) as preview_big:
        imp_big = preview(world, big)
    assert len(preview_big) == len(preview_small) <= 14
    with count_queries(db) as apply_small:
        apply(world, imp_small)
    with count_queries(db) as apply_big:
        apply(world, imp_big)
    assert imp_big.summary["premises_new"] == 200
    # inserts are batched: the count does not grow with the rows (a few statements more at most, when a batch
    # is split by the driver)
    assert len(apply_big) <= len(apply_small) + 6, (len(apply_small), len(apply_big))
    reupload = file_for(2000, 200)
    with count_queries(db) as again:
        imp = preview(world, reupload, now=NOW + timedelta(hours=1))
    assert {r["status"] for r in imp.rows} == {"unchanged"} and len(again) <= 14
