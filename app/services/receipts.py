"""The payment document (ЕПД): its data by Приказ Минстроя России от 26.01.2018 № 43/пр, the ГОСТ Р 56042-2014
payment QR code, the PDF and its cache. See docs/receipts.md for every field and its source.

The PDF cache is keyed by what makes a receipt change — the statement (id, version: bumped on every re-issue),
the organisation's details_version (bumped when anything printed changes), the building's reading window and
TEMPLATE_VERSION — so a cached receipt costs one query and never rebuilds the receipt's data.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import segno
from flask import render_template
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from app.access import owners_of
from app.extensions import db
from app.models import Building, Meter, Premises, Statement, User
from app.models.base import utcnow
from app.models.billing import Charge, Instalment, Method, Payment, ReceiptPdf
from app.models.housing import OwnerRecord
from app.models.orgs import Organisation
from app.services import bankdetails, gis_ids, periods
from app.services import readings as readings_svc
from app.services.billing import charges_for
from app.services.errors import NotFound

TEMPLATE_VERSION = "2026-12-01.1"  # bump when pdf/receipt.html changes: cached PDFs are then rebuilt
KOPECK = Decimal("0.01")
MONTHS_A_YEAR = 12


def _money(value) -> Decimal:
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


# --- the payment QR (ГОСТ Р 56042-2014) --------------------------------------------------------------------

# ST, format version 0001, encoding 1 = windows-1251 (ГОСТ Р 56042-2014, п. 5.2: 1 — WIN1251, 2 — UTF8,
# 3 — KOI8-R). One byte a Cyrillic letter instead of two: a payload of ~350 bytes instead of ~410, QR version
# 14 instead of 15 at level M (docs/receipts.md, "The payment QR").
QR_HEADER = "ST00011"
QR_ENCODING = "cp1251"
QR_ERROR = "m"  # error correction level M (15 %): the printed code survives a fold or a stain
QR_ENCODINGS = {"ST00011": "cp1251", "ST00012": "utf-8", "ST00013": "koi8_r"}


def _clean(value: str | None, limit: int) -> str:
    """QR values may not contain the separator «|» and must fit the encoding; keep the standard's lengths."""
    text = " ".join((value or "").replace("|", " ").split())[:limit]
    return text.encode(QR_ENCODING, errors="replace").decode(QR_ENCODING)


def split_name(full_name: str | None) -> tuple[str, str, str]:
    """«Иванова Анна Петровна» → (Иванова, Анна, Петровна); a patronymic of several words stays whole."""
    parts = (full_name or "").split()
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "", " ".join(parts[2:]))


def payee_problem(org: Organisation) -> str | None:
    """Why a bank app would refuse this payee (Russian, for the receipt and the УК), or None when the details
    pass the checks of app/services/bankdetails.py (ИНН check digits, БИК, account key against the БИК,
    correspondent account)."""
    missing = [label for label, value in (("наименование банка", org.bank_name), ("БИК", org.bank_bic),
                                          ("расчётный счёт", org.bank_account),
                                          ("корреспондентский счёт", org.bank_corr_account)) if not value]
    if missing:
        return "в реквизитах организации не указаны: " + ", ".join(missing)
    if not bankdetails.inn_valid(org.inn or ""):
        return "ИНН получателя не проходит проверку контрольных цифр"
    if org.kpp and not bankdetails.kpp_valid(org.kpp):
        return "КПП получателя указан с ошибкой"
    if not bankdetails.bic_valid(org.bank_bic):
        return "БИК банка указан с ошибкой"
    if not bankdetails.account_key_valid(org.bank_bic, org.bank_account):
        return "расчётный счёт не соответствует БИК (не сходится контрольный ключ)"
    if not bankdetails.corr_account_valid(org.bank_bic, org.bank_corr_account):
        return "корреспондентский счёт не соответствует БИК"
    return None


def qr_period(period: date) -> str:
    """PaymPeriod as ММГГГГ (the standard leaves the format to the payee; banks read it as month and year)."""
    return f"{period:%m%Y}"


def payment_qr_text(*, organisation: Organisation, premises: Premises, statement: Statement, payer: str | None,
                    document_id: str | None = None) -> str:
    """ST00012 text of ГОСТ Р 56042-2014: the five required fields first, in order (п. 5.3, table 1), then the
    additional ones (table 2) a bank app needs for a housing payment. Short values keep the code small."""
    last, first, middle = split_name(payer)
    fields = [
        ("Name", _clean(organisation.short_name, 160)),
        ("PersonalAcc", organisation.bank_account or ""),
        ("BankName", _clean(organisation.bank_name, 45)),
        ("BIC", organisation.bank_bic or ""),
        ("CorrespAcc", organisation.bank_corr_account or ""),
        ("PayeeINN", organisation.inn or ""),
        ("KPP", organisation.kpp or ""),
    ]
    if statement.amount_due > 0:
        fields.append(("Sum", str(int((statement.amount_due * 100).to_integral_value(ROUND_HALF_UP)))))
    fields += [
        ("Purpose", _clean(f"ЖКУ {statement.period:%m.%Y} ЛС {premises.account_number}", 210)),
        ("PersAcc", premises.account_number),
        ("PaymPeriod", qr_period(statement.period)),
        ("LastName", _clean(last, 40)),
        ("FirstName", _clean(first, 40)),
        ("MiddleName", _clean(middle, 40)),
        ("PayerAddress", _clean(premises.building.short_address, 60)),
        ("Flat", _clean(premises.number, 10)),
        # The ГИС ЖКХ payment document identifier: «DocIdx» — «индекс платежного документа» (table 2)
        ("DocIdx", document_id or ""),
    ]
    return QR_HEADER + "|" + "|".join(f"{k}={v}" for k, v in fields if v)


def qr_bytes(text: str) -> bytes:
    """The bytes the code carries: the text in the encoding its header names (UTF-8 for anything else)."""
    return text.encode(QR_ENCODINGS.get(text[:7], "utf-8"))


QR_MAX_VERSION = 15  # 77 modules: ≥ 0,42 mm a module at the printed 34 mm


def _qr(text: str):
    """Level M; a payload too long for version 15 at M (long bank and payer names) falls back to level L rather
    than to smaller modules: at the printed size module width matters more to a phone than the last 8 % of
    error correction (docs/receipts.md, "Size")."""
    data = qr_bytes(text)
    code = segno.make(data, error=QR_ERROR, mode="byte", boost_error=False, micro=False)
    if code.version > QR_MAX_VERSION:
        code = segno.make(data, error="l", mode="byte", boost_error=False, micro=False)
    return code


def qr_version(text: str) -> int:
    return _qr(text).version


QR_PRINTED_MM = 34  # the code's printed width in pdf/receipt.html (.qr img), quiet zone of 2 modules included
QR_BORDER = 2


def qr_module_mm(text: str, printed_mm: float = QR_PRINTED_MM) -> float:
    """How wide one module of the code is when printed: phone cameras read 0,3 mm and more."""
    return printed_mm / (_qr(text).symbol_size(border=QR_BORDER)[0])


def qr_png(text: str, *, scale: int = 6, border: int = 4) -> bytes:
    """The payment QR as a PNG (to show on the phone, save or share into a bank app, and in the PDF)."""
    buffer = io.BytesIO()
    _qr(text).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()


def qr_png_data_uri(text: str) -> str:
    # 2 px a module and 2 modules of quiet zone, laid out at a fixed size with crisp edges: a few hundred bytes
    return "data:image/png;base64," + base64.b64encode(qr_png(text, scale=2, border=QR_BORDER)).decode()


# --- the receipt's data --------------------------------------------------------------------------------------

@dataclass
class CalcLine:
    """A line of section 3: the individual and the common-property (СОИ) parts in their own columns."""

    charge: Charge
    volume_individual: Decimal | None
    volume_common: Decimal | None
    amount_individual: Decimal | None
    amount_common: Decimal | None

    @property
    def service(self):
        return self.charge.service


@dataclass
class Recalculation:
    """A line of section 5: what was recalculated, why and by how much (+ added, − reduced)."""

    service: str
    amount: Decimal
    reason: str
    periods: str = ""


@dataclass
class InstalmentPart:
    """A line of section 6 (ПП 354 п. 72): the part of this period with its interest, and what remains."""

    instalment: Instalment
    number: int  # 1..months
    principal_part: Decimal
    interest: Decimal
    remaining: Decimal  # principal still to pay after this part

    @property
    def due(self) -> Decimal:
        return self.principal_part + self.interest


@dataclass
class Norm:
    service: str
    value: Decimal
    unit: str


@dataclass
class ReceiptData:
    premises: Premises
    organisation: Organisation
    statement: Statement
    charges: list[Charge]
    payer: str
    owners: list[User]
    lines: list  # apartment meter lines of the period (readings_svc.MeterLine)
    qr_text: str
    recalculations: list[Charge] = field(default_factory=list)  # the charges with a recalculation
    # Why the receipt carries no payment QR (the payee's details fail their checksums), else None
    qr_problem: str | None = None
    calc: list[CalcLine] = field(default_factory=list)
    recalculation_lines: list[Recalculation] = field(default_factory=list)  # section 5, with reasons
    house_lines: list = field(default_factory=list)  # building meters (ОДПУ) of the period
    norms: list[Norm] = field(default_factory=list)
    instalments: list[InstalmentPart] = field(default_factory=list)
    building_area: Decimal | None = None  # total area of the building's premises
    common_area: Decimal | None = None
    last_payment_on: date | None = None
    document_id: str | None = None  # ГИС ЖКХ ИПД
    reading_window: str = ""
    penalty_text: str = ""
    penalty_items: list = field(default_factory=list)

    @property
    def overpaid(self) -> bool:
        return self.statement.amount_due < 0

    @property
    def total_recalculation(self) -> Decimal:
        return sum((c.recalculation or 0 for c in self.charges), Decimal(0))

    @property
    def total_benefit(self) -> Decimal:
        return sum((c.benefit or 0 for c in self.charges), Decimal(0))

    @property
    def total_charged(self) -> Decimal:
        return sum((c.amount or 0 for c in self.charges), Decimal(0))


def statement_for(premises: Premises, period: date) -> Statement:
    statement = db.session.scalar(select(Statement).where(Statement.premises_id == premises.id,
                                                          Statement.period == period))
    if statement is None:
        raise NotFound("Квитанции за этот месяц нет")
    return statement


def reading_window_text(building: Building) -> str:
    """The sentence about when readings are taken, from the building's (or its organisation's) window."""
    start, end = periods.window_days(building)
    if start == 1 and end >= 31:
        return "Показания приборов учёта принимаются в течение всего месяца"
    last = "последний день месяца" if end >= 31 else f"{end}-е число месяца"
    return f"Показания приборов учёта принимаются с {start}-го по {last} включительно"


def instalment_part(instalment: Instalment, period: date) -> InstalmentPart | None:
    """The part of an instalment due in the period (ПП 354 п. 72): the charge is paid in equal monthly parts;
    interest for the month is accrued on the principal still unpaid, at `rate_percent` a year / 12 (the rate
    may not exceed the Bank of Russia key rate + 3 % in force on the day the instalment was granted — checked
    where the instalment is created). The last part takes the kopecks left by rounding. None outside the term.
    """
    start = instalment.period_from
    months_in = (period.year - start.year) * MONTHS_A_YEAR + period.month - start.month
    if months_in < 0 or months_in >= instalment.months:
        return None
    principal = _money(instalment.principal)
    part = _money(principal / instalment.months)
    paid_before = part * months_in
    remaining_before = principal - paid_before
    this_part = remaining_before if months_in == instalment.months - 1 else part
    rate = Decimal(instalment.rate_percent or 0)
    interest = _money(remaining_before * rate / 100 / MONTHS_A_YEAR)
    return InstalmentPart(instalment=instalment, number=months_in + 1, principal_part=this_part, interest=interest,
                          remaining=remaining_before - this_part)


def _payer(premises: Premises, owners: list[User]) -> str:
    if owners:
        return owners[0].full_name or ""
    record = db.session.scalar(select(OwnerRecord.full_name).where(OwnerRecord.premises_id == premises.id)
                               .order_by(OwnerRecord.id).limit(1))
    return record or ""


def _calc_line(charge: Charge) -> CalcLine:
    common = charge.service.method == Method.COMMON
    return CalcLine(charge=charge,
                    volume_individual=None if common else charge.volume,
                    volume_common=charge.volume if common else None,
                    amount_individual=None if common else charge.amount,
                    amount_common=charge.amount if common else None)


def _recalculations(charges: list[Charge]) -> list[Recalculation]:
    result = []
    for c in charges:
        basis = (c.basis or {}).get("recalculation") or {}
        amount = c.recalculation or Decimal(basis.get("amount") or 0)
        if not amount:
            continue
        reason = c.recalculation_reason or basis.get("text") or ""
        if basis.get("rule") and basis["rule"] not in reason:
            reason = f"{reason} ({basis['rule']})" if reason else basis["rule"]
        spans = basis.get("periods") or []
        result.append(Recalculation(service=c.service.name, amount=Decimal(amount), reason=reason,
                                    periods=", ".join(str(p) for p in spans)))
    return result


def _norms(charges: list[Charge]) -> list[Norm]:
    norms = []
    for c in charges:
        s = c.service
        if s.norm_per_person:
            norms.append(Norm(s.name, s.norm_per_person, f"{s.unit}/чел. в месяц"))
        if s.norm_per_m2:
            norms.append(Norm(s.name, s.norm_per_m2, f"{s.unit}/м² в месяц"))
    return norms


def _period_label(value) -> str:
    """A basis period ("2026-07-01" or already "07.2026") as ММ.ГГГГ."""
    try:
        return f"{date.fromisoformat(str(value)):%m.%Y}"
    except ValueError:
        return str(value)


def _periods_word(n: int) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return "период"
    return "периода" if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else "периодов"


def _penalty(statement: Statement) -> tuple[str, list]:
    """One line for the printed receipt: the headline of the пени basis and the span of debts it was charged on
    (the per-period calculation is on the receipt page, «Из чего сложилась сумма»)."""
    basis = statement.penalty_basis or {}
    items = list(basis.get("items") or [])
    text = (basis.get("text") or "").split("\n")[0].rstrip(".")
    if statement.penalty and not text:
        text = "Пени по ЖК РФ ст. 155 ч. 14 за просрочку оплаты"
    if text and items:
        periods = sorted(str(i.get("period")) for i in items if i.get("period"))
        if periods:
            first, last = _period_label(periods[0]), _period_label(periods[-1])
            span = first if first == last else f"{first}–{last}"
            text += f". Начислены на долг за {len(items)} {_periods_word(len(items))} ({span})"
        if len(items) > 1:
            text += "; расчёт по каждому периоду — в личном кабинете"
    return (text + ".") if text else "", items


def receipt_data(premises: Premises, period: date) -> ReceiptData:
    statement = statement_for(premises, period)
    building = premises.building
    organisation = building.organisation
    owners = owners_of(premises.id)
    payer = _payer(premises, owners)
    charges = charges_for(premises.id, period)
    meters = db.session.scalars(select(Meter).where(
        Meter.building_id == building.id, Meter.archived.is_(False),
        (Meter.premises_id == premises.id) | Meter.premises_id.is_(None))).all()
    own = sorted((m for m in meters if m.premises_id == premises.id), key=lambda m: m.sort_key)
    house = sorted((m for m in meters if m.premises_id is None), key=lambda m: m.sort_key)
    all_lines = readings_svc.meter_lines(own + house, period)
    lines, house_lines = all_lines[:len(own)], all_lines[len(own):]
    building_area = db.session.scalar(select(func.sum(Premises.total_area)).where(
        Premises.building_id == building.id))
    next_month = periods.add_months(period, 1)
    last_payment_on = db.session.scalar(select(func.max(Payment.paid_on)).where(
        Payment.premises_id == premises.id, Payment.paid_on < next_month))
    instalments = [part for i in db.session.scalars(
        select(Instalment).where(Instalment.premises_id == premises.id, Instalment.period_from <= period)
        .order_by(Instalment.period_from, Instalment.id)) if (part := instalment_part(i, period))]
    document_id = statement.payment_document_id or gis_ids.payment_document_id(premises=premises, period=period)
    problem = payee_problem(organisation)
    qr_text = "" if problem else payment_qr_text(organisation=organisation, premises=premises,
                                                 statement=statement, payer=payer, document_id=document_id)
    penalty_text, penalty_items = _penalty(statement)
    return ReceiptData(
        premises=premises, organisation=organisation, statement=statement, charges=charges, payer=payer,
        owners=owners, lines=lines, qr_text=qr_text, qr_problem=problem,
        recalculations=[c for c in charges if c.recalculation], recalculation_lines=_recalculations(charges),
        calc=[_calc_line(c) for c in charges], house_lines=house_lines,
        norms=_norms(charges), instalments=instalments, building_area=building_area,
        common_area=building.common_area, last_payment_on=last_payment_on, document_id=document_id,
        reading_window=reading_window_text(building), penalty_text=penalty_text, penalty_items=penalty_items,
    )


# --- rendering and the cache ---------------------------------------------------------------------------------

def render_receipts_html(items: list[ReceiptData]) -> str:
    """One HTML document with a receipt per page (one stylesheet, laid out once)."""
    return render_template("pdf/receipt.html",
                           docs=[(d, qr_png_data_uri(d.qr_text) if d.qr_text else None) for d in items])


def _pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def cache_key(*, statement_id: int, version: int, details_version: int, window: tuple) -> str:
    """What a cached PDF is valid for (stored in ReceiptPdf.data_hash, ≤ 64 characters)."""
    start, end = (d or 0 for d in window)
    return f"s{statement_id}.v{version}.o{details_version}.w{start}-{end}.t{TEMPLATE_VERSION}"


def _cache_row(premises_id: int, period: date):
    """One query: the statement's key parts and the cached PDF (if any) of the premises and period."""
    return db.session.execute(
        select(Statement.id, Statement.version, Organisation.details_version, Building.reading_start_day,
               Building.reading_end_day, ReceiptPdf.data_hash, ReceiptPdf.pdf)
        .select_from(Statement)
        .join(Premises, Premises.id == Statement.premises_id)
        .join(Building, Building.id == Premises.building_id)
        .join(Organisation, Organisation.id == Building.organisation_id)
        .outerjoin(ReceiptPdf, (ReceiptPdf.premises_id == Statement.premises_id)
                   & (ReceiptPdf.period == Statement.period))
        .where(Statement.premises_id == premises_id, Statement.period == period)).first()


def receipt_pdf(premises: Premises, period: date, *, now: datetime | None = None) -> tuple[bytes, bool]:
    """The PDF and whether it came from the cache (same statement version, organisation details, window and
    template)."""
    identity = inspect(premises).identity  # the key without refreshing an object expired by a commit
    premises_id = identity[0] if identity else premises.id
    row = _cache_row(premises_id, period)
    if row is None:
        raise NotFound("Квитанции за этот месяц нет")
    key = cache_key(statement_id=row.id, version=row.version or 1, details_version=row.details_version or 1,
                    window=(row.reading_start_day, row.reading_end_day))
    if row.data_hash == key and row.pdf:
        return row.pdf, True
    pdf = _pdf(render_receipts_html([receipt_data(premises, period)]))
    cached = db.session.scalar(select(ReceiptPdf).where(ReceiptPdf.premises_id == premises_id,
                                                        ReceiptPdf.period == period))
    if cached is None:
        cached = ReceiptPdf(premises_id=premises_id, period=period)
        db.session.add(cached)
    cached.data_hash, cached.pdf, cached.created_at = key, pdf, now or utcnow()
    try:
        db.session.commit()
    except IntegrityError:  # another request stored the same receipt first: theirs is as good
        db.session.rollback()
    return pdf, False
