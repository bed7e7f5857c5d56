"""The assignment state machine and deadline rules (pure functions, no I/O).

Each action names the states it may start from; anything else is an ``InvalidTransition``
and changes nothing. Time rules (§3(4)): a return only within the return window (1 working day
from dispatch), and only once after a rejected return; an extension only before the due time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from domain.errors import DomainError, InvalidInput
from domain.tickets.models import AssignmentStatus as S


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class DeadlinePassed(DomainError):
    code = "DEADLINE_PASSED"


class ReplyIncomplete(DomainError):
    code = "REPLY_INCOMPLETE"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "the reply lacks required elements (§4(2)): " + ", ".join(missing), field="reply"
        )
        self.missing = missing


class ReplyHollow(DomainError):
    code = "REPLY_HOLLOW"

    def __init__(self, phrases: list[str]) -> None:
        super().__init__(
            "the reply contains hollow phrases that §4(5) forbids: " + "、".join(phrases),
            field="text",
        )
        self.phrases = phrases


class Action(enum.StrEnum):
    SIGN_FOR = "SIGN_FOR"
    REQUEST_RETURN = "REQUEST_RETURN"
    DECIDE_RETURN = "DECIDE_RETURN"
    REQUEST_EXTENSION = "REQUEST_EXTENSION"
    DECIDE_EXTENSION = "DECIDE_EXTENSION"
    DRAFT_REPLY = "DRAFT_REPLY"
    APPROVE_REPLY = "APPROVE_REPLY"
    SUBMIT_REPLY = "SUBMIT_REPLY"
    REVIEW_REPLY = "REVIEW_REPLY"
    REDO = "REDO"


# From which assignment states each action may start.
ALLOWED_FROM: dict[Action, frozenset[S]] = {
    Action.SIGN_FOR: frozenset({S.DISPATCHED}),
    # §3(3)-(4): sign for, verify with the citizen, and return within the window if not yours.
    Action.REQUEST_RETURN: frozenset({S.DISPATCHED, S.HANDLING}),
    Action.DECIDE_RETURN: frozenset({S.RETURN_REQUESTED}),
    Action.REQUEST_EXTENSION: frozenset({S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED}),
    Action.DECIDE_EXTENSION: frozenset(
        {S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED, S.REPLY_SUBMITTED}
    ),
    Action.DRAFT_REPLY: frozenset({S.HANDLING, S.REPLY_DRAFTED, S.REPLY_APPROVED}),
    Action.APPROVE_REPLY: frozenset({S.REPLY_DRAFTED}),
    Action.SUBMIT_REPLY: frozenset({S.REPLY_APPROVED}),
    Action.REVIEW_REPLY: frozenset({S.REPLY_SUBMITTED}),
    Action.REDO: frozenset({S.ACCEPTED}),
}

ACTIVE = frozenset(
    {
        S.DISPATCHED,
        S.RETURN_REQUESTED,
        S.HANDLING,
        S.REPLY_DRAFTED,
        S.REPLY_APPROVED,
        S.REPLY_SUBMITTED,
        S.ACCEPTED,
    }
)


def require_state(action: Action, status: S) -> None:
    if status not in ALLOWED_FROM[action]:
        raise InvalidTransition(
            f"cannot {action.value.lower().replace('_', ' ')} an assignment that is "
            f"{status.value.lower().replace('_', ' ')}"
        )


def check_return(
    *,
    status: S,
    now: datetime,
    return_by: datetime,
    return_locked: bool,
    deemed: bool,
    by_meeting: bool = False,
) -> None:
    """§3(4): only within 1 working day of dispatch; a re-dispatched rejection is final, and so
    is a unit designated by a joint or special meeting (§5(3)4–5)."""
    require_state(Action.REQUEST_RETURN, status)
    if by_meeting:
        raise InvalidTransition(
            "a meeting designated this unit to handle the ticket: it may not be returned (§5(3))"
        )
    if return_locked:
        raise InvalidTransition(
            "this assignment was dispatched again after a rejected return and may not be "
            "returned again (§3(4))"
        )
    if deemed or now > return_by:
        raise DeadlinePassed(
            "the return window (1 working day from dispatch) has passed: the assignment is "
            "deemed accepted (§3(4))"
        )


def check_extension(
    *, status: S, now: datetime, due_at: datetime, proposed_due: datetime, pending: bool
) -> None:
    """§3(4): an extension is asked for within the handling time limit, with a later due."""
    require_state(Action.REQUEST_EXTENSION, status)
    if pending:
        raise InvalidTransition("an extension request is already waiting for a decision")
    if now >= due_at:
        raise DeadlinePassed("the due time has passed: extensions must be asked for before it")
    if proposed_due <= due_at:
        raise InvalidInput(
            "the proposed due time must be after the current one", field="proposedDue"
        )


def is_late(now: datetime, deadline: datetime) -> bool:
    return now > deadline


class BreachRisk(enum.StrEnum):
    NONE = "NONE"  # finished, nothing to breach
    LOW = "LOW"
    MEDIUM = "MEDIUM"  # less than half the time left
    HIGH = "HIGH"  # less than a quarter left
    BREACHED = "BREACHED"


@dataclass(frozen=True)
class DeadlineView:
    remaining_seconds: int | None
    risk: BreachRisk


def deadline_view(
    *, now: datetime, start: datetime, due: datetime | None, finished: bool
) -> DeadlineView:
    """Time left and breach risk, from the share of the allowed time still remaining."""
    if due is None or finished:
        return DeadlineView(None, BreachRisk.NONE)
    remaining = (due - now).total_seconds()
    if remaining < 0:
        return DeadlineView(int(remaining), BreachRisk.BREACHED)
    total = max((due - start).total_seconds(), 1.0)
    share = remaining / total
    risk = BreachRisk.HIGH if share < 0.25 else BreachRisk.MEDIUM if share < 0.5 else BreachRisk.LOW
    return DeadlineView(int(remaining), risk)


def mask_phone(phone: str | None) -> str | None:
    """138****1234: keep the first three and last four digits."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """张** : the family name and one star per remaining character."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)
