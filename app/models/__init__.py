"""Domain models, one module per domain."""

from app.models.appeals import (
    Appeal,
    AppealCategory,
    AppealCounter,
    AppealEvent,
    AppealPhoto,
    Question,
    QuestionMessage,
)
from app.models.audit import AuditLog, ConsentRecord
from app.models.billing import (
    Charge,
    Instalment,
    KeyRate,
    OpeningBalance,
    Payment,
    PenaltyRule,
    ReceiptBatch,
    ReceiptPdf,
    Service,
    Statement,
    Tariff,
    UnmatchedPayment,
)
from app.models.housing import Building, CouncilMembership, OwnerRecord, Ownership, Premises, building_suppliers
from app.models.imports import ReadingImport, TabularImport
from app.models.links import LinkStatus, OwnershipLinkRequest
from app.models.messaging import (
    Announcement,
    AnnouncementReport,
    Notice,
    NoticeRead,
    NoticeRevision,
    NoticeTarget,
    OutboxMessage,
)
from app.models.metering import Meter, Reading, ReadingRevision, ReadingSubmission
from app.models.orgs import Organisation, StaffMembership
from app.models.people import User
from app.models.security import RecoveryCode, UserSession, UserTotp

__all__ = [
    "UnmatchedPayment",
    "PenaltyRule",
    "KeyRate",
    "Instalment",
    "Appeal",
    "AppealCategory",
    "AppealCounter",
    "AppealEvent",
    "AppealPhoto",
    "Question",
    "QuestionMessage",
    "Announcement",
    "AnnouncementReport",
    "Notice",
    "OwnerRecord",
    "NoticeRead",
    "NoticeRevision",
    "NoticeTarget",
    "Charge",
    "OpeningBalance",
    "Payment",
    "ReceiptBatch",
    "ReceiptPdf",
    "Service",
    "Statement",
    "Tariff",
    "AuditLog",
    "Building",
    "ConsentRecord",
    "Meter",
    "Reading",
    "ReadingImport",
    "TabularImport",
    "ReadingRevision",
    "ReadingSubmission",
    "CouncilMembership",
    "Organisation",
    "OutboxMessage",
    "LinkStatus",
    "Ownership",
    "OwnershipLinkRequest",
    "Premises",
    "StaffMembership",
    "User",
    "UserSession",
    "UserTotp",
    "RecoveryCode",
    "building_suppliers",
]
