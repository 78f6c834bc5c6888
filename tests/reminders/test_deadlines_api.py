"""GET /api/v1/deadlines and /api/v1/deadlines.ics: the caller's unit only, ordered, the local
time right across a daylight-saving change, a feed a calendar updates rather than duplicates;
`preservation deadlines`. Both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from preservation.requests import reminder_plan as reminders
from preservation.storage.models import PreservationRequest, Unit, User
from preservation.web.keys import DB
from tests.conftest import T0, assert_problem, auth
from tests.reminder_support import context, make_request

DAY = timedelta(days=1)


async def _setup(client, clock, settings):  # type: ignore[no-untyped-def]
    """alpha (Europe/Berlin): two 2703(f) requests expiring in 25 and 85 days; beta: one."""
    db = client.server.app[DB]
    ctx = context(settings, clock)
    async with db.write() as s:
        units = {u.name: u for u in (await s.execute(Unit.__table__.select())).all()}
        for name in ("alpha", "beta"):
            unit = await s.get(Unit, units[name].id)
            unit.timezone = "Europe/Berlin" if name == "alpha" else "America/New_York"
    ids = {}
    for name, key, back in (("alpha", "a1", 65), ("alpha", "a2", 5), ("beta", "b1", 60)):
        unit_id = units[name].id
        async with db.read() as s:
            user_id = (
                await s.execute(select(User.id).where(User.unit_id == unit_id).limit(1))
            ).scalar_one()
        ids[key] = await make_request(
            db,
            ctx,
            unit_id=unit_id,
            user_id=user_id,
            regime="us-2703f",
            status="preserved",
            sent_at=T0 - back * DAY,
            preserved_at=T0 - back * DAY,
        )
    return db, ctx, ids


async def test_deadlines_lists_the_units_reminders_in_due_order(
    client, tokens, clock, settings
) -> None:  # type: ignore[no-untyped-def]
    db, ctx, ids = await _setup(client, clock, settings)
    resp = await client.get("/api/v1/deadlines?within=P30D", headers=auth(tokens["officer"]))
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert {i["request_id"] for i in items} == {ids["a1"]}  # a2's first is in 55 days
    dues = [i["due_at"] for i in items]
    assert dues == sorted(dues)
    a1 = [i for i in items if i["request_id"] == ids["a1"]]
    # a1 expires at T0 + 25 days: its 14, 7, 3, 1 day reminders and the expiry are within 30
    # days, and the 30-day one (made overdue by the late plan, not delivered yet) comes first.
    assert [i["kind"] for i in a1] == [
        "expiry_minus_30d",
        "expiry_minus_14d",
        "expiry_minus_7d",
        "expiry_minus_3d",
        "expiry_minus_1d",
        "expiry",
    ]
    assert {i["expires_at"] for i in a1} == {"2026-12-15T12:00:00Z"}
    assert a1[-1]["due_at"] == "2026-12-15T12:00:00Z"
    assert a1[-1]["due_at_local"] == "2026-12-15T13:00:00+01:00"
    assert set(a1[0]) >= {"request_id", "reference", "kind", "due_at", "expires_at"}
    # The default window is 30 days; a shorter one shows less.
    default = await (await client.get("/api/v1/deadlines", headers=auth(tokens["officer"]))).json()
    assert default["items"] == items
    short = await (
        await client.get("/api/v1/deadlines?within=PT48H", headers=auth(tokens["supervisor"]))
    ).json()
    assert [i["kind"] for i in short["items"]] == ["expiry_minus_30d"]  # only the overdue one
    # Another unit sees only its own.
    other = await (
        await client.get("/api/v1/deadlines?within=P90D", headers=auth(tokens["other_officer"]))
    ).json()
    assert {i["request_id"] for i in other["items"]} == {ids["b1"]}


async def test_delivered_and_closed_are_not_listed(client, tokens, clock, settings) -> None:  # type: ignore[no-untyped-def]
    db, ctx, ids = await _setup(client, clock, settings)
    async with db.write() as s:
        req = await s.get(PreservationRequest, ids["a1"])
        req.status, req.closed_at = "closed", clock.now()
        await reminders.replan(s, req, ctx=ctx)
    items = (
        await (
            await client.get("/api/v1/deadlines?within=P90D", headers=auth(tokens["officer"]))
        ).json()
    )["items"]
    assert {i["request_id"] for i in items} == {ids["a2"]}


@pytest.mark.parametrize("bad", ["30 days", "P1Y", "P0D", "-P1D", "P", "PT", "14d", "P99999D"])
async def test_bad_within_is_422_naming_it(client, tokens, bad) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get(
        "/api/v1/deadlines", params={"within": bad}, headers=auth(tokens["officer"])
    )
    await assert_problem(resp, 422, field="query.within")
    resp = await client.get(
        "/api/v1/deadlines.ics", params={"within": bad}, headers=auth(tokens["officer"])
    )
    await assert_problem(resp, 422, field="query.within")


async def test_deadlines_need_a_token(client) -> None:  # type: ignore[no-untyped-def]
    await assert_problem(await client.get("/api/v1/deadlines"), 401)
    await assert_problem(await client.get("/api/v1/deadlines.ics"), 401)


async def test_ics_feed_parses_with_stable_uids_and_alarms(client, tokens, clock, settings) -> None:  # type: ignore[no-untyped-def]
    db, ctx, ids = await _setup(client, clock, settings)
    resp = await client.get("/api/v1/deadlines.ics", headers=auth(tokens["officer"]))
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(await resp.read())
    events = cal.walk("VEVENT")
    async with db.read() as s:
        a1 = await s.get(PreservationRequest, ids["a1"])
        a2 = await s.get(PreservationRequest, ids["a2"])
    assert [str(e["UID"]) for e in events] == [
        f"{a1.reference}@preservation-dispatcher",
        f"{a2.reference}@preservation-dispatcher",
    ]
    first = events[0]
    assert first.decoded("DTSTART") == a1.expires_at == datetime(2026, 12, 15, 12, tzinfo=UTC)
    assert int(first["SEQUENCE"]) == 1
    assert first.decoded("LAST-MODIFIED") == a1.updated_at and first.decoded("DTSTAMP")
    triggers = sorted(a.decoded("TRIGGER") for a in first.walk("VALARM"))
    assert triggers == [-timedelta(days=d) for d in (30, 14, 7, 3, 1)] + [timedelta(0)]
    assert "2026-12-15 13:00 CET (UTC+01:00)" in str(first["DESCRIPTION"]).replace("\\n", "\n")
    # within limits the feed.
    short = Calendar.from_ical(
        await (
            await client.get("/api/v1/deadlines.ics?within=P30D", headers=auth(tokens["officer"]))
        ).read()
    )
    assert len(short.walk("VEVENT")) == 1

    # An extension granted: the same UID, a later DTSTART, a higher SEQUENCE.
    clock.advance(days=1)
    async with db.write() as s:
        req = await s.get(PreservationRequest, ids["a1"])
        req.extensions = [
            {"requested_at": clock.now().isoformat(), "granted_at": clock.now().isoformat()}
        ]
        req.version += 1
        req.updated_at = clock.now()
        await reminders.replan(s, req, ctx=ctx)
    cal = Calendar.from_ical(
        await (await client.get("/api/v1/deadlines.ics", headers=auth(tokens["officer"]))).read()
    )
    updated = [e for e in cal.walk("VEVENT") if str(e["UID"]).startswith(a1.reference)]
    assert len(updated) == 1
    assert updated[0].decoded("DTSTART") == datetime(2027, 3, 15, 12, tzinfo=UTC)
    assert int(updated[0]["SEQUENCE"]) == 2
    assert updated[0].decoded("LAST-MODIFIED") == clock.now()

    # The other unit's feed holds only its own request.
    other = Calendar.from_ical(
        await (
            await client.get("/api/v1/deadlines.ics", headers=auth(tokens["other_officer"]))
        ).read()
    )
    assert len(other.walk("VEVENT")) == 1
    assert a1.reference not in other.to_ical().decode()


async def test_expiry_across_a_dst_change_shows_the_local_time_then(
    client, tokens, clock, settings
) -> None:  # type: ignore[no-untyped-def]
    """Preserved at 14:00 CEST (12:00 UTC) on 2026-10-01; 90 days later is 12:00 UTC on
    2026-12-30, which Berlin calls 13:00 CET: the same instant, shown in the zone of that day."""
    db = client.server.app[DB]
    ctx = context(settings, clock)
    async with db.write() as s:
        unit = (await s.execute(Unit.__table__.select().where(Unit.name == "alpha"))).first()
        u = await s.get(Unit, unit.id)
        u.timezone = "Europe/Berlin"
    async with db.read() as s:
        user_id = (
            await s.execute(select(User.id).where(User.unit_id == unit.id).limit(1))
        ).scalar_one()
    sent = datetime(2026, 10, 1, 12, tzinfo=UTC)
    rid = await make_request(
        db,
        ctx,
        unit_id=unit.id,
        user_id=user_id,
        regime="us-2703f",
        status="preserved",
        sent_at=sent,
        preserved_at=sent,
    )
    items = (
        await (
            await client.get("/api/v1/deadlines?within=P60D", headers=auth(tokens["officer"]))
        ).json()
    )["items"]
    expiry = [i for i in items if i["request_id"] == rid and i["kind"] == "expiry"][0]
    assert expiry["due_at"] == "2026-12-30T12:00:00Z"
    assert expiry["due_at_local"] == "2026-12-30T13:00:00+01:00"
    assert expiry["timezone"] == "Europe/Berlin"
    cal = Calendar.from_ical(
        await (await client.get("/api/v1/deadlines.ics", headers=auth(tokens["officer"]))).read()
    )
    (event,) = cal.walk("VEVENT")
    assert event.decoded("DTSTART") == datetime(2026, 12, 30, 12, tzinfo=UTC)
    assert "2026-12-30 13:00 CET (UTC+01:00), 2026-12-30 12:00 UTC" in str(
        event["DESCRIPTION"]
    ).replace("\\n", "\n")


# --- CLI ---------------------------------------------------------------------------------------


async def test_cli_deadlines(db, settings, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`preservation deadlines` against the real clock: a request expiring in ten days."""
    import asyncio

    from preservation.cli import main
    from preservation.domain.clock import FrozenClock
    from tests.reminder_support import make_unit

    now = datetime.now(UTC)
    clock = FrozenClock(now)
    ctx = context(settings, clock)
    unit_id, user_id = await make_unit(db, now=now, tz="Asia/Tokyo")
    other_id, other_user = await make_unit(db, name="beta", now=now)
    rid = await make_request(
        db,
        ctx,
        unit_id=unit_id,
        user_id=user_id,
        regime="us-2703f",
        status="preserved",
        sent_at=now - 80 * DAY,
        preserved_at=now - 80 * DAY,
    )
    await make_request(
        db,
        ctx,
        unit_id=other_id,
        user_id=other_user,
        regime="us-2703f",
        status="preserved",
        sent_at=now - 85 * DAY,
        preserved_at=now - 85 * DAY,
    )
    monkeypatch.setenv("PRESERVATION_DATABASE_URL", settings.database_url)

    def run(*argv: str) -> int:
        return main(list(argv))

    code = await asyncio.to_thread(run, "deadlines", "--within", "14d", "--json", "--unit", "alpha")
    out = capsys.readouterr()
    assert code == 0, out.err
    items = json.loads(out.out)["items"]
    assert [i["kind"] for i in items] == [
        "expiry_minus_14d",  # due four days ago, not delivered (no node running): overdue
        "expiry_minus_7d",
        "expiry_minus_3d",
        "expiry_minus_1d",
        "expiry",
    ]
    assert {i["request_id"] for i in items} == {rid} and items[0]["unit"] == "alpha"
    assert "JST (UTC+09:00)" in items[0]["due"]

    code = await asyncio.to_thread(run, "deadlines", "--within", "P14D")
    out = capsys.readouterr()
    assert code == 0 and "alpha" in out.out and "beta" in out.out

    code = await asyncio.to_thread(run, "deadlines", "--within", "PT1H", "--json")
    overdue = json.loads(capsys.readouterr().out)["items"]
    assert code == 0 and overdue and all(i["due_at"] < now.isoformat() for i in overdue)
    code = await asyncio.to_thread(run, "deadlines", "--unit", "quiet")
    assert code == 2  # no such unit
    await make_unit(db, name="quiet", now=now)
    code = await asyncio.to_thread(run, "deadlines", "--unit", "quiet")
    assert code == 0 and capsys.readouterr().out.strip() == "nothing falls due"

    for bad in ("14x", "0d", "P1M"):
        code = await asyncio.to_thread(run, "deadlines", "--within", bad)
        out = capsys.readouterr()
        assert code == 2, bad
        # (The CLI may first name the database it opened.)
        last = out.err.strip().splitlines()[-1]
        assert last.startswith("preservation: within:") and "Traceback" not in out.err
    code = await asyncio.to_thread(run, "deadlines", "--unit", "nobody")
    assert code == 2 and "unit" in capsys.readouterr().err
