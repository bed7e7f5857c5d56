"""Typed errors in mutation payloads: expected domain failures are data, not exceptions."""

from __future__ import annotations

import strawberry

from domain import errors as de


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


_BY_CLASS: dict[type[de.DomainError], type[UserError]] = {
    de.NotFound: NotFoundError,
    de.NotPermitted: NotPermittedError,
    de.InvalidInput: InvalidInputError,
    de.DuplicateName: DuplicateNameError,
    de.Conflict: ConflictError,
    de.Unauthenticated: UnauthenticatedError,
}

ERROR_TYPES = tuple(_BY_CLASS.values())


def to_user_error(exc: de.DomainError) -> UserError:
    cls = _BY_CLASS.get(type(exc), InvalidInputError)
    return cls(code=exc.code, message=exc.message, field=exc.field)
