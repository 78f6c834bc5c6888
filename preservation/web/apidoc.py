"""docs/api.md, written from the same OpenAPI description /openapi.json serves:

    python -m preservation.web.apidoc > docs/api.md

Each endpoint with its method, path, summary, who may call it, its query parameters, its body
and answer fields (from the pydantic models), and its error statuses. tests/web/test_api_doc.py
fails when an endpoint of /openapi.json is missing from docs/api.md."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["openapi_spec", "render"]

_ORDER = ("system", "directory", "requests", "deadlines")


def openapi_spec() -> dict[str, Any]:
    """/openapi.json of this code, built without starting a server."""
    from preservation.web.app import api_modules
    from preservation.web.endpoints import Api
    from preservation.web.openapi import build_openapi

    combined = Api()
    for module in api_modules():
        combined.endpoints.extend(module.endpoints)
    return build_openapi(combined)


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    return str(schema.get("format") or schema.get("type") or "any")


def _refs(schema: Any) -> list[str]:
    """The models a property refers to (directly, in a list, or in a union)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return [schema["$ref"].rsplit("/", 1)[-1]]
        return [r for v in schema.values() for r in _refs(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []


def _fields(
    name: str, schemas: dict[str, Any], *, seen: set[str] | None = None, depth: int = 1
) -> list[str]:
    """The fields of a model, then those of the models it contains (each model once)."""
    seen = seen if seen is not None else set()
    seen.add(name)
    schema = schemas.get(name, {})
    required = set(schema.get("required", []))
    indent = "  " * depth
    lines = []
    nested: list[str] = []
    for field, prop in schema.get("properties", {}).items():
        text = f"{indent}- `{field}` ({_type(prop)}{', required' if field in required else ''})"
        if prop.get("description"):
            text += f": {' '.join(str(prop['description']).split())}"
        lines.append(text)
        nested += [r for r in _refs(prop) if r not in seen and r in schemas]
    for ref in dict.fromkeys(nested):
        if ref in seen or "properties" not in schemas[ref]:
            continue
        lines.append(f"{indent}- `{ref}`:")
        lines += _fields(ref, schemas, seen=seen, depth=depth + 1)
    return lines


def _ref(content: dict[str, Any] | None) -> str | None:
    schema = ((content or {}).get("application/json") or {}).get("schema") or {}
    return schema["$ref"].rsplit("/", 1)[-1] if "$ref" in schema else None


def render(spec: dict[str, Any]) -> str:
    """The Markdown of docs/api.md."""
    schemas = spec.get("components", {}).get("schemas", {})
    ops: list[tuple[str, str, str, dict[str, Any]]] = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            ops.append((op.get("tags", ["other"])[0], path, method.upper(), op))
    ops.sort(key=lambda o: (_ORDER.index(o[0]) if o[0] in _ORDER else len(_ORDER), o[0], o[1]))

    out = [
        "# HTTP API",
        "",
        "Generated from `/openapi.json` by `python -m preservation.web.apidoc > docs/api.md`;",
        "`tests/web/test_api_doc.py` fails when an endpoint is missing here. Every path under",
        "`/api/v1` takes `Authorization: Bearer TOKEN` (`preservation token create`); errors are",
        '`application/problem+json`: `{"type", "title", "status", "detail", "errors":',
        '[{"field", "message"}]}`. The machine-readable description is `GET /openapi.json`.',
        "",
    ]
    tag = None
    seen: set[str] = set()
    for op_tag, path, method, op in ops:
        if op_tag != tag:
            tag = op_tag
            out += [f"## {tag.capitalize()}", ""]
        out += [f"### `{method} {path}`", "", op.get("summary", "") + ".", ""]
        out.append("- Auth: " + ("bearer token" if op.get("security") else "none"))
        query = [p for p in op.get("parameters", []) if p["in"] in ("query", "header")]
        if query:
            out.append("- Parameters:")
            for p in query:
                req = ", required" if p.get("required") else ""
                out.append(f"  - `{p['name']}` ({p['in']}, {_type(p.get('schema', {}))}{req})")
        body = _ref((op.get("requestBody") or {}).get("content"))
        if body:
            out.append(f"- Body: `{body}`" + ("" if body in seen else ""))
            if body not in seen:
                out += _fields(body, schemas)
                seen.add(body)
        for status, response in op.get("responses", {}).items():
            if not status.startswith("2"):
                continue
            content = response.get("content") or {}
            model = _ref(content)
            media = ", ".join(m for m in content if m != "application/json")
            answer = (
                f"- Answer {status}: "
                + (f"`{model}`" if model else "")
                + (f" ({media})" if media else "")
            )
            out.append(answer.rstrip(": ") if not (model or media) else answer)
            if model and model not in seen:
                out += _fields(model, schemas)
                seen.add(model)
        errors = [s for s in op.get("responses", {}) if not s.startswith("2")]
        if errors:
            out.append("- Errors: " + ", ".join(errors))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    sys.stdout.write(render(openapi_spec()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
