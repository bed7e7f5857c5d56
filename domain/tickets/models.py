"""Ticket workflow model: tickets, assignments, returns, extensions, replies, callbacks."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamps


class Channel(enum.StrEnum):
    HOTLINE_12345 = "HOTLINE_12345"
    DIGITAL_CITY_MANAGEMENT = "DIGITAL_CITY_MANAGEMENT"
    GRID = "GRID"
    VIDEO_SURVEILLANCE = "VIDEO_SURVEILLANCE"
    EARLY_WARNING = "EARLY_WARNING"
    PROVINCE_ORDER = "PROVINCE_ORDER"
    OTHER = "OTHER"


class OriginLevel(enum.StrEnum):
    PROVINCE = "PROVINCE"
    CITY = "CITY"


class Urgency(enum.StrEnum):
    NORMAL = "NORMAL"
    URGENT = "URGENT"
    SAFETY_CRITICAL = "SAFETY_CRITICAL"


class TicketStatus(enum.StrEnum):
    NEW = "NEW"  # received, not dispatched
    IN_PROGRESS = "IN_PROGRESS"  # dispatched; units working
    REPLIED = "REPLIED"  # every active assignment's reply accepted; callback due
    CLOSED = "CLOSED"  # callback recorded
    ARCHIVED = "ARCHIVED"  # read-only


class AssignmentRole(enum.StrEnum):
    LEAD = "LEAD"  # 主办
    CO = "CO"  # 协办


class AssignmentStatus(enum.StrEnum):
    DISPATCHED = "DISPATCHED"  # waiting for sign-for
    RETURN_REQUESTED = "RETURN_REQUESTED"
    HANDLING = "HANDLING"  # signed (or deemed accepted); reply being prepared
    REPLY_DRAFTED = "REPLY_DRAFTED"  # by a handler; needs the leader
    REPLY_APPROVED = "REPLY_APPROVED"  # by the leader; ready to submit
    REPLY_SUBMITTED = "REPLY_SUBMITTED"  # at the centre for review
    ACCEPTED = "ACCEPTED"  # reply accepted by the centre
    RETURNED = "RETURNED"  # return approved: not this unit's
    CLOSED = "CLOSED"  # ticket closed


class Decision(enum.StrEnum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class ReplyStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    SENT_BACK = "SENT_BACK"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


ticket_number_seq = Sequence("ticket_number_seq", metadata=Base.metadata)


class Category(Base):
    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("category.code"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str] = mapped_column(String(100), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")


class RoutingRule(Base):
    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), nullable=False)
    division_prefix: Mapped[str | None] = mapped_column(String(16))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, server_default="100")
    note: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")

    __table_args__ = (
        UniqueConstraint(
            "category_code", "division_prefix", "unit_id", postgresql_nulls_not_distinct=True
        ),
        Index("ix_routing_rule_category", "category_code"),
    )


class TimeLimitRule(Base):
    """Time limits per channel and urgency (§4(1): 根据不同来源渠道给定的时限)."""

    __tablename__ = "time_limit"

    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), primary_key=True)
    urgency: Mapped[Urgency] = mapped_column(_enum(Urgency, "urgency"), primary_key=True)
    sign_for_amount: Mapped[int] = mapped_column(Integer, nullable=False)
    sign_for_unit: Mapped[str] = mapped_column(String(16), nullable=False)
    handle_amount: Mapped[int] = mapped_column(Integer, nullable=False)
    handle_unit: Mapped[str] = mapped_column(String(16), nullable=False)
    return_window_amount: Mapped[int] = mapped_column(Integer, nullable=False)
    return_window_unit: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(300), nullable=False)


class CalendarDay(Base):
    """An administrator's ruling on one day (wins over the chinesecalendar data)."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    note: Mapped[str | None] = mapped_column(String(200))
    set_by: Mapped[str] = mapped_column(String(100), nullable=False)
    set_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Ticket(Timestamps, Base):
    """事件/工单: one request or complaint, from intake to archive."""

    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"), nullable=False)
    origin_level: Mapped[OriginLevel] = mapped_column(
        _enum(OriginLevel, "origin_level"), nullable=False
    )
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    address: Mapped[str | None] = mapped_column(String(300))
    division_code: Mapped[str | None] = mapped_column(String(16), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    urgency: Mapped[Urgency] = mapped_column(_enum(Urgency, "urgency"), nullable=False)
    complainant_name: Mapped[str | None] = mapped_column(String(100))
    complainant_phone: Mapped[str | None] = mapped_column(String(32))
    anonymous: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False, index=True)
    status: Mapped[TicketStatus] = mapped_column(
        _enum(TicketStatus, "ticket_status"), nullable=False, index=True
    )
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    actually_resolved: Mapped[bool | None] = mapped_column(Boolean)
    redo_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    demo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    version: Mapped[int] = mapped_column(nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("length(trim(title)) > 0", name="title_not_blank"),
        Index("ix_ticket_received_at", "received_at"),
        Index("ix_ticket_centre_status", "centre_code", "status", "id"),
    )


class Assignment(Timestamps, Base):
    """A ticket given to one unit as lead (主办) or co-unit (协办), with its deadlines."""

    __tablename__ = "assignment"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    role: Mapped[AssignmentRole] = mapped_column(
        _enum(AssignmentRole, "assignment_role"), nullable=False
    )
    # The centre that dispatched this assignment and reviews its reply: the ticket's centre at
    # the top, a lower centre for assignments it dispatched on after a referral (转办/下派).
    centre_code: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False, index=True)
    # The hop this assignment serves: the referral assignment one level up (None at the top).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id"), index=True)
    # Set when a meeting decision designated this unit (it may not return it, §5(3)5).
    meeting_decision_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[AssignmentStatus] = mapped_column(
        _enum(AssignmentStatus, "assignment_status"), nullable=False, index=True
    )
    dispatched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    dispatched_by: Mapped[str] = mapped_column(String(100), nullable=False)
    note: Mapped[str | None] = mapped_column(String(500))
    sign_by: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    return_by: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_by: Mapped[str | None] = mapped_column(String(100))
    signed_late: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    deemed_accepted: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # A rejected return is dispatched again and may not be returned again (§3(4)).
    return_locked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    return_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    extension_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    sent_back_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    redo_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    overdue: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_assignment_unit_status", "unit_id", "status", "id"),
        Index("ix_assignment_due", "status", "due_at"),
    )


class ReturnRequest(Base):
    """退回申请 (§3(4)): reason, basis, suggested unit, verifier; decided by the centre."""

    __tablename__ = "return_request"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id"), nullable=False, index=True
    )
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    basis: Mapped[str] = mapped_column(Text, nullable=False)
    suggested_unit: Mapped[str] = mapped_column(String(200), nullable=False)
    verifier_name: Mapped[str] = mapped_column(String(100), nullable=False)
    verifier_phone: Mapped[str] = mapped_column(String(32), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(100), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decision: Mapped[Decision | None] = mapped_column(_enum(Decision, "decision"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExtensionRequest(Base):
    """延期申请 (§3(4)): before the due time, with reason and proposed due."""

    __tablename__ = "extension_request"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id"), nullable=False, index=True
    )
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    proposed_due: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(100), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decision: Mapped[Decision | None] = mapped_column(_enum(Decision, "decision"))
    new_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Reply(Base):
    """答复: drafted by a handler, approved by the leader, submitted, reviewed (§3(6)(7), §4)."""

    __tablename__ = "reply"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id"), nullable=False, index=True
    )
    status: Mapped[ReplyStatus] = mapped_column(_enum(ReplyStatus, "reply_status"), nullable=False)
    handler_name: Mapped[str] = mapped_column(String(100), nullable=False)
    handler_phone: Mapped[str | None] = mapped_column(String(32))
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    communication: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    citizen_satisfied: Mapped[bool | None] = mapped_column(Boolean)
    unsatisfied_reasons: Mapped[str | None] = mapped_column(Text)
    documents: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default="[]")
    handling: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    lint: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default="[]")
    drafted_by: Mapped[str] = mapped_column(String(100), nullable=False)
    drafted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)


class Callback(Base):
    """回访 (§3(8)): satisfaction and whether the matter was actually resolved."""

    __tablename__ = "callback"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), nullable=False, index=True)
    satisfaction: Mapped[str] = mapped_column(String(32), nullable=False)
    actually_resolved: Mapped[bool] = mapped_column(Boolean, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PiiAccess(Base):
    """Each read of a complainant's name or phone in clear (who, when, which ticket)."""

    __tablename__ = "pii_access"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), nullable=False, index=True)
    subject: Mapped[str] = mapped_column(String(100), nullable=False)
    fields: Mapped[str] = mapped_column(String(100), nullable=False)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
