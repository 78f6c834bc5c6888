"""The letter in every format: text, HTML (escaped), PDF (text extracted with pypdf) and JSON;
every instant in its own zone with the offset and in UTC; the regime's citation, the
confidentiality request, the MLA statement, the unit's contact details, the receipt request."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime

import pytest

from preservation.documents import letter as letter_module
from preservation.documents.letter import both_zones
from tests.conftest import assert_problem, auth
from tests.requests.test_requests_api import URL, body, create, ready  # noqa: F401 - fixture


@pytest.fixture
async def submitted(client, ready):  # type: ignore[no-untyped-def]  # noqa: F811
    summary = "Phishing <script>alert(1)</script> against Τράπεζα Κύπρου & Банк."
    ids = [
        {
            "type": "ipv4",
            "value": "203.0.113.7",
            "port": 51234,
            "at": "2026-11-19T14:03:11",
            "tz": "Europe/Berlin",
        },
        {
            "type": "email",
            "value": "suspect@example.com",
            "from": "2026-10-01T00:00",
            "to": "2026-11-20T10:00",
            "tz": "Asia/Kathmandu",
        },
        {
            "type": "ipv6",
            "value": "2001:DB8:0:0:0:0:0:1",
            "at": "2026-11-01T01:45:00",
            "tz": "Australia/Lord_Howe",
        },
    ]
    # An Art. 29 request: the officer asks for it, so it goes to the US point of contact, the
    # provider named as custodian (tests/requests/test_instruments.py covers the other letters).
    data = await create(
        client, ready["officer"], summary=summary, identifiers=ids, regime="budapest-art29"
    )
    return ready, data


async def get_letter(client, token, rid, **params):  # type: ignore[no-untyped-def]
    return await client.get(f"{URL}/{rid}/letter", params=params, headers=auth(token))


def assert_letter_text(text: str) -> None:
    # Each instant in its own zone with its offset, and in UTC.
    assert "2026-11-19 14:03:11 CET (UTC+01:00)" in text
    assert "2026-11-19 13:03:11 UTC" in text
    assert "(UTC+05:45)" in text  # Kathmandu
    assert "2026-09-30 18:15:00 UTC" in text  # 2026-10-01 00:00 +05:45
    assert "(UTC+11:00)" in text  # Lord Howe in summer time (+11:00, a 30-minute shift)
    assert "2026-10-31 14:45:00 UTC" in text
    assert "source port 51234" in text
    assert "2001:db8::1" in text
    # Legal basis (Art. 29(1)), the period as Art. 29(7) says it, the statements the guidance
    # asks for, the contact details.
    assert "Convention on Cybercrime (ETS No. 185), Art. 29(1)" in text
    assert "not less than sixty days" in text and "Art. 29(7)" in text
    assert "do not notify the user" in text
    assert "mutual legal assistance" in text and "will follow" in text
    assert "confirm receipt" in text
    assert "cyber@police.example" in text and "+35722000000" in text
    assert "+35799000000 (duty officer)" in text
    assert "The account may be deleted tonight." in text
    assert "PR-2026-000001" in text and "CY-2026-0042" in text
    assert "US 24/7 point of contact" in text  # the addressee
    assert "Custodian of the data: ExampleMail Inc." in text


async def test_text_letter(client, submitted) -> None:  # type: ignore[no-untyped-def]
    tokens, data = submitted
    resp = await get_letter(client, tokens["officer"], data["id"], format="text")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert_letter_text(text)
    assert "DRAFT" not in text
    # The letter date is in the unit's zone (written the locale's way) and in UTC.
    assert "Date: 20 November 2026, 14:00 EET (UTC+02:00) [Asia/Nicosia]; 12:00 UTC" in text
    # Default format is text.
    assert await (await get_letter(client, tokens["officer"], data["id"])).text() == text


async def test_html_letter_is_escaped(client, submitted) -> None:  # type: ignore[no-untyped-def]
    tokens, data = submitted
    resp = await get_letter(client, tokens["officer"], data["id"], format="html")
    assert resp.headers["Content-Type"].startswith("text/html")
    html = await resp.text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "Τράπεζα Κύπρου &amp; Банк" in html
    assert "(UTC+05:45)" in html and "Art. 29(7)" in html


async def test_pdf_letter_text_can_be_extracted(client, submitted) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    tokens, data = submitted
    resp = await get_letter(client, tokens["officer"], data["id"], format="pdf")
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/pdf"
    raw = await resp.read()
    assert raw.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(raw))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for needle in (
        "PR-2026-000001",
        "14:03:11 CET (UTC+01:00)",
        "13:03:11 UTC",
        "(UTC+05:45)",
        "Art. 29(7)",
        "do not notify the user",
        "cyber@police.example",
        "Τράπεζα Κύπρου",
        "Банк",
    ):
        assert needle in flat, needle


async def test_json_letter(client, submitted) -> None:  # type: ignore[no-untyped-def]
    tokens, data = submitted
    resp = await get_letter(client, tokens["officer"], data["id"], format="json")
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = await resp.json()
    assert doc["reference"] == "PR-2026-000001"
    assert doc["regime"]["citation"] == "Convention on Cybercrime (ETS No. 185), Art. 29(7)"
    assert doc["identifiers"][0]["at_utc"] == "2026-11-19T13:03:11+00:00"
    assert doc["identifiers"][0]["port"] == 51234
    assert doc["unit"]["email"] == "cyber@police.example"
    assert [r["role"] for r in doc["recipients"]] == ["poc"]
    assert doc["copies"] == []
    assert doc["instrument"]["key"] == "budapest-art29"
    assert doc["confidential"] is True and doc["mla_to_follow"] is True


async def test_draft_letter_is_marked_and_bad_queries_are_422(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    draft = await create(client, ready["officer"], submit=False)
    text = await (await get_letter(client, ready["officer"], draft["id"])).text()
    assert text.startswith("DRAFT - NOT SENT")
    resp = await get_letter(client, ready["officer"], draft["id"], lang="xx")
    await assert_problem(resp, 422, field="query.lang")
    resp = await get_letter(client, ready["officer"], draft["id"], format="odt")
    await assert_problem(resp, 422, field="query.format")


async def test_confidentiality_and_mla_paragraphs_follow_the_request(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    data = await create(client, ready["officer"], submit=False, confidential=False, urgent=False)
    text = await (await get_letter(client, ready["officer"], data["id"])).text()
    assert "do not notify the user" not in text
    assert "URGENT" not in text
    assert "will follow" in text


def test_a_language_is_added_by_adding_its_templates(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "templates"
    shutil.copytree(letter_module.TEMPLATES, root)
    (root / "de").mkdir()
    (root / "de" / "letter.txt.j2").write_text("Aktenzeichen {{ reference }}\n", encoding="utf-8")
    (root / "de" / "letter.html.j2").write_text("<p>{{ reference }}</p>\n", encoding="utf-8")
    monkeypatch.setattr(letter_module, "TEMPLATES", root)
    assert "de" in letter_module.available_languages()
    out = letter_module.render_letter({"reference": "PR-2026-000001"}, fmt="text", lang="de")
    assert out == b"Aktenzeichen PR-2026-000001\n"


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        (
            datetime(2026, 11, 20, 13, 3, 11, tzinfo=UTC),
            "Europe/Berlin",
            "2026-11-20 14:03:11 CET (UTC+01:00)",
        ),
        (
            datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
            "America/New_York",
            "2026-07-01 08:00:00 EDT (UTC-04:00)",
        ),
        (
            datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
            "Asia/Kathmandu",
            "2026-11-20 17:45:00 (UTC+05:45)",
        ),
        (
            datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
            "Australia/Lord_Howe",
            "2026-07-01 22:30:00 (UTC+10:30)",
        ),
        (
            datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
            "Australia/Lord_Howe",
            "2026-12-01 23:00:00 (UTC+11:00)",
        ),
    ],
)
def test_both_zones(utc: datetime, zone: str, expected: str) -> None:
    text = both_zones(utc, zone)
    assert text.startswith(expected)
    assert text.endswith(f"{utc:%Y-%m-%d %H:%M:%S} UTC")
