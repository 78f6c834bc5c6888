"""The error hierarchy. Each error carries its HTTP status; one middleware maps it to
application/problem+json and the CLI maps it to one line on stderr and a non-zero exit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class PreservationError(Exception):
    """The request could not be carried out."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None):
        self.detail = detail or (self.__doc__ or self.title).strip()
        self.errors: list[FieldError] = list(errors or [])
        super().__init__(self.detail)


class BadRequest(PreservationError):
    """The request body is not well-formed."""

    status = 400
    title = "Bad request"


class Unauthorized(PreservationError):
    """A valid bearer token is required."""

    status = 401
    title = "Unauthorized"


class Forbidden(PreservationError):
    """Your role may not do this."""

    status = 403
    title = "Forbidden"


class NotFound(PreservationError):
    """No such resource."""

    status = 404
    title = "Not found"


class Conflict(PreservationError):
    """This action is not allowed in the current state."""

    status = 409
    title = "Conflict"


class PayloadTooLarge(PreservationError):
    """The request body is too large."""

    status = 413
    title = "Payload too large"


class RequestTimeout(PreservationError):
    """The request did not arrive in time."""

    status = 408
    title = "Request timeout"


class TooManyRequests(PreservationError):
    """Too many attempts; try again later."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1):
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(PreservationError):
    """A part of the service is unavailable; try again shortly."""

    status = 503
    title = "Service unavailable"


class InvalidInput(PreservationError):
    """The content is invalid."""

    status = 422
    title = "Invalid input"

    def __init__(
        self,
        field: str | None = None,
        reason: str | None = None,
        *,
        errors: list[FieldError] | None = None,
    ):
        errs = list(errors or [])
        if field is not None:
            errs.insert(0, FieldError(field=field, message=reason or "is invalid"))
        detail = "; ".join(f"{e.field}: {e.message}" for e in errs) or None
        super().__init__(detail, errors=errs)

    @property
    def field(self) -> str | None:
        return self.errors[0].field if self.errors else None


class AmbiguousLocalTime(InvalidInput):
    """A local time falls in a daylight-saving change: it means two instants, or none."""

    def __init__(self, field: str, reason: str, candidates: list[datetime]):
        self.candidates = candidates
        listed = ", ".join(c.isoformat() for c in candidates) or "none"
        super().__init__(field, f"{reason}; candidate instants: {listed}")


class SettingsError(Exception):
    """A setting is unknown or malformed; start-up stops and names it."""
