"""Typed errors in mutation payloads: expected domain failures are data, not exceptions."""

from __future__ import annotations

import strawberry

from domain import errors as de
from domain.assessment.service import AssessmentPublished
from domain.calendar import CalendarNotCovered
from domain.tickets import workflow as wf


@strawberry.interface(description="An expected failure of a mutation; nothing was changed.")
class UserError:
    code: str
    message: str
    field: str | None


@strawberry.type(description="The object does not exist, or is not yours to see or change.")
class NotFoundError(UserError):
    pass


@strawberry.type(description="You may see this object but not do this to it.")
class NotPermittedError(UserError):
    pass


@strawberry.type(description="The input is invalid (empty, malformed or out of range).")
class InvalidInputError(UserError):
    pass


@strawberry.type(description="The name, code or username is already taken.")
class DuplicateNameError(UserError):
    pass


@strawberry.type(description="Someone else changed the object first; reload and retry.")
class ConflictError(UserError):
    pass


@strawberry.type(description="Wrong username or password, or no valid token.")
class UnauthenticatedError(UserError):
    pass


@strawberry.type(description="The object is not in a state that allows this action.")
class InvalidTransitionError(UserError):
    pass


@strawberry.type(description="The time limit for this action has passed.")
class DeadlinePassedError(UserError):
    pass


@strawberry.type(description="The reply lacks elements required by §4(2).")
class ReplyIncompleteError(UserError):
    missing: list[str]


@strawberry.type(description="The reply contains hollow phrases forbidden by §4(5).")
class ReplyHollowError(UserError):
    phrases: list[str]


@strawberry.type(description="No working-day data for that year: an administrator must enter it.")
class CalendarNotCoveredError(UserError):
    year: int


@strawberry.type(description="The month's assessment is published (frozen): it no longer changes.")
class AssessmentPublishedError(UserError):
    pass


_BY_CLASS: dict[type[de.DomainError], type[UserError]] = {
    de.NotFound: NotFoundError,
    de.NotPermitted: NotPermittedError,
    de.InvalidInput: InvalidInputError,
    de.DuplicateName: DuplicateNameError,
    de.Conflict: ConflictError,
    de.Unauthenticated: UnauthenticatedError,
}

ERROR_TYPES = (
    *_BY_CLASS.values(),
    InvalidTransitionError,
    DeadlinePassedError,
    ReplyIncompleteError,
    ReplyHollowError,
    CalendarNotCoveredError,
    AssessmentPublishedError,
)


def to_user_error(exc: de.DomainError) -> UserError:
    code, message, field = exc.code, exc.message, exc.field
    if isinstance(exc, wf.ReplyIncomplete):
        return ReplyIncompleteError(code=code, message=message, field=field, missing=exc.missing)
    if isinstance(exc, wf.ReplyHollow):
        return ReplyHollowError(code=code, message=message, field=field, phrases=exc.phrases)
    if isinstance(exc, AssessmentPublished):
        return AssessmentPublishedError(code=code, message=message, field=field)
    if isinstance(exc, CalendarNotCovered):
        return CalendarNotCoveredError(code=code, message=message, field=field, year=exc.year)
    if isinstance(exc, wf.InvalidTransition):
        return InvalidTransitionError(code=code, message=message, field=field)
    if isinstance(exc, wf.DeadlinePassed):
        return DeadlinePassedError(code=code, message=message, field=field)
    cls = _BY_CLASS.get(type(exc), InvalidInputError)
    return cls(code=code, message=message, field=field)
