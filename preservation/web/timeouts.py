"""Slow clients (slow-loris): a request's headers and its body must arrive in bounded time.

- Headers: aiohttp closes a connection whose request headers are not complete within its
  keep-alive timeout of opening (or of the previous answer), so `serve` runs with
  ``keepalive_timeout = header_timeout_seconds`` (``server_options``). Idle keep-alive
  connections close after the same time.
- Body: the middleware reads the body, up to ``max_body_bytes``, within
  ``body_timeout_seconds``; a body that trickles in slower is answered 408 and the connection
  closed. Handlers then read the body from memory.

Behind nginx, its ``client_header_timeout`` and ``client_body_timeout`` do the same at the edge
(docs/nginx.conf.example)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from preservation.errors import RequestTimeout
from preservation.settings import Settings
from preservation.web.keys import SETTINGS
from preservation.web.problem import from_error


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of aiohttp's server (web.run_app, AppRunner, TestServer)."""
    return {"keepalive_timeout": settings.header_timeout_seconds}


@web.middleware
async def body_timeout_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.body_exists and not request.content_type.startswith("multipart/"):
        seconds = request.app[SETTINGS].body_timeout_seconds
        try:
            async with asyncio.timeout(seconds):
                await request.read()  # kept by aiohttp: handlers read it again from memory
        except TimeoutError:
            response = from_error(
                RequestTimeout(f"the request body did not arrive within {seconds:g} seconds")
            )
            response.force_close()
            return response
    return await handler(request)


def setup_timeouts(app: web.Application) -> None:
    """Install the body timeout (after the error middleware: a 413 is still problem+json)."""
    app.middlewares.append(body_timeout_middleware)
