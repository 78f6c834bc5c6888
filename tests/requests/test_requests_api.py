"""Preservation requests over HTTP on both engines: create and submit in one transaction, the
checklist and warnings, 422 naming every invalid field (DST included), drafts and PATCH, unit
isolation, roles, listing, and that a refused write leaves nothing behind."""

from __future__ import annotations

import asyncio
import copy
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from contacts.models import Contact
from preservation.directory.snapshot import bump_version
from preservation.requests.schemas import EventList, RequestList, RequestPublic
from preservation.storage.models import (
    AuditEvent,
    OutboxMessage,
    PreservationRequest,
    ReferenceCounter,
    RequestIdentifier,
    Unit,
)
from preservation.web.keys import DB
from providers.models import Provider
from tests.conftest import T0, assert_problem, auth

URL = "/api/v1/requests"

BODY: dict[str, Any] = {
    "case_reference": "CY-2026-0042",
    "offence": "Computer fraud (Art. 8 Budapest Convention)",
    "summary": "Phishing campaign against a regional bank; the account sent the lure e-mails.",
    "relevance": "The account's subscriber data and logins identify the sender.",
    "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
    "country": "US",
    "provider": "examplemail",
    "data_categories": ["subscriber", "traffic", "content"],
    "urgent": True,
    "urgency_reason": "The account may be deleted tonight.",
    "confidential": True,
    "mla_to_follow": True,
    "identifiers": [
        {
            "type": "ipv4",
            "value": "203.0.113.7",
            "port": 51234,
            "at": "2026-11-19T14:03:11",
            "tz": "Europe/Berlin",
        },
        {
            "type": "email",
            "value": "Suspect@Example.COM",
            "from": "2026-10-01T00:00",
            "to": "2026-11-20T12:59",
            "tz": "Europe/Berlin",
        },
        {"type": "account", "platform": "instagram", "value": "some.handle"},
    ],
    "submit": True,
}


def body(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BODY)
    out.update(changes)
    return out


@pytest.fixture
async def ready(client, tokens):  # type: ignore[no-untyped-def]
    """Tokens, a unit profile with contact details, and a small directory."""
    db = client.server.app[DB]
    async with db.write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(
                authority="Cybercrime Unit, State Police",
                email="cyber@police.example",
                phone="+35722000000",
                timezone="Asia/Nicosia",
                contact_24_7="+35799000000 (duty officer)",
            )
        )
        verified = date(2026, 10, 1)
        s.add_all(
            [
                Provider(
                    slug="examplemail",
                    name="ExampleMail Inc.",
                    country="US",
                    portal_url="https://le.examplemail.test/portal",
                    le_email="lert@examplemail.test",
                    accepts_foreign_direct=True,
                    notifies_user="unless_asked",
                    verified_on=verified,
                ),
                Provider(
                    slug="mailonly",
                    name="MailOnly GmbH",
                    country="DE",
                    le_email="legal@mailonly.test",
                    accepts_foreign_direct=True,
                    notifies_user="never",
                    verified_on=verified,
                ),
                Provider(
                    slug="closedco",
                    name="ClosedCo",
                    country="DE",
                    le_email="legal@closedco.test",
                    accepts_foreign_direct=False,
                    notifies_user="always",
                    verified_on=date(2020, 1, 1),
                ),
                Contact(
                    country="US",
                    authority="US 24/7 point of contact",
                    network="24/7",
                    emails=["poc@us.test"],
                    phones=["+12025550100"],
                    verified_on=verified,
                ),
                Contact(
                    country="DE",
                    authority="DE 24/7 point of contact",
                    network="24/7",
                    emails=["poc@de.test"],
                    phones=["+4961155000"],
                    verified_on=verified,
                ),
            ]
        )
    return tokens


async def counts(client) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out = {}
    async with client.server.app[DB].read() as s:
        for model in (
            PreservationRequest,
            RequestIdentifier,
            AuditEvent,
            OutboxMessage,
            ReferenceCounter,
        ):
            out[model.__tablename__] = (
                await s.execute(select(func.count()).select_from(model))
            ).scalar_one()
    return out


def check_schema(data: dict[str, Any], model: type = RequestPublic) -> None:
    """The response is exactly the documented model (nothing more, nothing less)."""
    assert model.model_validate(data).model_dump(mode="json") == data


async def create(client, token: str, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = await client.post(URL, json=body(**changes), headers=auth(token))
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    check_schema(data)
    return data


# --- create and submit -------------------------------------------------------------------------


async def test_create_and_submit_in_one_transaction(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"])
    assert data["reference"] == "PR-2026-000001"
    assert data["status"] == "queued"
    assert data["unit"] == "alpha" and data["created_by"] == "officer-a"
    ip, email, account = data["identifiers"]
    # 14:03:11 in Berlin in November is CET, UTC+01:00.
    assert ip["at_utc"] == "2026-11-19T13:03:11Z"
    assert ip["port"] == 51234
    assert ip["local"]["at"]["offset"] == "+01:00"
    assert email["normalized"].endswith("@example.com")
    assert email["from_utc"] == "2026-09-30T22:00:00Z"  # CEST, UTC+02:00
    assert email["to_utc"] == "2026-11-20T11:59:00Z"
    assert account["platform"] == "instagram"
    # Direct to the provider's portal (a hand-off task), the US 24/7 point of contact in copy.
    assert data["route"]["channel"] == "portal"
    assert [(r["role"], r["channel"], r["to"], r["status"]) for r in data["recipients"]] == [
        ("provider", "portal", "https://le.examplemail.test/portal", "handoff"),
        ("copy", "email", "poc@us.test", "pending"),
    ]
    assert data["checklist"]["complete"] is True and data["checklist"]["missing"] == []
    assert data["submitted_at"] == "2026-11-20T12:00:00Z"
    assert "submit" not in data["allowed_actions"] and "close" in data["allowed_actions"]

    async with client.server.app[DB].read() as s:
        rows = (await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
        events = (await s.execute(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
    assert [(r.role, r.status, r.next_attempt_at) for r in rows] == [
        ("provider", "handoff", T0),
        ("copy", "pending", T0),
    ]
    assert [e[0] for e in events] == ["create", "submit"]

    got = await client.get(f"{URL}/{data['id']}", headers=auth(ready["supervisor"]))
    assert got.status == 200
    assert await got.json() == data


async def test_submit_wakes_the_scheduler_after_commit(client, ready, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from preservation.web.keys import SCHEDULER

    woken: list[int] = []
    sched = client.server.app[SCHEDULER]
    monkeypatch.setattr(sched, "wake", lambda: woken.append(1))
    draft = await create(client, ready["officer"], submit=False)
    woken.clear()
    resp = await client.post(f"{URL}/{draft['id']}/submit", headers=auth(ready["officer"]))
    assert resp.status == 200, await resp.text()
    assert woken
    async with client.server.app[DB].read() as s:
        assert (await s.execute(select(func.count()).select_from(OutboxMessage))).scalar_one() == 2
    # A portal hand-off alone is a task for the officer: no claim pass for it.
    async with client.server.app[DB].write() as s:
        await s.execute(update(Unit).where(Unit.name == "alpha").values(copy_to_poc=False))
    woken.clear()
    data = await create(client, ready["officer"])
    assert [r["status"] for r in data["recipients"]] == ["handoff"]
    assert woken == []


async def test_routes_and_warnings(client, ready) -> None:  # type: ignore[no-untyped-def]
    # Provider without portal: its law-enforcement address, the PoC in copy.
    data = await create(client, ready["officer"], provider="mailonly", country="DE")
    assert [(r["role"], r["channel"], r["to"]) for r in data["recipients"]] == [
        ("provider", "email", "legal@mailonly.test"),
        ("copy", "email", "poc@de.test"),
    ]
    # A provider that does not take foreign requests: the 24/7 point of contact, with warnings.
    data = await create(client, ready["officer"], provider="closedco", country="DE")
    assert [(r["role"], r["to"]) for r in data["recipients"]] == [("poc", "poc@de.test")]
    text = " | ".join(data["warnings"])
    assert "does not accept preservation requests directly" in text
    assert "not been verified recently" in text
    assert "notifies its users" in text
    # IPv4 without a port: accepted, with the carrier-grade NAT warning on that identifier.
    ids = [{"type": "ipv4", "value": "198.51.100.9", "at": "2026-11-19T10:00:00Z"}]
    data = await create(client, ready["officer"], identifiers=ids)
    assert any(w.startswith("identifiers[0]:") and "NAT" in w for w in data["warnings"])
    # An instrument that does not fit the unit's State: § 2703(f) binds a provider only at the
    # request of a US governmental entity (§ 2711(4)); the answer says what would apply.
    resp = await client.post(
        URL,
        json=body(regime="us-2703f", provider="mailonly", country="DE"),
        headers=auth(ready["officer"]),
    )
    problem = await assert_problem(resp, 422, field="regime")
    assert "2711(4)" in problem["detail"] and "provider-policy" in problem["detail"]


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"regime": "no-such-regime"}, "regime"),
        ({"regime": "domestic"}, "regime"),
        ({"country": "XX"}, "country"),
        ({"country": "USA"}, "country"),
        ({"provider": "nobody"}, "provider"),
        ({"lang": "xx"}, "lang"),
        ({"data_categories": ["everything"]}, "data_categories[0]"),
        ({"data_categories": ["content", "content"]}, "data_categories"),
        ({"colour": "red"}, "colour"),
        ({"offence": "x" * 4001}, "offence"),
        ({"urgent": "very"}, "urgent"),
        (
            {
                "identifiers": [
                    {"type": "ipv4", "value": "203.0.113.300", "at": "2026-11-19T10:00:00Z"}
                ]
            },
            "identifiers[0].value",
        ),
        ({"identifiers": [{"type": "fax", "value": "1"}]}, "identifiers[0].type"),
        (
            {"identifiers": [{"type": "email", "value": "a@b.example", "colour": 1}]},
            "identifiers[0].colour",
        ),
        (
            {
                "identifiers": [
                    {
                        "type": "ipv4",
                        "value": "203.0.113.7",
                        "port": 70000,
                        "at": "2026-11-19T10:00:00Z",
                    }
                ]
            },
            "identifiers[0].port",
        ),
        (
            {
                "identifiers": [
                    {
                        "type": "ipv4",
                        "value": "203.0.113.7",
                        "at": "2026-11-19T10:00:00",
                        "tz": "Mars/Olympus",
                    }
                ]
            },
            "identifiers[0].tz",
        ),
        (
            {
                "identifiers": [
                    {"type": "ipv4", "value": "203.0.113.7", "at": "2026-11-21T10:00:00Z"}
                ]
            },
            "identifiers[0].at",
        ),
        (
            {
                "identifiers": [
                    {
                        "type": "email",
                        "value": "a@b.example",
                        "from": "2026-11-10T00:00Z",
                        "to": "2026-11-01T00:00Z",
                    }
                ]
            },
            "identifiers[0].to",
        ),
        ({"identifiers": [{"type": "email", "value": "a@b.example"}] * 51}, "identifiers"),
    ],
)
async def test_invalid_field_is_named_and_nothing_is_written(client, ready, changes, field) -> None:  # type: ignore[no-untyped-def]
    before = await counts(client)
    resp = await client.post(URL, json=body(**changes), headers=auth(ready["officer"]))
    await assert_problem(resp, 422, field=field)
    assert await counts(client) == before


async def test_every_invalid_field_is_named_at_once(client, ready) -> None:  # type: ignore[no-untyped-def]
    ids = [
        {"type": "ipv4", "value": "203.0.113.7", "port": 1, "at": "2026-11-19T10:00:00Z"},
        {"type": "email", "value": "not-an-address"},
        {"type": "phone", "value": "12"},
    ]
    resp = await client.post(URL, json=body(identifiers=ids), headers=auth(ready["officer"]))
    problem = await assert_problem(resp, 422)
    fields = {e["field"] for e in problem["errors"]}
    assert {"identifiers[1].value", "identifiers[2].value"} <= fields
    assert not any(f.startswith("identifiers[0]") for f in fields)


@pytest.mark.parametrize(
    ("tz", "local", "candidates"),
    [
        # Clocks back: 02:30 happens twice.
        ("Europe/Berlin", "2026-10-25T02:30:00", ("2026-10-25T00:30:00", "2026-10-25T01:30:00")),
        ("America/New_York", "2026-11-01T01:30:00", ("2026-11-01T05:30:00", "2026-11-01T06:30:00")),
    ],
)
async def test_ambiguous_local_time_names_field_and_candidates(
    client, ready, tz, local, candidates
) -> None:  # type: ignore[no-untyped-def]
    ident = {"type": "ipv4", "value": "203.0.113.7", "port": 4444, "at": local, "tz": tz}
    before = await counts(client)
    resp = await client.post(URL, json=body(identifiers=[ident]), headers=auth(ready["officer"]))
    problem = await assert_problem(resp, 422, field="identifiers[0].at")
    message = next(e["message"] for e in problem["errors"] if e["field"] == "identifiers[0].at")
    for candidate in candidates:
        assert candidate in message
    assert await counts(client) == before
    # "dst" resolves it: true is the summer-time (earlier) reading.
    first = await create(client, ready["officer"], identifiers=[{**ident, "dst": True}])
    second = await create(client, ready["officer"], identifiers=[{**ident, "dst": False}])
    assert first["identifiers"][0]["at_utc"] == candidates[0] + "Z"
    assert second["identifiers"][0]["at_utc"] == candidates[1] + "Z"


async def test_explicit_offset_resolves_ambiguity(client, ready) -> None:  # type: ignore[no-untyped-def]
    ident = {
        "type": "ipv4",
        "value": "203.0.113.7",
        "port": 4444,
        "at": "2026-10-25T02:30:00+01:00",
        "tz": "Europe/Berlin",
    }
    data = await create(client, ready["officer"], identifiers=[ident])
    assert data["identifiers"][0]["at_utc"] == "2026-10-25T01:30:00Z"


async def test_nonexistent_local_time_is_refused(client, ready) -> None:  # type: ignore[no-untyped-def]
    # Clocks forward in Berlin on 2026-03-29: 02:30 never happened.
    ident = {
        "type": "ipv4",
        "value": "203.0.113.7",
        "port": 1,
        "at": "2026-03-29T02:30:00",
        "tz": "Europe/Berlin",
    }
    resp = await client.post(URL, json=body(identifiers=[ident]), headers=auth(ready["officer"]))
    await assert_problem(resp, 422, field="identifiers[0].at")


async def test_malformed_json_is_400(client, ready) -> None:  # type: ignore[no-untyped-def]
    headers = {**auth(ready["officer"]), "Content-Type": "application/json"}
    await assert_problem(await client.post(URL, data=b"{nope", headers=headers), 400)
    await assert_problem(await client.post(URL, data=b"[]", headers=headers), 422, field="body")


# --- checklist, drafts, PATCH, submit ----------------------------------------------------------


async def test_incomplete_checklist_blocks_submit_and_leaves_nothing(client, ready) -> None:  # type: ignore[no-untyped-def]
    before = await counts(client)
    resp = await client.post(
        URL, json=body(relevance="", urgency_reason="", offence=""), headers=auth(ready["officer"])
    )
    problem = await assert_problem(resp, 422)
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"relevance", "urgency_reason", "offence"}
    assert await counts(client) == before


async def test_draft_patch_and_submit(client, ready) -> None:  # type: ignore[no-untyped-def]
    token = ready["officer"]
    draft = await create(client, token, submit=False, relevance="", mla_to_follow=False)
    assert draft["status"] == "draft"
    assert draft["checklist"]["complete"] is False
    assert draft["checklist"]["missing"] == ["relevance", "mla_to_follow"]
    assert all(r["status"] == "planned" for r in draft["recipients"])
    rid = draft["id"]

    before = await counts(client)
    resp = await client.post(f"{URL}/{rid}/submit", headers=auth(token))
    problem = await assert_problem(resp, 422)
    assert {e["field"] for e in problem["errors"]} == {"relevance", "mla_to_follow"}
    assert await counts(client) == before

    new_ids = [{"type": "domain", "value": "Example.ORG"}]
    resp = await client.patch(
        f"{URL}/{rid}",
        json={"relevance": "Linked to the lure.", "mla_to_follow": True, "identifiers": new_ids},
        headers=auth(token),
    )
    assert resp.status == 200, await resp.text()
    patched = await resp.json()
    check_schema(patched)
    assert patched["checklist"]["complete"] is True
    assert [i["normalized"] for i in patched["identifiers"]] == ["example.org"]
    assert patched["version"] == draft["version"] + 1

    resp = await client.post(f"{URL}/{rid}/submit", headers=auth(token))
    assert resp.status == 200, await resp.text()
    submitted = await resp.json()
    check_schema(submitted)
    assert submitted["status"] == "queued"

    # Frozen once submitted: 409 naming the state.
    resp = await client.patch(f"{URL}/{rid}", json={"summary": "x"}, headers=auth(token))
    problem = await assert_problem(resp, 409)
    assert "queued" in problem["detail"]
    problem = await assert_problem(
        await client.post(f"{URL}/{rid}/submit", headers=auth(token)), 409
    )
    assert "queued" in problem["detail"]

    resp = await client.get(f"{URL}/{rid}/events", headers=auth(token))
    events = await resp.json()
    check_schema(events, EventList)
    assert [e["action"] for e in events["items"]] == ["create", "update", "submit"]
    assert events["items"][1]["detail"]["fields"] == ["relevance", "mla_to_follow", "identifiers"]
    assert events["items"][1]["prev_hash"] == events["items"][0]["hash"]


async def test_patch_refused_leaves_draft_unchanged(client, ready) -> None:  # type: ignore[no-untyped-def]
    draft = await create(client, ready["officer"], submit=False)
    before = await counts(client)
    bad = [{"type": "ipv4", "value": "999.1.1.1", "at": "2026-11-19T10:00:00Z"}]
    resp = await client.patch(
        f"{URL}/{draft['id']}",
        json={"summary": "changed", "identifiers": bad},
        headers=auth(ready["officer"]),
    )
    await assert_problem(resp, 422, field="identifiers[0].value")
    for patch, field in (({"regime": "cets224-art9"}, "regime"), ({"unknown": 1}, "unknown")):
        resp = await client.patch(
            f"{URL}/{draft['id']}", json=patch, headers=auth(ready["officer"])
        )
        await assert_problem(resp, 422, field=field)
    assert await counts(client) == before
    got = await (await client.get(f"{URL}/{draft['id']}", headers=auth(ready["officer"]))).json()
    assert got == draft


async def test_missing_contact_details_block_submit(client, ready) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        await s.execute(update(Unit).where(Unit.name == "alpha").values(phone=""))
    resp = await client.post(URL, json=body(), headers=auth(ready["officer"]))
    await assert_problem(resp, 422, field="unit.phone")


# --- isolation, roles, listing -----------------------------------------------------------------


async def test_other_units_request_is_404_everywhere(client, ready) -> None:  # type: ignore[no-untyped-def]
    draft = await create(client, ready["officer"], submit=False)
    other = auth(ready["other_officer"])
    rid = draft["id"]
    await assert_problem(await client.get(f"{URL}/{rid}", headers=other), 404)
    await assert_problem(
        await client.patch(f"{URL}/{rid}", json={"summary": "x"}, headers=other), 404
    )
    await assert_problem(await client.post(f"{URL}/{rid}/submit", headers=other), 404)
    await assert_problem(await client.get(f"{URL}/{rid}/letter", headers=other), 404)
    await assert_problem(await client.get(f"{URL}/{rid}/events", headers=other), 404)
    listed = await (await client.get(URL, headers=other)).json()
    assert listed["items"] == [] and listed["next"] is None
    for bad in ("0", "abc", "99999999999999999999999", str(rid + 1000)):
        await assert_problem(await client.get(f"{URL}/{bad}", headers=auth(ready["officer"])), 404)


async def test_admin_and_anonymous_are_refused(client, ready) -> None:  # type: ignore[no-untyped-def]
    await assert_problem(await client.post(URL, json=body(), headers=auth(ready["admin"])), 403)
    await assert_problem(await client.get(URL, headers=auth(ready["admin"])), 403)
    await assert_problem(await client.post(URL, json=body()), 401)


async def test_list_filters(client, ready) -> None:  # type: ignore[no-untyped-def]
    token = ready["officer"]
    draft = await create(client, token, submit=False)
    queued = await create(client, token)
    soon = await create(client, token)
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(PreservationRequest)
            .where(PreservationRequest.id == soon["id"])
            .values(status="preserved", expires_at=T0 + timedelta(days=10))
        )
        # Expiring lists open preservations only (a queued request has no expiry yet).
        await s.execute(
            update(PreservationRequest)
            .where(PreservationRequest.id == queued["id"])
            .values(status="sent", expires_at=T0 + timedelta(days=40))
        )
    resp = await client.get(URL, headers=auth(token))
    data = await resp.json()
    check_schema(data, RequestList)
    assert [i["id"] for i in data["items"]] == [soon["id"], queued["id"], draft["id"]]
    data = await (await client.get(URL, params={"status": "draft"}, headers=auth(token))).json()
    assert [i["id"] for i in data["items"]] == [draft["id"]]
    data = await (
        await client.get(URL, params={"expiring_within": "P14D"}, headers=auth(token))
    ).json()
    assert [i["id"] for i in data["items"]] == [soon["id"]]
    data = await (
        await client.get(URL, params={"expiring_within": "P6W"}, headers=auth(token))
    ).json()
    assert [i["id"] for i in data["items"]] == [soon["id"], queued["id"]]
    for params, field in (
        ({"expiring_within": "14 days"}, "query.expiring_within"),
        ({"expiring_within": "P1M"}, "query.expiring_within"),
        ({"status": "pending"}, "query.status"),
        ({"limit": "0"}, "query.limit"),
    ):
        resp = await client.get(URL, params=params, headers=auth(token))
        await assert_problem(resp, 422, field=field)


async def test_fifty_parallel_creations_get_unique_references(client, ready) -> None:  # type: ignore[no-untyped-def]
    async def one() -> str:
        resp = await client.post(URL, json=body(), headers=auth(ready["officer"]))
        assert resp.status == 201, await resp.text()
        return (await resp.json())["reference"]

    refs = await asyncio.gather(*(one() for _ in range(50)))
    assert len(set(refs)) == 50
    assert sorted(refs) == [f"PR-2026-{n:06d}" for n in range(1, 51)]


async def test_openapi_describes_the_request_endpoints(client) -> None:  # type: ignore[no-untyped-def]
    spec = await (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/requests"])
    assert {"get", "patch"} <= set(paths["/api/v1/requests/{id}"])
    assert "post" in paths["/api/v1/requests/{id}/submit"]
    assert "get" in paths["/api/v1/requests/{id}/letter"]
    create_op = paths["/api/v1/requests"]["post"]
    assert "201" in create_op["responses"] and "422" in create_op["responses"]
    schema = spec["components"]["schemas"]["IdentifierIn"]
    assert "from" in schema["properties"] and schema["additionalProperties"] is False


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_request_new_show_list(database_url, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """`preservation request new|show|list` act as the named user of the named unit."""
    import json

    from preservation.cli import main

    monkeypatch.setenv("PRESERVATION_DATABASE_URL", database_url)
    monkeypatch.setenv("PRESERVATION_LOAD_DEMO", "false")
    assert (
        main(
            [
                "token",
                "create",
                "--create-unit",
                "--unit",
                "alpha",
                "--role",
                "officer",
                "--user",
                "ann",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "token",
                "create",
                "--create-unit",
                "--unit",
                "beta",
                "--role",
                "officer",
                "--user",
                "bob",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "token",
                "create",
                "--create-unit",
                "--unit",
                "alpha",
                "--role",
                "admin",
                "--user",
                "root",
            ]
        )
        == 0
    )
    capsys.readouterr()
    draft = body(submit=False, provider=None, identifiers=BODY["identifiers"][2:])
    path = tmp_path / "request.json"
    path.write_text(json.dumps(draft), encoding="utf-8")

    assert (
        main(["request", "new", "--file", str(path), "--unit", "alpha", "--user", "ann", "--json"])
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    check_schema(created)
    assert created["status"] == "draft" and created["created_by"] == "ann"
    # The unit has no contact details: submitting is refused (exit 2), nothing is created.
    code = main(
        ["request", "new", "--file", str(path), "--unit", "alpha", "--user", "ann", "--submit"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "unit.email" in err

    assert main(["request", "show", created["reference"], "--unit", "alpha"]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith(f"{created['reference']}  draft")
        and "checklist: missing contact_details" in out
    )
    assert main(["request", "list", "--unit", "alpha", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["reference"] for i in listed["items"]] == [created["reference"]]
    # Another unit does not see it; bad input exits 2 with one line per problem.
    assert main(["request", "show", str(created["id"]), "--unit", "beta"]) == 2
    assert main(["request", "new", "--file", str(path), "--unit", "alpha", "--user", "root"]) == 2
    assert (
        main(
            [
                "request",
                "new",
                "--file",
                str(tmp_path / "missing.json"),
                "--unit",
                "alpha",
                "--user",
                "ann",
            ]
        )
        == 2
    )
    path.write_text(json.dumps({**draft, "country": "XX"}), encoding="utf-8")
    assert main(["request", "new", "--file", str(path), "--unit", "alpha", "--user", "ann"]) == 2
    assert "country" in capsys.readouterr().err
    assert main(["request", "list", "--unit", "alpha", "--expiring-within", "soon"]) == 2


# --- phone numbers as the unit dials them (issue 21) ----------------------------------------------


async def _unit_country(client, country: str | None) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        await s.execute(update(Unit).where(Unit.name == "alpha").values(country=country))


async def test_national_phone_numbers_read_with_the_units_country(client, ready) -> None:  # type: ignore[no-untyped-def]
    """A unit in Germany writes "0151 ..." (trunk prefix) or "0049 ..." (international prefix):
    both are +49 numbers, on creation and when a draft's identifiers are replaced."""
    await _unit_country(client, "DE")
    phones = [
        {"type": "phone", "value": "0151 12345678"},
        {"type": "phone", "value": "0049 151 12345679"},
    ]
    resp = await client.post(
        URL, json=body(submit=False, identifiers=phones), headers=auth(ready["officer"])
    )
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    assert [i["normalized"] for i in data["identifiers"]] == ["+4915112345678", "+4915112345679"]

    resp = await client.patch(
        f"{URL}/{data['id']}",
        json={"identifiers": [{"type": "phone", "value": "030 1234567"}]},
        headers=auth(ready["officer"]),
    )
    assert resp.status == 200, await resp.text()
    assert [i["normalized"] for i in (await resp.json())["identifiers"]] == ["+49301234567"]


async def test_national_phone_number_refused_without_the_units_country(client, ready) -> None:  # type: ignore[no-untyped-def]
    """Without the unit's country a number with its trunk prefix names no country: 422 naming
    the identifier, and nothing written; "0049 ..." still reads as German."""
    await _unit_country(client, None)
    before = await counts(client)
    resp = await client.post(
        URL,
        json=body(submit=False, identifiers=[{"type": "phone", "value": "0151 12345678"}]),
        headers=auth(ready["officer"]),
    )
    await assert_problem(resp, 422, field="identifiers[0].value")
    assert await counts(client) == before
    resp = await client.post(
        URL,
        json=body(submit=False, identifiers=[{"type": "phone", "value": "0049 151 12345678"}]),
        headers=auth(ready["officer"]),
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["identifiers"][0]["normalized"] == "+4915112345678"


async def test_country_changed_after_the_cached_read_is_the_stored_one(client, ready) -> None:  # type: ignore[no-untyped-def]
    """The node caches the unit's country for the check before the transaction; the
    transaction reads the numbers again with the stored country."""
    await _unit_country(client, "FR")
    first = await client.post(
        URL,
        json=body(submit=False, identifiers=[{"type": "phone", "value": "01 23 45 67 89"}]),
        headers=auth(ready["officer"]),
    )
    assert first.status == 201, await first.text()
    assert (await first.json())["identifiers"][0]["normalized"] == "+33123456789"
    await _unit_country(client, "DE")
    resp = await client.post(
        URL,
        json=body(submit=False, identifiers=[{"type": "phone", "value": "030 1234567"}]),
        headers=auth(ready["officer"]),
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["identifiers"][0]["normalized"] == "+49301234567"


# --- the addressee from the identifiers (issue 21) ------------------------------------------------


@pytest.fixture
async def platforms(client, ready):  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        s.add_all(
            [
                Provider(
                    slug="picturegram",
                    name="Picturegram LLC",
                    country="US",
                    le_email="lert@picturegram.test",
                    accepts_foreign_direct=True,
                    platforms=["picturegram"],
                    domains=["picturegram-app.com"],
                    verified_on=date(2026, 10, 1),
                ),
                Provider(
                    slug="chatline",
                    name="Chatline GmbH",
                    country="DE",
                    le_email="legal@chatline.test",
                    accepts_foreign_direct=True,
                    domains=["chatline-mail.eu"],
                    verified_on=date(2026, 10, 1),
                ),
            ]
        )
        await bump_version(s)
    return ready


def _without_addressee(identifiers: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    out = body(identifiers=identifiers, **changes)
    out.pop("provider")
    out.pop("country")
    return out


async def test_provider_taken_from_the_identifiers_when_they_agree(client, platforms) -> None:  # type: ignore[no-untyped-def]
    """An account and a URL of one provider, and an IP (a login address held by it): the
    request goes to that provider, and its warnings say where the choice came from."""
    idents = [
        {"type": "account", "platform": "picturegram", "value": "some.handle"},
        {"type": "url", "value": "https://www.picturegram-app.com/p/123"},
        {"type": "ipv4", "value": "8.8.8.8", "at": "2026-11-19T14:03:11", "tz": "Europe/Berlin"},
    ]
    resp = await client.post(
        URL, json=_without_addressee(idents), headers=auth(platforms["officer"])
    )
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    assert data["provider"] == "picturegram" and data["status"] != "draft"
    said = [w for w in data["warnings"] if w.startswith("provider:")]
    assert said and "Picturegram LLC" in said[0] and "identifiers[0], identifiers[1]" in said[0]


async def test_no_provider_taken_when_the_identifiers_disagree(client, platforms) -> None:  # type: ignore[no-untyped-def]
    idents = [
        {"type": "account", "platform": "picturegram", "value": "some.handle"},
        {"type": "email", "value": "someone@chatline-mail.eu"},
    ]
    resp = await client.post(
        URL, json=_without_addressee(idents, submit=False), headers=auth(platforms["officer"])
    )
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    assert data["provider"] is None and data["country"] is None
    said = " ".join(data["warnings"])
    assert "several providers" in said
    assert "Picturegram LLC (identifiers[0])" in said and "Chatline GmbH (identifiers[1])" in said


async def test_country_taken_from_a_phone_number(client, platforms) -> None:  # type: ignore[no-untyped-def]
    """A number names no provider, only the State that issued it: the request goes to that
    State's point of contact."""
    idents = [{"type": "phone", "value": "+49 151 12345678"}]
    resp = await client.post(
        URL, json=_without_addressee(idents), headers=auth(platforms["officer"])
    )
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    assert data["provider"] is None and data["country"] == "DE"
    assert any(w.startswith("country: DE") for w in data["warnings"])


async def test_a_named_addressee_is_kept(client, platforms) -> None:  # type: ignore[no-untyped-def]
    idents = [{"type": "account", "platform": "picturegram", "value": "some.handle"}]
    resp = await client.post(
        URL,
        json=body(identifiers=idents, provider="mailonly", country=None, submit=False),
        headers=auth(platforms["officer"]),
    )
    data = await resp.json()
    assert data["provider"] == "mailonly"
    assert not any(w.startswith("provider:") for w in data["warnings"])
    assert any("belongs to Picturegram LLC" in w for w in data["warnings"])


async def test_a_draft_changed_without_addressee_takes_it_again(client, platforms) -> None:  # type: ignore[no-untyped-def]
    """The form sends an empty provider and country with every change of a draft: the
    identifiers' provider is taken again (not cleared); naming a State keeps the State."""
    idents = [{"type": "account", "platform": "picturegram", "value": "some.handle"}]
    resp = await client.post(
        URL, json=_without_addressee(idents, submit=False), headers=auth(platforms["officer"])
    )
    draft = await resp.json()
    assert draft["provider"] == "picturegram"
    resp = await client.patch(
        f"{URL}/{draft['id']}",
        json={"provider": None, "country": None, "summary": "Changed."},
        headers=auth(platforms["officer"]),
    )
    assert resp.status == 200, await resp.text()
    changed = await resp.json()
    assert changed["provider"] == "picturegram"
    assert any(w.startswith("provider: Picturegram LLC") for w in changed["warnings"])
    resp = await client.patch(
        f"{URL}/{draft['id']}",
        json={"provider": None, "country": "DE"},
        headers=auth(platforms["officer"]),
    )
    named = await resp.json()
    assert named["provider"] is None and named["country"] == "DE"
    assert not any(w.startswith("provider:") for w in named["warnings"])
