"""The create path routes from this node's directory snapshot only while the snapshot is the
database's (requests/create.py), the database keeps the directory version whoever changes the
directory (migration 0002), and a request created and submitted at once has the same plan,
audit chain and answer as a draft submitted later."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from preservation.directory.snapshot import current_version
from preservation.requests.audit import verify_chain
from preservation.storage.models import AuditEvent, PreservationRequest, Reminder
from preservation.web.api.directory import DIRECTORY
from preservation.web.keys import DB
from tests.conftest import assert_problem, auth
from tests.requests import test_requests_api
from tests.requests.test_requests_api import URL, body, create

#: The tokens, unit profile and small directory of the request tests (a fixture).
ready = test_requests_api.ready

LOOKUP = "/api/v1/lookup"


async def _version(client) -> int:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        return await current_version(s)


async def test_any_change_to_the_directory_bumps_its_version(client, ready) -> None:  # type: ignore[no-untyped-def]
    """Plain SQL, as an operator or a forgetful code path would write it."""
    db = client.server.app[DB]
    statements = [
        "UPDATE provider SET portal_url = 'https://new.example.test/le' WHERE slug = 'examplemail'",
        "UPDATE contact SET emails = '[\"poc2@us.test\"]' WHERE country = 'US'",
        "DELETE FROM provider WHERE slug = 'closedco'",
        "DELETE FROM contact WHERE country = 'DE'",
    ]
    for sql in statements:
        before = await _version(client)
        async with db.write() as s:
            await s.execute(text(sql))
        assert await _version(client) > before, sql


async def test_a_stale_snapshot_is_not_used_and_is_refreshed_after(client, ready) -> None:  # type: ignore[no-untyped-def]
    officer = ready["officer"]
    cache = client.server.app[DIRECTORY]
    # A look-up builds this node's snapshot of the directory as it is now.
    resp = await client.get(
        LOOKUP,
        params={"identifier": "example.com", "type": "domain"},
        headers=auth(officer),
    )
    assert resp.status == 200, await resp.text()
    first = await create(client, officer)
    assert first["recipients"][0]["to"] == "https://le.examplemail.test/portal"
    assert cache.of_version(await _version(client)) is not None

    # Another node (or an operator) changes the provider's portal and the US point of contact.
    async with client.server.app[DB].write() as s:
        await s.execute(
            text(
                "UPDATE provider SET portal_url = 'https://new.examplemail.test/le'"
                " WHERE slug = 'examplemail'"
            )
        )
        await s.execute(
            text("UPDATE contact SET emails = '[\"duty@us.test\"]' WHERE country = 'US'")
        )
    assert cache.of_version(await _version(client)) is None

    second = await create(client, officer)
    assert [(r["role"], r["to"]) for r in second["recipients"]] == [
        ("provider", "https://new.examplemail.test/le"),
        ("copy", "duty@us.test"),
    ]
    # Brought up to date after the commit: the next request is routed from the snapshot again.
    snapshot = cache.of_version(await _version(client))
    assert snapshot is not None
    assert snapshot.provider_by_slug["examplemail"].portal_url == "https://new.examplemail.test/le"
    third = await create(client, officer)

    def same(r: dict) -> dict:  # type: ignore[type-arg]
        return {k: v for k, v in r.items() if k != "id"}  # each request has its own rows

    assert [same(r) for r in third["recipients"]] == [same(r) for r in second["recipients"]]
    assert third["route"] == second["route"] and third["warnings"] == second["warnings"]


async def test_unknown_provider_is_refused_from_the_snapshot_too(client, ready) -> None:  # type: ignore[no-untyped-def]
    officer = ready["officer"]
    await create(client, officer)  # the snapshot is current from here on
    cache = client.server.app[DIRECTORY]
    assert cache.of_version(await _version(client)) is not None
    resp = await client.post(URL, json=body(provider="nosuchco"), headers=auth(officer))
    problem = await assert_problem(resp, 422, field="provider")
    assert "nosuchco" in problem["errors"][0]["message"]


async def _stored(client, request_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        req = await s.get(PreservationRequest, request_id)
        reminders = (
            await s.execute(
                select(Reminder.kind, Reminder.due_at, Reminder.status, Reminder.key)
                .where(Reminder.request_id == request_id)
                .order_by(Reminder.due_at, Reminder.id)
            )
        ).all()
        events = list(
            (
                await s.execute(
                    select(AuditEvent)
                    .where(AuditEvent.request_id == request_id)
                    .order_by(AuditEvent.seq)
                )
            ).scalars()
        )
    assert req is not None
    return {
        "fields": {
            k: getattr(req, k)
            for k in (
                "status",
                "version",
                "expires_at",
                "expiry_rule",
                "held_until_decision",
                "next_reminder_at",
                "route",
                "checklist",
                "warnings",
                "submitted_at",
            )
        },
        "reminders": [(k, d, st, key.split(":", 1)[1]) for k, d, st, key in reminders],
        "events": events,
    }


async def test_created_and_submitted_at_once_equals_draft_then_submit(client, ready) -> None:  # type: ignore[no-untyped-def]
    """The create path writes its rows itself (no replan, no audit read): it must agree with
    the general path a draft takes when it is submitted later, for a regime whose plan has
    reminders from the start (a US provider under 18 U.S.C. 2703(f))."""
    officer = ready["officer"]
    # 2703(f) is a US governmental entity's instrument (18 U.S.C. § 2711(4)): a US unit.
    resp = await client.patch(
        "/api/v1/unit", json={"country": "US"}, headers=auth(ready["supervisor"])
    )
    assert resp.status == 200, await resp.text()
    at_once = await create(client, officer, regime="us-2703f")
    draft = await create(client, officer, regime="us-2703f", submit=False)
    resp = await client.post(f"{URL}/{draft['id']}/submit", headers=auth(officer))
    assert resp.status == 200, await resp.text()
    later = await resp.json()

    ignore = {"id", "reference"}

    def view(d: dict) -> dict:  # type: ignore[type-arg]
        out = {k: v for k, v in d.items() if k not in ignore}
        # Each request has its own outbox rows (their ids name each recipient's letter).
        out["recipients"] = [{k: v for k, v in r.items() if k != "id"} for r in d["recipients"]]
        return out

    assert view(at_once) == view(later)
    one, two = await _stored(client, at_once["id"]), await _stored(client, draft["id"])
    assert one["fields"] == two["fields"]
    assert one["reminders"] == two["reminders"]
    assert [(e.seq, e.action, e.actor) for e in one["events"]] == [
        (e.seq, e.action, e.actor) for e in two["events"]
    ]
    assert verify_chain(one["events"]) is None and verify_chain(two["events"]) is None


async def test_a_completed_url_is_told_on_the_identifier_and_the_request(client, ready) -> None:  # type: ignore[no-untyped-def]
    """A URL given without its scheme gets https://: the officer sees it before the provider
    does, on the identifier and in the request's warnings, whichever way it is submitted."""
    officer = ready["officer"]
    url = {"type": "url", "value": "example.org/profile/some.handle"}
    for submit in (True, False):
        data = await create(client, officer, identifiers=[url], submit=submit)
        (ident,) = data["identifiers"]
        assert ident["normalized"] == "https://example.org/profile/some.handle"
        assert any("https:// was added" in w for w in ident["warnings"])
        assert any(w.startswith("identifiers[0]: https:// was added") for w in data["warnings"])
    resp = await client.post(f"{URL}/{data['id']}/submit", headers=auth(officer))
    assert resp.status == 200, await resp.text()
    assert any("https:// was added" in w for w in (await resp.json())["warnings"])
