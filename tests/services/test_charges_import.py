"""Import of a period's charges from the УК's billing system: reading files, checking rows, applying all or none."""

import codecs
import io
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook

from app.extensions import db as _db
from app.models import AuditLog, Charge, OpeningBalance, Payment, Service, Statement, TabularImport, Tariff, User
from app.models.billing import ChargeSource, KeyRate, PenaltyRule
from app.services import billing
from app.services import charges_import as svc
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound
from tests.factories import PremisesFactory

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
HEADER = ["Лицевой счёт", "Код услуги", "Объём", "Тариф", "Начислено", "Перерасчёт", "Причина перерасчёта", "Льгота",
          "Итого", "Пени"]


@pytest.fixture
def services(world, db):
    def make(org, code, name, unit, method, rate, order, active=True):
        s = Service(organisation_id=org.id, code=code, name=name, unit=unit, method=method, sort_order=order,
                    active=active)
        s.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=Decimal(rate))]
        return s

    items = [
        make(world.uk, "MAINT", "Содержание жилого помещения", "м²", "area", "30.15", 1),
        make(world.uk, "TKO", "Обращение с ТКО", "чел.", "residents", "176.70", 2),
        make(world.uk, "DOOR", "Домофон", "шт.", "fixed", "55", 3),
        make(world.uk, "OLD", "Радиоточка", "шт.", "fixed", "10", 4, active=False),
        make(world.uk_other, "FOREIGN", "Чужая услуга", "шт.", "fixed", "1", 1),
    ]
    db.session.add_all(items)
    db.session.commit()
    return {s.code: s for s in items}


def csv_bytes(rows, *, sep=";", encoding="utf-8", bom=True, header=HEADER) -> bytes:
    def cell(value):
        text = "" if value is None else str(value)
        return f'"{text}"' if sep in text or '"' in text else text

    lines = [sep.join(cell(v) for v in row) for row in [header, *rows]]
    data = "\r\n".join(lines).encode(encoding)
    return (codecs.BOM_UTF8 + data) if bom and encoding == "utf-8" else data


def xlsx_bytes(rows, *, title=None, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    other = book.create_sheet("Справка")
    other.append(["Лицевой счёт", "Код услуги", "Начислено"])
    other.append(["1", "MAINT", 1])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def basic_rows(world):
    a1, a2 = world.p1.account_number, world.p2.account_number
    return [
        [a1, "MAINT", "48,6", "30,15", "1465,29", "", "", "", "1465,29", "12,34"],
        [a1, "TKO", "2", "176,70", "353,40", "-176,70", "Выбыл один жилец", "", "176,70", ""],
        [a2, "MAINT", "48,6", "30,15", "1465,29", "", "", "100", "", ""],
    ]


def norm(text: str) -> str:
    """Babel groups thousands with no-break spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def preview(world, content, *, filename="charges.csv", actor=None, building=None, period=OCT, now=NOW):
    return svc.charges_import_preview(actor=actor or world.staff, building=building or world.building, period=period,
                                      filename=filename, content=content, now=now)


def apply(world, imp, *, actor=None, now=NOW):
    """Confirm a stored preview (the unified mechanism of app/services/tabular.py: formerly a signed token)."""
    return svc.charges_import_apply(actor=actor or world.staff, imp=imp, now=now)


def charges_of(db, premises, period=OCT):
    return sorted((c.service.code, c.volume, c.tariff, c.amount, c.recalculation, c.recalculation_reason, c.benefit,
                   c.total, c.source) for c in db.session.query(Charge).filter_by(premises_id=premises.id,
                                                                                   period=period))


def statement_of(db, premises, period=OCT):
    s = db.session.query(Statement).filter_by(premises_id=premises.id, period=period).one()
    return (s.opening_balance, s.charged, s.paid, s.penalty, s.amount_due, s.due_date)


# --- reading files -------------------------------------------------------------------------------------------


def test_preview_of_a_csv_file_statuses_totals_and_stored_preview(world, services):
    p = preview(world, csv_bytes(basic_rows(world)))
    assert not p.errors and p.can_apply
    assert [(r.line, r.status, r.premises.id, r.service.code) for r in p.rows] == [
        (2, "new", world.p1.id, "MAINT"), (3, "new", world.p1.id, "TKO"), (4, "new", world.p2.id, "MAINT")]
    tko = p.rows[1]
    assert (tko.volume, tko.tariff, tko.charged, tko.recalculation, tko.reason, tko.benefit, tko.total) == (
        Decimal("2"), Decimal("176.70"), Decimal("353.40"), Decimal("-176.70"), "Выбыл один жилец", 0,
        Decimal("176.70"))
    assert p.rows[2].total == Decimal("1365.29")  # Итого left empty: Начислено + Перерасчёт − Льгота
    assert [(t.code, t.rows, t.charged, t.recalculation, t.benefit, t.total) for t in p.services] == [
        ("MAINT", 2, Decimal("2930.58"), 0, Decimal("100.00"), Decimal("2830.58")),
        ("TKO", 1, Decimal("353.40"), Decimal("-176.70"), 0, Decimal("176.70"))]
    assert p.overall.total == Decimal("3007.28") and p.overall.rows == 3
    assert (p.premises_count, p.building_premises) == (2, 3)
    assert (p.penalty, p.penalty_accounts) == (Decimal("12.34"), 1)
    assert p.counts == {"new": 3, "changed": 0, "unchanged": 0, "error": 0}
    assert db_untouched(world)


def db_untouched(world) -> bool:
    from app.extensions import db

    return db.session.query(Charge).count() == 0 and db.session.query(Statement).count() == 0


@pytest.mark.parametrize(("encoding", "sep", "bom"), [
    ("utf-8", ";", True), ("utf-8", ",", True), ("utf-8", ";", False), ("utf-8", ",", False),
    ("cp1251", ";", False), ("cp1251", ",", False), ("utf-8", "\t", True),
    ("utf-16", ";", False), ("utf-16", "\t", False)])  # the unified reader reads UTF-16 with BOM (it refused it)
def test_csv_encodings_and_separators(world, services, encoding, sep, bom):
    p = preview(world, csv_bytes(basic_rows(world), sep=sep, encoding=encoding, bom=bom))
    assert not p.errors
    assert [(r.account, r.code, r.charged, r.total) for r in p.rows] == [
        (world.p1.account_number, "MAINT", Decimal("1465.29"), Decimal("1465.29")),
        (world.p1.account_number, "TKO", Decimal("353.40"), Decimal("176.70")),
        (world.p2.account_number, "MAINT", Decimal("1465.29"), Decimal("1365.29"))]
    assert p.rows[1].reason == "Выбыл один жилец"


def test_headers_case_insensitive_any_order_e_for_yo_and_extra_columns_ignored(world, services):
    header = ["Адрес", "КОД УСЛУГИ", "лицевой счет", "начислено", "Комментарий"]
    rows = [["ул. Ленина, 1", "DOOR", world.p1.account_number, "55", "что угодно"]]
    p = preview(world, csv_bytes(rows, header=header))
    assert not p.errors
    r = p.rows[0]
    assert (r.account, r.code, r.volume, r.tariff, r.charged, r.total) == (world.p1.account_number, "DOOR", 0, 0,
                                                                         Decimal("55.00"), Decimal("55.00"))


def test_numbers_with_comma_point_spaces_and_unicode_minus(world, services):
    a1 = world.p1.account_number
    rows = [[a1, "MAINT", "48.6", "30.15", "1 465,29", "\u2212100.00", "", "", "1365.29", ""],
            [a1, "TKO", "", "", "+353.4", "", "", "", "", ""]]
    p = preview(world, csv_bytes(rows))
    assert not p.errors
    assert (p.rows[0].charged, p.rows[0].recalculation, p.rows[0].total) == (
        Decimal("1465.29"), Decimal("-100.00"), Decimal("1365.29"))
    assert (p.rows[1].volume, p.rows[1].tariff, p.rows[1].total) == (0, 0, Decimal("353.40"))


def test_xlsx_first_sheet_numbers_and_a_title_line(world, services):
    rows = [
        [int(world.p1.account_number), "MAINT", 48.6, 30.15, 1465.29, None, None, None, 1465.29, 12.34],
        # Excel float noise after a formula is read as the intended kopecks
        [world.p1.account_number, "TKO", 2, 176.7, 353.40000000000003, -176.7, "Выбыл один жилец", 0, 176.7, 12.34],
        [world.p2.account_number, "DOOR", 1, 55, 55, 0, None, 0, None, None],
    ]
    p = preview(world, xlsx_bytes(rows, title="Начисления за октябрь 2026"), filename="Выгрузка.XLSX")
    assert not p.errors, [r.message for r in p.rows]
    assert [(r.line, r.account, r.code, r.charged, r.total, r.penalty) for r in p.rows] == [
        (3, world.p1.account_number, "MAINT", Decimal("1465.29"), Decimal("1465.29"), Decimal("12.34")),
        (4, world.p1.account_number, "TKO", Decimal("353.40"), Decimal("176.70"), Decimal("12.34")),
        (5, world.p2.account_number, "DOOR", Decimal("55.00"), Decimal("55.00"), None)]


def test_xlsx_errors_are_row_errors_too(world, services):
    rows = [[world.p1.account_number, "MAINT", 48.6, 30.15, 1465.295, None, None, None, None, None],
            [world.p1.account_number, "TKO", date(2026, 10, 1), 1, 1, None, None, None, None, None]]
    p = preview(world, xlsx_bytes(rows), filename="x.xlsx")
    assert "больше двух знаков после запятой" in p.rows[0].message
    assert "«Объём»: «01.10.2026» — не число" in p.rows[1].message
    assert not p.can_apply


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("charges.csv", b"", "Файл пустой"),
    ("charges.png", b"\x89PNG\r\n\x1a\n0000", "Загрузите файл CSV или XLSX"),
    ("charges.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 100, "Формат XLS"),
    ("charges.xlsx", b"Lorem ipsum", "не похож на XLSX"),
    ("charges.xlsx", b"PK\x03\x04broken zip", "Не удалось прочитать файл XLSX"),
    ("charges.csv", "Лицевой счёт;Код услуги;Начислено\r\n".encode(), "нет строк с начислениями"),
    ("charges.csv", "Лицевой счёт;Услуга;Сумма\r\n1;2;3\r\n".encode(), "нет обязательных столбцов: «Код услуги», "
                                                                          "«Начислено»"),
    ("charges.csv", b"a;b;c\r\n1;2;3\r\n", "Не найдена строка заголовков"),
    ("charges.csv", "Лицевой счёт;Код услуги;Начислено;Итого;итого\r\n".encode(), "«Итого» встречается в "
                                                                                    "заголовке дважды"),
    ("charges.csv", "Лицевой счёт;Код услуги;Начислено".encode("utf-16-le"), "UTF-16"),  # no BOM: not guessed
    ("charges.csv", b"\x00\x01\x02binary", "не похож на CSV"),
    ("charges.csv", b"a;b\r\n\x98\xff\xfe", "Не удалось прочитать текст"),
])
def test_file_level_errors(world, services, filename, content, message):
    with pytest.raises(Invalid, match=message) as error:
        preview(world, content, filename=filename)
    assert error.value.field == "file"
    assert db_untouched(world)


def test_file_size_and_row_limits(world, services, monkeypatch):
    with pytest.raises(Invalid, match="Файл больше 2 МБ"):
        preview(world, b"x" * (svc.MAX_FILE_BYTES + 1))
    monkeypatch.setattr(svc, "MAX_ROWS", 2)
    with pytest.raises(Invalid, match="В файле больше 2 строк"):
        preview(world, csv_bytes(basic_rows(world)))
    assert len(preview(world, csv_bytes(basic_rows(world)[:2])).rows) == 2


def test_blank_lines_are_skipped_and_line_numbers_kept(world, services):
    rows = basic_rows(world)
    p = preview(world, csv_bytes([rows[0], [""] * 10, ["", "", "", "", "", "", "", "", "", ""], rows[1]]))
    assert [r.line for r in p.rows] == [2, 5]


# --- row rules ------------------------------------------------------------------------------------------------


def row(world, **changes):
    values = dict(zip(["account", "code", "volume", "tariff", "charged", "recalculation", "reason", "benefit",
                       "total", "penalty"],
                      [world.p1.account_number, "MAINT", "48,6", "30,15", "1465,29", "", "", "", "", ""], strict=True))
    values.update(changes)
    return list(values.values())


@pytest.mark.parametrize(("changes", "message"), [
    ({"account": "000"}, "Лицевой счёт 000 не найден в доме ул. Ленина, д. 1"),
    ({"account": ""}, "Не заполнено «Лицевой счёт»"),
    ({"code": "XYZ"}, "Неизвестный код услуги «XYZ»"),
    ({"code": "FOREIGN"}, "Неизвестный код услуги «FOREIGN»"),  # another organisation's service
    ({"code": "OLD"}, "Услуга «OLD» (Радиоточка) отключена"),
    ({"code": ""}, "Не заполнено «Код услуги»"),
    ({"charged": ""}, "Не заполнено «Начислено»"),
    ({"charged": "abc"}, "«Начислено»: «abc» — не число"),
    ({"charged": "1,465.29"}, "«Начислено»: «1,465.29» — не число"),
    ({"charged": "1e3"}, "не число"),
    ({"charged": "NaN"}, "не число"),
    ({"charged": "1465,295"}, "«Начислено»: больше двух знаков после запятой"),
    ({"recalculation": "0,001"}, "«Перерасчёт»: больше двух знаков после запятой"),
    ({"benefit": "1,005"}, "«Льгота»: больше двух знаков после запятой"),
    ({"total": "1465,2900001"}, "«Итого»: больше двух знаков после запятой"),
    ({"penalty": "0,125"}, "«Пени»: больше двух знаков после запятой"),
    ({"volume": "1,23456"}, "«Объём»: больше 4 знаков после запятой"),
    ({"volume": "-1"}, "«Объём» не может быть отрицательным"),
    ({"tariff": "-30,15"}, "«Тариф» не может быть отрицательным"),
    ({"charged": "-1"}, "«Начислено» не может быть отрицательным"),
    ({"benefit": "-1"}, "«Льгота» не может быть отрицательным"),
    ({"penalty": "-1"}, "«Пени» не может быть отрицательным"),
    ({"charged": "100000000"}, "«Начислено»: слишком большое число"),
    ({"total": "1500"}, "«Итого» 1 500,00 не равно «Начислено» + «Перерасчёт» − «Льгота» = 1 465,29"),
    ({"recalculation": "-5", "benefit": "10", "total": "1465,29"}, "= 1 450,29"),
    ({"reason": "я" * 201}, "«Причина перерасчёта» длиннее 200 символов"),
    ({"account": "1" * 21}, "«Лицевой счёт» длиннее 20 символов"),
])
def test_row_errors(world, services, changes, message):
    good = row(world, account=world.p2.account_number)
    p = preview(world, csv_bytes([good, row(world, **changes)]))
    bad = p.rows[1]
    assert bad.status == "error" and message in norm(bad.message), bad.message
    assert p.rows[0].status == "new"
    assert not p.can_apply
    assert [t.rows for t in p.services] == [1]  # totals count rows without errors only


def test_account_of_another_building_of_the_organisation_is_named(world, services):
    p = preview(world, csv_bytes([row(world, account=world.p_b2.account_number),
                                  row(world, account=world.p_other.account_number)]))
    assert p.rows[0].message == (f"Лицевой счёт {world.p_b2.account_number} не найден в доме ул. Ленина, д. 1 — он "
                                 "относится к дому ул. Горького, д. 5")
    # another organisation's building is never named
    assert p.rows[1].message == f"Лицевой счёт {world.p_other.account_number} не найден в доме ул. Ленина, д. 1"


def test_service_code_matches_case_insensitively(world, services):
    assert preview(world, csv_bytes([row(world, code="maint")])).rows[0].service.code == "MAINT"


def test_duplicate_account_and_service(world, services):
    p = preview(world, csv_bytes([row(world), row(world, account=world.p2.account_number), row(world, code="maint")]))
    assert [r.status for r in p.rows] == ["new", "new", "error"]
    assert p.rows[2].message == f"Повтор: лицевой счёт {world.p1.account_number} и услуга «maint» уже есть в строке 2"


def test_penalty_is_one_value_per_account(world, services):
    a1 = world.p1.account_number
    agree = [row(world, penalty="12,34"), row(world, code="TKO", charged="1", penalty=""),
             row(world, code="DOOR", charged="1", penalty="12.34")]
    p = preview(world, csv_bytes(agree))
    assert not p.errors and (p.penalty, p.penalty_accounts) == (Decimal("12.34"), 1)
    differ = [row(world, penalty="12,34"), row(world, code="TKO", charged="1", penalty="10")]
    p = preview(world, csv_bytes(differ))
    assert p.rows[1].message == (f"«Пени» по лицевому счёту {a1} уже указаны в строке 2: 12,34 ₽. Пени — одна сумма "
                                 "на счёт: значения должны совпадать")


def test_unquoted_decimal_comma_in_a_comma_file(world, services):
    content = ("Лицевой счёт,Код услуги,Начислено\r\n"
               f"{world.p1.account_number},MAINT,1465,29\r\n").encode()
    p = preview(world, content)
    assert "Если разделитель — запятая" in p.rows[0].message


# --- applying -------------------------------------------------------------------------------------------------


def test_apply_writes_imported_charges_statements_and_audit(world, services, db):
    p = preview(world, csv_bytes(basic_rows(world)))
    result = apply(world, p.imp)
    assert (result.rows, result.premises, result.total) == (3, 2, Decimal("3007.28"))
    assert charges_of(db, world.p1) == [
        ("MAINT", Decimal("48.6"), Decimal("30.15"), Decimal("1465.29"), 0, None, 0, Decimal("1465.29"), "import"),
        ("TKO", Decimal("2"), Decimal("176.7"), Decimal("353.40"), Decimal("-176.70"), "Выбыл один жилец", 0,
         Decimal("176.70"), "import")]
    assert statement_of(db, world.p1) == (0, Decimal("1641.99"), 0, Decimal("12.34"), Decimal("1654.33"),
                                          date(2026, 11, 16))  # the 15th (a Sunday) → Monday
    assert statement_of(db, world.p2)[1:5] == (Decimal("1365.29"), 0, 0, Decimal("1365.29"))
    assert db.session.query(Statement).filter_by(premises_id=world.p3.id).count() == 0  # not in the file
    audit = db.session.query(AuditLog).filter_by(action="charges_imported").one()
    assert (audit.entity_type, audit.entity_id, audit.actor_id) == ("building", world.building.id, world.staff.id)
    assert audit.changes == {"period": "2026-10-01", "file": "charges.csv", "rows": 3, "premises": 2,
                             "total": "3007.28", "totals": {"MAINT": "2830.58", "TKO": "176.70"}, "penalty": "12.34",
                             "penalty_accounts": 1, "replaced": {"import": 0, "computed": 0}, "removed": 0}


def test_import_replaces_computed_charges_of_premises_in_the_file_only(world, services, db):
    billing.period_close(actor=world.staff, building=world.building, period=OCT, now=NOW)
    p3_before, p3_statement = charges_of(db, world.p3), statement_of(db, world.p3)
    assert {c[-1] for c in p3_before} == {"computed"} and len(charges_of(db, world.p1)) == 3
    content = csv_bytes([row(world, code="MAINT", charged="1000", penalty=""),
                         row(world, account=world.p2.account_number, code="DOOR", charged="60")])
    p = preview(world, content)
    assert [r.status for r in p.rows] == ["changed", "changed"]
    assert p.rows[0].old.total == Decimal("1465.29")
    # p1 had MAINT, TKO and DOOR; p2 too: everything not in the file goes
    assert sorted((c.premises_id, c.service.code) for c in p.removed) == [
        (world.p1.id, "DOOR"), (world.p1.id, "TKO"), (world.p2.id, "MAINT"), (world.p2.id, "TKO")]
    result = apply(world, p.imp)
    assert (result.replaced_import, result.replaced_computed) == (0, 6)
    assert charges_of(db, world.p1) == [("MAINT", Decimal("48.6"), Decimal("30.15"), Decimal("1000.00"), 0, None, 0,
                                         Decimal("1000.00"), "import")]
    assert [c[0] for c in charges_of(db, world.p2)] == ["DOOR"]
    assert charges_of(db, world.p3) == p3_before and statement_of(db, world.p3) == p3_statement
    assert statement_of(db, world.p1)[1] == Decimal("1000.00")


def test_reimport_of_the_same_file_is_idempotent(world, services, db):
    db.session.add(OpeningBalance(premises_id=world.p1.id, period=OCT, amount=Decimal("500.00")))
    db.session.add(Payment(premises_id=world.p1.id, paid_on=date(2026, 10, 7), amount=Decimal("200.00")))
    db.session.commit()
    content = csv_bytes(basic_rows(world))
    apply(world, preview(world, content).imp)
    first = {p.id: (charges_of(db, p), statement_of(db, p)) for p in (world.p1, world.p2, world.p3)
             if db.session.query(Statement).filter_by(premises_id=p.id).count()}
    again = preview(world, content)
    assert again.counts == {"new": 0, "changed": 0, "unchanged": 3, "error": 0} and not again.removed
    result = apply(world, again.imp, now=NOW + timedelta(hours=1))
    assert (result.replaced_import, result.replaced_computed) == (3, 0)
    second = {p.id: (charges_of(db, p), statement_of(db, p)) for p in (world.p1, world.p2, world.p3)
              if db.session.query(Statement).filter_by(premises_id=p.id).count()}
    assert second == first and len(first) == 2
    assert db.session.query(Charge).count() == 3
    assert db.session.query(AuditLog).filter_by(action="charges_imported").count() == 2


def test_reimport_of_a_corrected_file_replaces_the_previous_import(world, services, db):
    apply(world, preview(world, csv_bytes(basic_rows(world))).imp)
    a1 = world.p1.account_number
    corrected = [[a1, "MAINT", "48,6", "30,15", "1465,29", "", "", "", "", "12,34"],
                 [a1, "DOOR", "1", "55", "55", "", "", "", "", ""]]
    p = preview(world, csv_bytes(corrected))
    assert [r.status for r in p.rows] == ["unchanged", "new"]
    assert [(c.service.code, c.source) for c in p.removed] == [("TKO", "import")]
    apply(world, p.imp)
    assert [c[0] for c in charges_of(db, world.p1)] == ["DOOR", "MAINT"]
    assert statement_of(db, world.p1)[1] == Decimal("1520.29")
    assert [c[0] for c in charges_of(db, world.p2)] == ["MAINT"]  # not in the second file: kept


def test_period_close_refuses_a_period_with_imported_charges(world, services, db):
    apply(world, preview(world, csv_bytes(basic_rows(world))).imp)
    with pytest.raises(Conflict, match="загружены из расчётной системы"):
        billing.period_close(actor=world.staff, building=world.building, period=OCT, now=NOW)
    assert db.session.query(Charge).filter_by(source=ChargeSource.COMPUTED).count() == 0


def test_all_or_nothing_when_a_row_fails_at_confirmation(world, services, db):
    p = preview(world, csv_bytes(basic_rows(world)))
    services["TKO"].active = False  # switched off between the preview and the confirmation
    db.session.commit()
    with pytest.raises(svc.ImportRejected) as error:
        apply(world, p.imp)
    assert isinstance(error.value, Conflict) and "Ничего не загружено" in error.value.message
    assert [r.status for r in error.value.preview.rows] == ["new", "error", "new"]
    assert not error.value.preview.can_apply
    assert db_untouched(world) and db.session.query(AuditLog).filter_by(action="charges_imported").count() == 0


def test_all_or_nothing_keeps_earlier_charges(world, services, db):
    billing.period_close(actor=world.staff, building=world.building, period=OCT, now=NOW)
    before = {p.id: (charges_of(db, p), statement_of(db, p)) for p in (world.p1, world.p2, world.p3)}
    p = preview(world, csv_bytes(basic_rows(world)))
    world.p2.building_id = world.building2.id  # premises moved (data fixed) meanwhile
    db.session.commit()
    with pytest.raises(svc.ImportRejected):
        apply(world, p.imp)
    world.p2.building_id = world.building.id
    db.session.commit()
    assert {p.id: (charges_of(db, p), statement_of(db, p)) for p in (world.p1, world.p2, world.p3)} == before


def test_stored_rows_are_checked_again_row_by_row(world, services, db):
    # Even a stored preview changed behind the form's back cannot bring in a row the preview would refuse.
    p = preview(world, csv_bytes(basic_rows(world)))
    rows = [dict(r) for r in p.imp.rows]
    rows.append({**rows[0], "line": 99})
    p.imp.rows = rows
    db.session.commit()
    with pytest.raises(svc.ImportRejected) as error:
        apply(world, p.imp)
    assert "Повтор" in error.value.preview.rows[-1].message
    assert db_untouched(world)


def test_file_with_errors_is_stored_but_cannot_be_applied(world, services):
    p = preview(world, csv_bytes([row(world), row(world, charged="x")]))
    assert p.imp is not None and not p.can_apply and len(p.errors) == 1
    with pytest.raises(svc.ImportRejected):
        apply(world, p.imp)
    assert db_untouched(world)


def test_a_preview_is_applied_once(world, services, db):
    p = preview(world, csv_bytes(basic_rows(world)))
    apply(world, p.imp)
    with pytest.raises(Conflict, match="уже загружен"):
        apply(world, p.imp, now=NOW + timedelta(minutes=1))
    assert db.session.query(AuditLog).filter_by(action="charges_imported").count() == 1


def test_the_same_file_uploaded_again_refreshes_the_pending_preview(world, services, db):
    content = csv_bytes(basic_rows(world))
    first, second = preview(world, content), preview(world, content, now=NOW + timedelta(minutes=5))
    assert first.imp.id == second.imp.id and db.session.query(TabularImport).count() == 1
    assert preview(world, content, actor=world.ukadmin).imp.id != first.imp.id  # another person: their own


def test_a_preview_belongs_to_its_building_and_organisation(world, services, db):
    p = preview(world, csv_bytes(basic_rows(world)))
    assert svc.charges_import_get(actor=world.ukadmin, import_id=p.imp.id) is p.imp  # same УК: may confirm
    for role in ("staff_other", "council", "owner", "operator"):
        with pytest.raises(NotFound):
            svc.charges_import_get(actor=world.by_role(role), import_id=p.imp.id)
    with pytest.raises(NotAllowed):
        apply(world, p.imp, actor=world.staff_other)
    readings = TabularImport(kind="readings", organisation_id=world.uk.id, filename="r.csv", rows=[])
    db.session.add(readings)
    db.session.commit()
    with pytest.raises(NotFound):  # another kind of import is not a charges preview
        svc.charges_import_get(actor=world.staff, import_id=readings.id)
    assert db_untouched(world)


def test_preview_expires(world, services):
    p = preview(world, csv_bytes(basic_rows(world)))
    later = NOW + svc.PREVIEW_MAX_AGE - timedelta(minutes=1)
    assert svc.charges_import_review(actor=world.staff, imp=p.imp, now=later).can_apply
    with pytest.raises(Invalid, match="устарела"):
        apply(world, p.imp, now=NOW + svc.PREVIEW_MAX_AGE + timedelta(minutes=1))
    assert db_untouched(world)


@pytest.mark.parametrize("role", ["owner", "council", "rso", "staff_other", "operator"])
def test_only_staff_of_the_buildings_organisation(world, services, role):
    with pytest.raises(NotAllowed):
        preview(world, csv_bytes(basic_rows(world)), actor=world.by_role(role))


def test_period_must_not_be_in_the_future(world, services):
    assert preview(world, csv_bytes(basic_rows(world)), period=NOV).can_apply  # the current month is fine
    with pytest.raises(Invalid, match="Месяц ещё не наступил") as error:
        preview(world, csv_bytes(basic_rows(world)), period=date(2026, 12, 1))
    assert error.value.field == "period"


# --- Пени -----------------------------------------------------------------------------------------------------


def test_statement_set_penalty_keeps_amount_due_consistent():
    s = Statement(opening_balance=Decimal("1000.00"), charged=Decimal("1500.00"), paid=Decimal("700.00"),
                  penalty=Decimal("5.00"), amount_due=Decimal("1805.00"))
    svc.statement_set_penalty(statement=s, penalty=Decimal("12.345"))
    assert (s.penalty, s.amount_due) == (Decimal("12.35"), Decimal("1812.35"))
    svc.statement_set_penalty(statement=s, penalty=Decimal("0"))
    assert s.amount_due == Decimal("1800.00")


def test_penalty_from_the_file_replaces_the_computed_one(world, services, db):
    db.session.add(KeyRate(valid_from=date(2025, 12, 22), rate=Decimal("16.00"), source="test"))
    db.session.add(PenaltyRule(valid_from=date(2025, 1, 1), valid_to=date(2026, 12, 31), mode="capped",
                               fixed_rate=Decimal("9.5"), citation="ПП РФ № 474 (ред. ПП № 329)"))
    for p in (world.p1, world.p2):  # old debt (July's, due 17.08.2026): the portal would charge пени on it
        db.session.add(OpeningBalance(premises_id=p.id, period=date(2026, 8, 1), amount=Decimal("10000.00")))
    db.session.add(Payment(premises_id=world.p1.id, paid_on=date(2026, 10, 5), amount=Decimal("3000.00")))
    db.session.commit()
    a1, a2 = world.p1.account_number, world.p2.account_number
    content = csv_bytes([[a1, "MAINT", "", "", "1000", "", "", "", "", "50,00"],
                         [a1, "TKO", "", "", "200", "", "", "", "", ""],
                         [a2, "MAINT", "", "", "1000", "", "", "", "", ""]])
    apply(world, preview(world, content).imp)
    opening, charged, paid, penalty, due, _ = statement_of(db, world.p1)
    assert (opening, charged, paid, penalty) == (Decimal("10000.00"), Decimal("1200.00"), Decimal("3000.00"),
                                                 Decimal("50.00"))
    assert due == opening + charged + penalty - paid == Decimal("8250.00")
    # no Пени in the file for p2: the portal's own figure (10 000 × 9.5 % / 300 × 31 days, days 45–75)
    p2 = statement_of(db, world.p2)
    assert p2[3] == Decimal("98.17") and p2[4] == Decimal("10000.00") + Decimal("1000.00") + Decimal("98.17")
    # the next month's debt includes the file's Пени
    billing.period_close(actor=world.staff, building=world.building, period=NOV,
                         now=datetime(2026, 12, 1, 3, tzinfo=UTC))
    assert statement_of(db, world.p1, NOV)[0] == Decimal("8250.00")


def test_zero_penalty_in_the_file_is_a_value(world, services, db):
    db.session.add(OpeningBalance(premises_id=world.p1.id, period=OCT, amount=Decimal("10000.00")))
    db.session.commit()
    apply(world, preview(world, csv_bytes([row(world, penalty="0")])).imp)
    assert statement_of(db, world.p1)[3:5] == (0, Decimal("11465.29"))


# --- template and help ----------------------------------------------------------------------------------------


def test_template_is_utf8_bom_semicolon_with_headers_and_two_valid_examples(world, services):
    data = svc.template_csv(actor=world.staff)
    assert data.startswith(codecs.BOM_UTF8)
    lines = data[3:].decode("utf-8").split("\r\n")
    assert lines[0].split(";") == [c.title for c in svc.COLUMNS] == HEADER
    assert len([line for line in lines if line]) == 3
    table = svc.read_table(filename="Образец.csv", content=data)
    parsed = [svc.parse_row(r.line, r.cells) for r in table]
    assert [r.errors for r in parsed] == [[], []]
    assert [r.code for r in parsed] == ["MAINT", "TKO"]  # the organisation's first active codes
    # with the example account replaced, the template imports as it is
    content = data.replace(b"12345678", world.p1.account_number.encode())
    assert preview(world, content).can_apply


def test_template_without_services_uses_sample_codes(world):
    assert b"MAINT" in svc.template_csv(actor=world.staff) and b";CW;" in svc.template_csv(actor=world.staff)


def test_help_lists_organisation_services(world, services):
    [(org, items)] = svc.organisation_services(world.staff)
    assert org.id == world.uk.id and [s.code for s in items] == ["MAINT", "TKO", "DOOR", "OLD"]
    assert svc.organisation_services(world.owner) == []


def test_large_file_is_stored_and_checked_again(world, services, db):
    """A file near the row limit (300 premises × 16 services): the stored preview gives the same result."""
    premises = [world.p1, world.p2, world.p3] + [PremisesFactory(building=world.building, number=str(100 + i))
                                                 for i in range(297)]
    codes = [f"S{i:02d}" for i in range(16)]
    db.session.add_all(Service(organisation_id=world.uk.id, code=c, name=c, unit="шт.", method="fixed") for c in codes)
    db.session.commit()
    rows = [[p.account_number, code, f"{(i * 7) % 97},{i % 10}", "30,15", f"{(i * 37) % 5000},{i % 100:02d}", "",
             "", "", "", f"{i % 50},00" if j == 0 else ""]
            for i, p in enumerate(premises) for j, code in enumerate(codes)]
    assert len(rows) == 4800 <= svc.MAX_ROWS
    p = preview(world, csv_bytes(rows))
    assert not p.errors and p.premises_count == 300 and len(p.imp.rows) == 4800
    again = svc.charges_import_review(actor=world.staff, imp=p.imp, now=NOW)
    assert again.can_apply and again.overall.total == p.overall.total


# --- concurrency (PostgreSQL) --------------------------------------------------------------------------------


def test_parallel_confirmations_of_one_building_are_serialised(app, world, services, db):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it with TEST_DATABASE_URL)")
    import_id = preview(world, csv_bytes(basic_rows(world))).imp.id
    staff_id, n = world.staff.id, 6
    barrier, outcomes = threading.Barrier(n), []

    def run():
        with app.app_context():
            barrier.wait()
            try:
                svc.charges_import_apply(actor=_db.session.get(User, staff_id),
                                         imp=_db.session.get(TabularImport, import_id), now=NOW)
                outcomes.append("ok")
            except Conflict as error:
                outcomes.append("refused" if "уже загружен" in error.message else repr(error))
            except Exception as error:  # reported by the assertion below
                outcomes.append(repr(error))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # one preview is applied once: the others wait on it and are refused politely (with the signed token of
    # the former mechanism every confirmation re-applied the same rows)
    assert sorted(outcomes) == ["ok"] + ["refused"] * (n - 1), outcomes
    _db.session.expire_all()
    assert db.session.query(Charge).count() == 3 and db.session.query(Statement).count() == 2
    assert db.session.query(AuditLog).filter_by(action="charges_imported").count() == 1


def test_a_unique_violation_while_applying_is_a_conflict(world, services, db, monkeypatch):
    imp = preview(world, csv_bytes(basic_rows(world))).imp

    def issue_and_collide(**kwargs):  # someone else wrote the same charge meanwhile
        db.session.add(Charge(premises_id=world.p1.id, period=OCT, service_id=services["MAINT"].id, volume=0, tariff=0,
                              amount=1, total=1, source=ChargeSource.COMPUTED))
        db.session.flush()

    monkeypatch.setattr(billing, "statements_issue", issue_and_collide)
    with pytest.raises(Conflict, match="только что изменились"):
        apply(world, imp)
    assert db_untouched(world)
