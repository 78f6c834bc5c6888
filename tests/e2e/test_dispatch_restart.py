"""A node killed with SIGKILL in the middle of delivering mail: after a restart, the rows it had
claimed are delivered (once their lease has run out), with the same Message-IDs, and the request
is marked sent. The SMTP sink stalls inside DATA so the kill lands during delivery."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from preservation.requests import audit
from preservation.storage.db import Database
from preservation.storage.models import OutboxMessage, PreservationRequest
from tests.dispatch_support import POC_COPY, PROVIDER_EMAIL, Made, Sink, make_request, start_sink
from tests.e2e.helpers import Server, clean_env, free_port

pytestmark = pytest.mark.e2e


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _rows(url: str, made: Made) -> list[OutboxMessage]:
    async def read() -> list[OutboxMessage]:
        db = Database(url)
        try:
            async with db.read() as s:
                return list(
                    (
                        await s.execute(
                            select(OutboxMessage)
                            .where(OutboxMessage.id.in_(made.outbox_ids))
                            .order_by(OutboxMessage.id)
                        )
                    ).scalars()
                )
        finally:
            await db.dispose()

    return asyncio.run(read())


def _request_and_actions(url: str, made: Made) -> tuple[str, list[str]]:
    async def read() -> tuple[str, list[str]]:
        db = Database(url)
        try:
            async with db.read() as s:
                req = await s.get(PreservationRequest, made.request_id)
                events = await audit.events_of(s, made.request_id)
                assert audit.verify_chain(events) is None
                return req.status, [e.action for e in events]
        finally:
            await db.dispose()

    return asyncio.run(read())


def _submit(url: str) -> Made:
    async def make() -> Made:
        db = Database(url)
        try:
            return await make_request(
                db, now=datetime.now(UTC), recipients=(PROVIDER_EMAIL, POC_COPY)
            )
        finally:
            await db.dispose()

    return asyncio.run(make())


def test_sigkill_during_delivery_then_restart_delivers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path}/p.db"
    base_env = {
        "PRESERVATION_DATABASE_URL": url,
        "PRESERVATION_LOAD_DEMO": "false",
        "PRESERVATION_SMTP_HOST": "127.0.0.1",
        "PRESERVATION_SMTP_FROM": "dispatch@unit.police.example",
        "PRESERVATION_SMTP_TIMEOUT_SECONDS": "300",
        "PRESERVATION_LEASE_SECONDS": "3",
        "PRESERVATION_CLAIM_INTERVAL_SECONDS": "0.5",
    }

    # First life: the sink accepts the connection and the message, then stalls before answering.
    stall = threading.Event()
    stalling = Sink(stall=stall)
    port1 = free_port()
    controller1 = start_sink(stalling, port1)
    server = Server(
        env=clean_env(**base_env, PRESERVATION_SMTP_PORT=str(port1), PRESERVATION_NODE_NAME="n1"),
        cwd=tmp_path,
    ).start()
    try:
        made = _submit(url)
        _wait(lambda: len(stalling.received) == 2, 60, "both messages to reach the stalled sink")
        rows = _rows(url, made)
        assert [r.status for r in rows] == ["sending", "sending"]
        assert {r.claimed_by for r in rows} == {"n1"}
    finally:
        server.kill()
    assert server.proc is not None and server.proc.returncode == -9
    stall.set()
    controller1.stop()
    # Killed: nothing was released, nothing recorded as sent.
    rows = _rows(url, made)
    assert [r.status for r in rows] == ["sending", "sending"]
    assert _request_and_actions(url, made)[0] == "queued"

    # Second life: a healthy mail server; the expired leases are reclaimed and delivered.
    accepting = Sink()
    port2 = free_port()
    controller2 = start_sink(accepting, port2)
    server = Server(
        env=clean_env(**base_env, PRESERVATION_SMTP_PORT=str(port2), PRESERVATION_NODE_NAME="n2"),
        cwd=tmp_path,
    ).start()
    try:
        _wait(
            lambda: [r.status for r in _rows(url, made)] == ["sent", "sent"],
            60,
            "the unfinished rows to be delivered after the restart",
        )
    finally:
        code = server.stop()
        controller2.stop()
    assert code == 0, server.log()

    rows = _rows(url, made)
    assert [r.attempts for r in rows] == [2, 2]
    assert {r.claimed_by for r in rows} == {"n2"}
    # The repeat carries the Message-ID of the interrupted attempt: the recipient can drop it.
    assert sorted(m["Message-ID"] for m in accepting.accepted) == sorted(
        m["Message-ID"] for m in stalling.received
    )
    assert sorted(m["Message-ID"] for m in accepting.accepted) == sorted(
        f"<outbox-{i}.{made.reference}@unit.police.example>" for i in made.outbox_ids
    )
    status, actions = _request_and_actions(url, made)
    assert status == "sent"
    assert actions.count("delivered") == 2 and actions.count("sent") == 1
