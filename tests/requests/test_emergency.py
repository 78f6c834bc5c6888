"""Emergency disclosure requests over HTTP, on both engines (issue 20): refused without their
facts (each missing field named, nothing written); routed to the provider's emergency channel or
the 24/7 point of contact; the letter (18 U.S.C. § 2702(b)(8)/(c)(4) for a US provider, no
preservation period); follow-ups in hours with the frozen clock, escalated to the supervisors,
the alert addresses and the officer; the audit of who declared it and why; the preservation
request that follows; the dashboard and the record page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from contacts.models import Contact
from preservation.reminders import delivery as rd
from preservation.requests.schemas import RequestPublic
from preservation.storage.models import (
    AuditEvent,
    OutboxMessage,
    PreservationRequest,
    Reminder,
    Unit,
    User,
)
from preservation.web.keys import DB
from providers.models import Provider
from tests.conftest import T0, assert_problem, auth
from tests.reminder_support import SmtpSink, context

URL = "/api/v1/requests"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

FACTS = {
    "threat": "A 15-year-old announced her suicide for tonight in a live stream; she is not at home.",
    "why_now": "She said she would act within hours; the stream ended 20 minutes ago.",
    "data_needed": "The IP addresses of the account's last logins, to locate her device.",
    "callback_phone": "+357 99 123456",
}


def emergency_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "emergency",
        "case_reference": "CY-2026-0099",
        "provider": "meta",
        "emergency": dict(FACTS),
        "identifiers": [{"type": "account", "platform": "instagram", "value": "some.handle"}],
        "submit": True,
    }
    body.update(changes)
    return body


@pytest.fixture
async def ready(client, tokens):  # type: ignore[no-untyped-def]
    """A unit profile with contact details and alert addresses, a supervisor with an e-mail, an
    officer with one, and a directory: one provider with an emergency channel, one without."""
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(
                authority="Cybercrime Unit, State Police",
                email="cyber@police.example",
                phone="+35722000000",
                timezone="Asia/Nicosia",
                alert_emails=["duty@police.example"],
            )
        )
        await s.execute(
            update(User).where(User.name == "supervisor-a").values(email="sup@police.example")
        )
        await s.execute(
            update(User).where(User.name == "officer-a").values(email="officer@police.example")
        )
        verified = date(2026, 10, 1)
        s.add_all(
            [
                Provider(
                    slug="meta",
                    name="Meta Platforms, Inc.",
                    country="US",
                    portal_url="https://le.meta.test/records",
                    accepts_foreign_direct=True,
                    emergency_contact={
                        "email": "emergency@meta.example",
                        "phone": "+16505550199",
                    },
                    verified_on=verified,
                ),
                Provider(
                    slug="googlish",
                    name="Googlish LLC",
                    country="US",
                    portal_url="https://le.googlish.test/lers",
                    accepts_foreign_direct=True,
                    verified_on=verified,
                ),
                Provider(
                    slug="lineonly",
                    name="LineOnly Cable",
                    country="US",
                    emergency_contact={"phone": "+18668940103"},
                    verified_on=verified,
                ),
                Provider(
                    slug="okx",
                    name="OKX",
                    country="SC",
                    emergency_contact={"email": "enforcement@okx.example"},
                    verified_on=verified,
                ),
                Contact(
                    country="US",
                    authority="US 24/7 point of contact",
                    network="24/7",
                    emails=["poc@us.example"],
                    phones=["+12025550100"],
                    verified_on=verified,
                ),
            ]
        )
    return tokens


async def count_requests(client) -> int:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        return (await s.execute(select(func.count()).select_from(PreservationRequest))).scalar_one()


async def create(client, token: str, status: int = 201, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = await client.post(URL, json=emergency_body(**changes), headers=auth(token))
    assert resp.status == status, await resp.text()
    data = await resp.json()
    assert RequestPublic.model_validate(data).model_dump(mode="json") == data
    return data


async def letter(client, token: str, rid: int) -> str:  # type: ignore[no-untyped-def]
    resp = await client.get(f"{URL}/{rid}/letter", headers=auth(token))
    assert resp.status == 200, await resp.text()
    return await resp.text()


# --- refused without its facts -------------------------------------------------------------------


async def test_an_emergency_without_its_facts_is_refused_naming_each_field(client, ready) -> None:  # type: ignore[no-untyped-def]
    before = await count_requests(client)
    resp = await client.post(
        URL, json=emergency_body(emergency=None), headers=auth(ready["officer"])
    )
    problem = await assert_problem(resp, 422)
    assert {e["field"] for e in problem["errors"]} == {
        "emergency.threat",
        "emergency.why_now",
        "emergency.data_needed",
        "emergency.callback_phone",
    }
    # Blank is missing too, and every other bad field is named in the same answer.
    resp = await client.post(
        URL,
        json=emergency_body(
            emergency={"threat": "  ", "why_now": "x", "data_needed": "y", "callback_phone": "12"},
            identifiers=[{"type": "ipv4", "value": "999.1.1.1"}],
        ),
        headers=auth(ready["officer"]),
    )
    problem = await assert_problem(resp, 422, field="emergency.threat")
    fields = {e["field"] for e in problem["errors"]}
    assert {"emergency.threat", "emergency.callback_phone", "identifiers[0].value"} <= fields
    assert "emergency.why_now" not in fields
    # The facts belong to an emergency: a preservation request with them is refused.
    resp = await client.post(
        URL,
        json=emergency_body(kind="preservation", submit=False),
        headers=auth(ready["officer"]),
    )
    await assert_problem(resp, 422, field="emergency")
    resp = await client.post(
        URL, json=emergency_body(kind="rescue"), headers=auth(ready["officer"])
    )
    await assert_problem(resp, 422, field="kind")
    assert await count_requests(client) == before


# --- routing, instrument, letter -------------------------------------------------------------------


async def test_routes_to_the_providers_emergency_channel(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"])
    assert data["kind"] == "emergency" and data["status"] == "queued" and data["urgent"]
    assert data["emergency"] == {**FACTS, "callback_phone": "+35799123456", "follow_up": None}
    # Its emergency address, not the preservation portal; no copy to the point of contact.
    assert [(r["role"], r["channel"], r["to"]) for r in data["recipients"]] == [
        ("provider", "email", "emergency@meta.example")
    ]
    instrument = data["recipients"][0]["instrument"]
    assert instrument["key"] == "us-2702-emergency" and data["regime"] == "us-2702-emergency"
    assert [c["phone"] for c in data["call"]] == ["+16505550199"]
    assert data["expires_at"] is None and "no preservation period" in data["expiry_rule"]
    assert data["checklist"]["complete"] is True
    assert "extend" not in data["allowed_actions"] and "mla" not in data["allowed_actions"]
    assert "follow-up" in data["allowed_actions"]

    text = await letter(client, ready["officer"], data["id"])
    assert "EMERGENCY DISCLOSURE REQUEST" in text
    assert "18 U.S.C. § 2702(b)(8) (contents) and § 2702(c)(4) (records)" in text
    assert "voluntarily" in text
    for fact in FACTS.values():
        assert fact.replace("+357 99 123456", "+35799123456") in text
    assert "CALL BACK" in text and "+35799123456" in text
    # No preservation period in an emergency letter.
    assert "PERIOD OF PRESERVATION" not in text and "sixty days" not in text
    html = await (
        await client.get(f"{URL}/{data['id']}/letter?format=html", headers=auth(ready["officer"]))
    ).text()
    assert "Call back" in html and "2702(b)(8)" in html


async def test_a_provider_outside_the_us_rests_on_its_own_emergency_policy(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"], provider="okx")
    assert data["recipients"][0]["to"] == "enforcement@okx.example"
    assert data["recipients"][0]["instrument"]["key"] == "provider-emergency"
    text = await letter(client, ready["officer"], data["id"])
    assert "2702" not in text and "emergency disclosure policy" in text


async def test_routes_to_the_point_of_contact_without_an_emergency_channel(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"], provider="googlish")
    assert [(r["role"], r["channel"], r["to"]) for r in data["recipients"]] == [
        ("poc", "email", "poc@us.example")
    ]
    assert data["recipients"][0]["instrument"]["key"] == "poc-emergency"
    # The point of contact's telephone first.
    assert data["call"][0] == {
        "role": "poc",
        "name": "US 24/7 point of contact",
        "phone": "+12025550100",
        "hours": "24/7",
    }
    assert data["route"]["why"].startswith("Googlish LLC has no emergency channel on file")
    text = await letter(client, ready["officer"], data["id"])
    assert "emergency police co-operation" in text
    # The custodian is a US provider: the letter says it may disclose under § 2702.
    assert "2702(b)(8)" in text


async def test_an_emergency_line_alone_is_a_call_the_officer_records(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"], provider="lineonly")
    (recipient,) = data["recipients"]
    assert (recipient["channel"], recipient["to"], recipient["status"]) == (
        "phone",
        "+18668940103",
        "handoff",
    )
    assert data["call"][0]["phone"] == "+18668940103"
    await sign_in(client, ready["officer"])
    record = await (await client.get(f"/requests/{data['id']}")).text()
    assert 'Call:</strong> <a class="call" href="tel:+18668940103">' in record
    resp = await client.post(
        f"{URL}/{data['id']}/recipients/{recipient['id']}/submitted",
        json={"portal_reference": "call 03:12, duty supervisor J. Doe"},
        headers=auth(ready["officer"]),
    )
    assert resp.status == 200, await resp.text()
    after = await resp.json()
    assert after["status"] == "sent" and after["recipients"][0]["status"] == "sent"
    # Still unanswered: the follow-ups stand until the answer is recorded.
    assert [d["kind"] for d in after["deadlines"]] == ["emergency_followup"] * 2


async def test_an_emergency_draft_is_checked_changed_and_submitted(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"], submit=False)
    assert data["status"] == "draft" and data["checklist"]["complete"]
    assert {i["key"] for i in data["checklist"]["items"]} >= {"emergency_facts", "callback_phone"}
    assert "necessity" not in data["checklist"]["missing"]
    headers = auth(ready["officer"])
    resp = await client.patch(f"{URL}/{data['id']}", json={"emergency": None}, headers=headers)
    await assert_problem(resp, 422, field="emergency.threat")
    changed = {**FACTS, "threat": "Hostage taking: the kidnapper uses this account."}
    resp = await client.patch(f"{URL}/{data['id']}", json={"emergency": changed}, headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["emergency"]["threat"].startswith("Hostage taking")
    # Asking for the instrument of another route is refused.
    resp = await client.patch(
        f"{URL}/{data['id']}", json={"regime": "poc-emergency"}, headers=headers
    )
    await assert_problem(resp, 422, field="regime")
    resp = await client.post(f"{URL}/{data['id']}/submit", headers=headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "queued"


async def test_who_declared_it_and_why_is_in_the_audit_trail(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"])
    events = (
        await (
            await client.get(f"{URL}/{data['id']}/events", headers=auth(ready["officer"]))
        ).json()
    )["items"]
    declared = [e for e in events if e["action"] == "emergency_declared"]
    assert len(declared) == 1
    assert declared[0]["actor"] == events[0]["actor"] and "officer-a" in declared[0]["actor"]
    assert declared[0]["detail"]["threat"] == FACTS["threat"]
    assert declared[0]["detail"]["why_now"] == FACTS["why_now"]
    assert declared[0]["detail"]["callback_phone"] == "+35799123456"
    assert [e["action"] for e in events][:3] == ["create", "emergency_declared", "submit"]


# --- follow-ups in hours -------------------------------------------------------------------------


async def test_follow_ups_fall_due_in_hours_and_escalate(client, ready, settings, clock) -> None:  # type: ignore[no-untyped-def]
    db = client.server.app[DB]
    data = await create(client, ready["officer"])
    assert [(d["kind"], d["due_at"]) for d in data["deadlines"]] == [
        ("emergency_followup", (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z")),
        ("emergency_followup", (T0 + timedelta(hours=4)).isoformat().replace("+00:00", "Z")),
    ]
    resp = await client.get("/api/v1/deadlines?within=PT5H", headers=auth(ready["officer"]))
    assert [i["kind"] for i in (await resp.json())["items"]] == ["emergency_followup"] * 2
    # The calendar feed: one event for each follow-up.
    resp = await client.get("/api/v1/deadlines.ics", headers=auth(ready["officer"]))
    ics = (await resp.text()).replace("\r\n ", "")
    uids = re.findall(r"UID:(PR-[^\r\n]*emergency_followup[^\r\n]*)", ics)
    assert len(uids) == 2 and len(set(uids)) == 2, ics

    with SmtpSink(clock=clock) as sink:
        ctx = context(settings, clock, smtp_port=sink.port, smtp_host="127.0.0.1")

        async def deliver() -> list[Any]:
            while await rd.deliver_due(db, ctx=ctx):
                pass
            return sink.of_kind("emergency_followup")

        clock.set(T0 + timedelta(minutes=59))
        assert await deliver() == []
        clock.set(T0 + timedelta(hours=1))
        first = await deliver()
        assert len(first) == 1
        assert set(first[0].rcpt) == {
            "duty@police.example",
            "sup@police.example",
            "officer@police.example",
        }
        subject = str(first[0].message["Subject"])
        assert "EMERGENCY" in subject and "no answer after 1 h" in subject
        assert "CALL" in subject and "+16505550199" in subject
        assert "ESCALATION" not in subject
        assert "Call now: Meta Platforms, Inc.: +16505550199" in first[0].body
        clock.set(T0 + timedelta(hours=3, minutes=59))
        assert len(await deliver()) == 1
        clock.set(T0 + timedelta(hours=4))
        second = await deliver()
        assert len(second) == 2
        assert str(second[1].message["Subject"]).startswith("ESCALATION EMERGENCY")
        assert "A supervisor takes the request over now" in second[1].body
        assert "sup@police.example" in second[1].rcpt
        clock.set(T0 + timedelta(days=30))
        assert len(await deliver()) == 2  # nothing more, and nothing lapses
    async with db.read() as s:
        req = await s.get(PreservationRequest, data["id"])
        assert req.status == "queued" and req.expires_at is None


async def test_an_answer_stops_the_follow_ups(client, ready, clock) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"])
    clock.set(T0 + timedelta(minutes=40))
    resp = await client.post(
        f"{URL}/{data['id']}/acknowledge",
        json={"provider_reference": "META-EDR-1234"},
        headers=auth(ready["officer"]),
    )
    assert resp.status == 200, await resp.text()
    answered = await resp.json()
    assert answered["deadlines"] == [] and answered["expires_at"] is None
    async with client.server.app[DB].read() as s:
        statuses = (
            await s.execute(select(Reminder.status).where(Reminder.request_id == data["id"]))
        ).scalars()
        assert set(statuses) == {"cancelled"}


# --- after the emergency ---------------------------------------------------------------------------


async def test_one_call_makes_the_preservation_request_for_the_same_identifiers(
    client, ready
) -> None:  # type: ignore[no-untyped-def]
    headers = auth(ready["officer"])
    draft = await create(client, ready["officer"], submit=False)
    resp = await client.post(f"{URL}/{draft['id']}/follow-up", headers=headers)
    await assert_problem(resp, 409)

    data = await create(
        client,
        ready["officer"],
        identifiers=[
            {"type": "account", "platform": "instagram", "value": "some.handle"},
            {
                "type": "ipv4",
                "value": "203.0.113.7",
                "at": "2026-11-20T01:40",
                "tz": "Asia/Nicosia",
            },
        ],
    )
    resp = await client.post(f"{URL}/{data['id']}/follow-up", headers=headers)
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    assert RequestPublic.model_validate(made).model_dump(mode="json") == made
    assert made["kind"] == "preservation" and made["status"] == "draft"
    assert made["provider"] == "meta" and made["case_reference"] == "CY-2026-0099"
    assert [(i["type"], i["normalized"], i["at_utc"]) for i in made["identifiers"]] == [
        (i["type"], i["normalized"], i["at_utc"]) for i in data["identifiers"]
    ]
    assert data["reference"] in made["summary"] and FACTS["threat"] in made["summary"]
    assert made["mla_to_follow"] is True and made["emergency"] is None
    # A preservation request to Meta goes to its preservation channel, on its own instrument.
    assert made["recipients"][0]["to"] == "https://le.meta.test/records"
    assert made["recipients"][0]["instrument"]["key"] == "provider-policy"

    # A second click: the same draft, nothing new.
    again = await client.post(f"{URL}/{data['id']}/follow-up", headers=headers)
    assert again.status == 200 and (await again.json())["id"] == made["id"]
    source = await (await client.get(f"{URL}/{data['id']}", headers=headers)).json()
    assert source["emergency"]["follow_up"] == {"id": made["id"], "reference": made["reference"]}
    assert "follow-up" not in source["allowed_actions"]
    events = (await (await client.get(f"{URL}/{made['id']}/events", headers=headers)).json())[
        "items"
    ]
    assert events[0]["detail"]["follows_emergency"] == data["reference"]
    # A preservation request has nothing to follow up; another unit's is not found.
    resp = await client.post(f"{URL}/{made['id']}/follow-up", headers=headers)
    await assert_problem(resp, 409)
    resp = await client.post(f"{URL}/{data['id']}/follow-up", headers=auth(ready["other_officer"]))
    await assert_problem(resp, 404)


async def test_an_emergency_goes_out_by_email_marked_as_such(
    client, ready, settings, clock
) -> None:  # type: ignore[no-untyped-def]
    from preservation.dispatch.email import subject_for

    assert subject_for(reference="PR-2026-000001", urgent=True, kind="emergency").startswith(
        "EMERGENCY - danger to life"
    )
    data = await create(client, ready["officer"])
    async with client.server.app[DB].read() as s:
        rows = (
            await s.execute(select(OutboxMessage).where(OutboxMessage.request_id == data["id"]))
        ).scalars()
        assert [(r.channel, r.status) for r in rows] == [("email", "pending")]
        assert (
            await s.execute(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.request_id == data["id"])
            )
        ).scalar_one() == 3


# --- pages -----------------------------------------------------------------------------------------


async def sign_in(client, token: str) -> None:  # type: ignore[no-untyped-def]
    csrf = CSRF.search(await (await client.get("/signin")).text())[1]
    resp = await client.post(
        "/signin", data={"csrf": csrf, "token": token, "next": "/"}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()


async def test_the_dashboard_lists_unanswered_emergencies_first(client, ready) -> None:  # type: ignore[no-untyped-def]
    data = await create(client, ready["officer"])
    await sign_in(client, ready["officer"])
    html = await (await client.get("/")).text()
    assert data["reference"] in html
    # Above everything else on the page, with the number to call.
    assert html.index("Emergencies waiting for an answer") < html.index("What expires when")
    assert 'href="tel:+16505550199"' in html
    record = await (await client.get(f"/requests/{data['id']}")).text()
    assert "Call now:" in record and 'href="tel:+16505550199"' in record
    assert "Make the preservation request" in record


async def test_the_emergency_form_names_what_is_missing_then_sends(client, ready) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    page = await (await client.get("/requests/emergency")).text()
    csrf = CSRF.search(page)[1]
    key = re.search(r'name="form_key" value="([^"]+)"', page)[1]
    form = {"csrf": csrf, "form_key": key, "provider": "meta", "identifiers-0-value": "some.handle"}
    resp = await client.post("/requests/emergency", data=form, allow_redirects=False)
    assert resp.status == 422
    text = await resp.text()
    for label in ("emergency-threat", "emergency-why_now", "emergency-data_needed"):
        assert f'id="{label}"' in text and f"{label}-error-1" in text
    before = await count_requests(client)
    form.update(
        {
            "threat": FACTS["threat"],
            "why_now": FACTS["why_now"],
            "data_needed": FACTS["data_needed"],
            "callback_phone": FACTS["callback_phone"],
            "identifiers-0-type": "account",
            "identifiers-0-value": "instagram:some.handle",
        }
    )
    resp = await client.post("/requests/emergency", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert re.fullmatch(r"/requests/\d+\?done=submitted", resp.headers["Location"])
    # The same form sent twice (a double click) makes one request.
    again = await client.post("/requests/emergency", data=form, allow_redirects=False)
    assert again.headers["Location"] == resp.headers["Location"]
    assert await count_requests(client) == before + 1
    rid = int(resp.headers["Location"].split("/")[2].split("?")[0])
    # The record's button: the preservation request, opened in the form as a draft.
    record = await (await client.get(f"/requests/{rid}")).text()
    csrf = CSRF.search(record)[1]
    resp = await client.post(
        f"/requests/{rid}/follow-up", data={"csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"].startswith("/requests/new?draft=")
