"""application/problem+json (RFC 9457) answers and the error middleware that produces all of them."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from preservation.errors import FieldError, InvalidInput, PreservationError, TooManyRequests

log = logging.getLogger("preservation.web")
PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": f"https://preservation.invalid/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [e.as_dict() for e in errors or []],
    }
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type=PROBLEM,
        headers=headers,
    )


def field_path(loc: tuple[int | str, ...]) -> str:
    """("identifiers", 0, "at") -> "identifiers[0].at"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def from_validation(exc: ValidationError, *, prefix: str = "") -> InvalidInput:
    errors = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("body",))
        path = field_path(loc)
        if prefix:
            path = f"{prefix}.{path}" if path != "body" else prefix
        message = str(err.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ")
        errors.append(FieldError(field=path, message=message))
    return InvalidInput(errors=errors)


def from_error(exc: PreservationError) -> web.Response:
    headers = None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(exc.status, exc.title, exc.detail, errors=exc.errors, headers=headers)


_HTTP_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except PreservationError as exc:
        return from_error(exc)
    except ValidationError as exc:
        return from_error(from_validation(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        title = _HTTP_TITLES.get(exc.status, exc.reason)
        detail = {
            404: f"no such resource: {request.path}",
            405: f"method {request.method} is not allowed on {request.path}",
            413: "the request body is too large",
        }.get(exc.status, exc.text or exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return problem(exc.status, title, detail, headers=headers or None)
    except Exception:
        # The traceback is logged; the body, the token and the internals are not.
        log.exception(
            "unexpected error",
            extra={"action": "http.error", "method": request.method, "route": _route(request)},
        )
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"
