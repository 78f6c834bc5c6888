"""The calendar feed at a URL of its own (preservation/access/feeds.py): what a calendar client can
subscribe to without a bearer token. Same content as the bearer feed; the URL opens that feed
and nothing else; rotation and revocation; unknown feeds are 404 and slowed; the value is not
logged. Both engines."""

from __future__ import annotations

import logging
import re

from icalendar import Calendar
from yarl import URL

from preservation.access.feeds import FEED_PREFIX
from preservation.web.auth import LIMITER
from tests.conftest import assert_problem, auth
from tests.reminders.test_deadlines_api import _setup

FEEDS = "/api/v1/feeds/deadlines"


async def _new_feed(client, token: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    resp = await client.post(FEEDS, headers=auth(token))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_a_calendar_client_subscribes_without_a_bearer_token(
    client, tokens, clock, settings, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    db, ctx, ids = await _setup(client, clock, settings)
    feed = await _new_feed(client, tokens["officer"])
    value = feed["path"].split("/")[4]
    assert value.startswith(FEED_PREFIX) and feed["url"].endswith(feed["path"])
    assert feed["url"].startswith("http://127.0.0.1:")

    # No Authorization header, as a calendar client sends it.
    resp = await client.get(feed["path"])
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/calendar")
    body = await resp.read()
    with_bearer = await (
        await client.get("/api/v1/deadlines.ics", headers=auth(tokens["officer"]))
    ).read()
    assert body == with_bearer
    assert len(Calendar.from_ical(body).walk("VEVENT")) == 2  # alpha's two requests
    short = await client.get(feed["path"], params={"within": "P30D"})
    assert len(Calendar.from_ical(await short.read()).walk("VEVENT")) == 1
    await assert_problem(await client.get(feed["path"], params={"within": "soon"}), 422)

    # The other unit's officer gets their own unit's feed only.
    other = await _new_feed(client, tokens["other_officer"])
    theirs = Calendar.from_ical(await (await client.get(other["path"])).read())
    assert len(theirs.walk("VEVENT")) == 1
    # The service's own log lines name routes, never paths. (aiohttp's access log, which the
    # test server turns on, does log paths: `preservation serve` runs without it.)
    ours = "\n".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if not r.name.startswith("aiohttp.access")
    )
    assert "feeds/{token}" in ours
    assert value not in ours and other["path"].split("/")[4] not in ours


async def test_the_feed_url_opens_the_feed_and_nothing_else(client, tokens) -> None:  # type: ignore[no-untyped-def]
    feed = await _new_feed(client, tokens["officer"])
    value = feed["path"].split("/")[4]
    # Not a bearer token ...
    await assert_problem(await client.get("/api/v1/deadlines", headers=auth(value)), 401)
    await assert_problem(await client.get("/api/v1/requests", headers=auth(value)), 401)
    # ... and a bearer token is not a feed.
    bearer_as_feed = f"/api/v1/feeds/{tokens['officer']}/deadlines.ics"
    await assert_problem(await client.get(bearer_as_feed), 404)
    await assert_problem(await client.get("/api/v1/feeds/pdf_nothing/deadlines.ics"), 404)
    await assert_problem(await client.get("/api/v1/feeds/" + "x" * 300 + "/deadlines.ics"), 404)
    # Behind a TLS proxy the URL says https.
    resp = await client.post(
        FEEDS, headers={**auth(tokens["officer"]), "X-Forwarded-Proto": "https"}
    )
    assert (await resp.json())["url"].startswith("https://")
    # Making a feed needs a bearer token, of a role that works on requests.
    await assert_problem(await client.post(FEEDS), 401)
    await assert_problem(await client.post(FEEDS, headers=auth(tokens["admin"])), 403)


async def test_rotation_and_revocation(client, tokens) -> None:  # type: ignore[no-untyped-def]
    first = await _new_feed(client, tokens["officer"])
    second = await _new_feed(client, tokens["officer"])
    assert first["path"] != second["path"]
    await assert_problem(await client.get(first["path"]), 404)  # rotated out
    assert (await client.get(second["path"])).status == 200
    # Another user's feed is not touched by this user's rotation or revocation.
    theirs = await _new_feed(client, tokens["supervisor"])
    resp = await client.delete(FEEDS, headers=auth(tokens["officer"]))
    assert resp.status == 200 and (await resp.json()) == {"revoked": 1}
    await assert_problem(await client.get(second["path"]), 404)
    assert (await client.get(theirs["path"])).status == 200
    resp = await client.delete(FEEDS, headers=auth(tokens["officer"]))
    assert (await resp.json()) == {"revoked": 0}


async def test_guessing_feeds_is_slowed_per_address(client, tokens) -> None:  # type: ignore[no-untyped-def]
    limiter = client.server.app[LIMITER]
    for n in range(limiter.per_minute):
        resp = await client.get(f"/api/v1/feeds/pdf_guess{n}/deadlines.ics")
        assert resp.status == 404
    resp = await client.get("/api/v1/feeds/pdf_guess/deadlines.ics")
    await assert_problem(resp, 429)
    assert int(resp.headers["Retry-After"]) >= 1


async def test_the_dashboard_makes_and_stops_the_calendar_address(client, tokens) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_pages import CSRF, page, sign_in

    await sign_in(client, tokens["officer"])
    text = await page(client, "/")
    assert "New calendar address" in text and "feed-url" not in text
    csrf = CSRF.search(text)[1]
    # Not without the session's CSRF token.
    resp = await client.post("/calendar-feed", data={"action": "new"}, allow_redirects=False)
    assert resp.status == 403
    resp = await client.post("/calendar-feed", data={"csrf": csrf, "action": "new"})
    assert resp.status == 200
    text = await resp.text()
    url = re.search(r'id="feed-url" readonly value="([^"]+)"', text)[1]  # type: ignore[index]
    assert '<label for="feed-url">' in text
    path = URL(url).path
    assert url.startswith("http://127.0.0.1:") and path.startswith("/api/v1/feeds/pdf_")
    feed = await client.get(path)
    assert feed.status == 200 and feed.headers["Content-Type"].startswith("text/calendar")
    # Shown once: the dashboard does not show it again.
    assert url not in await page(client, "/")
    resp = await client.post("/calendar-feed", data={"csrf": csrf, "action": "revoke"})
    assert resp.status == 200 and "no longer works" in await resp.text()
    await assert_problem(await client.get(path), 404)
