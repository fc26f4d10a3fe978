"""ГИС ЖКХ identifiers printed on the ЕПД and put into its QR: the payment document identifier (ИПД), built
from the premises' единый лицевой счёт (ЕЛС) and the period.

Structure (Приказ Минкомсвязи России № 589, Минстроя России № 944/пр от 28.12.2015 — the identifiers of the
ГИС ЖКХ; see docs/receipts.md, "ГИС ЖКХ identifiers", for the sources and what is still to verify):
- ЕЛС: 10 characters, digits and capital letters, assigned by the ГИС ЖКХ to the payer of a premises;
- ИЖКУ: ЕЛС + «-» + a two-digit number of the service provider's account (13 characters, e.g. 75АА533315-01);
- ИПД: 18 characters — ЕЛС (1–10), «-» and the two-digit number of the payment document in the month (11–13),
  «-» and the month and year of the period as ММГГ (14–18): 75АА533315-01-1126.

The ГИС ЖКХ itself confirms an ИПД when the document is posted there; one received back from it (or imported)
is kept in Statement.payment_document_id and wins over the computed one.
"""

import re
from datetime import date

from app.models import Premises

ELS_RE = re.compile(r"^[0-9A-ZА-ЯЁ]{10}$")
# The portal issues one ЕПД a month for a premises: its number within the month is 01.
DOCUMENT_NUMBER = 1


def normalise_els(raw: str | None) -> str | None:
    """The ЕЛС as printed (upper case, no spaces), or None when it is missing or not 10 letters/digits."""
    els = re.sub(r"\s", "", raw or "").upper()
    return els if ELS_RE.match(els) else None


def payment_document_id(*, premises: Premises, period: date, number: int = DOCUMENT_NUMBER) -> str | None:
    """The ИПД of the premises' receipt for the period, or None when the premises has no (valid) ЕЛС."""
    els = normalise_els(premises.els)
    if els is None:
        return None
    if not 1 <= number <= 99:
        raise ValueError("the payment document's number in the month is 01–99")
    return f"{els}-{number:02d}-{period:%m%y}"
