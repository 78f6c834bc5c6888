"""Replies on the pages: the record shows the correspondence and a reply's proposal, confirmed
with one click (the ordinary acknowledgement form); a supervisor's quarantine page attaches or
sets aside what matched nothing; an officer may not open it."""

from __future__ import annotations

import re
from datetime import datetime

from preservation.dispatch import inbound
from preservation.runtime.context import Context
from preservation.storage.models import OutboxMessage, PreservationRequest
from preservation.web.keys import DB
from tests.dispatch_support import PROVIDER_EMAIL, load, make_request
from tests.reply_samples import SAMPLES, reply
from tests.web.test_pages import CSRF, page, sign_in

UNIT_ADDRESS = "unit@police.example"


async def _sent(client, clock):  # type: ignore[no-untyped-def]
    """A request of unit alpha whose letter went out, with its Message-ID on the outbox row."""
    db = client.server.app[DB]
    made = await make_request(db, now=clock.now(), status="sent", recipients=(PROVIDER_EMAIL,))
    async with db.write() as s:
        row = await s.get(OutboxMessage, made.outbox_ids[0])
        row.status = "sent"
        row.message_id = f"<outbox-{row.id}.{made.reference}@police.example>"
        req = await s.get(PreservationRequest, made.request_id)
        req.sent_at = datetime(2026, 11, 17, 9, 0, tzinfo=clock.now().tzinfo)
    return made, await load(db, OutboxMessage, made.outbox_ids[0])


async def test_the_record_shows_the_reply_and_confirms_its_proposal(  # type: ignore[no-untyped-def]
    client, tokens, settings, clock
) -> None:
    made, row = await _sent(client, clock)
    ctx = Context(settings=settings, clock=clock)
    raw = reply(SAMPLES[1], to=UNIT_ADDRESS, in_reply_to=row.message_id)
    assert (
        await inbound.receive_bytes(client.server.app[DB], ctx=ctx, raw=raw)
    ).state == "attached"

    await sign_in(client, tokens["officer"])
    html = await page(client, f"/requests/{made.request_id}")
    assert "Correspondence" in html and SAMPLES[1].sender in html
    assert "Proposed:" in html and "7788990011" in html
    form = re.search(
        r'<form method="post" action="(/requests/\d+/acknowledge)" id="confirm-\d+">(.*?)</form>',
        html,
        re.S,
    )
    assert form is not None
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form[2]))
    assert fields["provider_reference"] == "7788990011"
    resp = await client.post(form[1], data=fields, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    req = await load(client.server.app[DB], PreservationRequest, made.request_id)
    assert req.status == "preserved" and req.provider_reference == "7788990011"
    assert req.preserved_at == SAMPLES[1].preserved_at


async def test_the_quarantine_page_is_for_supervisors(client, tokens, settings, clock) -> None:  # type: ignore[no-untyped-def]
    made, _ = await _sent(client, clock)
    ctx = Context(settings=settings, clock=clock)
    stray = reply(SAMPLES[7], to=UNIT_ADDRESS, message_id="<stray@poc-es.example>")
    outcome = await inbound.receive_bytes(
        client.server.app[DB], ctx=ctx, raw=stray, recipients=[UNIT_ADDRESS]
    )
    assert outcome.state == "quarantined"

    await sign_in(client, tokens["officer"])
    await page(client, "/mail", status=403)

    await sign_in(client, tokens["supervisor"])
    html = await page(client, "/mail")
    assert SAMPLES[7].sender in html
    csrf = CSRF.search(html)[1]
    mid = outcome.received.message
    resp = await client.post(
        f"/mail/{mid}/attach", data={"csrf": csrf, "request": "PR-2099-000001"}
    )
    assert resp.status == 422 and "the unit has no request" in await resp.text()
    resp = await client.post(
        f"/mail/{mid}/attach", data={"csrf": csrf, "request": made.reference}, allow_redirects=False
    )
    assert resp.status == 303
    html = await page(client, "/mail?done=attached")
    assert "Nothing waits." in html
    html = await page(client, f"/requests/{made.request_id}")
    assert "CNP-2026-88120" in html  # the attached reply's proposal
