"""Supervision cases and meetings (regulation §5)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamps


class Grounds(enum.StrEnum):
    """§5(2): the eight situations a centre supervises."""

    SHIRKING_OR_NOT_IMPLEMENTING = "SHIRKING_OR_NOT_IMPLEMENTING"  # 1 无理由推诿…敷衍塞责
    REPLY_INCONSISTENT_OR_FALSE = "REPLY_INCONSISTENT_OR_FALSE"  # 2 弄虚作假、答非所问
    BUREAUCRATIC_OR_HOSTILE = "BUREAUCRATIC_OR_HOSTILE"  # 3 官话套话空话，情绪、言语过激
    DISPUTED_RESPONSIBILITY = "DISPUTED_RESPONSIBILITY"  # 4 职责/地域划分不清推诿扯皮
    LATE_WITHOUT_REASON = "LATE_WITHOUT_REASON"  # 5 未按时反馈致多次催办
    UNREACHABLE_OUT_OF_HOURS = "UNREACHABLE_OUT_OF_HOURS"  # 6 工作时间外长时间无法联系
    CURT_REPLY_PHONE_ONLY = "CURT_REPLY_PHONE_ONLY"  # 7 简单粗暴，只留电话
    OTHER = "OTHER"  # 8 其他需要督办的事项


class SupervisionForm(enum.StrEnum):
    """§5(3): the six forms of supervision."""

    DAILY_ONLINE = "DAILY_ONLINE"  # 日常工作督办
    ONSITE_COORDINATION = "ONSITE_COORDINATION"  # 现场协调督办
    MEDIA = "MEDIA"  # 联合媒体督办
    SPECIAL_MEETING = "SPECIAL_MEETING"  # 专项会议督办
    JOINT_MEETING = "JOINT_MEETING"  # 联席会议督办
    SPECIAL_REPORT = "SPECIAL_REPORT"  # 专报批示督办


class SupervisionStatus(enum.StrEnum):
    OPEN = "OPEN"
    RESPONDED = "RESPONDED"  # every target unit has responded
    CLOSED = "CLOSED"


class SupervisionOutcome(enum.StrEnum):
    RESOLVED = "RESOLVED"
    ESCALATED = "ESCALATED"
    REFERRED_FOR_ACCOUNTABILITY = "REFERRED_FOR_ACCOUNTABILITY"


class CaseUnitRole(enum.StrEnum):
    LEAD = "LEAD"  # 主办 (multi-unit cases, §5 preamble)
    CO = "CO"  # 协办
    TARGET = "TARGET"  # a supervised unit without a lead/co designation


class MeetingKind(enum.StrEnum):
    JOINT = "JOINT"  # 联席会议 (convened by the city centre)
    SPECIAL = "SPECIAL"  # 专项会议


class Principle(enum.StrEnum):
    """Principles by which a meeting settles responsibility (§5(3)2 and 5)."""

    WHO_ADMINISTERS = "WHO_ADMINISTERS"  # 谁主管、谁负责
    WHO_APPROVES = "WHO_APPROVES"  # 谁审批、谁负责
    WHO_BENEFITS = "WHO_BENEFITS"  # 谁受益、谁负责
    STATUTORY = "STATUTORY"  # 法定
    NEGOTIATED = "NEGOTIATED"  # 商定
    DESIGNATED = "DESIGNATED"  # 指定


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=40, validate_strings=True)


class SupervisionCase(Timestamps, Base):
    __tablename__ = "supervision_case"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False, index=True)
    grounds: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    form: Mapped[SupervisionForm] = mapped_column(
        _enum(SupervisionForm, "supervision_form"), nullable=False
    )
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SupervisionStatus] = mapped_column(
        _enum(SupervisionStatus, "supervision_status"), nullable=False
    )
    outcome: Mapped[SupervisionOutcome | None] = mapped_column(
        _enum(SupervisionOutcome, "supervision_outcome")
    )
    outcome_note: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(100), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # §5(3)6 专报: escalated as a special report to the centre above, which then reads it.
    escalated_to: Mapped[str | None] = mapped_column(ForeignKey("centre.code"))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (Index("ix_supervision_case_status_deadline", "status", "deadline"),)


class SupervisionUnit(Base):
    __tablename__ = "supervision_unit"

    case_id: Mapped[int] = mapped_column(ForeignKey("supervision_case.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True, index=True)
    role: Mapped[CaseUnitRole] = mapped_column(
        _enum(CaseUnitRole, "case_unit_role"), nullable=False
    )


class SupervisionTicket(Base):
    __tablename__ = "supervision_ticket"

    case_id: Mapped[int] = mapped_column(ForeignKey("supervision_case.id"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True, index=True)


class SupervisionResponse(Base):
    __tablename__ = "supervision_response"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("supervision_case.id"), nullable=False, index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    done_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    responded_by: Mapped[str] = mapped_column(String(100), nullable=False)
    responded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Meeting(Timestamps, Base):
    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[MeetingKind] = mapped_column(_enum(MeetingKind, "meeting_kind"), nullable=False)
    convened_by: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False, index=True)
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    agenda: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    demo: Mapped[bool] = mapped_column(nullable=False, server_default="false")


class MeetingParticipant(Base):
    __tablename__ = "meeting_participant"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True, index=True)


class MeetingDefaultParticipant(Base):
    """Units invited to every meeting of a kind by default (joint: 纪委监委, 编办, 司法局)."""

    __tablename__ = "meeting_default_participant"

    kind: Mapped[MeetingKind] = mapped_column(_enum(MeetingKind, "meeting_kind"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)


class MeetingDecision(Base):
    __tablename__ = "meeting_decision"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), nullable=False, index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), nullable=False, index=True)
    principle: Mapped[Principle] = mapped_column(_enum(Principle, "principle"), nullable=False)
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False)
    co_unit_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), nullable=False)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(100), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (UniqueConstraint("meeting_id", "ticket_id"),)
