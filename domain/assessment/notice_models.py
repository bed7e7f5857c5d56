"""Notices (通报) and accountability referrals (移送/追责), regulation §7.

Also the indexes the analysis queries (hotspots, cockpit; §3(10), §7(1)) need on the ticket and
assignment tables: they are declared here, next to the migration that creates them (0006), so
the workflow's own models stay as they were.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamps
from domain.supervision.models import SupervisionCase
from domain.tickets.models import Assignment, Ticket


class NoticeKind(enum.StrEnum):
    """§7(1) 周报、专报 of typical cases; §7(3)1 the monthly ranking (bottom three)."""

    WEEKLY = "WEEKLY"  # 周报
    SPECIAL = "SPECIAL"  # 专报
    MONTHLY_RANKING = "MONTHLY_RANKING"  # 月度考核排名通报


class AccountabilityGround(enum.StrEnum):
    """§7(3): the eleven situations in which a unit or its staff are named (通报) and, where
    discipline or law is broken, referred to the discipline commission (纪检监察机关)."""

    BOTTOM_THREE_ANNUAL = "BOTTOM_THREE_ANNUAL"  # 1 年度考核综合得分排名后3位
    PASSIVE_OR_OVERDUE_AFTER_REMINDER = "PASSIVE_OR_OVERDUE_AFTER_REMINDER"  # 2 催办仍超时
    MISCONDUCT_TOWARDS_PUBLIC = "MISCONDUCT_TOWARDS_PUBLIC"  # 3 违反群众纪律，态度恶劣
    REPEATED_OR_ESCALATED_PETITIONS = "REPEATED_OR_ESCALATED_PETITIONS"  # 4 致使重复/越级上访
    DERELICTION_OF_DUTY = "DERELICTION_OF_DUTY"  # 5 不负责任、渎职失职
    ABUSE_OF_POWER_FAVOURITISM = "ABUSE_OF_POWER_FAVOURITISM"  # 6 以权谋私、徇私舞弊
    LEAK_LEADING_TO_RETALIATION = "LEAK_LEADING_TO_RETALIATION"  # 7 失密泄密致群众受打击报复
    MEDIA_EXPOSURE = "MEDIA_EXPOSURE"  # 8 负面典型案例被新闻媒体曝光
    POLITICAL_ERROR_IN_REPLY = "POLITICAL_ERROR_IN_REPLY"  # 9 回复存在严重政治问题形成舆情
    CRITICISED_BY_LEADERS = "CRITICISED_BY_LEADERS"  # 10 被党委政府领导批评要求整改
    OTHER = "OTHER"  # 11 其他需要问责或处分的情形


class ReferralStatus(enum.StrEnum):
    REFERRED = "REFERRED"  # sent to the discipline commission, no outcome yet
    CONCLUDED = "CONCLUDED"  # the commission's outcome recorded


class AccountabilityOutcome(enum.StrEnum):
    """What the discipline commission decided (recorded by the referring centre)."""

    NO_VIOLATION = "NO_VIOLATION"  # 不予追究 / 查无实据
    ADMONISHED = "ADMONISHED"  # 约谈、批评教育、诫勉 (§7(2) 约谈)
    NOTIFIED_CRITICISM = "NOTIFIED_CRITICISM"  # 通报批评
    DISCIPLINARY_ACTION = "DISCIPLINARY_ACTION"  # 党纪政务处分
    TRANSFERRED_TO_JUDICIARY = "TRANSFERRED_TO_JUDICIARY"  # 移送司法机关
    OTHER = "OTHER"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=40, validate_strings=True)


class Notice(Timestamps, Base):
    """通报: a centre's weekly or special report of typical cases, or its monthly ranking."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False)
    kind: Mapped[NoticeKind] = mapped_column(_enum(NoticeKind, "notice_kind"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    published_by: Mapped[str] = mapped_column(String(100), nullable=False)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    demo: Mapped[bool] = mapped_column(nullable=False, server_default="false")

    __table_args__ = (Index("ix_notice_centre_published", "centre_code", "published_at", "id"),)


class NoticeTicket(Base):
    __tablename__ = "notice_ticket"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True, index=True)


class NoticeUnit(Base):
    __tablename__ = "notice_unit"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True, index=True)


class AccountabilityReferral(Timestamps, Base):
    """移送 (§7(2)) of a member unit (and optionally one of its staff) to the discipline
    commission on the grounds of §7(3), and the commission's later outcome."""

    __tablename__ = "accountability_referral"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    centre_code: Mapped[str] = mapped_column(ForeignKey("centre.code"), nullable=False)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    grounds: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[ReferralStatus] = mapped_column(
        _enum(ReferralStatus, "referral_status"), nullable=False
    )
    referred_by: Mapped[str] = mapped_column(String(100), nullable=False)
    referred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    outcome: Mapped[AccountabilityOutcome | None] = mapped_column(
        _enum(AccountabilityOutcome, "accountability_outcome")
    )
    outcome_note: Mapped[str | None] = mapped_column(Text)
    outcome_by: Mapped[str | None] = mapped_column(String(100))
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_accountability_referral_centre_referred", "centre_code", "referred_at", "id"),
    )


class ReferralTicket(Base):
    __tablename__ = "accountability_ticket"

    referral_id: Mapped[int] = mapped_column(
        ForeignKey("accountability_referral.id"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True, index=True)


# ---- indexes for the analysis read side (hotspots, cockpit) ----------------------------------
# A centre's intake over a period: ticket rows by (centre, received_at), carrying the columns the
# aggregates read so the planner can answer from the index alone.
ix_ticket_centre_received = Index(
    "ix_ticket_centre_received",
    Ticket.centre_code,
    Ticket.received_at,
    postgresql_include=[
        "category_code",
        "division_code",
        "status",
        "satisfaction",
        "actually_resolved",
    ],
)
# The assignments a centre dispatched over a period (on-time, bottom units).
ix_assignment_centre_dispatched = Index(
    "ix_assignment_centre_dispatched",
    Assignment.centre_code,
    Assignment.dispatched_at,
    postgresql_include=["unit_id", "status", "due_at", "replied_at"],
)
# A centre's open supervision cases.
ix_supervision_case_centre_status = Index(
    "ix_supervision_case_centre_status", SupervisionCase.centre_code, SupervisionCase.status
)

__all__ = [
    "AccountabilityGround",
    "AccountabilityOutcome",
    "AccountabilityReferral",
    "Notice",
    "NoticeKind",
    "NoticeTicket",
    "NoticeUnit",
    "ReferralStatus",
    "ReferralTicket",
    "ix_assignment_centre_dispatched",
    "ix_supervision_case_centre_status",
    "ix_ticket_centre_received",
]
