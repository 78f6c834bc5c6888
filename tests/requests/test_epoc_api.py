"""The European Preservation Order (EPOC-PR) over HTTP on both engines: an officer's submit
waits for a judge or prosecutor; an officer cannot issue, a prosecutor can and the audit trail
says who; the certificate holds the record (JSON, PDF, XML validated against the schema); the
transmission, Annexes VI and V, the notices and the end of preservation; the refusals (Denmark,
a State outside the Union, a provider without an addressee in the Union)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from preservation.documents import epoc_xml
from preservation.storage.models import AuditEvent, OutboxMessage, Reminder, Unit
from preservation.web.keys import DB
from providers.models import Provider
from tests.conftest import T0, assert_problem, auth
from tests.requests.test_requests_api import body, check_schema

URL = "/api/v1/requests"
REP = {
    "name": "Metaish Platforms Ireland Limited",
    "address": "Merrion Road, Dublin 4, D04 X2K5, Ireland",
    "country": "IE",
    "email": "lers@metaish.ie",
}
AUTHORITY = {
    "authority_type": "public_prosecutor",
    "name": "Office of the Attorney General of the Republic, Cybercrime Desk",
    "representative": "A. Prosecutor",
    "post_held": "Senior Counsel",
    "address": "1 Apellis Street, 1403 Nicosia, Cyprus",
    "phone": "+35722889100",
    "email": "cyber@law.example",
    "languages": ["en", "el"],
}
DAY = timedelta(days=1)


def epoc_body(**changes: Any) -> dict[str, Any]:
    return body(**{"regime": "eu-epoc-pr", "provider": "metaish", **changes})


@pytest.fixture
async def epoc(client, tokens, clock):  # type: ignore[no-untyped-def]
    """Unit alpha (CY) with its letterhead, a prosecutor of the unit, a provider that names its
    legal representative in the Union and one that names none."""
    from preservation.access.auth import create_token

    db = client.server.app[DB]
    async with db.write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(
                authority="Cybercrime Unit, Cyprus Police",
                address="Police Headquarters, Nicosia",
                email="cyber@police.example",
                phone="+35722000000",
                timezone="Asia/Nicosia",
            )
        )
        tokens["prosecutor"] = await create_token(
            s, unit="alpha", role="prosecutor", user="prosecutor-a", now=clock.now()
        )
        verified = date(2026, 10, 1)
        s.add_all(
            [
                Provider(
                    slug="metaish",
                    name="Metaish Platforms, Inc.",
                    country="US",
                    portal_url="https://le.metaish.test/records",
                    accepts_foreign_direct=True,
                    eu_representative=REP,
                    verified_on=verified,
                ),
                Provider(
                    slug="nolegalrep",
                    name="NoRep LLC",
                    country="US",
                    le_email="legal@norep.test",
                    accepts_foreign_direct=True,
                    verified_on=verified,
                ),
            ]
        )
    return tokens


async def submit_epoc(client, token: str, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = await client.post(URL, json=epoc_body(**changes), headers=auth(token))
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    check_schema(data)
    return data


async def set_authority(client, token: str) -> None:  # type: ignore[no-untyped-def]
    resp = await client.put("/api/v1/me/judicial-authority", json=AUTHORITY, headers=auth(token))
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    assert data["missing"] == [] and data["languages"] == ["en", "el"]


async def issued(client, tokens, **validate: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    made = await submit_epoc(client, tokens["officer"])
    await set_authority(client, tokens["prosecutor"])
    resp = await client.post(
        f"{URL}/{made['id']}/validate",
        json={"emergency": True, "statutory_provisions": "Criminal Code, s. 8", **validate},
        headers=auth(tokens["prosecutor"]),
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def events(client, rid: int) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        return list(
            (
                await s.execute(
                    select(AuditEvent).where(AuditEvent.request_id == rid).order_by(AuditEvent.seq)
                )
            ).scalars()
        )


# --- who issues ---------------------------------------------------------------------------------


async def test_an_officer_cannot_issue_a_prosecutor_can(client, epoc) -> None:  # type: ignore[no-untyped-def]
    made = await submit_epoc(client, epoc["officer"])
    assert made["status"] == "awaiting_validation"
    assert made["submitted_at"] == "2026-11-20T12:00:00Z"
    # The addressee is the representative in the Union, through the national IT system.
    assert [(r["role"], r["channel"], r["name"], r["status"]) for r in made["recipients"]] == [
        ("provider", "eu-system", REP["name"], "planned")
    ]
    assert made["allowed_actions"] == ["validate", "return", "close"]
    assert made["expires_at"] is None
    rid = made["id"]
    before = len(await events(client, rid))

    # The officer (and the supervisor) cannot issue: 403, nothing changes.
    for role in ("officer", "supervisor"):
        resp = await client.post(f"{URL}/{rid}/validate", json={}, headers=auth(epoc[role]))
        await assert_problem(resp, 403)
    # The prosecutor needs the judicial authority's details first: 422 naming each.
    resp = await client.post(f"{URL}/{rid}/validate", json={}, headers=auth(epoc["prosecutor"]))
    problem = await assert_problem(resp, 422, field="authority.authority_type")
    assert {"authority.name", "authority.address", "authority.languages"} <= {
        e["field"] for e in problem["errors"]
    }
    assert len(await events(client, rid)) == before
    async with client.server.app[DB].read() as s:
        assert (
            await s.execute(select(OutboxMessage).where(OutboxMessage.request_id == rid))
        ).first() is None

    await set_authority(client, epoc["prosecutor"])
    resp = await client.post(
        f"{URL}/{rid}/validate", json={"emergency": True}, headers=auth(epoc["prosecutor"])
    )
    assert resp.status == 200, await resp.text()
    data = await resp.json()
    check_schema(data)
    assert data["status"] == "queued"
    # Nothing is sent: a hand-off to the national IT system.
    assert [(r["channel"], r["status"]) for r in data["recipients"]] == [("eu-system", "handoff")]
    trail = await events(client, rid)
    assert [e.action for e in trail] == ["create", "submit", "validate"]
    assert trail[-1].actor == "prosecutor-a@alpha"
    assert trail[-1].detail["issued_by"] == "prosecutor-a@alpha"
    assert trail[-1].detail["authority_type"] == "public_prosecutor"
    assert trail[-1].detail["from"] == "awaiting_validation"
    # The hand-off names the channel; the recipients' view works for it.
    resp = await client.get(f"{URL}/{rid}/recipients", headers=auth(epoc["officer"]))
    assert resp.status == 200, await resp.text()
    (row,) = (await resp.json())["items"]
    assert (row["channel"], row["status"], row["name"]) == ("eu-system", "handoff", REP["name"])
    assert "national IT system" in row["handoff"]["text"] and "format=xml" in row["handoff"]["text"]
    # Validated once: a second validation is a conflict naming the state.
    again = await client.post(f"{URL}/{rid}/validate", json={}, headers=auth(epoc["prosecutor"]))
    assert "state queued" in (await assert_problem(again, 409))["detail"]


async def test_a_prosecutor_returns_it_or_issues_own_draft_on_submit(client, epoc) -> None:  # type: ignore[no-untyped-def]
    made = await submit_epoc(client, epoc["officer"])
    resp = await client.post(
        f"{URL}/{made['id']}/return",
        json={"note": "Name the statutory provision."},
        headers=auth(epoc["prosecutor"]),
    )
    assert resp.status == 200 and (await resp.json())["status"] == "draft"
    resp = await client.post(
        f"{URL}/{made['id']}/return", json={"note": "x"}, headers=auth(epoc["officer"])
    )
    await assert_problem(resp, 403)
    # A prosecutor's own submit issues it at once.
    await set_authority(client, epoc["prosecutor"])
    own = await submit_epoc(client, epoc["prosecutor"])
    assert own["status"] == "queued"
    assert [e.action for e in await events(client, own["id"])] == ["create", "submit", "validate"]


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "provider", "words"),
    [
        ("DK", "metaish", "Denmark (DK) is a Member State not bound"),
        ("US", "metaish", "Member State bound by Regulation (EU) 2023/1543"),
        ("CY", "nolegalrep", "no designated establishment or legal representative in the Union"),
        ("IE", "metaish", "is in the unit's own State (IE)"),
    ],
)
async def test_refusals_name_the_reason(client, epoc, country, provider, words) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        await s.execute(update(Unit).where(Unit.name == "alpha").values(country=country))
    resp = await client.post(URL, json=epoc_body(provider=provider), headers=auth(epoc["officer"]))
    problem = await assert_problem(resp, 422, field="regime")
    assert words in problem["detail"]
    async with client.server.app[DB].read() as s:
        assert (await s.execute(select(AuditEvent))).first() is None


# --- the certificate -----------------------------------------------------------------------------


async def test_the_certificate_holds_the_record_and_the_xml_validates(client, epoc) -> None:  # type: ignore[no-untyped-def]
    # The draft is shown as such; its XML does not exist yet.
    draft = await submit_epoc(client, epoc["officer"])
    resp = await client.get(f"{URL}/{draft['id']}/epoc-pr", headers=auth(epoc["officer"]))
    assert (await resp.json())["status"] == "draft"
    resp = await client.get(
        f"{URL}/{draft['id']}/epoc-pr?format=xml", headers=auth(epoc["officer"])
    )
    await assert_problem(resp, 409)

    data = await issued(client, epoc, file_reference="AG-CYB-2026/77")
    rid = data["id"]
    resp = await client.get(f"{URL}/{rid}/epoc-pr", headers=auth(epoc["officer"]))
    assert resp.status == 200
    cert = await resp.json()
    assert (cert["form"], cert["annex"], cert["status"]) == ("EPOC-PR", "II", "issued")
    assert (
        "must, without undue delay after receiving the EPOC-PR, preserve"
        in cert["notice_to_addressee"]
    )
    a, b, c, d, e, f, g = (cert["sections"][k] for k in "ABCDEFG")
    assert a["issuing_state"] == "CY"
    assert a["issuing_authority"] == AUTHORITY["name"]
    assert a["validating_authority"] is None
    assert a["file_number_issuing_authority"] == "AG-CYB-2026/77"
    assert a["case_reference"] == "CY-2026-0042"
    assert a["epoc_pr_reference"] == data["reference"]
    assert b["addressee"]["name"] == REP["name"] and b["addressee"]["country"] == "IE"
    assert b["addressee"]["email"] == REP["email"]
    assert b["service_provider"] == {"slug": "metaish", "name": "Metaish Platforms, Inc."}
    assert b["emergency_case"] is True
    assert b["urgency_reason"] == "The account may be deleted tonight."
    ip, mail, account = c["evidence"]
    # Instants carry the offset of the zone they were given in (CET in November, CEST in Oct.).
    assert ip["date_time_range"] == {
        "start": "2026-11-19T14:03:11+01:00",
        "end": "2026-11-19T14:03:11+01:00",
    }
    assert (ip["type"], ip["value"], ip["port"]) == ("ipv4", "203.0.113.7", 51234)
    assert mail["date_time_range"] == {
        "start": "2026-10-01T00:00:00+02:00",
        "end": "2026-11-20T12:59:00+01:00",
    }
    assert (account["platform"], account["date_time_range"]) == ("instagram", None)
    assert c["relevance"].startswith("The account's subscriber data")
    assert d["categories"] == {
        "Subscriber": True,
        "UserIdentification": False,
        "Traffic": True,
        "Content": True,
    }
    assert e["offence"].startswith("Computer fraud") and e["facts"].startswith("Phishing")
    assert e["necessity"].startswith("The provider deletes")
    assert e["statutory_provisions"] == "Criminal Code, s. 8"
    assert e["purpose"] == "criminal proceedings"
    assert (f["type"], f["name"], f["representative"]) == (
        "public_prosecutor",
        AUTHORITY["name"],
        "A. Prosecutor",
    )
    assert (f["address"], f["phone"], f["email"], f["languages"]) == (
        AUTHORITY["address"],
        AUTHORITY["phone"],
        AUTHORITY["email"],
        ["en", "el"],
    )
    assert f["contact_authority"]["name"] == "Cybercrime Unit, Cyprus Police"
    assert f["date"] == "2026-11-20T12:00:00+00:00" and "prosecutor-a@alpha" in f["signature"]
    assert g["applicable"] is False
    assert any("identifier 3 has no period" in w for w in cert["warnings"])

    resp = await client.get(f"{URL}/{rid}/epoc-pr?format=xml", headers=auth(epoc["officer"]))
    assert resp.status == 200 and resp.content_type == "application/xml"
    xml = await resp.read()
    assert epoc_xml.validation_errors(xml) == []
    text = xml.decode()
    for part in (
        "<epocform2:epocPrForm2",
        "<epoc:EmergencyCase>true</epoc:EmergencyCase>",
        "<epoc:Value>203.0.113.7</epoc:Value>",
        "<epoc:Start>2026-11-19T14:03:11+01:00</epoc:Start>",
        "<epoc:Subscriber />",
        "<eio:NameOfAuthority>Metaish Platforms Ireland Limited</eio:NameOfAuthority>",
        "<epoc:Type>public_prosecutor</epoc:Type>",
        "<eio:Language>el</eio:Language>",
    ):
        assert part in text, part
    assert "UserIdentification" not in text and "SectionG" not in text
    # A broken export is caught by the schema, never handed out.
    assert epoc_xml.validation_errors(xml.replace(b"<epoc:Id>1</epoc:Id>", b"<epoc:Id>x</epoc:Id>"))

    resp = await client.get(f"{URL}/{rid}/epoc-pr?format=pdf", headers=auth(epoc["officer"]))
    pdf = await resp.read()
    assert resp.content_type == "application/pdf" and pdf.startswith(b"%PDF")
    from pypdf import PdfReader

    extracted = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for words in ("ANNEX II", "SECTION C", "203.0.113.7", "Metaish Platforms Ireland Limited"):
        assert words in extracted, words


async def test_validating_an_order_the_unit_issued_fills_section_g(client, epoc) -> None:  # type: ignore[no-untyped-def]
    data = await issued(client, epoc, capacity="validating")
    resp = await client.get(f"{URL}/{data['id']}/epoc-pr", headers=auth(epoc["officer"]))
    s = (await resp.json())["sections"]
    assert s["A"]["issuing_authority"] == "Cybercrime Unit, Cyprus Police"
    assert s["A"]["validating_authority"] == AUTHORITY["name"]
    assert s["G"]["applicable"] is True and s["G"]["type"] == "public_prosecutor"
    resp = await client.get(f"{URL}/{data['id']}/epoc-pr?format=xml", headers=auth(epoc["officer"]))
    xml = await resp.read()
    assert epoc_xml.validation_errors(xml) == [] and b"<epocform2:SectionG>" in xml


# --- transmission, the clock, Annexes VI and V, the end -----------------------------------------


async def post(client, token: str, path: str, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    return await client.post(path, json=data, headers=auth(token))


async def test_the_clock_annexes_notices_and_end(client, epoc, clock) -> None:  # type: ignore[no-untyped-def]
    data = await issued(client, epoc)
    rid, officer, prosecutor = data["id"], epoc["officer"], epoc["prosecutor"]
    clock.advance(timedelta(hours=1))
    resp = await post(
        client,
        officer,
        f"{URL}/{rid}/epoc-pr/transmitted",
        {"reference": "CY-RI-2026-991", "received_at": "2026-11-20T15:00:00+02:00"},
    )
    assert resp.status == 200, await resp.text()
    sent = await resp.json()
    received = T0 + timedelta(hours=1)
    assert sent["status"] == "sent" and sent["received_at"] == "2026-11-20T13:00:00Z"
    assert sent["expires_at"] == (received + 60 * DAY).isoformat().replace("+00:00", "Z")
    assert "from the addressee's receipt" in sent["expiry_rule"]
    assert "extend" not in sent["allowed_actions"] and "mla" not in sent["allowed_actions"]
    assert {"annex-vi", "annex-v", "acknowledge", "close"} <= set(sent["allowed_actions"])
    resp = await post(
        client,
        officer,
        f"{URL}/{rid}/epoc-pr/notices",
        {"type": "DataPreserved", "provider_reference": "MPIL-77"},
    )
    assert (await resp.json())["status"] == "preserved"
    # The generic extension and MLA actions point to the annexes.
    resp = await post(client, officer, f"{URL}/{rid}/extend", {})
    assert "Annex VI" in (await assert_problem(resp, 409))["detail"]
    resp = await post(client, officer, f"{URL}/{rid}/mla", {"reference": "X"})
    assert "Annex V" in (await assert_problem(resp, 409))["detail"]

    # Annex VI is the issuing authority's: not the officer's when the prosecutor issued it.
    clock.advance(50 * DAY)
    resp = await post(client, officer, f"{URL}/{rid}/annex-vi", {"reason": "MLA being drafted"})
    await assert_problem(resp, 403)
    resp = await post(client, prosecutor, f"{URL}/{rid}/annex-vi", {"reason": "MLA being drafted"})
    assert resp.status == 200, await resp.text()
    extended = await resp.json()
    assert extended["expires_at"] == (received + 90 * DAY).isoformat().replace("+00:00", "Z")
    assert "+30 days by Annex VI" in extended["expiry_rule"]
    resp = await post(client, prosecutor, f"{URL}/{rid}/annex-vi", {})
    assert "already extended" in (await assert_problem(resp, 409))["detail"]
    form = await (await client.get(f"{URL}/{rid}/forms/annex-vi", headers=auth(officer))).json()
    assert form["annex"] == "VI" and form["fields"]["extended_by_days"] == 30
    assert form["fields"]["national_reference"] == "CY-RI-2026-991"
    assert form["fields"]["addressee_reference"] == "MPIL-77"

    clock.advance(20 * DAY)  # day 70: inside the extended period
    resp = await post(
        client,
        prosecutor,
        f"{URL}/{rid}/annex-v",
        {"production_reference": "EPOC-CY-2026-12", "production_issued_on": "2027-01-28"},
    )
    assert resp.status == 200, await resp.text()
    held = await resp.json()
    assert held["status"] == "mla_sent" and held["expires_at"] is None
    assert held["held_until_decision"] is True and "Art. 11(2)" in held["expiry_rule"]
    resp = await client.get(f"{URL}/{rid}/forms/annex-v?format=pdf", headers=auth(officer))
    assert (await resp.read()).startswith(b"%PDF")
    form = await (await client.get(f"{URL}/{rid}/forms/annex-v", headers=auth(officer))).json()
    assert form["fields"]["subsequent_request"]["reference"] == "EPOC-CY-2026-12"

    # The end-of-preservation notice exists once the request is closed.
    resp = await client.get(f"{URL}/{rid}/forms/end-of-preservation", headers=auth(officer))
    await assert_problem(resp, 409)
    resp = await post(client, officer, f"{URL}/{rid}/close", {"outcome": "produced"})
    closed = await resp.json()
    assert any(w.startswith("Art. 11(3):") for w in closed["warnings"])
    form = await (
        await client.get(f"{URL}/{rid}/forms/end-of-preservation", headers=auth(officer))
    ).json()
    assert form["fields"]["kind"] == "EndPreservation" and "Art. 11(3)" in form["citation"]
    resp = await post(client, officer, f"{URL}/{rid}/epoc-pr/notices", {"type": "EndPreservation"})
    assert resp.status == 200, await resp.text()
    assert not any(w.startswith("Art. 11(3):") for w in (await resp.json())["warnings"])
    resp = await post(
        client, officer, f"{URL}/{rid}/epoc-pr/notices", {"type": "ConfirmationOfWithdrawal"}
    )
    await assert_problem(resp, 409)
    actions = [e.action for e in await events(client, rid)]
    assert actions[-1] == "epoc-notice" and "annex-v" in actions and "annex-vi" in actions


async def test_annex_vi_after_the_60_days_is_refused(client, epoc, clock) -> None:  # type: ignore[no-untyped-def]
    data = await issued(client, epoc)
    rid = data["id"]
    await post(client, epoc["officer"], f"{URL}/{rid}/epoc-pr/transmitted", {})
    clock.advance(60 * DAY)
    resp = await post(client, epoc["prosecutor"], f"{URL}/{rid}/annex-vi", {})
    assert "only during the 60 days" in (await assert_problem(resp, 409))["detail"]
    resp = await post(
        client, epoc["prosecutor"], f"{URL}/{rid}/annex-v", {"production_reference": "P"}
    )
    assert "preservation ended" in (await assert_problem(resp, 409))["detail"]


async def test_a_non_execution_opens_the_five_day_window(client, epoc, clock) -> None:  # type: ignore[no-untyped-def]
    data = await issued(client, epoc)
    rid = data["id"]
    await post(client, epoc["officer"], f"{URL}/{rid}/epoc-pr/notices", {"type": "Received"})
    await assert_problem(
        await post(client, epoc["officer"], f"{URL}/{rid}/epoc-pr/notices", {"type": "Received"}),
        409,
    )  # nothing is transmitted yet
    await post(client, epoc["officer"], f"{URL}/{rid}/epoc-pr/transmitted", {})
    resp = await post(
        client, epoc["officer"], f"{URL}/{rid}/epoc-pr/notices", {"type": "NonExecution"}
    )
    await assert_problem(resp, 422)
    resp = await post(
        client,
        epoc["officer"],
        f"{URL}/{rid}/epoc-pr/notices",
        {"type": "NonExecution", "reason": "InsufficientInformation", "details": "Which account?"},
    )
    assert resp.status == 200, await resp.text()
    async with client.server.app[DB].read() as s:
        rows = (
            await s.execute(
                select(Reminder.kind, Reminder.due_at)
                .where(Reminder.request_id == rid, Reminder.kind == "epoc_nonexecution")
                .order_by(Reminder.due_at)
            )
        ).all()
    assert [due for _, due in rows] == [T0 + 4 * DAY, T0 + 5 * DAY]
    trail = await events(client, rid)
    assert trail[-1].detail["reason"] == "InsufficientInformation"
    assert trail[-1].detail["respond_by"] == (T0 + 5 * DAY).isoformat()
