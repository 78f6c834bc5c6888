"""Issue 16, what goes out: a mail that cannot be built fails at once (with its alert) instead of
hours of retries, and a webhook goes only where the outbound rule allows, checked on the
addresses its host resolves to at the moment of sending (DNS rebinding), without redirects."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from preservation.dispatch.dispatcher import Dispatcher
from preservation.storage.models import OutboxMessage, PreservationRequest, Reminder
from tests.dispatch_support import PROVIDER_EMAIL, Sink, load, make_request, regimes_for, start_sink
from tests.e2e.helpers import free_port

SECRET = "s3cret-webhook-key"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def sink(smtp_port: int):  # type: ignore[no-untyped-def]
    handler = Sink()
    controller = start_sink(handler, smtp_port)
    yield handler
    controller.stop()


@pytest.fixture
async def receiver():  # type: ignore[no-untyped-def]
    """A webhook receiver on loopback: /hook answers 200, /moved redirects to /hook."""
    calls: list[tuple[str, dict[str, str]]] = []

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        calls.append((request.path, dict(request.headers)))
        return web.json_response({"ok": True})

    async def moved(request: web.Request) -> web.Response:
        await request.read()
        calls.append((request.path, dict(request.headers)))
        raise web.HTTPTemporaryRedirect("/hook")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/moved", moved)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, calls
    await server.close()


@pytest.fixture
async def http():  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session:
        yield session


def dispatcher_for(settings, clock, db, *, http=None, wakes=None, **over):  # type: ignore[no-untyped-def]
    tuned = settings.model_copy(update={"max_attempts": 10, "smtp_timeout_seconds": 5, **over})
    calls = wakes if wakes is not None else []
    return Dispatcher(
        db=db,
        settings=tuned,
        clock=clock,
        regimes=regimes_for(tuned),
        http=http,
        wake=lambda: calls.append(1),
    )


async def _alert(db, row_id: int) -> Reminder | None:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        return (
            await s.execute(select(Reminder).where(Reminder.key == f"alert:outbox:{row_id}"))
        ).scalar_one_or_none()


async def test_a_mail_that_cannot_be_built_fails_at_once_with_an_alert(  # type: ignore[no-untyped-def]
    db, settings, clock, sink, smtp_port
) -> None:
    """A case reference stored with a line break (before the input rule) cannot go into a
    Subject: one attempt, failed, the unit alerted, nothing sent; no 1.5-3 h of retries."""
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL,))
    async with db.write() as s:
        await s.execute(
            update(PreservationRequest)
            .where(PreservationRequest.id == made.request_id)
            .values(case_reference="CY-2026-0042\r\nBcc: someone@else.example")
        )
    wakes: list[int] = []
    dispatcher = dispatcher_for(
        settings, clock, db, wakes=wakes, smtp_host="127.0.0.1", smtp_port=smtp_port
    )
    (row_id,) = made.outbox_ids
    assert await dispatcher.sweep() == 1
    row = await load(db, OutboxMessage, row_id)
    assert row.status == "failed" and row.attempts == 1, (row.status, row.attempts)
    assert "cannot be built" in row.last_error
    assert sink.received == []
    alert = await _alert(db, row_id)
    assert alert is not None and alert.kind == "alert_delivery_failed"
    assert wakes, "the alert goes out at once"
    assert await dispatcher.sweep() == 0


async def test_webhook_to_an_internal_host_is_never_sent(  # type: ignore[no-untyped-def]
    db, settings, clock, receiver, http
) -> None:
    """A URL stored before the rule (or by hand) naming loopback, by name or by a numeric form:
    nothing is POSTed, the row fails at once and the unit is alerted."""
    server, calls = receiver
    port = server.port
    for url in (
        f"http://localhost:{port}/hook",
        f"http://127.0.0.1:{port}/hook",
        f"http://2130706433:{port}/hook",
        f"http://user:pw@example.com:{port}/hook",
    ):
        made = await make_request(
            db,
            now=clock.now(),
            recipients=(("provider", "webhook", url, "Hook Inc."),),
            webhook_secret=SECRET,
        )
        dispatcher = dispatcher_for(settings, clock, db, http=http)
        assert await dispatcher.sweep() == 1
        (row_id,) = made.outbox_ids
        row = await load(db, OutboxMessage, row_id)
        assert row.status == "failed" and row.attempts == 1, (url, row.status, row.last_error)
        assert "refused" in row.last_error
        assert await _alert(db, row_id) is not None
    assert calls == []


async def test_dns_rebinding_is_caught_when_sending(  # type: ignore[no-untyped-def]
    db, settings, clock, receiver, http
) -> None:
    """The name resolved to a public address when it was saved; at sending it resolves to
    loopback: refused. Allowed by the operator, the same name is reached, at the address that
    was checked, with its own name in the Host header."""
    server, calls = receiver
    url = f"http://hooks.example.org:{server.port}/hook"
    answers: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        answers.append(host)
        return ["127.0.0.1"]

    made = await make_request(
        db,
        now=clock.now(),
        recipients=(("provider", "webhook", url, "Hook Inc."),),
        webhook_secret=SECRET,
    )
    dispatcher = dispatcher_for(settings, clock, db, http=http)
    dispatcher.resolve = rebinding
    assert await dispatcher.sweep() == 1
    row = await load(db, OutboxMessage, made.outbox_ids[0])
    assert answers == ["hooks.example.org"]
    assert row.status == "failed" and row.attempts == 1 and "loopback" in row.last_error
    assert calls == []

    allowed = await make_request(
        db,
        now=clock.now(),
        recipients=(("provider", "webhook", url, "Hook Inc."),),
        webhook_secret=SECRET,
    )
    dispatcher = dispatcher_for(
        settings, clock, db, http=http, outbound_allowed_hosts="hooks.example.org"
    )
    dispatcher.resolve = rebinding
    assert await dispatcher.sweep() == 1
    assert (await load(db, OutboxMessage, allowed.outbox_ids[0])).status == "sent"
    ((path, headers),) = calls
    assert path == "/hook" and headers["Host"] == f"hooks.example.org:{server.port}"


async def test_a_redirect_is_not_followed(db, settings, clock, receiver, http) -> None:  # type: ignore[no-untyped-def]
    server, calls = receiver
    made = await make_request(
        db,
        now=clock.now(),
        recipients=(("provider", "webhook", str(server.make_url("/moved")), "Hook Inc."),),
        webhook_secret=SECRET,
    )
    dispatcher = dispatcher_for(settings, clock, db, http=http, outbound_allowed_hosts="127.0.0.1")
    assert await dispatcher.sweep() == 1
    row = await load(db, OutboxMessage, made.outbox_ids[0])
    assert row.status == "pending" and "HTTP 307" in row.last_error
    assert [path for path, _ in calls] == ["/moved"]
