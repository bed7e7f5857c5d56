"""Expected domain failures. The API maps each to a typed GraphQL error; none leak personal data."""

from __future__ import annotations


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """Also what a caller gets for an object outside its scope: refusal looks like absence."""

    code = "NOT_FOUND"


class NotPermitted(DomainError):
    """For actions on objects the caller may see but not change (e.g. read-down scope)."""

    code = "NOT_PERMITTED"


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class DuplicateName(DomainError):
    code = "DUPLICATE_NAME"


class Conflict(DomainError):
    """A concurrent change won; retry with fresh data."""

    code = "CONFLICT"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
