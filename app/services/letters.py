"""The printable credential letters (PDF via WeasyPrint): one, or a whole building's in one document.

Every letter is one A4 page of the same HTML document (one stylesheet, one render), with a QR code to the login
page. A letter holds a temporary password: it is built only in the request that issued the password, streamed
to the browser and never stored.
"""

from dataclasses import dataclass, field
from datetime import datetime

import segno
from flask import render_template

from app.models import Premises, User

LOGIN_PATH = "/auth/login"


@dataclass(frozen=True)
class Letter:
    full_name: str
    login: str
    temporary_password: str
    expires_at: datetime | None
    premises: list[Premises] = field(default_factory=list)

    @property
    def organisation(self):
        return self.premises[0].building.organisation if self.premises else None


def login_url(portal_url: str) -> str:
    return portal_url.rstrip("/") + LOGIN_PATH


def login_qr(portal_url: str) -> str:
    """The QR code of the login page as a PNG data URI (about 230 dpi at 36 mm). Every letter shows the same
    image, which the PDF embeds once; an SVG would be drawn again on every page (measured: ~10 % slower)."""
    return segno.make(login_url(portal_url), error="m").png_data_uri(scale=10, border=2)


def credential_letters_pdf(*, letters: list[Letter], portal_url: str) -> bytes:
    """One PDF, one page per letter."""
    from weasyprint import HTML  # imported lazily: heavy, and only needed here

    html = render_template(
        "pdf/credential_letter.html",
        letters=letters,
        portal_url=portal_url,
        login_url=login_url(portal_url),
        qr=login_qr(portal_url),
    )
    return HTML(string=html, base_url=portal_url).write_pdf()


def credential_letter_pdf(
    *, user: User, temporary_password: str, expires_at: datetime | None, portal_url: str
) -> bytes:
    letter = Letter(full_name=user.full_name, login=user.login, temporary_password=temporary_password,
                    expires_at=expires_at, premises=user.premises_list)
    return credential_letters_pdf(letters=[letter], portal_url=portal_url)
