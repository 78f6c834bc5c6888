"""Webhook delivery to a real aiohttp server on loopback: the JSON arrives, the HMAC signature
verifies with the unit's secret, the Idempotency-Key is stable across a retry, and a non-2xx
answer is a failed attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from preservation.dispatch import webhook
from preservation.dispatch.dispatcher import Dispatcher
from preservation.storage.models import OutboxMessage, PreservationRequest, Reminder
from tests.dispatch_support import load, make_request, regimes_for

SECRET = "s3cret-webhook-key"


@pytest.fixture
async def receiver():  # type: ignore[no-untyped-def]
    """A webhook receiver that records each POST and answers with the next planned status."""
    state: dict[str, list] = {"calls": [], "statuses": []}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        state["calls"].append((dict(request.headers), body))
        status = state["statuses"].pop(0) if state["statuses"] else 200
        return web.json_response({"ok": status == 200}, status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state["url"] = [str(server.make_url("/hook"))]
    yield state
    await server.close()


@pytest.fixture
async def http():  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session:
        yield session


def dispatcher_for(settings, clock, db, http, **over):  # type: ignore[no-untyped-def]
    tuned = settings.model_copy(
        update={
            "max_attempts": 2,
            "retry_base_seconds": 10.0,
            "retry_max_seconds": 60.0,
            # The receiver is on loopback: the operator allows it (domain/urls.py).
            "outbound_allowed_hosts": "127.0.0.1",
            **over,
        }
    )
    return Dispatcher(db=db, settings=tuned, clock=clock, regimes=regimes_for(tuned), http=http)


async def test_webhook_receives_signed_json(db, settings, clock, receiver, http) -> None:  # type: ignore[no-untyped-def]
    url = receiver["url"][0]
    made = await make_request(
        db,
        now=clock.now(),
        recipients=(("provider", "webhook", url, "Hook Inc."),),
        webhook_secret=SECRET,
    )
    dispatcher = dispatcher_for(settings, clock, db, http)
    assert await dispatcher.sweep() == 1

    ((headers, body),) = receiver["calls"]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Preservation-Signature"] == expected
    assert webhook.verify(body, SECRET, headers["X-Preservation-Signature"])
    assert not webhook.verify(body, "another secret", headers["X-Preservation-Signature"])
    assert not webhook.verify(body + b" ", SECRET, headers["X-Preservation-Signature"])
    assert headers["Content-Type"] == "application/json"
    (row_id,) = made.outbox_ids
    assert headers["Idempotency-Key"] == f"outbox-{row_id}.{made.reference}"
    payload = json.loads(body)
    assert payload["reference"] == made.reference
    assert payload["event"] == "preservation_request"
    assert payload["urgent"] is True and payload["subject"].startswith("URGENT")
    assert made.reference in payload["text"]
    assert payload["letter"]["reference"] == made.reference
    assert payload["letter"]["identifiers"][0]["value"] == "suspect@example.com"

    row = await load(db, OutboxMessage, row_id)
    assert row.status == "sent" and row.message_id == headers["Idempotency-Key"]
    assert (await load(db, PreservationRequest, made.request_id)).status == "sent"


async def test_non_2xx_is_retried_with_the_same_idempotency_key(  # type: ignore[no-untyped-def]
    db, settings, clock, receiver, http
) -> None:
    receiver["statuses"] = [503]
    made = await make_request(
        db,
        now=clock.now(),
        recipients=(("provider", "webhook", receiver["url"][0], "Hook Inc."),),
        webhook_secret=SECRET,
    )
    dispatcher = dispatcher_for(settings, clock, db, http)
    (row_id,) = made.outbox_ids
    assert await dispatcher.sweep() == 1
    row = await load(db, OutboxMessage, row_id)
    assert row.status == "pending" and "HTTP 503" in row.last_error
    assert await dispatcher.sweep() == 0
    clock.advance(row.next_attempt_at - clock.now())
    assert await dispatcher.sweep() == 1
    (h1, b1), (h2, b2) = receiver["calls"]
    assert h1["Idempotency-Key"] == h2["Idempotency-Key"]
    assert json.loads(b1)["attempt"] == 1 and json.loads(b2)["attempt"] == 2
    assert webhook.verify(b2, SECRET, h2["X-Preservation-Signature"])
    assert (await load(db, OutboxMessage, row_id)).status == "sent"


async def test_unsigned_or_failing_webhook_fails_with_alert(  # type: ignore[no-untyped-def]
    db, settings, clock, receiver, http
) -> None:
    """Without a secret nothing is sent unsigned; after the last attempt the unit is alerted."""
    made = await make_request(
        db,
        now=clock.now(),
        recipients=(("provider", "webhook", receiver["url"][0], "Hook Inc."),),
    )
    dispatcher = dispatcher_for(settings, clock, db, http)
    (row_id,) = made.outbox_ids
    assert await dispatcher.sweep() == 1
    clock.advance(timedelta(seconds=10))
    assert await dispatcher.sweep() == 1
    assert receiver["calls"] == []
    row = await load(db, OutboxMessage, row_id)
    assert row.status == "failed" and "secret" in row.last_error
    async with db.read() as s:
        alerts = (
            (await s.execute(select(Reminder).where(Reminder.kind == "alert_delivery_failed")))
            .scalars()
            .all()
        )
    assert [a.key for a in alerts] == [f"alert:outbox:{row_id}"]
