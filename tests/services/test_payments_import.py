"""Payments from the bank: reading a registry (the Sberbank layout and named-column tables), checking lines,
matching them to лицевые счета, booking all or nothing, and the unmatched payments staff resolve."""

import io
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook

from app.extensions import db as _db
from app.models import AuditLog, Charge, Payment, Service, Statement, TabularImport, Tariff, User
from app.models.billing import ChargeSource, UnmatchedPayment
from app.services import billing
from app.services import payments_import as svc
from app.services.errors import Conflict, Invalid, NotAllowed, NotFound

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 25 November, 11:00 in Chita
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)


def line(account, amount, *, day="24-11-2026", op="1000000001", period="112026", commission="0,00",
         transfer=None, name="ИВАНОВА АННА ПЕТРОВНА", address="г Чита, ул Ленина, д 1, кв 1", time="10-15-32"):
    amount_d = Decimal(amount.replace(",", "."))
    commission_d = Decimal(commission.replace(",", "."))
    transfer = transfer if transfer is not None else f"{amount_d - commission_d:.2f}".replace(".", ",")
    fields = [day, time, "8600", "8600999V", op, account, name, address, period, amount, transfer, commission]
    if op is None:
        fields.pop(4)
    return ";".join(fields)


def registry(lines, *, footer=None, encoding="cp1251") -> bytes:
    """A Sberbank-style registry: no header, «;», a closing «=» line with the count and the totals."""
    if footer is None:
        amounts = [Decimal(ln.split(";")[-3].replace(",", ".")) for ln in lines]
        transfers = [Decimal(ln.split(";")[-2].replace(",", ".")) for ln in lines]
        commissions = [Decimal(ln.split(";")[-1].replace(",", ".")) for ln in lines]
        footer = f"={len(lines)};{sum(amounts):.2f};{sum(transfers):.2f};{sum(commissions):.2f};1234;25-11-2026"
        footer = footer.replace(".", ",")
    return ("\r\n".join([*lines, footer]) + "\r\n").encode(encoding)


def basic(world) -> bytes:
    return registry([
        line(world.p1.account_number, "1500,00", op="1000000001", commission="15,00"),
        line(world.p2.account_number, "2350,50", op="1000000002", name="ПЕТРОВ ПЁТР ПЕТРОВИЧ"),
        line("77770001", "800,00", op="1000000003", name="НЕИЗВЕСТНЫЙ ПЛАТЕЛЬЩИК", address="ул Неизвестная, 5"),
    ])


def preview(world, content, *, actor=None, bank="sber", filename="1234567890_40702810012345678912_001_1126.txt",
            now=NOW):
    return svc.payments_import_preview(actor=actor or world.staff, organisation_id=world.uk.id, bank=bank,
                                       filename=filename, content=content, now=now)


def apply(world, imp, *, actor=None, now=NOW):
    return svc.payments_import_apply(actor=actor or world.staff, imp=imp, now=now)


def statuses(p):
    return [(r.line, r.status) for r in p.rows]


# --- reading the Sberbank layout --------------------------------------------------------------------------------


def test_the_sberbank_registry_in_cp1251_is_read_and_matched(world, db):
    content = basic(world)
    content.decode("cp1251")  # really Windows-1251
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    p = preview(world, content)
    assert p.layout == "bank" and not p.errors
    assert statuses(p) == [(1, "book"), (2, "book"), (3, "unmatched")]
    first = p.rows[0]
    assert (first.paid_on, first.account, first.amount, first.commission, first.transfer, first.period,
            first.operation) == (date(2026, 11, 24), world.p1.account_number, Decimal("1500.00"),
                                 Decimal("15.00"), Decimal("1485.00"), NOV, "1000000001")
    assert first.premises.id == world.p1.id and first.payer == "ИВАНОВА АННА ПЕТРОВНА"
    assert p.rows[1].payer == "ПЕТРОВ ПЁТР ПЕТРОВИЧ"  # ё survives Windows-1251
    totals = p.totals
    assert (totals["book"].count, totals["book"].amount) == (2, Decimal("3850.50"))
    assert (totals["unmatched"].count, totals["unmatched"].amount) == (1, Decimal("800.00"))
    assert p.footer.count == 3 and p.footer.amount == Decimal("4650.50")
    assert p.can_apply
    assert db.session.query(Payment).count() == 0 and db.session.query(UnmatchedPayment).count() == 0


def test_the_eleven_field_layout_without_an_operation_number(world, db):
    content = registry([line(world.p1.account_number, "100,00", op=None),
                        line(world.p1.account_number, "100,00", op=None, time="10-16-00")])
    p = preview(world, content)
    assert not p.errors and statuses(p) == [(1, "book"), (2, "book")]
    assert p.rows[0].operation == "" and p.rows[0].reference == "ВСП 8600/8600999V 10-15-32"
    assert p.rows[0].key != p.rows[1].key  # another time at the cashier is another payment


def test_els_matches_too_and_accounts_of_another_uk_stay_unmatched(world, db):
    world.p3.els = "8ABC123456"
    db.session.commit()
    content = registry([line("8abc123456", "10,00", op="1"), line(world.p_other.account_number, "20,00", op="2")])
    p = preview(world, content)
    assert statuses(p) == [(1, "book"), (2, "unmatched")]
    assert p.rows[0].premises.id == world.p3.id and p.rows[1].premises is None  # never another УК's flat


def test_period_formats(world):
    assert svc.parse_period("112026") == NOV
    assert svc.parse_period("11.2026") == NOV
    assert svc.parse_period("1.2027") == date(2027, 1, 1)
    assert svc.parse_period("2026-11") == NOV
    assert svc.parse_period("") is None
    for bad in ("132026", "13.2026", "1126", "ноябрь", "11.1999"):
        with pytest.raises(svc.tabular.CellError, match="не месяц"):
            svc.parse_period(bad)


def test_bad_lines_are_listed_and_block_the_file(world, db):
    a = world.p1.account_number
    content = registry([
        line(a, "100,00", op="1", day="31-11-2026"),  # no such date
        line(a, "-5,00", op="2", transfer="-5,00"),  # negative
        line(a, "0,00", op="3", transfer="0,00"),  # zero
        line(a, "10,005", op="4", transfer="10,00"),  # a fraction of a kopeck
        line(a, "10,00", op="5", commission="-1,00", transfer="11,00"),
        line(a, "10,00", op="6", period="13.2026"),
        line(a, "10,00", op="7", transfer="9,00"),  # transfer ≠ amount − commission
        line(a, "10,00", op="8", day="26-11-2026"),  # tomorrow in Chita
        line("", "10,00", op="9"),
        "24-11-2026;10-15-32;8600;1",
    ], footer="=10;0,00")
    p = preview(world, content)
    messages = {r.line: r.message for r in p.rows}
    assert "не дата" in messages[1]
    assert "не может быть отрицательным" in messages[2]
    assert "больше нуля" in messages[3]
    assert "больше двух знаков" in messages[4]
    assert "«Комиссия» не может быть отрицательным" in messages[5]
    assert "не месяц" in messages[6]
    assert "«Сумма перевода» 9,00" in messages[7].replace("\xa0", " ")
    assert "ещё не наступила" in messages[8]
    assert "Не заполнен «Лицевой счёт»" in messages[9]
    assert "4 полей" in messages[10] and "11 или 12" in messages[10]
    assert [r.status for r in p.rows] == ["error"] * 10 and not p.can_apply
    with pytest.raises(svc.ImportRejected):
        apply(world, p.imp)
    assert db.session.query(Payment).count() == 0


def test_a_footer_that_disagrees_refuses_the_whole_file(world, db):
    lines = [line(world.p1.account_number, "100,00", op="1"), line(world.p2.account_number, "200,00", op="2")]
    with pytest.raises(Invalid, match="в ней 3 платежа, а в файле 2 платежа") as error:
        preview(world, registry(lines, footer="=3;300,00;300,00;0,00"))
    assert error.value.errors.keys() == {"file"}
    with pytest.raises(Invalid, match="сумма платежей в ней 350,00"):
        preview(world, registry(lines, footer="=2;350,00;350,00;0,00"))
    with pytest.raises(Invalid, match="комиссия в ней 5,00"):
        preview(world, registry(lines, footer="=2;300,00;300,00;5,00"))
    with pytest.raises(Invalid, match="нет итоговой строки"):
        preview(world, ("\r\n".join(lines)).encode("cp1251"))
    with pytest.raises(Invalid, match="После итоговой строки"):
        preview(world, registry(lines) + lines[0].encode("cp1251"))
    with pytest.raises(Invalid, match="не читается"):
        preview(world, registry(lines, footer="=два;300,00"))
    assert db.session.query(TabularImport).count() == 0  # nothing stored for a refused file


def test_a_duplicate_line_inside_the_file_is_an_error(world, db):
    same = line(world.p1.account_number, "100,00", op="555")
    p = preview(world, registry([same, line(world.p2.account_number, "1,00", op="556"), same]))
    assert statuses(p) == [(1, "book"), (2, "book"), (3, "error")]
    assert "Повтор строки 1" in p.rows[2].message and not p.can_apply


def test_unknown_bank_and_not_staff(world, db):
    with pytest.raises(Invalid, match="Выберите банк"):
        preview(world, basic(world), bank="monobank")
    for actor in (world.owner, world.council, world.rso_user, world.operator, world.staff_other):
        with pytest.raises(NotAllowed):
            preview(world, basic(world), actor=actor)


# --- the named-column table -------------------------------------------------------------------------------------

HEADER = ["Дата платежа", "Лицевой счёт", "Период", "Сумма", "Комиссия", "Номер операции", "ФИО"]


def test_a_csv_with_named_columns(world, db):
    text = "\r\n".join([";".join(HEADER),
                        f"24.11.2026;{world.p1.account_number};11.2026;1 500,00;15,00;A-1;Иванова",
                        "24.11.2026;00000000;;99,90;;A-2;Кто-то"])
    p = preview(world, text.encode("utf-8-sig"), filename="payments.csv")
    assert p.layout == "table" and not p.errors
    assert statuses(p) == [(2, "book"), (3, "unmatched")]
    assert p.rows[0].amount == Decimal("1500.00") and p.rows[0].commission == Decimal("15.00")
    assert p.rows[1].period is None and p.rows[1].commission == Decimal("0.00")


def test_an_xlsx_with_named_columns_and_excel_values(world, db):
    book = Workbook()
    sheet = book.active
    sheet.append(["Реестр платежей за 24.11.2026"])
    sheet.append(["Дата", "ЛС", "Период оплаты", "Сумма платежа", "Сумма комиссии", "СУИП"])
    sheet.append([datetime(2026, 11, 24), world.p1.account_number, "112026", 243.60000000000002, 0, 700001])
    sheet.append([datetime(2026, 11, 24), world.p2.account_number, "11.2026", 100, 1.5, ""])
    out = io.BytesIO()
    book.save(out)
    p = preview(world, out.getvalue(), filename="Реестр.xlsx")
    assert p.layout == "table"
    assert p.rows[0].status == "book" and p.rows[0].amount == Decimal("243.60") and p.rows[0].operation == "700001"
    assert "Не заполнен «Номер операции»" in p.rows[1].message


def test_a_table_without_required_columns(world):
    with pytest.raises(Invalid, match="Номер операции"):
        preview(world, "Дата платежа;Лицевой счёт;Сумма\r\n24.11.2026;1;5\r\n".encode(), filename="p.csv")


# --- booking ---------------------------------------------------------------------------------------------------


def test_apply_books_matched_lines_and_lists_the_others(world, db):
    p = preview(world, basic(world))
    result = apply(world, p.imp)
    assert (result.booked.count, result.booked.amount) == (2, Decimal("3850.50"))
    assert (result.unmatched.count, result.unmatched.amount) == (1, Decimal("800.00"))
    assert result.loaded.count == 0
    payments = db.session.query(Payment).order_by(Payment.id).all()
    assert [(x.premises_id, x.amount, x.commission, x.period, x.reference, x.source, x.import_id)
            for x in payments] == [
        (world.p1.id, Decimal("1500.00"), Decimal("15.00"), NOV, "1000000001", "bank", p.imp.id),
        (world.p2.id, Decimal("2350.50"), Decimal("0.00"), NOV, "1000000002", "bank", p.imp.id)]
    assert all(x.external_id.startswith(f"o{world.uk.id}:") and len(x.external_id) <= 80 for x in payments)
    unmatched = db.session.query(UnmatchedPayment).one()
    assert (unmatched.organisation_id, unmatched.account_number, unmatched.amount, unmatched.payer,
            unmatched.address, unmatched.resolved_at) == (world.uk.id, "77770001", Decimal("800.00"),
                                                         "НЕИЗВЕСТНЫЙ ПЛАТЕЛЬЩИК", "ул Неизвестная, 5", None)
    audit = db.session.query(AuditLog).filter_by(action="payments_imported").one()
    assert audit.changes["booked"] == {"count": 2, "amount": "3850.50"} and audit.entity_id == world.uk.id
    with pytest.raises(Conflict, match="уже загружен"):
        apply(world, p.imp)


def test_reimporting_the_same_registry_books_nothing_twice(world, db):
    apply(world, preview(world, basic(world)).imp)
    again = preview(world, basic(world), actor=world.ukadmin)
    assert [r.status for r in again.rows] == ["loaded"] * 3
    assert not again.can_apply  # nothing left to write
    # the same lines inside a bigger registry of the next day: only the new one is booked
    bigger = registry([line(world.p1.account_number, "1500,00", op="1000000001", commission="15,00"),
                       line(world.p1.account_number, "10,00", op="1000000009")])
    p = preview(world, bigger)
    assert [r.status for r in p.rows] == ["loaded", "book"]
    result = apply(world, p.imp)
    assert (result.booked.count, result.loaded.count) == (1, 1)
    assert db.session.query(Payment).count() == 3 and db.session.query(UnmatchedPayment).count() == 1


def test_the_same_file_as_another_banks_registry_is_refused(world, db):
    apply(world, preview(world, basic(world)).imp)
    with pytest.raises(Invalid, match="Выберите тот же банк") as error:
        preview(world, basic(world), bank="vtb")
    assert error.value.errors.keys() == {"bank"}


def test_the_same_lines_saved_again_under_another_bank_book_nothing_twice(world, db):
    """The file re-saved (other line endings, so another SHA-256) and sent as another bank's: the lines are the same
    payments, so they are «уже загружено» — the bank on the form is not part of a line's identity."""
    apply(world, preview(world, basic(world)).imp)
    resaved = basic(world).replace(b"\r\n", b"\n")
    again = preview(world, resaved, bank="vtb")
    assert [r.status for r in again.rows] == ["loaded"] * 3 and not again.can_apply
    assert db.session.query(Payment).count() == 2 and db.session.query(UnmatchedPayment).count() == 1


def test_another_uks_registry_never_marks_our_payments_loaded(world, db):
    """Staff of another УК import a registry holding our flat's line (one accountant serves both): it stays
    unmatched for them, and our own registry still books it — their file cannot hide our residents' payments."""
    theirs = svc.payments_import_preview(actor=world.staff_other, organisation_id=world.uk_other.id, bank="sber",
                                         filename="r.txt", content=basic(world), now=NOW)
    assert [r.status for r in theirs.rows] == ["unmatched"] * 3
    svc.payments_import_apply(actor=world.staff_other, imp=theirs.imp, now=NOW)
    ours = preview(world, basic(world))
    assert [r.status for r in ours.rows] == ["book", "book", "unmatched"]
    apply(world, ours.imp)
    assert {x.premises_id for x in db.session.query(Payment)} == {world.p1.id, world.p2.id}
    assert sorted(u.organisation_id for u in db.session.query(UnmatchedPayment)) == sorted(
        [world.uk_other.id] * 3 + [world.uk.id])


def test_a_line_booked_meanwhile_is_skipped_at_confirmation(world, db):
    first = preview(world, basic(world))
    second = preview(world, basic(world), actor=world.ukadmin)
    apply(world, first.imp)
    result = apply(world, second.imp, actor=world.ukadmin)
    assert (result.booked.count, result.unmatched.count, result.loaded.count) == (0, 0, 3)
    assert db.session.query(Payment).count() == 2


def test_an_old_preview_is_not_applied(world, db):
    imp = preview(world, basic(world)).imp
    with pytest.raises(Invalid, match="устарела"):
        apply(world, imp, now=NOW + timedelta(hours=13))
    assert db.session.query(Payment).count() == 0


def test_confirmation_by_another_uk_is_not_found(world, db):
    imp = preview(world, basic(world)).imp
    for actor in (world.staff_other, world.owner, world.operator, world.rso_user):
        with pytest.raises(NotFound):
            svc.payments_import_get(actor=actor, import_id=imp.id)
    assert svc.payments_import_get(actor=world.ukadmin, import_id=imp.id).id == imp.id
    with pytest.raises(NotAllowed):
        apply(world, imp, actor=world.staff_other)


def test_everything_rolls_back_when_a_write_fails(world, db, monkeypatch):
    imp = preview(world, basic(world)).imp

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(svc, "_reissue_statements", boom)
    with pytest.raises(RuntimeError):
        apply(world, imp)
    db.session.expire_all()
    assert db.session.query(Payment).count() == 0 and db.session.query(UnmatchedPayment).count() == 0
    assert db.session.get(TabularImport, imp.id).applied_at is None  # may be confirmed again
    monkeypatch.undo()
    assert apply(world, db.session.get(TabularImport, imp.id)).booked.count == 2


# --- balances follow -------------------------------------------------------------------------------------------


@pytest.fixture
def october(world, db):
    """October charged (1 000 ₽) and closed for p1; the statement is issued on 1 November."""
    service = Service(organisation_id=world.uk.id, code="MAINT", name="Содержание", unit="м²", method="fixed",
                      sort_order=1)
    service.tariffs = [Tariff(valid_from=date(2026, 1, 1), rate=Decimal("1000"))]
    db.session.add(service)
    db.session.flush()
    db.session.add(Charge(premises_id=world.p1.id, period=OCT, service_id=service.id, volume=1, tariff=1000,
                          amount=Decimal("1000.00"), total=Decimal("1000.00"), source=ChargeSource.IMPORT))
    db.session.flush()
    billing.statements_issue(premises=[world.p1], period=OCT, now=datetime(2026, 11, 1, tzinfo=UTC))
    db.session.commit()
    return db.session.query(Statement).filter_by(premises_id=world.p1.id, period=OCT).one()


def test_current_debt_follows_a_booked_payment(world, db, october):
    assert billing.current_debt(world.p1, date(2026, 11, 25)) == Decimal("1000.00")
    apply(world, preview(world, registry([line(world.p1.account_number, "600,00", op="1")])).imp)
    db.session.expire_all()
    assert billing.current_debt(world.p1, date(2026, 11, 25)) == Decimal("400.00")
    assert october.paid == Decimal("0.00")  # paid in November: towards the October statement, not inside it
    assert billing.premises_statements(world.p1) == [(october, False)]  # 600 of 1 000: still unpaid
    apply(world, preview(world, registry([line(world.p1.account_number, "400,00", op="2")])).imp)
    db.session.expire_all()
    assert billing.current_debt(world.p1, date(2026, 11, 25)) == Decimal("0.00")
    assert [paid for _, paid in billing.premises_statements(world.p1)] == [True]  # the receipts list says paid


def test_a_payment_inside_a_closed_period_reissues_its_statement(world, db, october):
    """Paid on 30 October, the registry arrives after October was closed: the statement's «оплачено» and amount
    due include it, and the debt is 1 000 − 250 = 750, not 1 000."""
    version = october.version
    content = registry([line(world.p1.account_number, "250,00", op="1", day="30-10-2026", period="102026")])
    result = apply(world, preview(world, content).imp)
    assert result.statements == 1
    db.session.expire_all()
    statement = db.session.get(Statement, october.id)
    assert (statement.paid, statement.amount_due, statement.version) == (Decimal("250.00"), Decimal("750.00"),
                                                                        version + 1)
    assert statement.issued_at.replace(tzinfo=UTC) == datetime(2026, 11, 1, tzinfo=UTC)  # the issue date stays
    assert billing.current_debt(world.p1, date(2026, 11, 25)) == Decimal("750.00")


def test_a_reissued_statement_keeps_its_penalty_and_its_explanation_together(world, db, october):
    basis = {"rule": "ЖК РФ ст. 155 ч. 14", "text": "Пени: 12,31 ₽", "items": [{"period": "2026-07-01",
                                                                                 "amount": "12.31"}]}
    october.penalty, october.penalty_basis = Decimal("12.31"), basis
    october.amount_due += Decimal("12.31")
    db.session.commit()
    content = registry([line(world.p1.account_number, "250,00", op="1", day="30-10-2026", period="102026")])
    apply(world, preview(world, content).imp)
    db.session.expire_all()
    statement = db.session.get(Statement, october.id)
    assert (statement.penalty, statement.penalty_basis) == (Decimal("12.31"), basis)
    assert statement.amount_due == Decimal("762.31")


# --- unmatched payments ----------------------------------------------------------------------------------------


@pytest.fixture
def unmatched(world, db):
    apply(world, preview(world, basic(world)).imp)
    return db.session.query(UnmatchedPayment).one()


def test_unmatched_are_visible_to_their_uk_only(world, db, unmatched):
    assert [u.id for u in svc.unmatched_list(actor=world.staff)] == [unmatched.id]
    assert svc.unmatched_get(actor=world.ukadmin, id=unmatched.id).id == unmatched.id
    for actor in (world.staff_other, world.owner, world.council, world.rso_user, world.operator):
        assert svc.unmatched_list(actor=actor) == []
        with pytest.raises(NotFound):
            svc.unmatched_get(actor=actor, id=unmatched.id)
        with pytest.raises(NotFound):
            svc.unmatched_book(actor=actor, id=unmatched.id, premises_id=world.p3.id, now=NOW)
        with pytest.raises(NotFound):
            svc.unmatched_dismiss(actor=actor, id=unmatched.id, note="не наш", now=NOW)
    with pytest.raises(NotFound):
        svc.unmatched_get(actor=world.staff, id="abc")


def test_premises_search_by_account_and_address(world, db, unmatched):
    def found(q):
        return [p.id for p in svc.premises_search(actor=world.staff, item=unmatched, query=q)]

    assert found(world.p2.account_number) == [world.p2.id]
    assert found("ленина 3") == [world.p3.id]
    assert found("ул. Ленина, кв 1") == [world.p1.id]
    assert found("Горького") == [world.p_b2.id]
    assert found("Чкалова") == []  # another УК's street
    assert found(world.p_other.account_number) == []  # another УК's account
    assert found("") == []


def test_booking_an_unmatched_payment(world, db, unmatched, october):
    booked = svc.unmatched_book(actor=world.ukadmin, id=unmatched.id, premises_id=world.p1.id,
                                note="Ошибся в лицевом счёте", now=NOW)
    payment = booked.payment
    assert booked.premises.id == world.p1.id
    db.session.expire_all()
    item = db.session.get(UnmatchedPayment, unmatched.id)
    assert item.resolved_at is not None and item.payment_id == payment.id and item.resolved_by_id == world.ukadmin.id
    assert (payment.premises_id, payment.amount, payment.external_id, payment.source) == (
        world.p1.id, Decimal("800.00"), item.external_id, "bank")
    assert billing.current_debt(world.p1, date(2026, 11, 25)) == Decimal("1000.00") - 1500 - 800
    assert db.session.query(AuditLog).filter_by(action="unmatched_payment_booked").count() == 1
    assert svc.unmatched_list(actor=world.staff) == []
    with pytest.raises(Conflict, match="уже разобран"):
        svc.unmatched_book(actor=world.staff, id=unmatched.id, premises_id=world.p2.id, now=NOW)
    with pytest.raises(Conflict):
        svc.unmatched_dismiss(actor=world.staff, id=unmatched.id, note="x", now=NOW)
    # the registry again: the booked-by-hand line is «уже загружено» too
    assert [r.status for r in preview(world, basic(world)).rows] == ["loaded"] * 3


def test_booking_to_premises_of_another_uk_is_not_found(world, db, unmatched):
    with pytest.raises(NotFound):
        svc.unmatched_book(actor=world.staff, id=unmatched.id, premises_id=world.p_other.id, now=NOW)
    with pytest.raises(NotFound):
        svc.unmatched_book(actor=world.staff, id=unmatched.id, premises_id="999999", now=NOW)
    db.session.expire_all()
    assert db.session.get(UnmatchedPayment, unmatched.id).resolved_at is None


def test_dismissing_needs_a_note(world, db, unmatched):
    with pytest.raises(Invalid, match="почему") as error:
        svc.unmatched_dismiss(actor=world.staff, id=unmatched.id, note="  ", now=NOW)
    assert error.value.errors.keys() == {"note"}
    with pytest.raises(Invalid, match="300"):
        svc.unmatched_dismiss(actor=world.staff, id=unmatched.id, note="x" * 301, now=NOW)
    item = svc.unmatched_dismiss(actor=world.staff, id=unmatched.id, note="Возвращён плательщику", now=NOW)
    assert item.resolution_note == "Возвращён плательщику" and item.payment_id is None
    assert db.session.query(Payment).count() == 2
    assert [u.id for u in svc.unmatched_list(actor=world.staff, resolved=True)] == [unmatched.id]
    assert db.session.query(AuditLog).filter_by(action="unmatched_payment_dismissed").count() == 1


def test_the_example_registry_reads(world, db):
    content = svc.example_registry()
    rows, layout, footer = svc._read(filename="example.txt", content=content, bank="sber", today=date(2026, 11, 25))
    assert layout == "bank" and footer.count == 2 and not any(r.errors for r in rows)


# --- concurrency (PostgreSQL) ------------------------------------------------------------------------------------


def _race(app, n, work):
    barrier, outcomes = threading.Barrier(n), []

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                work(i)
                outcomes.append("ok")
            except Conflict as error:
                outcomes.append("refused" if "уже" in error.message else repr(error))
            except Exception as error:  # reported by the assertion of the caller
                outcomes.append(repr(error))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_parallel_confirmations_book_once(app, world, db):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it with TEST_DATABASE_URL)")
    one = preview(world, basic(world)).imp.id
    other = preview(world, basic(world), actor=world.ukadmin).imp.id  # the same registry, a colleague's preview
    users = [world.staff.id, world.ukadmin.id]
    ids = [one, other, one, other, one, other]

    def work(i):
        svc.payments_import_apply(actor=_db.session.get(User, users[i % 2]),
                                  imp=_db.session.get(TabularImport, ids[i]), now=NOW)

    outcomes = _race(app, len(ids), work)
    # each preview is applied once; the colleague's one finds every line «уже загружено» and writes nothing
    assert sorted(outcomes) == ["ok", "ok", "refused", "refused", "refused", "refused"], outcomes
    _db.session.expire_all()
    assert db.session.query(Payment).count() == 2 and db.session.query(UnmatchedPayment).count() == 1
    audits = db.session.query(AuditLog).filter_by(action="payments_imported").all()
    assert sorted(a.changes["booked"]["count"] for a in audits) == [0, 2]


def test_parallel_resolutions_of_one_unmatched_payment(app, world, db):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is tested on PostgreSQL (CI runs it with TEST_DATABASE_URL)")
    apply(world, preview(world, basic(world)).imp)
    item_id, staff_id, targets = db.session.query(UnmatchedPayment).one().id, world.staff.id, [world.p1.id,
                                                                                              world.p2.id]

    def work(i):
        actor = _db.session.get(User, staff_id)
        if i % 3 == 2:
            svc.unmatched_dismiss(actor=actor, id=item_id, note="возврат", now=NOW)
        else:
            svc.unmatched_book(actor=actor, id=item_id, premises_id=targets[i % 2], now=NOW)

    outcomes = _race(app, 6, work)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5, outcomes
    _db.session.expire_all()
    assert db.session.query(Payment).count() == 2 + (1 if db.session.get(UnmatchedPayment, item_id).payment_id
                                                      else 0)
