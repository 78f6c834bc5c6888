"""Governance of the shared directory (issue 23): the directory role alone changes it; every
change is a hash-chained event with its author, unit, time, before and after, listed by the API
and verified by `preservation audit verify`; a change to an address letters go to is mailed to
every unit's supervisors through the reminder machinery."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from preservation.access.auth import create_token
from preservation.directory import changes
from preservation.reminders import delivery as rd
from preservation.storage.db import Database
from preservation.storage.models import DirectoryEvent, Reminder
from preservation.web.keys import DB
from tests.conftest import T0, assert_problem, auth
from tests.e2e.helpers import clean_env, run_cli
from tests.reminder_support import SmtpSink, context, make_unit

PROVIDER = {
    "slug": "examplemail",
    "name": "Example Mail",
    "domains": ["examplemail.net"],
    "country": "ES",
    "le_email": "legal@examplemail.net",
    "accepts_foreign_direct": True,
    "source": {
        "url": "https://examplemail.net/law-enforcement",
        "title": "Law enforcement guidelines",
        "published": "2026-03-01",
        "kind": "provider",
    },
    "verified_on": "2026-11-01",
}


async def get_changes(client, token: str, **params: str):  # type: ignore[no-untyped-def]
    resp = await client.get("/api/v1/directory/changes", params=params, headers=auth(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_every_write_is_a_change_with_its_author(client, tokens, clock) -> None:
    h = auth(tokens["directory"])
    assert (await client.post("/api/v1/providers", json=PROVIDER, headers=h)).status == 201
    clock.advance(timedelta(minutes=5))
    resp = await client.put(
        "/api/v1/providers/examplemail", json={"le_email": "lert@examplemail.net"}, headers=h
    )
    assert resp.status == 200, await resp.text()
    # an update that changes nothing is no change
    resp = await client.put(
        "/api/v1/providers/examplemail", json={"le_email": "lert@examplemail.net"}, headers=h
    )
    assert resp.status == 200
    assert (await client.delete("/api/v1/providers/examplemail", headers=h)).status == 204

    # every unit reads the log (an officer of another unit too)
    body = await get_changes(client, tokens["other_officer"])
    assert [(c["action"], c["entity"], c["key"]) for c in body["items"]] == [
        ("delete", "provider", "examplemail"),
        ("update", "provider", "examplemail"),
        ("create", "provider", "examplemail"),
    ]
    deleted, updated, created = body["items"]
    assert body["next"] is None
    for c in body["items"]:
        assert c["actor"] == "directory-a@alpha" and c["unit"] == "alpha"
    assert created["before"] is None and created["after"]["le_email"] == "legal@examplemail.net"
    assert created["after"]["source"]["kind"] == "provider"
    assert updated["before"]["le_email"] == "legal@examplemail.net"
    assert updated["after"]["le_email"] == "lert@examplemail.net"
    assert updated["at"] == (T0 + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert deleted["after"] is None and deleted["before"]["slug"] == "examplemail"

    # one chain, each event carrying the previous one's hash
    async with client.server.app[DB].read() as session:
        events = list(
            (await session.execute(select(DirectoryEvent).order_by(DirectoryEvent.seq))).scalars()
        )
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == changes.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert changes.verify_chain(events) is None

    # pages: the log, and by entry
    page = await get_changes(client, tokens["officer"], limit="2")
    assert len(page["items"]) == 2 and page["next"] == 2
    rest = await get_changes(client, tokens["officer"], limit="2", cursor=str(page["next"]))
    assert [c["seq"] for c in rest["items"]] == [1] and rest["next"] is None
    only = await get_changes(client, tokens["officer"], key="examplemail", entity="provider")
    assert len(only["items"]) == 3


@pytest.mark.parametrize("role", ["officer", "supervisor", "admin"])
async def test_a_refused_write_leaves_no_change(client, tokens, role) -> None:
    resp = await client.post("/api/v1/providers", json=PROVIDER, headers=auth(tokens[role]))
    await assert_problem(resp, 403)
    assert (await get_changes(client, tokens["officer"]))["items"] == []


async def test_a_contact_change_is_logged_too(client, tokens) -> None:
    h = auth(tokens["directory"])
    contact = {"country": "ES", "authority": "Unidad Central", "emails": ["uc@example.org"]}
    resp = await client.post("/api/v1/contacts", json=contact, headers=h)
    assert resp.status == 201
    cid = (await resp.json())["id"]
    resp = await client.put(
        f"/api/v1/contacts/{cid}", json={"emails": ["duty@example.org"]}, headers=h
    )
    assert resp.status == 200
    items = (await get_changes(client, tokens["officer"], entity="contact"))["items"]
    assert [(c["action"], c["key"]) for c in items] == [("update", str(cid)), ("create", str(cid))]
    assert items[0]["before"]["emails"] == ["uc@example.org"]
    assert items[0]["after"]["emails"] == ["duty@example.org"]


def test_watched_fields() -> None:
    before = {"le_email": "a@x.com", "notes": "", "entities": []}
    assert changes.watched_changes("provider", before, {**before, "notes": "n"}) == []
    assert changes.watched_changes("provider", before, {**before, "le_email": "b@x.com"}) == [
        "le_email"
    ]
    assert changes.watched_changes("provider", None, before) == ["le_email"]
    assert changes.watched_changes("contact", {"emails": ["a@x"]}, {"emails": ["b@x"]}) == [
        "emails"
    ]


async def test_an_address_change_is_mailed_to_every_units_supervisors(
    client, tokens, settings, clock
) -> None:
    """One unit's directory role changes the address letters go to; the supervisors of every
    unit hear of it (the confirmed abuse of the issue: nobody did)."""
    db = client.server.app[DB]
    await make_unit(db, name="alpha", now=T0, supervisor_email="sup@alpha.example")
    await make_unit(db, name="beta", now=T0, supervisor_email="sup@beta.example")
    await make_unit(db, name="gamma", now=T0, alert_emails=[])  # no supervisor: no row
    h = auth(tokens["directory"])
    assert (await client.post("/api/v1/providers", json=PROVIDER, headers=h)).status == 201
    resp = await client.put(
        "/api/v1/providers/examplemail", json={"notes": "checked by phone"}, headers=h
    )
    assert resp.status == 200
    resp = await client.put(
        "/api/v1/providers/examplemail", json={"le_email": "new@examplemail.net"}, headers=h
    )
    assert resp.status == 200
    async with db.read() as session:
        rows = list(
            (await session.execute(select(Reminder).where(Reminder.kind == changes.ALERT_KIND)))
            .scalars()
            .all()
        )
    # the create (an address appears) and the address change, not the change of notes
    assert sorted(r.key for r in rows) == sorted(["directory:1", "directory:3"] * 2)

    with SmtpSink(clock=clock) as sink:
        ctx = context(settings, clock, smtp_port=sink.port, smtp_host="127.0.0.1")
        while await rd.deliver_due(db, ctx=ctx):
            pass
        assert await asyncio.to_thread(sink.wait_for, 4, 5)
    mails = [r for r in sink.received if "directory:3" in r.key]
    rcpts = sorted(a for r in mails for a in r.rcpt)
    assert "sup@alpha.example" in rcpts and "sup@beta.example" in rcpts
    body = mails[0].body
    assert "le_email" in body and "legal@examplemail.net" in body and "new@examplemail.net" in body
    assert "directory-a@alpha" in body


async def _tamper(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as s:
            await s.execute(
                update(DirectoryEvent)
                .where(DirectoryEvent.seq == 2)
                .values(after={"le_email": "attacker@example.org"})
            )
    finally:
        await db.dispose()


async def _changes_by_a_directory_token(url: str) -> None:
    from preservation.directory.service import create_provider, update_provider
    from providers.models import ProviderCreate, ProviderUpdate

    db = Database(url)
    try:
        async with db.write() as s:
            await create_token(s, unit="ops", role="directory", user="keeper", now=T0)
        by = changes.Author(actor="keeper@ops", unit="ops", at=T0)
        async with db.write() as s:
            await create_provider(s, ProviderCreate.model_validate(PROVIDER), by=by)
        async with db.write() as s:
            await update_provider(
                s, "examplemail", ProviderUpdate(le_email="x@examplemail.net"), by=by
            )
    finally:
        await db.dispose()


def test_audit_verify_checks_the_directory_chain(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_changes_by_a_directory_token(database_url))
    env = clean_env(PRESERVATION_DATABASE_URL=database_url)
    ok = run_cli("audit", "verify", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "2 directory change(s) verified: chain intact" in ok.stdout

    asyncio.run(_tamper(database_url))
    broken = run_cli("audit", "verify", "--json", env=env, cwd=tmp_path)
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False
    assert report["directory"] == {
        "changes": 2,
        "ok": False,
        "broken": {"seq": 2, "reason": "content does not match its hash"},
    }
    assert "directory change log broken: change 2" in broken.stderr


def test_the_directory_role_is_granted_on_the_command_line(database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = clean_env(PRESERVATION_DATABASE_URL=database_url)
    made = run_cli(
        "token", "create", "--create-unit", "--unit", "ops", "--role", "directory", "--user", "keeper",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith("pdt_")
