"""The calendar feed bounded by what is open (reminders/feed.py): every open deadline kind (the
expiry with its alarms, the acknowledgement follow-up, the MLA follow-ups of data held until the
decision), a recent window and nothing older, absolute links, ETag / Last-Modified -> 304, HEAD,
gzip, a cap that says so; the deadline list a page at a time. Both engines."""

from __future__ import annotations

import gzip
from datetime import timedelta
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from preservation.reminders import feed
from preservation.storage.models import PreservationRequest, Reminder
from preservation.web.api.deadlines import FEEDS
from preservation.web.keys import DB
from tests.conftest import T0, assert_problem, auth
from tests.reminder_support import context, make_request, unit_and_user

DAY = timedelta(days=1)
ICS = "/api/v1/deadlines.ics"


async def _events(client, token: str, **params: str) -> list[Any]:  # type: ignore[no-untyped-def]
    resp = await client.get(ICS, params=params, headers=auth(token))
    assert resp.status == 200, await resp.text()
    return Calendar.from_ical(await resp.read()).walk("VEVENT")


async def test_every_open_deadline_kind_is_an_event(client, tokens, clock, settings) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = context(settings, clock)
    unit_id, user_id = await unit_and_user(db, "alpha")
    # Sent yesterday, not acknowledged: its acknowledgement follow-up and its expiry.
    sent = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="us-2703f",
        status="sent",
        sent_at=T0 - DAY,
    )
    # Held until the MLA decision (no expiry): its MLA follow-ups.
    held = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="budapest-art29",
        status="preserved",
        sent_at=T0 - 10 * DAY,
        preserved_at=T0 - 10 * DAY,
    )
    from preservation.requests.reminder_plan import replan

    async with db.write() as s:
        req = await s.get(PreservationRequest, held)
        req.status, req.mla_sent_at = "mla_sent", T0 - 5 * DAY
        if hasattr(req, "mla_received_at"):
            req.mla_received_at = T0 - 4 * DAY
        await replan(s, req, ctx=ctx)
    async with db.read() as s:
        kinds_held = {
            k
            for (k,) in await s.execute(
                select(Reminder.kind).where(
                    Reminder.request_id == held, Reminder.status == "pending"
                )
            )
        }
    events = await _events(client, tokens["officer"])
    text = "".join(str(e["SUMMARY"]) for e in events)
    assert "No acknowledgement yet" in text and "Preservation expires" in text
    if "mla_followup" in kinds_held:
        assert "Follow up the MLA request" in text
    # The expiry keeps the request's UID (calendars update it); the others have their own.
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    async with db.read() as s:
        ref = (
            await s.execute(
                select(PreservationRequest.reference).where(PreservationRequest.id == sent)
            )
        ).scalar_one()
    assert f"{ref}@preservation-dispatcher" in uids
    assert f"{ref}-ack_missing@preservation-dispatcher" in uids
    # Reminders before the expiry are its alarms, not events of their own.
    expiry = next(e for e in events if str(e["UID"]) == f"{ref}@preservation-dispatcher")
    assert len(expiry.walk("VALARM")) == len(settings.reminder_offsets_days) + 1


async def test_links_are_absolute_with_the_public_url(client, tokens, clock, settings) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = context(settings, clock)
    unit_id, user_id = await unit_and_user(db, "alpha")
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        status="preserved",
        sent_at=T0 - DAY,
        preserved_at=T0 - DAY,
    )
    [event] = [
        e for e in await _events(client, tokens["officer"]) if "expires" in str(e["SUMMARY"])
    ]
    base = str(client.make_url("")).rstrip("/")
    assert str(event["URL"]) == f"{base}/requests/{rid}"
    assert f"Open: {base}/requests/{rid}" in str(event["DESCRIPTION"])
    # Behind a proxy, with the public URL configured, links use it.
    app = client.server.app
    from preservation.web.keys import SETTINGS

    if "public_url" in type(app[SETTINGS]).model_fields:
        object.__setattr__(app[SETTINGS], "public_url", "https://preservation.police.example")
        [event] = [
            e for e in await _events(client, tokens["officer"]) if "expires" in str(e["SUMMARY"])
        ]
        assert str(event["URL"]) == f"https://preservation.police.example/requests/{rid}"


async def test_an_unchanged_feed_is_304_and_a_change_is_seen(
    client, tokens, clock, settings
) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = context(settings, clock)
    unit_id, user_id = await unit_and_user(db, "alpha")
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        status="preserved",
        sent_at=T0 - DAY,
        preserved_at=T0 - DAY,
    )
    clock.advance(minutes=5)  # the last change is settled (no late commit can come)
    token = auth(tokens["officer"])
    first = await client.get(ICS, headers=token)
    assert first.status == 200
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('W/"') and first.headers["Cache-Control"] == "private, no-cache"
    again = await client.get(ICS, headers={**token, "If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    assert await again.read() == b""
    since = await client.get(ICS, headers={**token, "If-Modified-Since": modified})
    assert since.status == 304
    builds = client.server.app[FEEDS].builds
    # A change of a request changes the validator.
    clock.advance(minutes=1)
    async with db.write() as s:
        await s.execute(
            update(PreservationRequest)
            .where(PreservationRequest.id == rid)
            .values(case_reference="CHANGED", updated_at=clock.now(), version=2)
        )
    changed = await client.get(ICS, headers={**token, "If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag
    assert "CHANGED" in (await changed.read()).decode()
    # The next day the recent window moved: a new validator, although nothing changed.
    clock.advance(days=1)
    later = await client.get(ICS, headers={**token, "If-None-Match": changed.headers["ETag"]})
    assert later.status == 200
    assert client.server.app[FEEDS].builds > builds


async def test_while_a_change_may_still_commit_the_etag_moves(
    client, tokens, clock, settings
) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = context(settings, clock)
    unit_id, user_id = await unit_and_user(db, "alpha")
    await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        status="preserved",
        sent_at=T0 - DAY,
        preserved_at=T0 - DAY,
    )
    token = auth(tokens["officer"])
    first = await client.get(ICS, headers=token)
    clock.advance(seconds=feed.RECHECK_SECONDS)
    later = await client.get(ICS, headers={**token, "If-None-Match": first.headers["ETag"]})
    assert later.status == 200  # within MAX_TRANSACTION_SECONDS of the last change
    clock.advance(seconds=feed.MAX_TRANSACTION_SECONDS)
    settled = await client.get(ICS, headers=token)
    again = await client.get(ICS, headers={**token, "If-None-Match": settled.headers["ETag"]})
    assert again.status == 304


async def test_head_gzip_and_feed_url(client, tokens, clock, settings) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = context(settings, clock)
    unit_id, user_id = await unit_and_user(db, "alpha")
    await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        status="preserved",
        sent_at=T0 - DAY,
        preserved_at=T0 - DAY,
    )
    created = await (
        await client.post("/api/v1/feeds/deadlines", headers=auth(tokens["officer"]))
    ).json()
    head = await client.head(created["path"])
    assert head.status == 200 and head.headers["Content-Type"].startswith("text/calendar")
    assert await head.read() == b""
    plain = await client.get(created["path"], headers={"Accept-Encoding": "identity"})
    body = await plain.read()
    assert plain.headers.get("Content-Encoding") is None and body.startswith(b"BEGIN:VCALENDAR")
    zipped = await client.get(
        created["path"], headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await zipped.read()) == body
    missing = await client.head("/api/v1/feeds/pdf_nothing/deadlines.ics")
    assert missing.status == 404 and await missing.read() == b""


async def test_old_history_is_not_in_the_feed_and_a_cut_says_so(
    client, tokens, clock, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = context(settings, clock)
    unit_id, user_id = await unit_and_user(db, "alpha")
    for k in range(3):
        await make_request(
            db,
            ctx,
            unit_id=unit_id,
            user_id=user_id,
            status="preserved",
            sent_at=T0 - (k + 1) * DAY,
            preserved_at=T0 - (k + 1) * DAY,
        )
    # A closed request long ago, and one that lapsed long ago: not in the feed.
    old = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        status="preserved",
        sent_at=T0 - 400 * DAY,
        preserved_at=T0 - 400 * DAY,
    )
    async with db.write() as s:
        await s.execute(
            update(PreservationRequest).where(PreservationRequest.id == old).values(status="lapsed")
        )
        await s.execute(
            update(Reminder).where(Reminder.request_id == old).values(status="delivered")
        )
    events = await _events(client, tokens["officer"])
    assert len(events) == 3
    monkeypatch.setattr(feed, "MAX_EVENTS", 2)
    resp = await client.get(ICS, params={"within": "P3000D"}, headers=auth(tokens["officer"]))
    assert resp.headers["X-Feed-Left-Out"] == "1"
    cut = Calendar.from_ical(await resp.read()).walk("VEVENT")
    assert len(cut) == 3 and "1 more deadlines are not in this feed" in str(cut[-1]["SUMMARY"])


def test_long_lines_are_folded_and_text_escaped() -> None:
    from datetime import UTC, datetime

    ev = feed.FeedEvent(
        request_id=7,
        reference="PR-2026-000007",
        case_reference="Ünïcode, case; with\\ a very long reference " + "é" * 60,
        request_status="preserved",
        regime="us-2703f",
        expiry_rule="r",
        version=1,
        changed=datetime(2026, 1, 1, tzinfo=UTC),
        created=datetime(2026, 1, 1, tzinfo=UTC),
        kind="expiry",
        due_at=datetime(2026, 3, 1, tzinfo=UTC),
        expires_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    body = feed.render(
        [ev],
        unit_name="Unit, A",
        unit_zone="Europe/Berlin",
        offsets_days=(7,),
        base_url="https://x.example",
        left_out=0,
        now=datetime(2026, 2, 1, tzinfo=UTC),
    )
    for line in body.split(b"\r\n"):
        assert len(line) <= 75
    cal = Calendar.from_ical(body)
    [event] = cal.walk("VEVENT")
    assert "Ünïcode, case; with\\ a very long reference" in str(event["DESCRIPTION"])
    assert b"X-WR-CALNAME:Preservation deadlines: Unit\\, A\r\n" in body


async def test_deadline_list_pages_through(client, tokens, clock, settings) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ctx = context(settings, clock)
    unit_id, user_id = await unit_and_user(db, "alpha")
    for k in range(3):
        await make_request(
            db,
            ctx,
            unit_id=unit_id,
            user_id=user_id,
            status="preserved",
            sent_at=T0 - (60 + k) * DAY,
            preserved_at=T0 - (60 + k) * DAY,
        )
    token = auth(tokens["officer"])
    whole = await (
        await client.get(
            "/api/v1/deadlines", params={"within": "P90D", "limit": 1000}, headers=token
        )
    ).json()
    assert whole["next"] is None and len(whole["items"]) > 4
    seen = []
    cursor = None
    while True:
        params = {"within": "P90D", "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/v1/deadlines", params=params, headers=token)).json()
        seen += page["items"]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == whole["items"]
    other = await client.get(
        "/api/v1/deadlines", params={"within": "P30D", "cursor": page["next"] or "x"}, headers=token
    )
    await assert_problem(other, 422, field="query.cursor")


@pytest.mark.parametrize("text", ["a" * 74, "b" * 75, "c" * 76, "ascii words " * 30, "é" * 80])
def test_folding_keeps_the_text_and_the_line_length(text: str) -> None:
    folded = feed._fold(f"SUMMARY:{text}")
    lines = folded.encode("utf-8").split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 for line in lines)
    # Unfolding (RFC 5545 3.1: remove CRLF followed by one space) gives the line back.
    assert folded.removesuffix("\r\n").replace("\r\n ", "") == f"SUMMARY:{text}"
