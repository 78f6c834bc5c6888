"""GET /api/v1/requests a page at a time (keyset: limit, cursor -> next), its search, the events
of a request a page at a time, and the /requests page that pages through and searches. Both
engines."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select

from preservation.storage.models import (
    AuditEvent,
    PreservationRequest,
    RequestIdentifier,
    Unit,
    User,
)
from preservation.web.keys import DB
from tests.conftest import T0, assert_problem, auth

URL = "/api/v1/requests"


async def _unit(db: Any, name: str) -> tuple[int, int]:
    async with db.read() as s:
        unit_id = (await s.execute(select(Unit.id).where(Unit.name == name))).scalar_one()
        user_id = (
            await s.execute(select(User.id).where(User.unit_id == unit_id).limit(1))
        ).scalar_one()
    return unit_id, user_id


async def _requests(db: Any, unit: str, n: int, **values: Any) -> list[int]:
    """`n` requests of `unit` written directly (the create use case has its own tests);
    request k has case reference CASE-<k>, provider p<k % 3>, an identifier 10.0.0.<k>."""
    unit_id, user_id = await _unit(db, unit)
    ids = []
    async with db.write() as s:
        start = (
            await s.execute(
                select(func.count())
                .select_from(PreservationRequest)
                .where(PreservationRequest.unit_id == unit_id)
            )
        ).scalar_one()
        for k in range(start, start + n):
            row = {
                "reference": f"PR-2026-{unit[0].upper()}{k:05d}",
                "unit_id": unit_id,
                "created_by": user_id,
                "status": "draft",
                "regime": "budapest-art29",
                "case_reference": f"CASE-{k}",
                "provider": f"p{k % 3}",
                "created_at": T0,
                "updated_at": T0,
                "data_categories": [],
                "extensions": [],
                "warnings": [],
                **values,
            }
            model_defaults = {
                c.name: PreservationRequest.model_fields[c.name].get_default(
                    call_default_factory=True
                )
                for c in PreservationRequest.__table__.columns
                if c.name in PreservationRequest.model_fields
                and c.name not in row
                and c.name != "id"
            }
            rid = (
                await s.execute(
                    insert(PreservationRequest)
                    .values({**model_defaults, **row})
                    .returning(PreservationRequest.id)
                )
            ).scalar_one()
            await s.execute(
                insert(RequestIdentifier).values(
                    request_id=rid,
                    position=0,
                    type="ipv4",
                    value=f"10.0.0.{k}",
                    normalized=f"10.0.0.{k}",
                    local={},
                    warnings=[],
                )
            )
            ids.append(rid)
    return ids


async def _all_pages(client, token: str, params: dict[str, Any]) -> tuple[list[int], int]:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    pages = 0
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await client.get(URL, params=query, headers=auth(token))
        assert resp.status == 200, await resp.text()
        data = await resp.json()
        assert set(data) == {"items", "next", "limit"}
        pages += 1
        seen += [i["id"] for i in data["items"]]
        cursor = data["next"]
        if cursor is None:
            return seen, pages
        assert pages < 50


async def test_pages_through_every_request_newest_first_without_repeats(client, tokens) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ids = await _requests(db, "alpha", 23)
    await _requests(db, "beta", 4)
    seen, pages = await _all_pages(client, tokens["officer"], {"limit": 10})
    assert seen == sorted(ids, reverse=True)
    assert pages == 3
    # The last page says there is no more; a full first page says there is.
    first = await (
        await client.get(URL, params={"limit": 23}, headers=auth(tokens["officer"]))
    ).json()
    assert len(first["items"]) == 23 and first["next"] is None
    first = await (
        await client.get(URL, params={"limit": 22}, headers=auth(tokens["officer"]))
    ).json()
    assert first["next"] is not None


async def test_a_request_added_between_pages_is_neither_repeated_nor_skipped(
    client, tokens
) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ids = await _requests(db, "alpha", 6)
    token = tokens["officer"]
    page = await (await client.get(URL, params={"limit": 3}, headers=auth(token))).json()
    await _requests(db, "alpha", 1, reference="PR-2026-NEW001")
    rest = await (
        await client.get(URL, params={"limit": 10, "cursor": page["next"]}, headers=auth(token))
    ).json()
    assert [i["id"] for i in page["items"] + rest["items"]] == sorted(ids, reverse=True)


async def test_expiring_pages_soonest_first_open_preservations_only(client, tokens) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    soon = []
    for days in (9, 3, 3, 12, 1, 20):
        soon += await _requests(
            db, "alpha", 1, status="preserved", expires_at=T0 + timedelta(days=days)
        )
    # Closed with an expiry in the window, and one beyond it: not listed.
    await _requests(db, "alpha", 1, status="closed", expires_at=T0 + timedelta(days=2))
    await _requests(db, "alpha", 1, status="preserved", expires_at=T0 + timedelta(days=40))
    seen, _ = await _all_pages(client, tokens["officer"], {"limit": 2, "expiring_within": "P30D"})
    by_expiry = [soon[4], soon[1], soon[2], soon[0], soon[3], soon[5]]
    assert seen == by_expiry


async def test_search_by_reference_case_identifier_and_provider(client, tokens) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    ids = await _requests(db, "alpha", 9)
    other = await _requests(db, "beta", 9)
    token = tokens["officer"]

    async def found(q: str, **extra: Any) -> list[int]:
        resp = await client.get(URL, params={"q": q, **extra}, headers=auth(token))
        assert resp.status == 200, await resp.text()
        return [i["id"] for i in (await resp.json())["items"]]

    assert await found("PR-2026-A00004") == [ids[4]]
    assert await found("pr-2026-a00004") == [ids[4]]  # any case
    assert await found("case-7") == [ids[7]]
    assert await found("10.0.0.5") == [ids[5]]  # another unit's 10.0.0.5 is not found
    assert await found("p1") == [ids[7], ids[4], ids[1]]
    assert await found("p1", status="draft", limit=2) == [ids[7], ids[4]]
    assert await found("nothing-like-it") == []
    assert await found("PR-2026-B00004") == []  # beta's
    assert other  # (beta's requests exist)
    # Fragments are not searched: whole values only.
    assert await found("CASE") == []


async def test_search_finds_an_identifier_in_its_stored_form(client, tokens) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    [rid] = await _requests(db, "alpha", 1)
    async with db.write() as s:
        await s.execute(
            insert(RequestIdentifier).values(
                request_id=rid,
                position=1,
                type="email",
                value="Suspect@Example.COM",
                normalized="suspect@example.com",
                local={},
                warnings=[],
            )
        )
    resp = await client.get(
        URL, params={"q": " SUSPECT@example.com "}, headers=auth(tokens["officer"])
    )
    assert [i["id"] for i in (await resp.json())["items"]] == [rid]


async def test_a_cursor_of_other_filters_or_garbage_is_422(client, tokens) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    await _requests(db, "alpha", 5)
    token = tokens["officer"]
    page = await (await client.get(URL, params={"limit": 2}, headers=auth(token))).json()
    resp = await client.get(
        URL, params={"limit": 2, "status": "draft", "cursor": page["next"]}, headers=auth(token)
    )
    await assert_problem(resp, 422, field="query.cursor")
    for bad in ("x", "!!!", "eyJhIjoxfQ", "A" * 501):
        resp = await client.get(URL, params={"cursor": bad}, headers=auth(token))
        await assert_problem(resp, 422, field="query.cursor")
    # Another unit's cursor does not continue this unit's list.
    resp = await client.get(
        URL, params={"limit": 2, "cursor": page["next"]}, headers=auth(tokens["other_officer"])
    )
    await assert_problem(resp, 422, field="query.cursor")
    # The old offset is gone: an unknown parameter is named.
    await assert_problem(
        await client.get(URL, params={"offset": 5}, headers=auth(token)), 422, field="query.offset"
    )


async def test_events_page_by_page(client, tokens) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    [rid] = await _requests(db, "alpha", 1)
    async with db.write() as s:
        for seq in range(1, 8):
            await s.execute(
                insert(AuditEvent).values(
                    request_id=rid,
                    seq=seq,
                    at=T0 + timedelta(minutes=seq),
                    actor="officer-a@alpha",
                    action=f"step{seq}",
                    detail={},
                    prev_hash="0" * 64,
                    hash=f"{seq:064d}",
                )
            )
    token = tokens["officer"]
    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        resp = await client.get(f"{URL}/{rid}/events", params=params, headers=auth(token))
        assert resp.status == 200, await resp.text()
        data = await resp.json()
        seen += [e["seq"] for e in data["items"]]
        cursor = data["next"]
        if cursor is None:
            break
    assert seen == list(range(1, 8))
    whole = await (await client.get(f"{URL}/{rid}/events", headers=auth(token))).json()
    assert [e["seq"] for e in whole["items"]] == seen and whole["next"] is None


async def test_the_requests_page_searches_and_pages_through(client, tokens, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from preservation.web.pages import request_list
    from tests.web.test_pages import sign_in

    db = client.server.app[DB]
    ids = await _requests(db, "alpha", 7)
    monkeypatch.setattr(request_list, "PAGE_SIZE", 3)
    await sign_in(client, tokens["officer"])
    page = await (await client.get("/requests")).text()
    assert 'type="search"' in page and 'name="q"' in page
    refs = re.findall(r"PR-2026-A\d{5}", page)
    assert refs == [f"PR-2026-A{k:05d}" for k in (6, 5, 4)]
    nxt = re.search(r'href="(/requests\?[^"]*cursor=[^"]+)" rel="next"', page)
    assert nxt is not None
    second = await (await client.get(nxt.group(1).replace("&amp;", "&"))).text()
    assert re.findall(r"PR-2026-A\d{5}", second) == [f"PR-2026-A{k:05d}" for k in (3, 2, 1)]
    found = await (await client.get("/requests", params={"q": "case-2"})).text()
    assert re.findall(r"PR-2026-A\d{5}", found) == ["PR-2026-A00002"]
    assert 'rel="next"' not in found and "End of the list" in found
    # A stale cursor: said so, and the first page shown.
    stale = await (await client.get("/requests", params={"cursor": "junk"})).text()
    assert "first page is shown" in stale and "PR-2026-A00006" in stale
    assert len(ids) == 7
