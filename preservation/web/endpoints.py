"""Endpoint registry: each JSON handler declares its input and output models once; the same
declaration parses the request, checks the role, and generates /openapi.json, so the
description cannot drift from the code."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from preservation.errors import BadRequest, Forbidden, InvalidInput
from preservation.runtime.offload import offload
from preservation.web.problem import from_validation

Handler = Callable[..., Awaitable[Any]]


@dataclass(kw_only=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    roles: frozenset[str] | None = None
    #: Other media types this endpoint answers with, e.g. {"text/calendar": "string"}.
    media: dict[str, str] = field(default_factory=dict)
    errors: tuple[int, ...] = (400, 401, 403, 404, 422)
    idempotent_key: bool = False


@dataclass(kw_only=True)
class Call:
    """What a handler receives besides the aiohttp request."""

    request: web.Request
    principal: Any
    body: Any
    query: Any
    params: dict[str, str]


class Api:
    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        auth: bool = True,
        roles: set[str] | frozenset[str] | None = None,
        media: dict[str, str] | None = None,
        errors: tuple[int, ...] | None = None,
        idempotent_key: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            default_errors = (400, 401, 403, 404, 409, 422) if auth else (400, 422)
            self.endpoints.append(
                Endpoint(
                    method=method.upper(),
                    path=path,
                    handler=fn,
                    summary=summary,
                    tag=tag,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    auth=auth,
                    roles=frozenset(roles) if roles else None,
                    media=dict(media or {}),
                    errors=errors or default_errors,
                    idempotent_key=idempotent_key,
                )
            )
            return fn

        return register

    def install(
        self, app: web.Application, authenticate: Callable[[web.Request], Awaitable[Any]]
    ) -> None:
        for ep in self.endpoints:
            handler = _wrap(ep, authenticate)
            app.router.add_route(ep.method, ep.path, handler)
            if ep.method == "GET":
                # HEAD of every GET (calendar clients and link checkers ask it): the same
                # status and headers, no body (aiohttp leaves it out).
                app.router.add_route("HEAD", ep.path, handler)


#: Bodies larger than this (bytes) are parsed off the event loop.
LARGE_BODY = 256 * 1024


async def read_json(request: web.Request) -> Any:
    # body_exists, not can_read_body: the body may have been read already (web/timeouts.py).
    if not request.body_exists:
        raise BadRequest("a JSON body is required")
    raw = await request.read()
    try:
        if len(raw) > LARGE_BODY:
            # A directory import is megabytes of JSON: parsed in a worker thread, not on the
            # loop every other request waits for (runtime/offload.py).
            return await offload(json.loads, raw)
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        # json raises this, not ValueError, on nesting deeper than the interpreter's stack.
        raise BadRequest("the body is not valid JSON: nested too deeply") from None


def nul_field(data: Any, prefix: str = "") -> str | None:
    """The path of the first string (or key) in `data` holding a NUL character, which
    PostgreSQL cannot store in text (found here, it is a 422 naming the field, not a 500).
    Iterative: the JSON may be nested as deep as the parser allows."""
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path or "body"
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                sub = f"{path}.{key}" if path else str(key)
                if "\x00" in str(key):
                    return sub
                stack.append((sub, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def parse_model(model: type[BaseModel], data: Any, *, prefix: str = "") -> Any:
    if not isinstance(data, dict):
        raise InvalidInput(prefix or "body", "must be a JSON object")
    if (field := nul_field(data, prefix)) is not None:
        raise InvalidInput(field, "must not contain NUL characters")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, prefix=prefix) from None


def _wrap(ep: Endpoint, authenticate: Callable[[web.Request], Awaitable[Any]]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = await authenticate(request) if ep.auth else None
        if ep.roles is not None and principal.role not in ep.roles:
            raise Forbidden(
                f"the {principal.role} role may not {ep.summary[0].lower() + ep.summary[1:]}"
            )
        query = None
        if ep.query is not None:
            # Repeated query keys: the last one counts, as in most servers.
            query = parse_model(ep.query, dict(request.query.items()), prefix="query")
        body = None
        if ep.body is not None:
            body = parse_model(ep.body, await read_json(request))
        call = Call(
            request=request,
            principal=principal,
            body=body,
            query=query,
            params=dict(request.match_info),
        )
        result = await ep.handler(call)
        if isinstance(result, web.StreamResponse):
            return result
        status = ep.status
        if isinstance(result, tuple):
            result, status = result
        if isinstance(result, BaseModel):
            # Serialised once, by pydantic's own encoder (no dict of the model in between).
            return web.Response(
                body=result.model_dump_json().encode(),
                status=status,
                content_type="application/json",
            )
        return web.json_response(result, status=status)

    handler.__name__ = ep.handler.__name__
    return handler
