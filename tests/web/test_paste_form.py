"""The request form's paste box (issue 21): pasted text -> identifiers with their lines ->
ticked ones become rows -> the request; and a row left on "detect" takes the type of its value."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from preservation.web.pages.forms import IdentifierRow
from preservation.web.pages.paste import picked_rows, row_of
from tests.web.test_pages import csrf_of, ready, request_count, request_form, sign_in  # noqa: F401

PASTE = (
    '203.0.113.7 - - [19/Nov/2026:14:03:11 +0100] "POST /login HTTP/1.1" 302 0\n'
    "Nov 19 09:15:02 web01 sshd[1234]: Failed password for root from 198.51.100.23 port 51234\n"
    "19/11/2026, 21:14 - Victim: write to scammer@example.com\n"
)
PICK = re.compile(r'name="pick" id="pick-(\d+)" value="([^"]+)"')


async def test_paste_pick_and_submit(client: Any, ready: dict[str, str]) -> None:  # noqa: F811
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client)
    form = request_form(csrf, action="extract", paste_text=PASTE, paste_tz="")
    resp = await client.post("/requests/new", data=form)
    text = await resp.text()
    assert resp.status == 200, text[:1000]
    assert "3 identifiers found" in text
    picks = [html.unescape(v) for _, v in PICK.findall(text)]
    rows = [json.loads(p) for p in picks]
    assert [(r["type"], r["value"], r["port"], r["at"], r["tz"]) for r in rows] == [
        ("ipv4", "203.0.113.7", "", "2026-11-19T14:03:11+01:00", ""),
        # No year and no zone in the text: left for the officer, never guessed.
        ("ipv4", "198.51.100.23", "51234", "Nov 19 09:15:02", ""),
        ("email", "scammer@example.com", "", "19/11/2026, 21:14", ""),
    ]
    assert "needs: year, tz" in text and "needs: tz" in text
    assert "19/11/2026, 21:14 - Victim: write to scammer@example.com" in text

    # Tick the e-mail address: it replaces the blank row, kept beside the rows already filled.
    form = request_form(
        csrf,
        action="add_picked",
        pick=picks[2],
        **{"identifiers-0-value": "", "identifiers-0-at": ""},
    )
    resp = await client.post("/requests/new", data=form)
    text = await resp.text()
    assert "1 identifier(s) added" in text
    assert 'name="identifiers-0-value" value="scammer@example.com"' in text
    assert 'name="identifier_rows" value="1"' in text

    # The officer completes the zone and submits.
    before = await request_count(client)
    form = request_form(
        csrf,
        action="submit",
        **{
            "identifiers-0-type": "email",
            "identifiers-0-value": "scammer@example.com",
            "identifiers-0-at": "19/11/2026, 21:14",
            "identifiers-0-tz": "Europe/Berlin",
        },
    )
    resp = await client.post("/requests/new", data=form, allow_redirects=False)
    assert resp.status == 303, (await resp.text())[:3000]
    assert "done=submitted" in resp.headers["Location"]
    assert await request_count(client) == before + 1


async def test_nothing_found_and_no_text(client: Any, ready: dict[str, str]) -> None:  # noqa: F811
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client)
    resp = await client.post(
        "/requests/new", data=request_form(csrf, action="extract", paste_text="hello there")
    )
    assert "No identifier found in the text." in await resp.text()
    resp = await client.post(
        "/requests/new", data=request_form(csrf, action="extract", paste_text="  ")
    )
    assert "Paste some text first." in await resp.text()
    resp = await client.post(
        "/requests/new",
        data=request_form(csrf, action="extract", paste_text="x", paste_tz="Mars/Base"),
    )
    assert "tz: unknown time zone" in await resp.text()


async def test_a_row_on_detect_takes_the_type_of_its_value(
    client: Any,
    ready: dict[str, str],  # noqa: F811
) -> None:
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client)
    form = request_form(
        csrf,
        action="check",
        **{"identifiers-0-type": "", "identifiers-0-value": "suspect@example.com"},
    )
    resp = await client.post("/requests/new", data=form)
    text = await resp.text()
    assert resp.status == 200, text[:2000]
    assert "email <code>suspect@example.com</code>" in text
    assert "not an IPv4 address" not in text


def test_rows_from_items_and_detection() -> None:
    item = {
        "type": "ipv4", "normalized": "198.51.100.1", "platform": None, "port": 4000,
        "at": "20/Nov/2026:14:03:11 +0100", "at_local": "2026-11-20T14:03:11+01:00",
        "tz": "UTC+01:00", "at_utc": "2026-11-20T13:03:11Z",
    }  # fmt: skip
    assert row_of(item)["tz"] == "" and row_of(item)["at"] == "2026-11-20T14:03:11+01:00"
    assert row_of({**item, "tz": "Europe/Berlin"})["tz"] == "Europe/Berlin"
    assert picked_rows(["not json", "[1]", json.dumps(row_of(item))])[0].port == "4000"
    assert IdentifierRow(value="instagram:some.handle").body() == {
        "type": "account", "value": "some.handle", "platform": "instagram",
    }  # fmt: skip
    assert IdentifierRow(value="0049 151 12345678").body()["type"] == "phone"
    assert IdentifierRow(value="suspect@gmail.com").body()["type"] == "email"


async def test_the_form_shows_the_provider_its_identifiers_name(
    client: Any,
    ready: dict[str, str],  # noqa: F811
) -> None:
    """Provider and country left empty, an Instagram account: the draft goes to the provider of
    the platform, the form shows it, and saving again keeps it."""
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client)
    fields = {
        "provider": "",
        "country": "",
        "identifiers-0-type": "account",
        "identifiers-0-platform": "instagram",
        "identifiers-0-value": "some.handle",
        "identifiers-0-at": "",
        "identifiers-0-tz": "",
    }
    resp = await client.post("/requests/new", data=request_form(csrf, **fields))
    text = await resp.text()
    assert resp.status == 200, text[:2000]
    assert re.search(r'name="provider" type="text" value="meta"', text)
    assert "provider: Meta, from identifiers[0]" in html.unescape(text)
    draft = re.search(r'name="draft_id" value="(\d+)"', text)
    assert draft is not None
    resp = await client.post(
        "/requests/new", data=request_form(csrf, draft_id=draft.group(1), **fields)
    )
    assert re.search(r'name="provider" type="text" value="meta"', await resp.text())
