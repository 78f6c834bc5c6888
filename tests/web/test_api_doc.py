"""docs/api.md is the API contract as /openapi.json describes it: every endpoint is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preservation.web.apidoc import openapi_spec, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _endpoints(spec: dict[str, Any]) -> set[str]:
    return {f"`{m.upper()} {path}`" for path, ops in spec["paths"].items() for m in ops}


def test_every_endpoint_of_openapi_is_in_docs_api_md() -> None:
    text = DOC.read_text()
    missing = sorted(e for e in _endpoints(openapi_spec()) if e not in text)
    assert not missing, (
        f"missing from docs/api.md: {', '.join(missing)}; regenerate it with "
        "`python -m preservation.web.apidoc > docs/api.md`"
    )


async def test_the_served_description_is_the_one_documented(client: Any) -> None:
    served = await (await client.get("/openapi.json")).json()
    assert _endpoints(served) == _endpoints(openapi_spec())


def test_the_generator_lists_fields_and_errors() -> None:
    text = render(openapi_spec())
    section = text[text.index("### `POST /api/v1/identifiers/extract`") :]
    section = section[: section.index("\n### ")]
    assert "- Body: `ExtractIn`" in section
    assert "`tz` (" in section and "`text` (string, required)" in section
    assert "- Answer 200: `ExtractOut`" in section
    assert "422" in section
