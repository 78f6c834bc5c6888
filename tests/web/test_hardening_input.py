"""Issue 16, input at the boundary: one rule for single-line text (control characters refused,
422 naming the field, nothing written), multi-line text keeps its line breaks only; the unit's
webhook URL is refused when it names or resolves to an internal host, carries credentials or
control characters, and its secret is never shown back; a line break in the sign-in's `next`
cannot break the answer."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from preservation.settings import load_settings
from preservation.storage.models import ApiToken, AuditEvent, PreservationRequest, Unit
from preservation.web.keys import DB
from preservation.web.pages.base import safe_next
from tests.conftest import assert_problem, auth
from tests.dispatch_support import load, make_request

CONTROL = ["CY-1\r\nBcc: x@evil.example", "CY-1\nX", "CY-1\x1b[31m", "CY-1\u2028X", "CY-1\x85"]


async def count(client, model: Any) -> int:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.mark.parametrize("value", CONTROL)
async def test_control_characters_in_a_reference_are_422_naming_it(  # type: ignore[no-untyped-def]
    client, tokens, clock, value
) -> None:
    """POST and PATCH refuse a case reference with a line break or another control character
    (it would reach the mail's Subject); nothing is written."""
    before = await count(client, PreservationRequest)
    resp = await client.post(
        "/api/v1/requests",
        json={"case_reference": value, "regime": "budapest-art29", "country": "US"},
        headers=auth(tokens["officer"]),
    )
    await assert_problem(resp, 422, field="case_reference")
    assert await count(client, PreservationRequest) == before

    made = await make_request(client.server.app[DB], now=clock.now(), status="draft")
    events = await count(client, AuditEvent)
    resp = await client.patch(
        f"/api/v1/requests/{made.request_id}",
        json={"case_reference": value},
        headers=auth(tokens["officer"]),
    )
    await assert_problem(resp, 422, field="case_reference")
    row = await load(client.server.app[DB], PreservationRequest, made.request_id)
    assert row.case_reference == "CY-2026-0042" and await count(client, AuditEvent) == events


async def test_multi_line_text_keeps_line_breaks_and_nothing_else(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await make_request(client.server.app[DB], now=clock.now(), status="draft")
    url = f"/api/v1/requests/{made.request_id}"
    resp = await client.patch(
        url, json={"summary": "First line.\r\nSecond\tline."}, headers=auth(tokens["officer"])
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["summary"] == "First line.\r\nSecond\tline."
    for bad in ("bell\x07", "escape\x1b[2J", "del\x7f", "c1\x9b"):
        resp = await client.patch(url, json={"summary": bad}, headers=auth(tokens["officer"]))
        await assert_problem(resp, 422, field="summary")


async def test_action_references_are_single_line(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await make_request(client.server.app[DB], now=clock.now(), status="sent")
    resp = await client.post(
        f"/api/v1/requests/{made.request_id}/acknowledge",
        json={"provider_reference": "LE-1\r\nX"},
        headers=auth(tokens["officer"]),
    )
    await assert_problem(resp, 422, field="provider_reference")
    row = await load(client.server.app[DB], PreservationRequest, made.request_id)
    assert row.status == "sent" and row.provider_reference == ""


async def test_unit_profile_fields_follow_the_text_rule(client, tokens) -> None:  # type: ignore[no-untyped-def]
    for field, value in (
        ("authority", "Cyber\r\nUnit"),
        ("contact_24_7", "+49 30 1234\n"),
        ("phone", "+4930\x00"),
        ("webhook_secret", "s3cret\n"),
        ("address", "Street 1\x1b"),
    ):
        resp = await client.patch(
            "/api/v1/unit", json={field: value}, headers=auth(tokens["supervisor"])
        )
        await assert_problem(resp, 422, field=field)
    resp = await client.patch(
        "/api/v1/unit",
        json={"address": "Street 1\n10115 Berlin"},
        headers=auth(tokens["supervisor"]),
    )
    assert resp.status == 200 and (await resp.json())["address"] == "Street 1\n10115 Berlin"


BAD_WEBHOOKS = [
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0177.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://[fd00::1]/hook",
    "http://224.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://api.localhost/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://intranet/hook",
    "https://user:password@hooks.example.org/hook",
    "https://hooks.example.org@evil.example/hook",
    "https://hooks.example.org/hook\r\nX-Injected: 1",
    "https://hooks.example.org/ho ok",
    "ftp://hooks.example.org/hook",
]


@pytest.mark.parametrize("url", BAD_WEBHOOKS)
async def test_webhook_url_to_an_internal_host_is_refused(client, tokens, url) -> None:  # type: ignore[no-untyped-def]
    resp = await client.patch(
        "/api/v1/unit",
        json={"webhook_url": url, "webhook_secret": "s3cret"},
        headers=auth(tokens["supervisor"]),
    )
    await assert_problem(resp, 422, field="webhook_url")
    async with client.server.app[DB].read() as s:
        unit = (await s.execute(select(Unit).where(Unit.name == "alpha"))).scalar_one()
    assert unit.webhook_url == "" and unit.webhook_secret == ""


async def test_webhook_url_resolving_to_an_internal_host_is_refused(  # type: ignore[no-untyped-def]
    client, tokens, monkeypatch
) -> None:
    from preservation.dispatch import outbound

    async def resolve(host: str, port: int) -> list[str]:
        return {"rebind.example.com": ["93.184.215.14", "10.1.2.3"]}.get(host, ["93.184.215.15"])

    monkeypatch.setattr(outbound, "system_resolve", resolve)
    resp = await client.patch(
        "/api/v1/unit",
        json={"webhook_url": "https://rebind.example.com/hook"},
        headers=auth(tokens["supervisor"]),
    )
    body = await assert_problem(resp, 422, field="webhook_url")
    assert "10.1.2.3" in body["detail"]
    resp = await client.patch(
        "/api/v1/unit",
        json={"webhook_url": "https://hooks.example.org/hook"},
        headers=auth(tokens["supervisor"]),
    )
    assert resp.status == 200, await resp.text()


async def test_an_allowed_internal_host_is_accepted(settings, clock) -> None:  # type: ignore[no-untyped-def]
    from preservation.access.auth import create_token
    from preservation.web.app import create_app

    allowed = load_settings(
        environ={},
        database_url=settings.database_url,
        load_demo=False,
        outbound_allowed_hosts="10.20.0.0/16, hooks.police.internal",
    )
    app = create_app(allowed, clock=clock, migrate=False, scheduler=False)
    async with TestClient(TestServer(app)) as client:
        async with app[DB].write() as s:
            token = await create_token(
                s, unit="alpha", role="supervisor", user="sup", now=clock.now()
            )
        for url in ("http://10.20.3.4:8443/hook", "https://hooks.police.internal/hook"):
            resp = await client.patch(
                "/api/v1/unit", json={"webhook_url": url}, headers=auth(token)
            )
            assert resp.status == 200, await resp.text()
        resp = await client.patch(
            "/api/v1/unit", json={"webhook_url": "http://10.30.0.1/hook"}, headers=auth(token)
        )
        await assert_problem(resp, 422, field="webhook_url")


async def test_the_webhook_secret_and_url_credentials_are_never_shown(client, tokens) -> None:  # type: ignore[no-untyped-def]
    resp = await client.patch(
        "/api/v1/unit",
        json={"webhook_url": "https://hooks.example.org/in", "webhook_secret": "s3cret-value"},
        headers=auth(tokens["supervisor"]),
    )
    assert resp.status == 200 and "s3cret-value" not in await resp.text()
    # A URL stored before credentials were refused is shown without them.
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(webhook_url="https://bob:hunter2@hooks.example.org/in")
        )
    for token in (tokens["officer"], tokens["supervisor"]):
        resp = await client.get("/api/v1/unit", headers=auth(token))
        text = await resp.text()
        assert resp.status == 200
        assert "hunter2" not in text and "bob" not in text and "s3cret-value" not in text
        assert (await resp.json())["webhook_url"] == "https://hooks.example.org/in"


def test_next_with_a_line_break_or_control_character_is_home() -> None:
    for target in ("/requests\r\nSet-Cookie: x=1", "/requests\n", "/a\x00b", "/a\tb", "/a\u2028b"):
        assert safe_next(target) == "/"
    assert safe_next("/requests?status=sent") == "/requests?status=sent"


async def test_sign_in_with_a_line_break_in_next_answers_and_opens_one_session(  # type: ignore[no-untyped-def]
    client, tokens
) -> None:
    import re

    resp = await client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())[1]  # type: ignore[index]
    sessions_before = await _sessions(client)
    resp = await client.post(
        "/signin",
        data={"csrf": csrf, "token": tokens["officer"], "next": "/requests\r\nSet-Cookie: x=1"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/"
    assert await _sessions(client) == sessions_before + 1


async def _sessions(client) -> int:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        return (
            await s.execute(
                select(func.count()).select_from(ApiToken).where(ApiToken.prefix.startswith("pds_"))
            )
        ).scalar_one()
