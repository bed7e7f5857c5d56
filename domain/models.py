"""Import every model module so the metadata knows all tables (alembic, tests)."""

from domain.analysis.models import TicketLink, TicketMatchKey
from domain.assessment.models import AssessmentRun, AttentionScore, ScoringScheme, UnitScore
from domain.assessment.notice_models import (
    AccountabilityReferral,
    Notice,
    NoticeTicket,
    NoticeUnit,
    ReferralTicket,
)
from domain.events import Event
from domain.idempotency import IdempotencyKey
from domain.partners.models import ApiClient
from domain.registry.models import Centre, Staff, Unit
from domain.supervision.models import (
    Meeting,
    MeetingDecision,
    MeetingDefaultParticipant,
    MeetingParticipant,
    SupervisionCase,
    SupervisionResponse,
    SupervisionTicket,
    SupervisionUnit,
)
from domain.tickets.models import (
    Assignment,
    CalendarDay,
    Callback,
    Category,
    ExtensionRequest,
    PiiAccess,
    Reply,
    ReturnRequest,
    RoutingRule,
    Ticket,
    TimeLimitRule,
)

__all__ = [
    "AccountabilityReferral",
    "ApiClient",
    "AssessmentRun",
    "Assignment",
    "AttentionScore",
    "CalendarDay",
    "Callback",
    "Category",
    "Centre",
    "Event",
    "ExtensionRequest",
    "IdempotencyKey",
    "Meeting",
    "MeetingDecision",
    "MeetingDefaultParticipant",
    "MeetingParticipant",
    "Notice",
    "NoticeTicket",
    "NoticeUnit",
    "PiiAccess",
    "ReferralTicket",
    "Reply",
    "ReturnRequest",
    "RoutingRule",
    "ScoringScheme",
    "Staff",
    "SupervisionCase",
    "SupervisionResponse",
    "SupervisionTicket",
    "SupervisionUnit",
    "Ticket",
    "TicketLink",
    "TicketMatchKey",
    "TimeLimitRule",
    "Unit",
    "UnitScore",
]
