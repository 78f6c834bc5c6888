"""E-mail delivery to a real aiosmtpd server on loopback: headers, the PDF, the stable
Message-ID, retries with back-off on the frozen clock, and the failed recipient with its alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from preservation.dispatch.dispatcher import Dispatcher
from preservation.requests import audit
from preservation.storage.models import OutboxMessage, PreservationRequest, Reminder
from tests.dispatch_support import (
    POC_COPY,
    PORTAL,
    PROVIDER_EMAIL,
    Sink,
    actions_of,
    load,
    make_request,
    regimes_for,
    start_sink,
)
from tests.e2e.helpers import free_port


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def sink(smtp_port: int):  # type: ignore[no-untyped-def]
    handler = Sink()
    controller = start_sink(handler, smtp_port)
    yield handler
    controller.stop()


def dispatcher_for(settings, clock, db, port: int, wakes: list[int] | None = None, **over):  # type: ignore[no-untyped-def]
    tuned = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "dispatch@unit.police.example",
            "smtp_timeout_seconds": 5,
            "max_attempts": 3,
            "retry_base_seconds": 30.0,
            "retry_max_seconds": 3600.0,
            **over,
        }
    )
    calls = wakes if wakes is not None else []
    return Dispatcher(
        db=db,
        settings=tuned,
        clock=clock,
        regimes=regimes_for(tuned),
        wake=lambda: calls.append(1),
    )


async def test_mail_is_delivered_with_headers_and_pdf(db, settings, clock, sink, smtp_port) -> None:  # type: ignore[no-untyped-def]
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL, POC_COPY))
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)

    assert await dispatcher.sweep() == 2
    assert await dispatcher.sweep() == 0

    assert len(sink.accepted) == 2
    by_to = {m["To"].addresses[0].addr_spec: m for m in sink.accepted}
    mail = by_to["lawenforcement@provider.example"]
    provider_row = made.outbox_ids[0]
    assert mail["Message-ID"] == f"<outbox-{provider_row}.{made.reference}@unit.police.example>"
    assert mail["Subject"].startswith("URGENT")
    assert made.reference in mail["Subject"]
    # From: the operator's sender with the unit's name; replies go to the unit.
    (sender,) = mail["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Cybercrime Unit",
        "dispatch@unit.police.example",
    )
    (reply_to,) = mail["Reply-To"].addresses
    assert reply_to.addr_spec == "unit@police.example"
    assert mail["To"].addresses[0].display_name == "Example Mail Inc."
    assert mail["X-Preservation-Reference"] == made.reference
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert made.reference in body
    assert "suspect@example.com" in body
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{made.reference}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    # Each recipient gets its own Message-ID.
    assert len({m["Message-ID"] for m in sink.accepted}) == 2

    req = await load(db, PreservationRequest, made.request_id)
    assert req.status == "sent" and req.sent_at == clock.now()
    rows = [await load(db, OutboxMessage, i) for i in made.outbox_ids]
    assert [r.status for r in rows] == ["sent", "sent"]
    assert rows[0].message_id == mail["Message-ID"]
    actions = await actions_of(db, made.request_id)
    assert actions.count("delivered") == 2 and actions.count("sent") == 1
    async with db.read() as s:
        assert audit.verify_chain(await audit.events_of(s, made.request_id)) is None


async def test_copy_alone_does_not_mark_the_request_sent(
    db, settings, clock, sink, smtp_port
) -> None:  # type: ignore[no-untyped-def]
    """A portal provider is a hand-off: the copy to the 24/7 point of contact goes out at once,
    and the request stays queued until the officer records the portal submission."""
    made = await make_request(db, now=clock.now(), recipients=(PORTAL, POC_COPY))
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)
    assert await dispatcher.sweep() == 1
    assert [m["To"].addresses[0].addr_spec for m in sink.accepted] == ["247@poc.example"]
    portal_row, copy_row = [await load(db, OutboxMessage, i) for i in made.outbox_ids]
    assert (portal_row.status, copy_row.status) == ("handoff", "sent")
    assert (await load(db, PreservationRequest, made.request_id)).status == "queued"


async def test_message_id_is_stable_across_a_retry(db, settings, clock, sink, smtp_port) -> None:  # type: ignore[no-untyped-def]
    sink.replies = ["421 4.3.2 Service not available, try later"]
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL,))
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)
    (row_id,) = made.outbox_ids

    assert await dispatcher.sweep() == 1
    row = await load(db, OutboxMessage, row_id)
    assert row.status == "pending" and row.attempts == 1 and "421" in row.last_error
    delay = row.next_attempt_at - clock.now()
    assert timedelta(seconds=15) <= delay <= timedelta(seconds=30)
    assert await dispatcher.sweep() == 0  # not due yet: nothing is tried early

    clock.advance(delay)
    assert await dispatcher.sweep() == 1
    assert len(sink.received) == 2 and len(sink.accepted) == 1
    first, second = sink.received
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"] == f"<outbox-{row_id}.{made.reference}@unit.police.example>"
    row = await load(db, OutboxMessage, row_id)
    assert row.status == "sent" and row.attempts == 2 and row.last_error == ""


async def _fail_until_given_up(db, dispatcher, clock, row_id: int) -> list[timedelta]:  # type: ignore[no-untyped-def]
    delays = []
    for _attempt in range(dispatcher.settings.max_attempts):
        assert await dispatcher.sweep() == 1
        row = await load(db, OutboxMessage, row_id)
        if row.status == "failed":
            break
        assert row.status == "pending"
        delays.append(row.next_attempt_at - clock.now())
        clock.advance(delays[-1])
    return delays


@pytest.mark.parametrize("reply", ["550 5.7.1 Relaying denied", "421 4.7.0 Try again later"])
async def test_refusing_server_retries_with_backoff_then_fails_with_alert(  # type: ignore[no-untyped-def]
    db, settings, clock, sink, smtp_port, reply
) -> None:
    sink.replies = [reply] * 10
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL,))
    wakes: list[int] = []
    dispatcher = dispatcher_for(settings, clock, db, smtp_port, wakes)
    (row_id,) = made.outbox_ids

    delays = await _fail_until_given_up(db, dispatcher, clock, row_id)

    # Exponential back-off with jitter: attempt n waits between half and all of 30 s * 2^(n-1).
    assert len(delays) == 2
    for n, delay in enumerate(delays, start=1):
        ceiling = timedelta(seconds=30 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len(sink.received) == 3 and sink.accepted == []
    row = await load(db, OutboxMessage, row_id)
    assert row.status == "failed" and row.attempts == 3 and reply.split()[0] in row.last_error
    await _assert_alert(db, made, row_id, clock.now())
    assert wakes, "the scheduler is woken so the alert goes out at once"
    assert await dispatcher.sweep() == 0


async def test_vanished_server_retries_then_fails_with_alert(db, settings, clock) -> None:  # type: ignore[no-untyped-def]
    closed_port = free_port()  # nothing listens there
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL, POC_COPY))
    dispatcher = dispatcher_for(settings, clock, db, closed_port, max_attempts=4)

    for attempt in range(1, 5):
        assert await dispatcher.sweep() == 2
        rows = [await load(db, OutboxMessage, i) for i in made.outbox_ids]
        assert {r.attempts for r in rows} == {attempt}
        assert all("unreachable" in r.last_error for r in rows)
        if attempt < 4:
            assert {r.status for r in rows} == {"pending"}
            clock.advance(max(r.next_attempt_at for r in rows) - clock.now())
    assert {r.status for r in rows} == {"failed"}
    for row_id in made.outbox_ids:
        await _assert_alert(db, made, row_id, clock.now())
    req = await load(db, PreservationRequest, made.request_id)
    assert req.status == "queued", "nothing was sent: the request must not look sent"


async def _assert_alert(db, made, row_id: int, now) -> None:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        alert = (
            await s.execute(select(Reminder).where(Reminder.key == f"alert:outbox:{row_id}"))
        ).scalar_one()
    assert alert.kind == "alert_delivery_failed"
    assert alert.unit_id == made.unit_id and alert.request_id == made.request_id
    assert alert.status == "pending" and alert.due_at == now and alert.next_attempt_at == now
    assert alert.payload["reference"] == made.reference
    assert alert.payload["recipient"]["outbox_id"] == row_id
    assert alert.payload["recipient"]["to"]
    assert "delivery_failed" in await actions_of(db, made.request_id)


async def test_expired_lease_is_reclaimed_and_delivered(
    db, settings, clock, sink, smtp_port
) -> None:  # type: ignore[no-untyped-def]
    """A node that claimed a row and died: once the lease is out, another node delivers it."""
    from preservation.storage import claims

    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL,))
    async with db.write() as s:
        assert (
            await claims.claim(
                s, OutboxMessage, node="dead-node", now=clock.now(), lease_seconds=120, limit=10
            )
            == made.outbox_ids
        )
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)
    assert await dispatcher.sweep() == 0
    clock.advance(seconds=121)
    assert await dispatcher.sweep() == 1
    row = await load(db, OutboxMessage, made.outbox_ids[0])
    assert row.status == "sent" and row.attempts == 2
    assert len(sink.accepted) == 1


async def test_closed_request_sends_nothing(db, settings, clock, sink, smtp_port) -> None:  # type: ignore[no-untyped-def]
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL,))
    async with db.write() as s:
        req = await s.get(PreservationRequest, made.request_id)
        req.status = "closed"
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)
    assert await dispatcher.sweep() == 1
    assert sink.received == []
    assert (await load(db, OutboxMessage, made.outbox_ids[0])).status == "cancelled"


async def test_the_alert_reaches_the_unit_through_the_reminder_sweep(  # type: ignore[no-untyped-def]
    db, settings, clock, sink, smtp_port
) -> None:
    """Nothing is dropped silently: the provider's server refuses for good, and the unit's alert
    address gets an e-mail naming the request and the recipient."""
    from preservation.reminders.delivery import deliver_due
    from preservation.runtime.context import Context
    from preservation.storage.models import Unit

    sink.replies = ["550 5.1.1 No such mailbox"] * 3
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL,))
    async with db.write() as s:
        unit = await s.get(Unit, made.unit_id)
        unit.alert_emails = ["duty@police.example"]
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)
    await _fail_until_given_up(db, dispatcher, clock, made.outbox_ids[0])
    assert (await load(db, OutboxMessage, made.outbox_ids[0])).status == "failed"

    ctx = Context(settings=dispatcher.settings, clock=clock, regimes=dispatcher.regimes)
    assert await deliver_due(db, ctx=ctx) >= 1
    alerts = [m for m in sink.accepted if made.reference in m["Subject"]]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["Subject"].startswith("ALERT")
    assert [a.addr_spec for a in alert["To"].addresses] == ["duty@police.example"]
    text = alert.get_content()
    assert "lawenforcement@provider.example" in text and "550" in text
    async with db.read() as s:
        row = (
            await s.execute(select(Reminder).where(Reminder.kind == "alert_delivery_failed"))
        ).scalar_one()
    assert row.status == "delivered"


async def test_many_recipients_of_one_request_are_recorded_concurrently(  # type: ignore[no-untyped-def]
    db, settings, clock, sink, smtp_port
) -> None:
    """Deliveries of one request finish together: each records under the request's lock (taken
    before the outbox row's, FOR NO KEY UPDATE on PostgreSQL) without deadlocking; the request
    moves to sent exactly once."""
    copies = tuple(("copy", "email", f"poc{i}@poc.example", f"PoC {i}") for i in range(8))
    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL, *copies))
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)
    assert await dispatcher.sweep() == 9
    rows = [await load(db, OutboxMessage, i) for i in made.outbox_ids]
    assert {r.status for r in rows} == {"sent"}
    assert {r.attempts for r in rows} == {1}
    actions = await actions_of(db, made.request_id)
    assert actions.count("delivered") == 9 and actions.count("sent") == 1
    async with db.read() as s:
        assert audit.verify_chain(await audit.events_of(s, made.request_id)) is None


async def test_the_letter_sent_is_the_letter_on_record(
    db, settings, clock, sink, smtp_port
) -> None:  # type: ignore[no-untyped-def]
    """One builder (requests/letters.py): the text each recipient receives is the letter the unit
    reads on the request's record for that recipient at that moment (each recipient has its own
    letter: the point of contact in copy gets one addressed to it). Once sent, the record's letter
    also states the deadline computed from the sending."""
    from preservation.access.auth import Principal
    from preservation.requests.view import render_request_letter
    from preservation.runtime.context import Context

    made = await make_request(db, now=clock.now(), recipients=(PROVIDER_EMAIL, POC_COPY))
    principal = Principal(
        user_id=0, user_name="reader", unit_id=made.unit_id, unit_name="alpha", role="officer"
    )
    ctx = Context(settings=settings, clock=clock, regimes=regimes_for(settings))

    async def on_record(recipient_id: int) -> str:
        body, _ = await render_request_letter(
            db,
            ctx=ctx,
            principal=principal,
            request_id=made.request_id,
            fmt="text",
            lang=None,
            recipient_id=recipient_id,
        )
        return body.decode("utf-8").strip()

    before = {rid: await on_record(rid) for rid in made.outbox_ids}
    provider_letter, poc_letter = before.values()
    assert provider_letter != poc_letter  # each addressed to its recipient
    # T-CY(2018)11 layout: field 4 names the requested authority.
    assert "4. Requested authority: National 24/7 Point of Contact" in poc_letter
    assert "Copy:" not in poc_letter
    dispatcher = dispatcher_for(settings, clock, db, smtp_port)
    assert await dispatcher.sweep() == 2
    assert len(sink.accepted) == 2
    sent = {
        mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n").strip()
        for mail in sink.accepted
    }
    assert sent == set(before.values())
    after = await on_record(made.outbox_ids[0])
    assert "We will act before" in after
    assert "We will act before" not in provider_letter
