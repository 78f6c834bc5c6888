"""Replies come back to the case: over LMTP (the listener `serve` starts) and through
`preservation mail receive` (an MTA's pipe), matched by In-Reply-To/References, a bounce's
returned headers or our reference in the subject; stored once, audited, shown with their proposal,
which an officer confirms with the ordinary acknowledgement. Unmatched mail is quarantined, at
the unit it was addressed to or at the operator's, and never attached to another unit's request."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from preservation.dispatch import inbound
from preservation.dispatch.dispatcher import Dispatcher
from preservation.domain.clock import FrozenClock
from preservation.requests import quarantine
from preservation.runtime.context import Context
from preservation.storage.models import MailMessage, OutboxMessage, PreservationRequest
from tests.conftest import assert_problem, auth
from tests.dispatch.test_mail_headers import RawSink
from tests.dispatch_support import PROVIDER_EMAIL, actions_of, load, make_request, regimes_for
from tests.e2e.helpers import free_port
from tests.reply_samples import ARRIVES, SAMPLES, SENT, reply

UNIT_ADDRESS = "unit@police.example"  # make_request's unit profile e-mail
GOOGLE = SAMPLES[0]


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    sink = RawSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


async def sent_request(db, settings, smtp, **kw: Any):  # type: ignore[no-untyped-def]
    """A request whose letter went to the provider by e-mail at SENT; its outbox row."""
    made = await make_request(db, now=SENT, recipients=(PROVIDER_EMAIL,), **kw)
    tuned = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_timeout_seconds": 5}
    )
    dispatcher = Dispatcher(
        db=db, settings=tuned, clock=FrozenClock(SENT), regimes=regimes_for(tuned)
    )
    assert await dispatcher.sweep() == 1
    row = await load(db, OutboxMessage, made.outbox_ids[0])
    assert row.status == "sent" and row.message_id
    return made, row


async def lmtp(port: int, raw: bytes, recipients: list[str]) -> list[str]:
    """A plain LMTP client (RFC 2033): the replies to DATA, one per recipient."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> list[str]:
        lines = []
        while True:
            line = (await reader.readline()).decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    async def send(command: str) -> list[str]:
        writer.write(command.encode() + b"\r\n")
        await writer.drain()
        return await reply()

    assert (await reply())[-1].startswith("220")
    assert (await send("LHLO test.example"))[-1].startswith("250")
    assert (await send("MAIL FROM:<sender@provider.example>"))[-1].startswith("250")
    for rcpt in recipients:
        assert (await send(f"RCPT TO:<{rcpt}>"))[-1].startswith("250")
    assert (await send("DATA"))[-1].startswith("354")
    body = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    body = b"\r\n".join(
        b"." + line if line.startswith(b".") else line for line in body.split(b"\r\n")
    )
    writer.write(body.rstrip(b"\r\n") + b"\r\n.\r\n")
    await writer.drain()
    answers = [(await reply())[-1] for _ in recipients]
    await send("QUIT")
    writer.close()
    await writer.wait_closed()
    return answers


@pytest.fixture
async def listener(db, settings, clock):  # type: ignore[no-untyped-def]
    port = free_port()
    tuned = settings.model_copy(update={"inbound_port": port, "inbound_host": "127.0.0.1"})
    server = await inbound.start_listener(db, ctx=Context(settings=tuned, clock=clock))
    yield port
    server.close()
    await server.wait_closed()


async def test_a_reply_over_lmtp_is_attached_shown_and_confirmed_by_acknowledge(  # type: ignore[no-untyped-def]
    db, settings, clock, smtp, client, tokens, listener
) -> None:
    made, row = await sent_request(db, settings, smtp)
    before = await load(db, PreservationRequest, made.request_id)
    raw = reply(GOOGLE, to=UNIT_ADDRESS, in_reply_to=row.message_id, our_reference=made.reference)

    answers = await lmtp(listener, raw, [UNIT_ADDRESS, "copy@police.example"])
    assert [a[:3] for a in answers] == ["250", "250"]  # one answer per recipient (RFC 2033)

    # Nothing changed a deadline: only a person does that.
    after = await load(db, PreservationRequest, made.request_id)
    assert (after.status, after.expires_at, after.preserved_at, after.version) == (
        before.status,
        before.expires_at,
        before.preserved_at,
        before.version,
    )
    assert "message_received" in await actions_of(db, made.request_id)

    resp = await client.get(
        f"/api/v1/requests/{made.request_id}/messages", headers=auth(tokens["officer"])
    )
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [i["direction"] for i in items] == ["out", "in"]
    out, answer = items
    assert out["to"] == PROVIDER_EMAIL[2] and made.reference in out["subject"]
    assert made.reference in out["text"]
    assert answer["from"] == GOOGLE.sender
    assert answer["matched_by"] == "in-reply-to"
    assert "Request number: 31415926" in answer["text"]
    proposal = answer["proposal"]
    assert proposal["provider_reference"] == "31415926"
    assert datetime.fromisoformat(proposal["preserved_at"]) == GOOGLE.preserved_at

    # One click: the ordinary acknowledgement with the proposal's values.
    resp = await client.post(
        f"/api/v1/requests/{made.request_id}/acknowledge",
        headers=auth(tokens["officer"]),
        json={
            "provider_reference": proposal["provider_reference"],
            "preserved_at": proposal["preserved_at"],
        },
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "preserved" and body["provider_reference"] == "31415926"
    assert datetime.fromisoformat(body["preserved_at"]) == GOOGLE.preserved_at

    # Another unit sees nothing.
    resp = await client.get(
        f"/api/v1/requests/{made.request_id}/messages", headers=auth(tokens["other_officer"])
    )
    await assert_problem(resp, 404)


async def test_a_redelivered_message_is_stored_once(db, settings, clock, smtp, listener) -> None:  # type: ignore[no-untyped-def]
    made, row = await sent_request(db, settings, smtp)
    raw = reply(SAMPLES[1], to=UNIT_ADDRESS, in_reply_to=row.message_id)
    assert (await lmtp(listener, raw, [UNIT_ADDRESS]))[0].startswith("250")
    assert (await lmtp(listener, raw, [UNIT_ADDRESS]))[0].startswith("250")
    async with db.read() as s:
        rows = (
            (await s.execute(select(MailMessage).where(MailMessage.direction == "in")))
            .scalars()
            .all()
        )
    assert len(rows) == 1 and rows[0].request_id == made.request_id
    assert (await actions_of(db, made.request_id)).count("message_received") == 1


async def test_not_an_email_is_refused_and_oversize_is_refused(
    db, settings, clock, listener
) -> None:  # type: ignore[no-untyped-def]
    answers = await lmtp(listener, b"\x00\x01 just bytes, no header", [UNIT_ADDRESS])
    assert answers[0].startswith("550")
    async with db.read() as s:
        assert (await s.execute(select(MailMessage))).first() is None


async def test_subject_reference_matches_and_attachments_are_listed(  # type: ignore[no-untyped-def]
    db, settings, clock, smtp, client, tokens, listener
) -> None:
    made, _ = await sent_request(db, settings, smtp)
    mail = EmailMessage()
    mail["From"] = "Team <lawenforcement@cloudflare.com>"
    mail["To"] = UNIT_ADDRESS
    mail["Subject"] = f"[Ticket #2931177] Your request {made.reference}"
    mail["Message-ID"] = "<att-1@cloudflare.example>"
    mail.set_content("Confirmed. Records preserved on 19 Nov 2026 at 14:30 UTC.\n" + "x" * 50)
    mail.add_attachment(
        b"%PDF-1.4 confirmation", maintype="application", subtype="pdf", filename="confirmation.pdf"
    )
    tuned_port = listener
    assert (await lmtp(tuned_port, mail.as_bytes(), [UNIT_ADDRESS]))[0].startswith("250")
    resp = await client.get(
        f"/api/v1/requests/{made.request_id}/messages", headers=auth(tokens["officer"])
    )
    (answer,) = [i for i in (await resp.json())["items"] if i["direction"] == "in"]
    assert answer["matched_by"] == "subject"
    assert answer["attachments"] == [
        {"filename": "confirmation.pdf", "content_type": "application/pdf", "size": 21}
    ]
    assert answer["proposal"]["provider_reference"] == "2931177"


async def test_bodies_are_capped(db, settings, clock, smtp) -> None:  # type: ignore[no-untyped-def]
    made, row = await sent_request(db, settings, smtp)
    ctx = Context(settings=settings.model_copy(update={"inbound_body_chars": 1000}), clock=clock)
    mail = EmailMessage()
    mail["From"] = "a@provider.example"
    mail["To"] = UNIT_ADDRESS
    mail["Subject"] = "long"
    mail["In-Reply-To"] = row.message_id
    mail.set_content("y" * 5000)
    outcome = await inbound.receive_bytes(db, ctx=ctx, raw=mail.as_bytes())
    assert outcome.state == "attached"
    stored = await load(db, MailMessage, outcome.received.message)
    assert len(stored.text) == 1000 and stored.truncated


async def test_a_bounce_is_matched_by_the_returned_headers(db, settings, clock, smtp) -> None:  # type: ignore[no-untyped-def]
    made, row = await sent_request(db, settings, smtp)
    original = EmailMessage()
    original["From"] = "dispatch@unit.police.example"
    original["To"] = PROVIDER_EMAIL[2]
    original["Message-ID"] = row.message_id
    original["Subject"] = f"Preservation request {made.reference}"
    original.set_content("letter")
    dsn = EmailMessage()
    dsn["From"] = "MAILER-DAEMON@mx.provider.example"
    dsn["To"] = UNIT_ADDRESS
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn["Message-ID"] = "<bounce-1@mx.provider.example>"
    dsn.set_content("The mail system could not deliver your message.")
    dsn.add_attachment(original)
    dsn.replace_header(
        "Content-Type", dsn["Content-Type"].replace("multipart/mixed", "multipart/report")
    )
    outcome = await inbound.receive_bytes(
        db, ctx=Context(settings=settings, clock=clock), raw=dsn.as_bytes()
    )
    assert outcome.state == "attached" and outcome.received.matched_by == "report"
    assert outcome.received.request_id == made.request_id


async def test_unmatched_mail_goes_to_the_unit_quarantine_for_supervisors(  # type: ignore[no-untyped-def]
    db, settings, clock, smtp, client, tokens, listener
) -> None:
    made, _ = await sent_request(db, settings, smtp)
    stray = reply(SAMPLES[5], to=UNIT_ADDRESS, message_id="<stray-1@poc-de.example>")
    other = reply(SAMPLES[6], to=UNIT_ADDRESS, message_id="<stray-2@poc-fr.example>")
    for raw in (stray, other):
        assert (await lmtp(listener, raw, [UNIT_ADDRESS]))[0].startswith("250")
    assert "message_received" not in await actions_of(db, made.request_id)

    resp = await client.get("/api/v1/mail/quarantine", headers=auth(tokens["officer"]))
    await assert_problem(resp, 403)
    resp = await client.get("/api/v1/mail/quarantine", headers=auth(tokens["supervisor"]))
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [i["from"] for i in items] == [SAMPLES[6].sender, SAMPLES[5].sender]
    assert items[0]["recipients"] == [UNIT_ADDRESS]

    de = items[1]["id"]
    resp = await client.post(
        f"/api/v1/mail/quarantine/{de}/attach",
        headers=auth(tokens["supervisor"]),
        json={"request": "PR-2099-000001"},
    )
    await assert_problem(resp, 422, field="request")
    resp = await client.post(
        f"/api/v1/mail/quarantine/{de}/attach",
        headers=auth(tokens["supervisor"]),
        json={"request": made.reference, "note": "the German PoC's answer"},
    )
    assert resp.status == 200, await resp.text()
    attached = await resp.json()
    assert attached["proposal"]["provider_reference"] == "SO 41-2026/1187"
    assert "message_attached" in await actions_of(db, made.request_id)
    resp = await client.post(
        f"/api/v1/mail/quarantine/{de}/attach",
        headers=auth(tokens["supervisor"]),
        json={"request": made.reference},
    )
    await assert_problem(resp, 409)

    resp = await client.post(
        f"/api/v1/mail/quarantine/{items[0]['id']}/dismiss",
        headers=auth(tokens["supervisor"]),
        json={"note": "not ours"},
    )
    assert resp.status == 200 and (await resp.json())["note"] == "not ours"
    resp = await client.get("/api/v1/mail/quarantine", headers=auth(tokens["supervisor"]))
    assert (await resp.json())["items"] == []
    # Another unit's supervisor cannot touch it.
    resp = await client.post(
        f"/api/v1/mail/quarantine/{de}/dismiss",
        headers=auth(tokens["other_officer"]),
        json={"note": "x"},
    )
    await assert_problem(resp, 403)


async def test_mail_for_no_unit_waits_at_the_operator(db, settings, clock, smtp) -> None:  # type: ignore[no-untyped-def]
    await sent_request(db, settings, smtp)
    ctx = Context(settings=settings, clock=clock)
    raw = reply(SAMPLES[7], to="nobody@elsewhere.example", message_id="<op-1@poc-es.example>")
    outcome = await inbound.receive_bytes(db, ctx=ctx, raw=raw, recipients=["x@elsewhere.example"])
    assert outcome.state == "quarantined" and outcome.received.unit_id is None
    async with db.read() as s:
        (row,) = await quarantine.operator_quarantine(s)
    async with db.write() as s:
        moved = await quarantine.assign(
            s, message_id=row.id, unit="alpha", actor="operator", now=clock.now()
        )
    assert moved.unit_id is not None and "handed to alpha" in moved.note
    async with db.read() as s:
        assert await quarantine.operator_quarantine(s) == []


async def test_a_match_in_another_unit_is_not_attached(db, settings, clock, smtp) -> None:  # type: ignore[no-untyped-def]
    """Mail addressed to unit beta that names unit alpha's letter stays in beta's quarantine."""
    from preservation.access.auth import ensure_user

    made, row = await sent_request(db, settings, smtp)
    async with db.write() as s:
        beta, _ = await ensure_user(
            s, unit="beta", user="sup-b", role="supervisor", now=clock.now()
        )
        beta.email = "beta@police.example"
        beta_id = beta.id
    raw = reply(GOOGLE, to="beta@police.example", in_reply_to=row.message_id)
    outcome = await inbound.receive_bytes(
        db, ctx=Context(settings=settings, clock=clock), raw=raw, recipients=["beta@police.example"]
    )
    assert outcome.state == "quarantined" and outcome.received.unit_id == beta_id
    assert "message_received" not in await actions_of(db, made.request_id)
    stored = await load(db, MailMessage, outcome.received.message)
    assert "another unit" in stored.note and stored.request_id is None


async def test_database_outage_is_a_temporary_failure(settings, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from preservation.storage.db import Database

    missing = Database(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db")
    try:
        outcome = await inbound.receive_bytes(
            missing, ctx=Context(settings=settings, clock=clock), raw=reply(GOOGLE, to=UNIT_ADDRESS)
        )
    finally:
        await missing.dispose()
    assert outcome.code == inbound.EX_TEMPFAIL


# --- `preservation mail receive`: the real command, as an MTA's pipe runs it ----------------------


def _receive(database_url: str, raw: bytes, *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVATION_")}
    env.update({"PRESERVATION_DATABASE_URL": database_url, "PRESERVATION_LOAD_DEMO": "false"})
    return subprocess.run(
        [sys.executable, "-m", "preservation.cli", "mail", "receive", "--json", *extra],
        input=raw,
        env=env,
        capture_output=True,
        timeout=60,
    )


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
async def test_mail_receive_takes_in_each_providers_reply(
    db, settings, clock, smtp, database_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    made, row = await sent_request(db, settings, smtp)
    real_now = datetime.now(UTC)
    # Four senders through the real command (each run starts Python: a second or two); every
    # sample's proposal is checked in-process by tests/requests/test_replies.py.
    for sample in (SAMPLES[0], SAMPLES[3], SAMPLES[5], SAMPLES[6]):
        raw = reply(
            sample, to=UNIT_ADDRESS, in_reply_to=row.message_id, our_reference=made.reference
        )
        done = await asyncio.to_thread(_receive, database_url, raw, "--recipient", UNIT_ADDRESS)
        assert done.returncode == 0, done.stderr.decode()
        result = json.loads(done.stdout)
        assert result["state"] == "attached" and result["request_id"] == made.request_id
        stored = await load(db, MailMessage, result["message"])
        assert stored.proposal["provider_reference"] == sample.reference, sample.name
        if real_now > ARRIVES:  # the machine's clock is the reply's arrival: not in the future
            assert datetime.fromisoformat(stored.proposal["preserved_at"]) == sample.preserved_at

    # The same message again: accepted, stored once.
    again = await asyncio.to_thread(_receive, database_url, raw)
    assert again.returncode == 0 and json.loads(again.stdout)["state"] == "duplicate"
    # Not an e-mail: 65, the MTA returns it.
    bad = await asyncio.to_thread(_receive, database_url, b"")
    assert bad.returncode == inbound.EX_DATAERR
    assert bad.stderr.decode().count("\n") == 0 or "preservation:" in bad.stderr.decode()
    # The database unreachable: 75, the MTA keeps it and tries again.
    down = await asyncio.to_thread(
        _receive, "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", raw
    )
    assert down.returncode == inbound.EX_TEMPFAIL, down.stderr.decode()
    # No database file where the settings point: 75, and none is created by the mail.
    missing = tmp_path / "nowhere.db"
    down = await asyncio.to_thread(_receive, f"sqlite+aiosqlite:///{missing}", raw)
    assert down.returncode == inbound.EX_TEMPFAIL and not missing.exists()


async def test_the_no_acknowledgement_reminder_names_the_silent_recipient(  # type: ignore[no-untyped-def]
    db, settings, clock, smtp
) -> None:
    """The point of contact answered, the provider did not: the reminder says which."""
    import email
    import email.policy

    from sqlalchemy import update

    from preservation.reminders.delivery import deliver_due
    from preservation.storage.models import Unit
    from tests.dispatch_support import POC_COPY

    made = await make_request(db, now=SENT, recipients=(PROVIDER_EMAIL, POC_COPY))
    async with db.write() as s:
        await s.execute(
            update(Unit).where(Unit.id == made.unit_id).values(alert_emails=["duty@police.example"])
        )
    tuned = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_timeout_seconds": 5}
    )
    dispatcher = Dispatcher(
        db=db, settings=tuned, clock=FrozenClock(SENT), regimes=regimes_for(tuned)
    )
    assert await dispatcher.sweep() == 2
    poc_row = await load(db, OutboxMessage, made.outbox_ids[1])
    answer = reply(SAMPLES[5], to=UNIT_ADDRESS, in_reply_to=poc_row.message_id)
    ctx = Context(settings=tuned, clock=clock, regimes=regimes_for(tuned))
    assert (await inbound.receive_bytes(db, ctx=ctx, raw=answer)).state == "attached"

    smtp.messages.clear()
    assert await deliver_due(db, ctx=ctx) >= 1
    reminders = [
        email.message_from_bytes(raw, policy=email.policy.default) for raw, _, _ in smtp.messages
    ]
    (ack,) = [m for m in reminders if str(m["X-Preservation-Reminder"]) == "ack_missing"]
    assert "no reply from Example Mail Inc." in str(ack["Subject"])
    body = ack.get_content()
    assert (
        "No reply has come from: Example Mail Inc. <lawenforcement@provider.example>"
        " (provider, email)." in body
    )
    assert (
        "A reply came from: National 24/7 Point of Contact <247@poc.example> (copy, email)" in body
    )


async def test_the_app_starts_the_lmtp_listener_when_the_port_is_set(settings, clock) -> None:  # type: ignore[no-untyped-def]
    """`serve` wiring: the application's background jobs open the LMTP port, and close it."""
    from aiohttp.test_utils import TestClient, TestServer

    from preservation.web.app import create_app

    port = free_port()
    tuned = settings.model_copy(update={"inbound_port": port, "inbound_host": "127.0.0.1"})
    app = create_app(tuned, clock=clock, migrate=False, scheduler=False)
    async with TestClient(TestServer(app)):
        raw = reply(GOOGLE, to="nobody@elsewhere.example", message_id="<wired-1@google.com>")
        assert (await lmtp(port, raw, ["nobody@elsewhere.example"]))[0].startswith("250")
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
