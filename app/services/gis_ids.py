"""ГИС ЖКХ identifiers printed on the ЕПД and put into its QR: the payment document identifier (ИПД), built
from the premises' единый лицевой счёт (ЕЛС) and the period. Filled in by the receipts work (issue #11)."""

from datetime import date

from app.models import Premises


def payment_document_id(*, premises: Premises, period: date) -> str | None:
    """The ИПД of the premises' receipt for the period, or None when the premises has no ЕЛС."""
    return None
