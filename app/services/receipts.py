"""The payment document (ЕПД): its data, the ГОСТ Р 56042-2014 payment QR code, the PDF and its cache."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime

import segno
from flask import render_template
from sqlalchemy import select

from app.access import owners_of
from app.extensions import db
from app.models import Premises, Statement, User
from app.models.base import utcnow
from app.models.billing import Charge, ReceiptPdf
from app.models.orgs import Organisation
from app.services import readings as readings_svc
from app.services.billing import charges_for
from app.services.errors import NotFound


def _clean(value: str | None, limit: int) -> str:
    """QR fields may not contain the separator; keep them within the standard's lengths."""
    return (value or "").replace("|", " ").strip()[:limit]


def payment_qr_text(*, organisation: Organisation, premises: Premises, statement: Statement,
                    payer: str | None) -> str:
    """ST00012 text of ГОСТ Р 56042-2014: required fields first, in order, then the housing fields."""
    fields = [
        ("Name", _clean(organisation.short_name, 160)),
        ("PersonalAcc", organisation.bank_account or ""),
        ("BankName", _clean(organisation.bank_name, 45)),
        ("BIC", organisation.bank_bic or ""),
        ("CorrespAcc", organisation.bank_corr_account or ""),
        ("PayeeINN", organisation.inn),
        ("KPP", organisation.kpp or ""),
    ]
    if statement.amount_due > 0:
        fields.append(("Sum", str(int((statement.amount_due * 100).to_integral_value()))))
    period = f"{statement.period:%m.%Y}"
    fields += [
        ("Purpose", _clean(f"Оплата ЖКУ за {period}, л/с {premises.account_number}", 210)),
        ("PersAcc", premises.account_number),
        ("PaymPeriod", period),
    ]
    if payer:
        fields.append(("LastName", _clean(payer.split()[0], 40)))
    fields.append(("Flat", _clean(premises.number, 10)))
    return "ST00012|" + "|".join(f"{k}={v}" for k, v in fields if v)


@dataclass
class ReceiptData:
    premises: Premises
    organisation: Organisation
    statement: Statement
    charges: list[Charge]
    payer: str
    owners: list[User]
    lines: list  # meter lines of the period
    qr_text: str
    recalculations: list[Charge] = field(default_factory=list)
    # Why the receipt carries no payment QR (the payee's details fail their checksums), else None
    qr_problem: str | None = None

    def digest(self) -> str:
        """A hash of everything printed: a cached PDF is valid while this does not change."""
        org = self.organisation
        payload = {
            "org": [org.name, org.short_name, org.inn, org.kpp, org.address, org.phones, org.email, org.site,
                    org.bank_name, org.bank_bic, org.bank_account, org.bank_corr_account],
            "premises": [self.premises.full_address, self.premises.account_number, str(self.premises.total_area),
                         self.premises.registered_residents, self.premises.actual_residents],
            "payer": self.payer,
            "statement": [str(x) for x in (self.statement.period, self.statement.opening_balance,
                                           self.statement.charged, self.statement.paid, self.statement.penalty,
                                           self.statement.amount_due, self.statement.due_date)],
            "charges": [[c.service.name, c.service.unit, str(c.volume), str(c.tariff), str(c.amount),
                         str(c.recalculation), c.recalculation_reason, str(c.benefit), str(c.total), c.note]
                        for c in self.charges],
            "readings": [[line.meter.id, line.meter.serial_number, str(line.previous_value),
                          str(line.reading.value) if line.reading else None] for line in self.lines],
            "template": TEMPLATE_VERSION,
        }
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


TEMPLATE_VERSION = "2026-11-25.2"  # bump when pdf/receipt.html changes: cached PDFs are then rebuilt


def statement_for(premises: Premises, period: date) -> Statement:
    statement = db.session.scalar(select(Statement).where(Statement.premises_id == premises.id,
                                                          Statement.period == period))
    if statement is None:
        raise NotFound("Квитанции за этот месяц нет")
    return statement


def receipt_data(premises: Premises, period: date) -> ReceiptData:
    statement = statement_for(premises, period)
    owners = owners_of(premises.id)
    payer = owners[0].full_name if owners else ""
    organisation = premises.building.organisation
    charges = charges_for(premises.id, period)
    lines = readings_svc.meter_lines(readings_svc.active_meters(premises), period)
    return ReceiptData(
        premises=premises, organisation=organisation, statement=statement, charges=charges, payer=payer,
        owners=owners, lines=lines,
        qr_text=payment_qr_text(organisation=organisation, premises=premises, statement=statement, payer=payer),
        recalculations=[c for c in charges if c.recalculation],
    )


def qr_png(text: str, *, scale: int = 6) -> bytes:
    """The payment QR as a PNG (to show on the phone, save or share into a bank app)."""
    import io

    buffer = io.BytesIO()
    segno.make(text, error="m", encoding="utf-8").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_svg_data_uri(text: str) -> str:
    return segno.make(text, error="m", encoding="utf-8").svg_data_uri(scale=3, border=2)


def render_receipts_html(items: list[ReceiptData]) -> str:
    """One HTML document with a receipt per page (one stylesheet, laid out once)."""
    return render_template("pdf/receipt.html", docs=[(d, qr_svg_data_uri(d.qr_text)) for d in items])


def _pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def receipt_pdf(premises: Premises, period: date, *, now: datetime | None = None) -> tuple[bytes, bool]:
    """The PDF and whether it came from the cache (same premises, period and data hash)."""
    data = receipt_data(premises, period)
    digest = data.digest()
    cached = db.session.scalar(select(ReceiptPdf).where(ReceiptPdf.premises_id == premises.id,
                                                        ReceiptPdf.period == period))
    if cached is not None and cached.data_hash == digest:
        return cached.pdf, True
    pdf = _pdf(render_receipts_html([data]))
    if cached is None:
        cached = ReceiptPdf(premises_id=premises.id, period=period)
        db.session.add(cached)
    cached.data_hash, cached.pdf, cached.created_at = digest, pdf, now or utcnow()
    db.session.commit()
    return pdf, False
