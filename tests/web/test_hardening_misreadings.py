"""Issue 16 through the API: an instant out of range is 422 naming its field (it was a 500 from
datetime's range), on create and on an action; what is easily misread is accepted with a
warning on the request (zone abbreviations, Etc/GMT+N, 1970, a right-to-left override, a
look-alike domain) and on the unit profile (a look-alike domain in alert_emails)."""

from __future__ import annotations

from typing import Any

from preservation.web.keys import DB
from tests.conftest import assert_problem, auth
from tests.dispatch_support import make_request

URL = "/api/v1/requests"


def draft(*identifiers: dict[str, Any]) -> dict[str, Any]:
    return {"case_reference": "CY-2026-0042", "country": "US", "identifiers": list(identifiers)}


async def test_an_instant_out_of_range_is_422_naming_it(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    for at, tz in (
        ("0001-01-01T00:30:00+01:00", None),
        ("0001-01-01T00:30:00", "Europe/Berlin"),
        ("9999-12-31T23:59:59-05:00", None),
    ):
        ident: dict[str, Any] = {"type": "ipv4", "value": "93.184.215.14", "port": 1, "at": at}
        if tz:
            ident["tz"] = tz
        resp = await client.post(URL, json=draft(ident), headers=auth(tokens["officer"]))
        await assert_problem(resp, 422, field="identifiers[0].at")
    made = await make_request(client.server.app[DB], now=clock.now(), status="sent")
    resp = await client.post(
        f"{URL}/{made.request_id}/acknowledge",
        json={"preserved_at": "0001-01-01T00:30:00+01:00"},
        headers=auth(tokens["officer"]),
    )
    await assert_problem(resp, 422, field="preserved_at")


async def test_easily_misread_identifiers_are_warned_about(client, tokens) -> None:  # type: ignore[no-untyped-def]
    resp = await client.post(
        URL,
        json=draft(
            {"type": "ipv4", "value": "93.184.215.14", "port": 1, "at": "2026-07-01T12:00:00",
             "tz": "EST"},
            {"type": "ipv4", "value": "93.184.215.15", "port": 2, "at": "2026-07-01T12:00:00",
             "tz": "Etc/GMT+3"},
            {"type": "ipv4", "value": "93.184.215.16", "port": 3, "at": "1970-01-01T00:00:00Z"},
            {"type": "account", "platform": "instagram", "value": "moc.\u202eliame"},
            {"type": "email", "value": "suspect@g\u043e\u043egle.com"},
        ),
        headers=auth(tokens["officer"]),
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    warnings = body["warnings"]

    def has(prefix: str, needle: str) -> bool:
        return any(w.startswith(prefix) and needle in w for w in warnings)

    assert has("identifiers[0]: tz EST", "EDT"), warnings
    assert has("identifiers[1]: tz Etc/GMT+3", "UTC-03:00"), warnings
    assert has("identifiers[2]: at is in 1970", "Unix epoch"), warnings
    assert has("identifiers[3]:", "RIGHT-TO-LEFT OVERRIDE"), warnings
    assert has("identifiers[4]:", "Cyrillic and Latin"), warnings
    assert body["identifiers"][0]["warnings"]


async def test_a_look_alike_alert_address_is_warned_about(client, tokens) -> None:  # type: ignore[no-untyped-def]
    resp = await client.patch(
        "/api/v1/unit",
        json={"alert_emails": ["duty@police.example", "duty@p\u043elice.example"]},
        headers=auth(tokens["supervisor"]),
    )
    assert resp.status == 200, await resp.text()
    warnings = (await resp.json())["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("alert_emails[1]")
    assert "Cyrillic and Latin" in warnings[0]
    resp = await client.get("/api/v1/unit", headers=auth(tokens["officer"]))
    assert (await resp.json())["warnings"] == warnings
    # And on the unit's page.
    from tests.web.test_pages import sign_in

    await sign_in(client, tokens["supervisor"])
    page = await (await client.get("/unit")).text()
    assert "alert_emails[1]" in page and "Cyrillic and Latin" in page
