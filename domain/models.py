"""Import every model module so the metadata knows all tables (alembic, tests)."""

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
    "ApiClient",
    "Assignment",
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
    "PiiAccess",
    "Reply",
    "ReturnRequest",
    "RoutingRule",
    "Staff",
    "SupervisionCase",
    "SupervisionResponse",
    "SupervisionTicket",
    "SupervisionUnit",
    "Ticket",
    "TimeLimitRule",
    "Unit",
]
