"""OpenAPI 3.1 description generated from the endpoint registry and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from preservation import __version__
from preservation.web.endpoints import Api, Endpoint

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

_TEXT = {
    400: "Malformed body",
    401: "No or bad token",
    403: "Not allowed",
    404: "Not found",
    409: "Not allowed in the current state",
    413: "Body too large",
    422: "Invalid content",
    429: "Too many attempts",
    503: "Unavailable",
}


def build_openapi(api: Api) -> dict[str, Any]:
    models: set[type[BaseModel]] = set()
    for ep in api.endpoints:
        for m in (ep.body, ep.response):
            if m is not None:
                models.add(m)
    pairs = []
    for m in sorted(models, key=lambda m: m.__name__):
        mode = "validation" if any(ep.body is m for ep in api.endpoints) else "serialization"
        pairs.append((m, mode))
    keys, defs = models_json_schema(pairs, ref_template=REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    refs = {m: keys[(m, mode)] for m, mode in pairs}

    paths: dict[str, dict[str, Any]] = {}
    for ep in api.endpoints:
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", ep.path)
        paths.setdefault(path, {})[ep.method.lower()] = _operation(ep, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Preservation dispatcher",
            "version": __version__,
            "description": "Cross-border data preservation requests: directory, requests, dispatch, deadlines.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(ep: Endpoint, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": ep.handler.__name__,
        "summary": ep.summary,
        "tags": [ep.tag],
        "parameters": _parameters(ep),
        "responses": {},
    }
    if ep.auth:
        op["security"] = [{"bearer": []}]
    if ep.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[ep.body]}},
        }
    content: dict[str, Any] = {}
    if ep.response is not None:
        content["application/json"] = {"schema": refs[ep.response]}
    for media, kind in ep.media.items():
        content[media] = {"schema": {"type": "string"} if kind == "string" else {"type": "object"}}
    op["responses"][str(ep.status)] = {
        "description": "Success",
        **({"content": content} if content else {}),
    }
    if ep.idempotent_key and ep.status == 201:
        op["responses"]["200"] = {
            "description": "Repeat of an earlier call with the same Idempotency-Key",
            "content": content,
        }
    errors = set(ep.errors) | {413, 503}
    if ep.auth:
        errors.add(429)
    for status in sorted(errors):
        op["responses"][str(status)] = {
            "description": _TEXT.get(status, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    return op


def _parameters(ep: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in re.findall(r"\{(\w+)(?::[^}]*)?\}", ep.path):
        params.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    if ep.query is not None:
        schema = ep.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if ep.idempotent_key:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    return params
