"""Logs as production writes them (logs.configure: JSON lines on the root logger): one line per
HTTP request with a request id, and never a token, a request body, free text or an identifier
value, through a whole flow (create, submit, read, letters, acknowledge, look-up) and through
failures (401, 404, 422 quoting identifier values, 400 malformed JSON, a 500, a database
error that carries the statement's parameters)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import update

from contacts.models import Contact
from preservation import logs
from preservation.storage.models import Unit
from preservation.web.keys import DB
from providers.models import Provider
from tests.conftest import auth

URL = "/api/v1/requests"
SECRETS = [
    "secret-suspect.7731@example.com",
    "secret.handle.7731",
    "https://example.com/secret-path-7731",
    "203.0.113.177",
    "CASE-SECRET-7731",
    "Summary text SECRET 7731",
    "Relevance text SECRET 7731",
    "PROVREF-SECRET-7731",
    "bad-identifier-7731@",
]


class Captured:
    def __init__(self, buffer: io.StringIO):
        self.buffer = buffer

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def requests(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("action") == "http.request"]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """logs.configure() as `preservation serve` calls it, writing to a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    server_logger = logging.getLogger("aiohttp.server")
    saved_filters = server_logger.filters[:]
    access = logging.getLogger("aiohttp.access")
    saved_access = access.level
    logs.configure("INFO")
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield Captured(buffer)
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        server_logger.filters[:] = saved_filters
        access.setLevel(saved_access)


@pytest.fixture
async def ready(client, tokens):  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(authority="Cyber", email="cyber@police.example", phone="+35722000000")
        )
        s.add_all(
            [
                Provider(
                    slug="examplemail",
                    name="ExampleMail Inc.",
                    country="US",
                    domains=["example.com"],
                    le_email="lert@examplemail.test",
                    accepts_foreign_direct=True,
                    notifies_user="never",
                    verified_on=date(2026, 10, 1),
                ),
                Contact(
                    country="US",
                    authority="US 24/7 point of contact",
                    network="24/7",
                    emails=["poc@us.test"],
                    phones=["+12025550100"],
                    verified_on=date(2026, 10, 1),
                ),
            ]
        )
        from preservation.directory.snapshot import bump_version

        await bump_version(s)
    return tokens


def request_body(**changes: Any) -> dict[str, Any]:
    body = {
        "case_reference": "CASE-SECRET-7731",
        "offence": "Computer fraud",
        "summary": "Summary text SECRET 7731",
        "relevance": "Relevance text SECRET 7731",
        "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
        "country": "US",
        "provider": "examplemail",
        "urgent": True,
        "urgency_reason": "Deletion tonight.",
        "identifiers": [
            {"type": "email", "value": "secret-suspect.7731@example.com"},
            {"type": "account", "platform": "instagram", "value": "secret.handle.7731"},
            {"type": "url", "value": "https://example.com/secret-path-7731"},
            {"type": "ipv4", "value": "203.0.113.177", "at": "2026-11-19T14:03:11Z"},
        ],
        "submit": True,
    }
    body.update(changes)
    return body


def assert_clean(captured: Captured, tokens: dict[str, str], *extra: str) -> None:
    text = captured.text
    for secret in [*tokens.values(), *SECRETS, *extra]:
        assert secret not in text, f"{secret!r} leaked into the logs"
    for token in tokens.values():
        assert token[:20] not in text


async def test_a_whole_flow_logs_one_line_per_request_and_nothing_secret(
    client, ready, captured
) -> None:  # type: ignore[no-untyped-def]
    headers = auth(ready["officer"])
    calls = 0

    async def call(method: str, path: str, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        resp = await client.request(method, path, headers=headers, **kw)
        await resp.read()
        return resp

    resp = await call("POST", URL, json=request_body())
    assert resp.status == 201, await resp.text()
    rid = (await resp.json())["id"]
    resp = await call("POST", URL, json=request_body(submit=False))
    draft = (await resp.json())["id"]
    await call("PATCH", f"{URL}/{draft}", json={"summary": "Summary text SECRET 7731 changed"})
    await call("POST", f"{URL}/{draft}/submit", json={})
    for path in (
        f"{URL}/{rid}",
        URL,
        f"{URL}/{rid}/events",
        f"{URL}/{rid}/recipients",
        "/api/v1/deadlines",
        "/api/v1/deadlines.ics",
        *(f"{URL}/{rid}/letter?format={f}" for f in ("text", "html", "json", "pdf")),
    ):
        assert (await call("GET", path)).status == 200, path
    resp = await call(
        "POST", f"{URL}/{rid}/acknowledge", json={"provider_reference": "PROVREF-SECRET-7731"}
    )
    assert resp.status == 200, await resp.text()
    for value in ("secret-suspect.7731@example.com", "203.0.113.177"):
        resp = await call("GET", "/api/v1/lookup", params={"identifier": value})
        assert resp.status == 200, await resp.text()

    lines = captured.requests()
    assert len(lines) == calls
    ids = [line["request_id"] for line in lines]
    assert len(set(ids)) == calls and all(len(i) >= 16 for i in ids)
    assert {line["route"] for line in lines} >= {
        "/api/v1/requests",
        "/api/v1/requests/{id}",
        "/api/v1/requests/{id}/letter",
        "/api/v1/lookup",
    }
    for line in lines:
        assert set(line) >= {"at", "level", "message", "request_id", "method", "route", "status"}
        assert "?" not in line["route"]  # the query string (which may hold an identifier) is not
    assert_clean(captured, ready)


async def test_request_id_is_echoed_and_a_hostile_one_replaced(client, ready, captured) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get(
        "/api/v1/me", headers={**auth(ready["officer"]), "X-Request-Id": "abc-123"}
    )
    assert resp.headers["X-Request-Id"] == "abc-123"
    hostile = 'x" \n{"action": "forged"}'
    resp = await client.get(
        "/api/v1/me", headers={**auth(ready["officer"]), "X-Request-Id": "a" * 200}
    )
    replaced = resp.headers["X-Request-Id"]
    assert replaced != "a" * 200
    resp = await client.get(
        "/api/v1/me", headers={**auth(ready["officer"]), "X-Request-Id": hostile.replace("\n", " ")}
    )
    lines = captured.requests()
    assert [line["request_id"] for line in lines][:2] == ["abc-123", replaced]
    assert "forged" not in captured.text
    assert all(r.get("action") != "forged" for r in captured.records())


async def test_failures_log_nothing_secret(client, ready, captured, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    headers = auth(ready["officer"])
    # 401 with a token that looks real, and with the real token's near miss.
    near_miss = ready["officer"][:-2] + "zz"
    for bad in ("pdt_" + "S" * 43, near_miss):
        resp = await client.get(URL, headers=auth(bad))
        assert resp.status == 401
    # 404 of another unit's request.
    resp = await client.post(URL, json=request_body(), headers=headers)
    rid = (await resp.json())["id"]
    assert (await client.get(f"{URL}/{rid}", headers=auth(ready["other_officer"]))).status == 404
    # 422 whose answer quotes the identifier values; the log must not.
    bad = request_body(
        identifiers=[
            {"type": "email", "value": "bad-identifier-7731@"},
            {"type": "ipv4", "value": "203.0.113.177", "at": "2026-13-45T99:99"},
        ]
    )
    resp = await client.post(URL, json=bad, headers=headers)
    assert resp.status == 422
    # 400: a malformed body that contains identifier values.
    resp = await client.post(
        URL,
        data=b'{"identifiers": [{"value": "secret-suspect.7731@example.com"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    # 500 inside a handler.
    import preservation.requests.view as service

    async def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("unexpected failure")

    monkeypatch.setattr(service, "get_request", boom)
    resp = await client.get(f"{URL}/{rid}", headers=headers)
    assert resp.status == 500
    lines = captured.requests()
    assert [line["status"] for line in lines] == [401, 401, 201, 404, 422, 400, 500]
    errors = [r for r in captured.records() if r.get("action") == "http.error"]
    assert len(errors) == 1 and "RuntimeError" in errors[0]["traceback"]
    assert_clean(captured, ready, near_miss)


async def test_a_database_error_logs_no_statement_parameters(
    client, ready, captured, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A driver error that is not an outage reaches the 500 handler with its traceback; the
    statement's parameters (identifier values, free text) must not be in it."""
    from sqlalchemy import text

    db = client.server.app[DB]
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any driver error will do
        async with db.write() as s:
            await s.execute(
                text("SELECT CAST(:value AS INTEGER) + 1 FROM no_such_table_7731"),
                {"value": "secret-suspect.7731@example.com"},
            )
    assert "secret-suspect.7731@example.com" not in str(caught.value)
    logging.getLogger("preservation.web").exception("probe", exc_info=caught.value)
    assert_clean(captured, ready)


async def test_malformed_http_is_refused_and_logged_without_its_bytes(
    client, ready, captured
) -> None:  # type: ignore[no-untyped-def]
    """A request line or header the parser refuses is answered 400 by aiohttp before our code
    runs; aiohttp's own log of it would quote the bytes (a token among them): one line instead."""
    import asyncio

    token = ready["officer"]
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + token.encode()
        + b"\r\nBad Header\x01: secret-suspect.7731@example.com\r\n\r\n"
    )
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), timeout=10)
    writer.close()
    assert answer.split(b" ", 2)[1] == b"400", answer[:200]
    await asyncio.sleep(0)  # let the server's log call run  # noqa: ASYNC110
    malformed = [r for r in captured.records() if r.get("action") == "http.malformed"]
    assert len(malformed) == 1 and "traceback" not in malformed[0]
    assert_clean(captured, ready)
