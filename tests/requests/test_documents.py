"""Documents drafted from the record (issue 18): the list; the MLA request carries every field the
record holds (no re-typing) and lists what it lacks, never inventing it; the officer's additions
and the guidance's warnings; DOCX with the same text as the text form; every language."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from preservation.documents.docx import docx_text
from preservation.storage.models import AuditEvent
from preservation.web.keys import DB
from tests.conftest import assert_problem, auth
from tests.requests.test_requests_api import URL, body, ready  # noqa: F401 - fixture

SENT = "2026-11-10T09:00:00+01:00"
PRESERVED = "2026-11-11T10:00:00Z"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: Everything the officer adds on the MLA form (each ends up in the draft).
ADDITIONS: dict[str, Any] = {
    "requested_authority": "Office of International Affairs, U.S. Department of Justice",
    "treaty_basis": "Convention on Cybercrime (ETS No. 185), Art. 31",
    "requesting_authority": "Public Prosecutor's Office, Limassol",
    "requesting_person": "Eleni Georgiou, Prosecutor",
    "requesting_phone": "+35725000000",
    "requesting_email": "prosecutor@justice.example",
    "contact_name": "Andreas Pavlou",
    "contact_title": "Senior Prosecutor",
    "contact_phone": "+35725000001",
    "contact_email": "pavlou@justice.example",
    "prosecution_office": "Limassol District Prosecution",
    "prosecution_case": "LP-2026-771",
    "court": "Limassol District Court",
    "court_case": "DC-2026-19",
    "decisions": "Production order of 18 November 2026.",
    "domestic_basis": "Criminal Procedure Law, s. 6A",
    "legal_classification": "Computer-related fraud, Law 22(III)/2004, s. 10",
    "max_penalty": "5 years' imprisonment",
    "assistance": {
        "subscriber": "Name, address and payment details of the account holder.",
        "traffic": "Login IP addresses with source ports, 2026-10-01 to 2026-11-20.",
        "content": "E-mails sent between 2026-11-01 and 2026-11-19.",
    },
    "probable_cause": "The lure e-mails received by the victims came from this account.",
    "damages_amount": "12500.00",
    "damages_currency": "USD",
    "certification": "wanted",
    "certification_how": "A certificate of authenticity of business records.",
    "confidentiality_reason": "The suspect does not know of the investigation.",
}


def record(**changes: Any) -> dict[str, Any]:
    return body(
        **{
            "submit": False,
            "record_only": True,
            "sent_at": SENT,
            "preserved_at": PRESERVED,
            "provider_reference": "LE-2026-5501",
            **changes,
        }
    )


async def make(client: Any, token: str, **changes: Any) -> dict[str, Any]:
    resp = await client.post(URL, json=record(**changes), headers=auth(token))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def document(client: Any, token: str, rid: int, kind: str, **params: Any) -> Any:
    return await client.get(f"{URL}/{rid}/{kind}", params=params, headers=auth(token))


async def text_of(client: Any, token: str, rid: int, kind: str, **params: Any) -> str:
    resp = await document(client, token, rid, kind, **params)
    assert resp.status == 200, await resp.text()
    return await resp.text()


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


async def test_the_documents_of_a_running_preservation(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    data = await make(client, ready["officer"])
    resp = await client.get(f"{URL}/{data['id']}/documents", headers=auth(ready["officer"]))
    assert resp.status == 200
    items = {d["kind"]: d for d in (await resp.json())["items"]}
    assert set(items) == {"preservation_request", "mla_request", "extension_request"}
    for item in items.values():
        assert set(item) >= {"kind", "title", "formats", "href"}
        assert item["formats"] == ["text", "html", "pdf", "docx", "json"]
        assert set(item["languages"]) >= {"en", "fr", "de", "es"}
    assert items["mla_request"]["href"] == f"{URL}/{data['id']}/mla-request"
    assert items["mla_request"]["lang"] == "en"  # the requested State is the US
    # The preservation went to the provider under its policy, which has no extension on file:
    # a new request naming the previous one, before the expiry.
    assert items["extension_request"]["title"].startswith("New preservation request")
    assert items["extension_request"]["due_by"] is not None
    # Another unit's request: 404.
    other = await client.get(f"{URL}/{data['id']}/documents", headers=auth(ready["other_officer"]))
    await assert_problem(other, 404)


async def test_the_mla_draft_carries_the_record_and_lists_what_it_lacks(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    data = await make(client, ready["officer"])
    rid = data["id"]
    text = await text_of(client, ready["officer"], rid, "mla-request")
    # Everything the record holds, without re-typing: the preservation block...
    assert "Our reference: PR-2026-000001 (case CY-2026-0042)" in text
    assert "Sent on: 10 November 2026, 10:00 EET (UTC+02:00) [Asia/Nicosia]; 08:00 UTC" in text
    assert "Preserved on: 11 November 2026, 12:00 EET" in text
    assert "executed it: LE-2026-5501" in text
    assert "ExampleMail Inc." in text  # who executed it
    assert "instrument: ExampleMail Inc.'s published policy" in text
    assert "On our count, the preservation ends on" in text
    # ... the identifiers with their instants, the offence, the facts, the link, the categories,
    # confidentiality, urgency, the unit and the officer.
    assert "2026-11-19 14:03:11 CET (UTC+01:00)" in text and "source port 51234" in text
    assert "> Computer fraud (Art. 8 Budapest Convention)" in text
    assert "> Phishing campaign against a regional bank" in text
    assert "> The account's subscriber data and logins identify the sender." in text
    assert "- subscriber information" in text and "- content data" in text
    assert "Please keep this request and its execution confidential" in text
    assert "> The account may be deleted tonight." in text
    assert "cyber@police.example" in text and "+35799000000 (duty officer)" in text
    assert "Request status: follow-up to a previous preservation request" in text
    # What it lacks is listed and marked, never invented.
    assert text.startswith("DRAFT FOR THE ISSUING AUTHORITY - NOT SENT")
    assert "TO BE COMPLETED BEFORE SENDING" in text
    for label in (
        "the requested authority (central authority)",
        "the treaty or arrangement the request rests on",
        "the requesting judicial authority",
        "the legal classification of the offence",
        "the maximum penalty",
        "whether the evidence must be certified",
    ):
        assert f"- {label}" in text and f"[to be completed: {label}]" in text
    # The guidance's warnings: content without a probable-cause statement; the US threshold,
    # cited (UNODC), the damage not stated.
    assert "no statement of probable cause" in text
    assert "USD 5,000 in damages" in text and "UNODC" in text
    draft = await (await document(client, ready["officer"], rid, "mla-draft")).json()
    assert draft["complete"] is False
    assert [m["field"] for m in draft["missing"]] == [
        "mla.requested_authority",
        "mla.treaty_basis",
        "mla.requesting_authority",
        "mla.legal_classification",
        "mla.max_penalty",
        "mla.certification",
    ]
    assert len(draft["warnings"]) == 2

    # The officer completes it: nothing missing, every addition in the draft.
    resp = await client.put(
        f"{URL}/{rid}/mla-draft", json=ADDITIONS, headers=auth(ready["officer"])
    )
    assert resp.status == 200, await resp.text()
    saved = await resp.json()
    assert saved["complete"] is True and saved["missing"] == [] and saved["warnings"] == []
    text = await text_of(client, ready["officer"], rid, "mla-request")
    assert "TO BE COMPLETED" not in text and "to be completed" not in text
    for key, value in ADDITIONS.items():
        if key in ("assistance",):
            assert all(v in text for v in value.values())
        elif key == "damages_amount":
            assert "Damage caused: 12,500.00 USD" in text
        elif key not in ("damages_currency", "certification"):
            assert value in text, key
    assert "Please certify the data provided" in text
    doc = await (await document(client, ready["officer"], rid, "mla-request", format="json")).json()
    assert doc["complete"] is True and doc["fields"]["max_penalty"] == "5 years' imprisonment"
    assert doc["preservation"]["their_reference"] == "LE-2026-5501"
    # The change is in the audit trail, by field name (not value).
    async with client.server.app[DB].read() as s:
        from sqlalchemy import select

        event = (
            await s.execute(select(AuditEvent).where(AuditEvent.action == "mla_draft"))
        ).scalar_one()
    assert "requested_authority" in event.detail["fields"]
    assert "Office of International Affairs" not in str(event.detail)


async def test_the_guidance_warns_of_a_damage_under_the_known_threshold(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    data = await make(client, ready["officer"])
    rid = data["id"]
    small = {**ADDITIONS, "damages_amount": "800", "probable_cause": ""}
    saved = await (
        await client.put(f"{URL}/{rid}/mla-draft", json=small, headers=auth(ready["officer"]))
    ).json()
    assert saved["complete"] is True
    assert any("800.00 USD" in w and "USD 5,000" in w for w in saved["warnings"])
    assert any("probable cause" in w for w in saved["warnings"])
    euros = {**ADDITIONS, "damages_currency": "EUR"}
    saved = await (
        await client.put(f"{URL}/{rid}/mla-draft", json=euros, headers=auth(ready["officer"]))
    ).json()
    assert any("stated in EUR" in w for w in saved["warnings"])
    # A requested State whose threshold no document gives: no damage warning at all.
    de = await make(client, ready["officer"], country="DE", provider="mailonly")
    saved = await (
        await client.put(f"{URL}/{de['id']}/mla-draft", json=small, headers=auth(ready["officer"]))
    ).json()
    assert [w for w in saved["warnings"] if "damage" in w.lower()] == []


async def test_bad_additions_are_422_and_change_nothing(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    data = await make(client, ready["officer"], data_categories=["subscriber"])
    rid = data["id"]
    for bad, field in (
        ({"damages_currency": "XXY"}, "damages_currency"),
        ({"assistance": {"content": "e-mails"}}, "assistance.content"),
        ({"certification": "maybe"}, "certification"),
        ({"nonsense": 1}, "nonsense"),
    ):
        resp = await client.put(f"{URL}/{rid}/mla-draft", json=bad, headers=auth(ready["officer"]))
        await assert_problem(resp, 422, field=field)
    draft = await (await document(client, ready["officer"], rid, "mla-draft")).json()
    assert draft["fields"] == {}


@pytest.mark.parametrize("kind", ["letter", "mla-request", "extension-request"])
async def test_the_docx_holds_the_same_text_as_the_text_form(client, ready, kind) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    data = await make(client, ready["officer"])
    for lang in ("en", "fr"):
        text = await text_of(client, ready["officer"], data["id"], kind, lang=lang)
        resp = await document(client, ready["officer"], data["id"], kind, format="docx", lang=lang)
        assert resp.status == 200
        assert resp.headers["Content-Type"] == DOCX
        assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
        paragraphs = docx_text(await resp.read())  # python-docx opens it
        assert [p.strip() for p in paragraphs] == lines(text)
        # The PDF says the same words too (pypdf).
        from pypdf import PdfReader

        pdf = await document(client, ready["officer"], data["id"], kind, format="pdf", lang=lang)
        extracted = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.read())).pages)
        squash = re.compile(r"\s+")
        assert squash.sub("", lines(text)[-1]) in squash.sub("", extracted)
