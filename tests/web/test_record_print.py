"""The record shows what is to be preserved first, and a closed request its outcome (not an
expiry); the pages and the letter carry print rules (issue 21)."""

from __future__ import annotations

from typing import Any

from tests.web.test_pages import api_create, csrf_of, page, ready, sign_in  # noqa: F401


async def test_identifiers_first_and_outcome_when_closed(
    client: Any,
    ready: dict[str, str],  # noqa: F811
) -> None:
    created = await api_create(client, ready["officer"])
    await sign_in(client, ready["officer"])
    text = await page(client, f"/requests/{created['id']}")
    first = text.index('id="ids-h"')
    assert first < text.index('id="sum-h"') < text.index('id="let-h"')
    assert "a@example.com" in text[first : text.index('id="sum-h"')]

    csrf = await csrf_of(client, f"/requests/{created['id']}")
    resp = await client.post(
        f"/requests/{created['id']}/close",
        data={"csrf": csrf, "outcome": "withdrawn", "note": "not needed"},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    text = await page(client, f"/requests/{created['id']}")
    plan = text[text.index('id="plan-h"') : text.index('id="act-h"')]
    assert "withdrawn" in plan and "Expires" not in plan and "days" not in plan


async def test_print_stylesheets(client: Any, ready: dict[str, str]) -> None:  # noqa: F811
    await sign_in(client, ready["officer"])
    text = await page(client, "/")
    assert '<link rel="stylesheet" href="/static/print.css" media="print">' in text
    css = await (await client.get("/static/print.css")).text()
    for hidden in (".top", "form", "iframe.letter", ".actions"):
        assert hidden in css
    assert "@page" in css
    created = await api_create(client, ready["officer"])
    letter = await page(client, f"/requests/{created['id']}/letter.html")
    assert "@media print" in letter
