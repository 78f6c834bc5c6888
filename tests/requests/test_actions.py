"""The transitions after sending over HTTP: every endpoint, 409 for every move the state does not
allow (and nothing changed), user-given instants, Idempotency-Key repeats, the portal hand-off."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from preservation.domain.lifecycle import Action, Status, can
from preservation.requests import audit
from preservation.storage.models import OutboxMessage, PreservationRequest
from preservation.web.keys import DB
from tests.conftest import assert_problem, auth
from tests.dispatch_support import POC_COPY, PORTAL, PROVIDER_EMAIL, event_count, load, make_request
from tests.requests.test_requests_api import body as request_body
from tests.requests.test_requests_api import counts, ready  # noqa: F401 - fixture

ACTIONS = {
    "acknowledge": {"provider_reference": "G-123456"},
    "extend": {},
    "mla": {"reference": "MLA-2026-7"},
    "close": {"outcome": "withdrawn", "note": "no longer needed"},
}


def state_fields(status: str, now) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Plausible facts for a request in `status` (us-2703f: 90 days from preservation, one
    extension of 90)."""
    day = timedelta(days=1)
    fields: dict[str, Any] = {}
    if status in ("sent", "preserved", "extension_requested", "mla_sent", "closed", "lapsed"):
        fields["sent_at"] = now - 9 * day
    if status in ("preserved", "extension_requested", "mla_sent", "closed", "lapsed"):
        fields["preserved_at"] = now - 9 * day
        fields["provider_reference"] = "G-1"
    if status == "extension_requested":
        fields["extensions"] = [{"requested_at": (now - day).isoformat()}]
    if status == "mla_sent":
        fields["mla_sent_at"] = now - 2 * day
    if status == "closed":
        fields["closed_at"] = now - day
        fields["outcome"] = "produced"
    return fields


async def request_in(client, clock, status: str, **kw):  # type: ignore[no-untyped-def]
    return await make_request(
        client.server.app[DB],
        now=clock.now(),
        status=status,
        **state_fields(status, clock.now()),
        **kw,
    )


async def post(client, token: str, path: str, body: Any, key: str | None = None):  # type: ignore[no-untyped-def]
    headers = auth(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(path, json=body, headers=headers)


INVALID = [
    (status, action) for status in Status for action in ACTIONS if not can(status, Action(action))
]


@pytest.mark.parametrize(("status", "action"), INVALID, ids=[f"{s}-{a}" for s, a in INVALID])
async def test_every_invalid_transition_is_409_naming_the_state(  # type: ignore[no-untyped-def]
    client, tokens, clock, status, action
) -> None:
    db = client.server.app[DB]
    made = await request_in(client, clock, status.value)
    before = await load(db, PreservationRequest, made.request_id)
    events = await event_count(db, made.request_id)

    resp = await post(
        client, tokens["officer"], f"/api/v1/requests/{made.request_id}/{action}", ACTIONS[action]
    )
    body = await assert_problem(resp, 409)
    assert f"state {status.value}" in body["detail"]

    after = await load(db, PreservationRequest, made.request_id)
    assert (after.status, after.version, after.updated_at) == (
        before.status,
        before.version,
        before.updated_at,
    )
    assert await event_count(db, made.request_id) == events


def test_the_invalid_table_covers_every_state() -> None:
    assert {s for s, _ in INVALID} == set(Status)
    # 17, and acknowledge, extend and mla of an EPOC-PR awaiting validation.
    assert len(INVALID) == 20


async def test_acknowledge_from_sent_preserves(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "sent")
    resp = await post(
        client,
        tokens["officer"],
        f"/api/v1/requests/{made.request_id}/acknowledge",
        {
            "provider_reference": "G-987",
            "preserved_at": "2026-11-19T10:00:00",
            "tz": "Europe/Berlin",
        },
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "preserved"
    assert body["provider_reference"] == "G-987"
    assert body["preserved_at"].startswith("2026-11-19T09:00:00")
    assert body["version"] == 2
    assert "extend" in body["allowed_actions"] and "acknowledge" not in body["allowed_actions"]
    db = client.server.app[DB]
    async with db.read() as s:
        events = await audit.events_of(s, made.request_id)
    assert events[-1].action == "acknowledge" and events[-1].actor == "officer-a@alpha"
    assert events[-1].detail["from"] == "sent" and events[-1].detail["to"] == "preserved"
    assert audit.verify_chain(events) is None


async def test_acknowledge_while_queued_is_accepted(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "queued")
    resp = await post(
        client, tokens["supervisor"], f"/api/v1/requests/{made.request_id}/acknowledge", {}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "preserved"
    assert body["preserved_at"].startswith(clock.now().isoformat()[:19])


async def test_extend_then_acknowledge_grants_the_extension(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "preserved")
    base = f"/api/v1/requests/{made.request_id}"
    resp = await post(client, tokens["officer"], f"{base}/extend", {})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "extension_requested"
    assert len(body["extensions"]) == 1 and body["extensions"][0]["granted_at"] is None

    # The one extension of 18 U.S.C. 2703(f) is pending: a second is refused.
    resp = await post(client, tokens["officer"], f"{base}/extend", {})
    await assert_problem(resp, 409)

    resp = await post(client, tokens["officer"], f"{base}/acknowledge", {})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "preserved"
    assert body["extensions"][0]["granted_at"] is not None

    # All extensions used: 409 from the regime, not from the state table.
    resp = await post(client, tokens["officer"], f"{base}/extend", {})
    problem = await assert_problem(resp, 409)
    assert "extension" in problem["detail"]


async def test_extend_refused_where_the_regime_allows_none(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "preserved", regime="budapest-art29")
    resp = await post(client, tokens["officer"], f"/api/v1/requests/{made.request_id}/extend", {})
    await assert_problem(resp, 409)
    req = await load(client.server.app[DB], PreservationRequest, made.request_id)
    assert req.status == "preserved" and req.extensions == []


async def test_mla_then_close(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "preserved")
    base = f"/api/v1/requests/{made.request_id}"
    resp = await post(
        client,
        tokens["officer"],
        f"{base}/mla",
        {"sent_at": "2026-11-20T08:30:00Z", "reference": "MLA-2026-7"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "mla_sent" and body["mla_reference"] == "MLA-2026-7"
    assert body["mla_sent_at"].startswith("2026-11-20T08:30:00")

    resp = await post(
        client, tokens["officer"], f"{base}/close", {"outcome": "produced", "note": "data received"}
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "closed" and body["outcome"] == "produced"
    assert body["closed_at"] is not None and body["allowed_actions"] == []
    assert body["deadlines"] == []


async def test_close_of_a_queued_request_cancels_what_is_not_sent(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "queued")
    resp = await post(
        client, tokens["officer"], f"/api/v1/requests/{made.request_id}/close", ACTIONS["close"]
    )
    assert resp.status == 200, await resp.text()
    db = client.server.app[DB]
    assert [(await load(db, OutboxMessage, i)).status for i in made.outbox_ids] == [
        "cancelled",
        "cancelled",
    ]


async def test_close_validates_the_outcome(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    draft = await request_in(client, clock, "draft")
    resp = await post(
        client,
        tokens["officer"],
        f"/api/v1/requests/{draft.request_id}/close",
        {"outcome": "produced"},
    )
    await assert_problem(resp, 422, field="outcome")
    resp = await post(
        client, tokens["officer"], f"/api/v1/requests/{draft.request_id}/close", {"outcome": "won"}
    )
    await assert_problem(resp, 422, field="outcome")
    resp = await post(
        client,
        tokens["officer"],
        f"/api/v1/requests/{draft.request_id}/close",
        {"outcome": "withdrawn"},
    )
    assert resp.status == 200 and (await resp.json())["status"] == "closed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preserved_at": "2026-11-21T09:00:00Z"}, "preserved_at"),  # future
        ({"preserved_at": "2026-11-19T09:00:00"}, "preserved_at"),  # no offset, no tz
        ({"preserved_at": "2026-11-19T09:00:00", "tz": "Mars/Olympus"}, "tz"),
        ({"preserved_at": "yesterday"}, "preserved_at"),
        ({"preserved_at": "2025-01-01T00:00:00Z"}, "preserved_at"),  # before the request existed
        ({"preserved_at": "2026-10-25T02:30:00", "tz": "Europe/Berlin"}, "preserved_at"),  # twice
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_instants_are_422_and_change_nothing(client, tokens, clock, body, field) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "sent")
    db = client.server.app[DB]
    events = await event_count(db, made.request_id)
    resp = await post(
        client, tokens["officer"], f"/api/v1/requests/{made.request_id}/acknowledge", body
    )
    await assert_problem(resp, 422, field=field)
    assert (await load(db, PreservationRequest, made.request_id)).status == "sent"
    assert await event_count(db, made.request_id) == events


async def test_ambiguous_local_time_needs_dst(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "sent", created_days_ago=40)
    path = f"/api/v1/requests/{made.request_id}/acknowledge"
    # 25 October 2026, 02:30 happens twice in Berlin (the clocks go back at 03:00 CEST).
    given = {"preserved_at": "2026-10-25T02:30:00", "tz": "Europe/Berlin"}
    problem = await assert_problem(
        await post(client, tokens["officer"], path, given), 422, field="preserved_at"
    )
    assert "2026-10-25T00:30:00+00:00" in problem["detail"]
    assert "2026-10-25T01:30:00+00:00" in problem["detail"]
    resp = await post(client, tokens["officer"], path, {**given, "dst": False})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["preserved_at"].startswith("2026-10-25T01:30:00")


async def test_roles_and_unit_isolation(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "sent")
    path = f"/api/v1/requests/{made.request_id}/acknowledge"
    await assert_problem(await post(client, tokens["admin"], path, {}), 403)
    await assert_problem(await post(client, tokens["other_officer"], path, {}), 404)
    await assert_problem(await client.post(path, json={}), 401)
    await assert_problem(
        await post(client, tokens["officer"], "/api/v1/requests/999999/mla", {}), 404
    )
    assert (
        await load(client.server.app[DB], PreservationRequest, made.request_id)
    ).status == "sent"


# --- Idempotency-Key ---------------------------------------------------------------------------


async def test_repeat_with_the_same_key_returns_the_first_answer(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "sent")
    db = client.server.app[DB]
    path = f"/api/v1/requests/{made.request_id}/acknowledge"
    body = {"provider_reference": "G-5"}
    first = await post(client, tokens["officer"], path, body, key="ack-1")
    assert first.status == 200, await first.text()
    events = await event_count(db, made.request_id)
    clock.advance(minutes=5)
    again = await post(client, tokens["officer"], path, {"provider_reference": "G-5"}, key="ack-1")
    assert again.status == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await again.json() == await first.json()
    assert await event_count(db, made.request_id) == events

    # Without the key the same move is a real second attempt: 409, the state moved on.
    await assert_problem(await post(client, tokens["officer"], path, body), 409)
    # Another body under the same key is refused.
    resp = await post(client, tokens["officer"], path, {"provider_reference": "G-6"}, key="ack-1")
    await assert_problem(resp, 422, field="Idempotency-Key")
    # Keys belong to a user: another user of the unit with the same key is a new attempt.
    resp = await post(client, tokens["supervisor"], path, body, key="ack-1")
    await assert_problem(resp, 409)
    assert await event_count(db, made.request_id) == events


async def test_malformed_key_is_422(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "sent")
    resp = await post(
        client,
        tokens["officer"],
        f"/api/v1/requests/{made.request_id}/acknowledge",
        {},
        key="x" * 201,
    )
    await assert_problem(resp, 422, field="Idempotency-Key")
    assert (
        await load(client.server.app[DB], PreservationRequest, made.request_id)
    ).status == "sent"


async def test_concurrent_repeats_do_the_work_once(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "preserved")
    db = client.server.app[DB]
    events = await event_count(db, made.request_id)
    path = f"/api/v1/requests/{made.request_id}/mla"
    body = {"reference": "MLA-9"}
    responses = await asyncio.gather(
        *(post(client, tokens["officer"], path, body, key="mla-once") for _ in range(6))
    )
    assert [r.status for r in responses] == [200] * 6, [await r.text() for r in responses]
    answers = [await r.json() for r in responses]
    assert all(a == answers[0] for a in answers)
    assert sum(1 for r in responses if r.headers.get("Idempotent-Replayed")) == 5
    assert await event_count(db, made.request_id) == events + 1


# --- portal hand-off ---------------------------------------------------------------------------


async def test_portal_submission_is_recorded_by_the_officer(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "queued", recipients=(PORTAL, POC_COPY))
    db = client.server.app[DB]
    portal_id, copy_id = made.outbox_ids
    base = f"/api/v1/requests/{made.request_id}"

    resp = await client.get(f"{base}/recipients", headers=auth(tokens["officer"]))
    assert resp.status == 200, await resp.text()
    items = {i["id"]: i for i in (await resp.json())["items"]}
    assert items[portal_id]["status"] == "handoff"
    assert items[portal_id]["handoff"]["portal_url"] == PORTAL[2]
    assert made.reference in items[portal_id]["handoff"]["text"]
    assert items[copy_id]["handoff"] is None

    # The copy is an e-mail: it cannot be "submitted" by hand.
    resp = await post(client, tokens["officer"], f"{base}/recipients/{copy_id}/submitted", {})
    await assert_problem(resp, 409)
    resp = await post(
        client,
        tokens["officer"],
        f"{base}/recipients/{portal_id}/submitted",
        {"portal_reference": "CASE-77"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "sent" and body["sent_at"] is not None
    row = await load(db, OutboxMessage, portal_id)
    assert row.status == "sent" and row.message_id == "CASE-77"
    async with db.read() as s:
        actions = [e.action for e in await audit.events_of(s, made.request_id)]
    assert actions[-2:] == ["delivered", "sent"]

    resp = await post(client, tokens["officer"], f"{base}/recipients/{portal_id}/submitted", {})
    await assert_problem(resp, 409)
    resp = await post(client, tokens["officer"], f"{base}/recipients/999999/submitted", {})
    await assert_problem(resp, 404)
    resp = await post(
        client, tokens["other_officer"], f"{base}/recipients/{portal_id}/submitted", {}
    )
    await assert_problem(resp, 404)


async def test_recipients_of_a_provider_email_request(client, tokens, clock) -> None:  # type: ignore[no-untyped-def]
    made = await request_in(client, clock, "queued", recipients=(PROVIDER_EMAIL,))
    resp = await client.get(
        f"/api/v1/requests/{made.request_id}/recipients", headers=auth(tokens["officer"])
    )
    (item,) = (await resp.json())["items"]
    assert item["id"] == made.outbox_ids[0] and item["status"] == "pending"
    assert item["attempts"] == 0 and item["handoff"] is None
    async with client.server.app[DB].read() as s:
        assert (await s.execute(select(OutboxMessage))).scalars().all()


# --- Idempotency-Key on creation and submission ------------------------------------------------


async def test_create_repeat_returns_the_first_answer_and_creates_nothing(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 - fixture
    token = ready["officer"]
    headers = {**auth(token), "Idempotency-Key": "create-1"}
    first = await client.post("/api/v1/requests", json=request_body(), headers=headers)
    assert first.status == 201, await first.text()
    assert first.headers.get("Idempotent-Replayed") is None
    before = await counts(client)

    again = await client.post("/api/v1/requests", json=request_body(), headers=headers)
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert await counts(client) == before

    changed = await client.post(
        "/api/v1/requests", json=request_body(case_reference="CY-OTHER"), headers=headers
    )
    await assert_problem(changed, 422, field="Idempotency-Key")
    assert await counts(client) == before

    # Without a key, or with another key, it is a new request.
    other = await client.post(
        "/api/v1/requests",
        json=request_body(),
        headers={**auth(token), "Idempotency-Key": "create-2"},
    )
    assert other.status == 201
    assert (await other.json())["reference"] != (await first.json())["reference"]


async def test_concurrent_creations_with_one_key_create_one_request(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 - fixture
    before = await counts(client)
    headers = {**auth(ready["officer"]), "Idempotency-Key": "create-race"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/requests", json=request_body(), headers=headers) for _ in range(6))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * 5 + [201], [await r.text() for r in responses]
    answers = [await r.json() for r in responses]
    assert all(a == answers[0] for a in answers)
    after = await counts(client)
    assert after["preservation_request"] == before["preservation_request"] + 1
    assert after["outbox"] - before["outbox"] == len(answers[0]["recipients"])


async def test_submit_repeat_with_key_queues_once(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811 - fixture
    token = ready["officer"]
    resp = await client.post(
        "/api/v1/requests", json=request_body(submit=False), headers=auth(token)
    )
    assert resp.status == 201, await resp.text()
    rid = (await resp.json())["id"]
    headers = {**auth(token), "Idempotency-Key": "submit-1"}
    first = await client.post(f"/api/v1/requests/{rid}/submit", headers=headers)
    assert first.status == 200, await first.text()
    before = await counts(client)
    again = await client.post(f"/api/v1/requests/{rid}/submit", headers=headers)
    assert again.status == 200 and await again.json() == await first.json()
    assert await counts(client) == before
    await assert_problem(
        await client.post(f"/api/v1/requests/{rid}/submit", headers=auth(token)), 409
    )
