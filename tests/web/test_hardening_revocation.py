"""Issue 16, who is calling: revoking a bearer token ends what was opened with it (its page
sessions and its calendar feeds), on every path that revokes it; and the admin role sees no
request data, deadlines and feeds included."""

from __future__ import annotations

from sqlalchemy import select, update

from preservation.access.auth import create_token, revoke_tokens
from preservation.storage.models import ApiToken, User
from preservation.web.auth import PRINCIPALS
from preservation.web.keys import DB
from tests.conftest import assert_problem, auth
from tests.web.test_pages import sign_in

FEEDS = "/api/v1/feeds/deadlines"


async def _feed(client, token: str) -> str:  # type: ignore[no-untyped-def]
    resp = await client.post(FEEDS, headers=auth(token))
    assert resp.status == 201, await resp.text()
    return (await resp.json())["path"]


async def _signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    resp = await client.get("/", allow_redirects=False)
    return resp.status == 200


async def _feed_from_the_page(client) -> str:  # type: ignore[no-untyped-def]
    import re

    text = await (await client.get("/")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', text)[1]  # type: ignore[index]
    resp = await client.post("/calendar-feed", data={"csrf": csrf, "action": "new"})
    assert resp.status == 200
    url = re.search(r'id="feed-url" readonly value="([^"]+)"', await resp.text())[1]  # type: ignore[index]
    return "/api/v1/" + url.split("/api/v1/", 1)[1]


async def test_revoking_a_token_ends_its_sessions_and_feeds(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    """`preservation token revoke` (revoke_tokens): the page session opened with the token and
    the feeds made with it (through the API, or from that page session) stop at once; another
    token of the same person, and what it opened, keep working."""
    app = client.server.app
    async with app[DB].write() as s:
        other = await create_token(
            s, unit="alpha", role="officer", user="officer-a", now=clock.now()
        )
    await sign_in(client, tokens["officer"])
    page_feed = await _feed_from_the_page(client)
    assert await _signed_in(client) and (await client.get(page_feed)).status == 200

    async with app[DB].write() as s:
        assert await revoke_tokens(s, prefix=tokens["officer"][:10], now=clock.now()) == 1
    app[PRINCIPALS].clear()

    assert not await _signed_in(client), "the page session opened with the token is over"
    await assert_problem(await client.get(page_feed), 404)
    await assert_problem(await client.get("/api/v1/me", headers=auth(tokens["officer"])), 401)
    # The other token of the same person is untouched, and what it opens ends with it.
    assert (await client.get("/api/v1/me", headers=auth(other))).status == 200
    api_feed = await _feed(client, other)
    assert (await client.get(api_feed)).status == 200
    async with app[DB].write() as s:
        assert await revoke_tokens(s, prefix=other[:10], now=clock.now()) == 1
    await assert_problem(await client.get(api_feed), 404)
    async with app[DB].read() as s:
        rows = (await s.execute(select(ApiToken).where(ApiToken.parent_id.is_not(None)))).scalars()
        children = list(rows)
    assert children and all(r.revoked_at is not None for r in children), "marked revoked too"


async def test_a_token_revoked_by_any_path_takes_its_children_along(  # type: ignore[no-untyped-def]
    client, tokens, clock
) -> None:
    """Whoever sets the token's revoked_at (an operator's SQL, another command), its session
    and feed die with it: the look-up checks the parent."""
    app = client.server.app
    feed = await _feed(client, tokens["supervisor"])
    await sign_in(client, tokens["supervisor"])
    assert await _signed_in(client)
    async with app[DB].write() as s:
        await s.execute(
            update(ApiToken)
            .where(ApiToken.prefix == tokens["supervisor"][:10])
            .values(revoked_at=clock.now())
        )
    assert not await _signed_in(client)
    await assert_problem(await client.get(feed), 404)


async def test_the_admin_role_sees_no_deadlines_or_feeds(client, tokens) -> None:  # type: ignore[no-untyped-def]
    admin = auth(tokens["admin"])
    for path in ("/api/v1/deadlines", "/api/v1/deadlines.ics", "/api/v1/deadlines?within=P90D"):
        await assert_problem(await client.get(path, headers=admin), 403)
        assert (await client.get(path, headers=auth(tokens["officer"]))).status == 200
    await assert_problem(await client.post(FEEDS, headers=admin), 403)
    # A feed made while its owner worked on requests closes when the owner becomes an admin.
    feed = await _feed(client, tokens["officer"])
    assert (await client.get(feed)).status == 200
    async with client.server.app[DB].write() as s:
        await s.execute(update(User).where(User.name == "officer-a").values(role="admin"))
    await assert_problem(await client.get(feed), 404)
