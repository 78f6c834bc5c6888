"""Request id, one log line per request, security headers."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from aiohttp import web

log = logging.getLogger("preservation.http")
REQUEST_ID = web.RequestKey("request_id", str)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
}


def route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_log_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id", "")
    if not request_id or len(request_id) > 64 or not request_id.replace("-", "").isalnum():
        request_id = uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response
    finally:
        elapsed = time.perf_counter() - started
        observer = request.app.get(OBSERVER)
        if observer is not None:
            observer(request.method, route_name(request), status, elapsed)
        log.info(
            "request",
            extra={
                "action": "http.request",
                "request_id": request_id,
                "method": request.method,
                "route": route_name(request),
                "status": status,
                "ms": round(elapsed * 1000, 2),
            },
        )


OBSERVER = web.AppKey("http_observer", object)
