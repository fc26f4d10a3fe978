"""The printable credential letter (PDF via WeasyPrint)."""

from datetime import datetime

from flask import render_template

from app.models import User


def credential_letter_pdf(
    *, user: User, temporary_password: str, expires_at: datetime | None, portal_url: str
) -> bytes:
    from weasyprint import HTML  # imported lazily: heavy, and only needed here

    html = render_template(
        "pdf/credential_letter.html",
        user=user,
        premises_list=user.premises_list,
        temporary_password=temporary_password,
        expires_at=expires_at,
        portal_url=portal_url,
    )
    return HTML(string=html, base_url=portal_url).write_pdf()
