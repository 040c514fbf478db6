"""The errors services raise for input they refuse, each with the HTTP status that fits, so
the API and the pages report them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from runtimes.errors import UsageError, XcargoError

Checked = TypeVar("Checked")
Value = TypeVar("Value")


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint

    @classmethod
    def from_xcargo(cls, error: XcargoError, *, field: str | None = None) -> ServiceError:
        return cls(error.message, field=field, hint=error.hint)


class InvalidInput(ServiceError):
    status = 400


class NotAllowed(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Unavailable(ServiceError):
    status = 503


def checked(validator: Callable[[Value], Checked], value: Value, field: str) -> Checked:
    """Run one of the validators the CLI uses, its UsageError becoming this field's error."""
    try:
        return validator(value)
    except UsageError as error:
        raise InvalidInput.from_xcargo(error, field=field) from None
