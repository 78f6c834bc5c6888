"""POST /api/v1/identifiers/extract: identifiers and instants from pasted text, nothing stored."""

from __future__ import annotations

from typing import Any

from tests.conftest import assert_problem, auth

URL = "/api/v1/identifiers/extract"
KEYS = {
    "type", "value", "normalized", "platform", "chain", "port", "at", "at_local", "tz",
    "at_utc", "line", "line_text", "needs", "warnings",
}  # fmt: skip
LOG = (
    '203.0.113.7 - - [19/Nov/2026:14:03:11 +0100] "GET /login HTTP/1.1" 200 512\n'
    "2026-11-19 09:15:00 login suspect@example.com from 198.51.100.23 port 51234\n"
    "pay to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa, call 99 123456\n"
)


async def _extract(client: Any, token: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    resp = await client.post(URL, json=body, headers=auth(token))
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert all(set(i) == KEYS for i in items)
    return items


async def test_extract_with_and_without_a_zone(client: Any, tokens: dict[str, str]) -> None:
    items = await _extract(client, tokens["officer"], {"text": LOG})
    got = [
        (i["line"], i["type"], i["normalized"], i["port"], i["at_utc"], i["needs"]) for i in items
    ]
    assert got == [
        (1, "ipv4", "203.0.113.7", None, "2026-11-19T13:03:11Z", []),
        (2, "email", "suspect@example.com", None, None, ["tz"]),
        (2, "ipv4", "198.51.100.23", 51234, None, ["tz"]),
        (3, "crypto", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", None, None, []),
        # A national number, read in the unit's country (Cyprus).
        (3, "phone", "+35799123456", None, None, []),
    ]
    assert items[3]["chain"] == "bitcoin"
    assert items[1]["tz"] is None and items[1]["at"] == "2026-11-19 09:15:00"
    assert items[0]["line_text"].startswith("203.0.113.7 - -")

    zoned = await _extract(client, tokens["officer"], {"text": LOG, "tz": "Europe/Berlin"})
    assert [(i["at_utc"], i["tz"]) for i in zoned[1:3]] == [
        ("2026-11-19T08:15:00Z", "Europe/Berlin"),
        ("2026-11-19T08:15:00Z", "Europe/Berlin"),
    ]
    assert zoned[1]["at_local"] == "2026-11-19T09:15:00+01:00"


async def test_a_time_after_now_is_not_resolved(client: Any, tokens: dict[str, str]) -> None:
    [item] = await _extract(
        client, tokens["officer"], {"text": "2026-11-20T13:00:00Z 198.51.100.1:4000"}
    )
    assert item["at_utc"] is None
    assert any("future" in w for w in item["warnings"])


async def test_refusals(client: Any, tokens: dict[str, str]) -> None:
    resp = await client.post(
        URL, json={"text": "x", "tz": "Mars/Base"}, headers=auth(tokens["officer"])
    )
    await assert_problem(resp, 422, field="tz")
    resp = await client.post(URL, json={"tz": "UTC"}, headers=auth(tokens["officer"]))
    await assert_problem(resp, 422, field="text")
    resp = await client.post(URL, json={"text": "x", "extra": 1}, headers=auth(tokens["officer"]))
    await assert_problem(resp, 422, field="extra")
    resp = await client.post(URL, json={"text": "a" * 200_001}, headers=auth(tokens["officer"]))
    await assert_problem(resp, 422, field="text")
    resp = await client.post(URL, json={"text": "x"})
    await assert_problem(resp, 401)
    resp = await client.post(URL, json={"text": "x"}, headers=auth(tokens["admin"]))
    await assert_problem(resp, 403)


async def test_described_in_openapi(client: Any) -> None:
    spec = await (await client.get("/openapi.json")).json()
    assert "post" in spec["paths"][URL]
