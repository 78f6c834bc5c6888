"""The unit profile page: read by the whole unit, changed by a supervisor through the same
model as PATCH /api/v1/unit (422 next to the field, nothing saved), CSRF, and the link from the
checklist when the unit's contact details are missing. Both engines."""

from __future__ import annotations

import re

from preservation.web.api.directory import UNIT_SETTINGS
from tests.conftest import auth
from tests.web import test_pages
from tests.web.test_pages import CSRF, csrf_of, page, request_form, sign_in

#: Tokens, alpha's filled-in profile and a small directory (the page tests' fixture).
ready = test_pages.ready


async def _unit(client, token: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    resp = await client.get("/api/v1/unit", headers=auth(token))
    assert resp.status == 200
    return await resp.json()


async def test_a_supervisor_fills_in_the_profile(client, tokens) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, tokens["supervisor"])
    text = await page(client, "/unit")
    assert 'id="unit-form"' in text
    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', text)
    assert len(ids) == 9 and "country" in ids  # the requesting State too
    assert set(ids) <= set(re.findall(r'<label for="([^"]+)"', text))
    csrf = CSRF.search(text)[1]
    form = {
        "csrf": csrf,
        "authority": "Cybercrime Unit, State Police",
        "address": "1 Example Street\nNicosia",
        "email": "Cyber@Police.Example",
        "phone": "+35722000000",
        "contact_24_7": "+35799000000 (duty officer)",
        "timezone": "Asia/Nicosia",
        "alert_emails": "duty@police.example\n\nchief@police.example",
        "copy_to_poc": "false",
    }
    resp = await client.post("/unit", data=form, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/unit?done=saved"
    unit = await _unit(client, tokens["officer"])
    assert unit["authority"] == "Cybercrime Unit, State Police"
    assert unit["email"] == "Cyber@police.example"  # the domain normalised, as the API does
    assert unit["timezone"] == "Asia/Nicosia" and unit["copy_to_poc"] is False
    assert unit["alert_emails"] == ["duty@police.example", "chief@police.example"]
    assert "Saved." in await page(client, "/unit?done=saved")


async def test_invalid_fields_are_named_and_nothing_is_saved(client, tokens) -> None:  # type: ignore[no-untyped-def]
    before = await _unit(client, tokens["officer"])
    await sign_in(client, tokens["supervisor"])
    csrf = CSRF.search(await page(client, "/unit"))[1]
    resp = await client.post(
        "/unit",
        data={
            "csrf": csrf,
            "authority": "Changed",
            "email": "not an address",
            "timezone": "Mars/Olympus",
            "copy_to_poc": "true",
        },
    )
    assert resp.status == 422
    text = await resp.text()
    assert 'id="error-summary"' in text
    assert re.search(r'has-error">\s*<label for="email">', text)
    assert re.search(r'has-error">\s*<label for="timezone">', text)
    assert 'value="Changed"' in text  # what was typed is kept
    assert await _unit(client, tokens["officer"]) == before


async def test_officers_read_it_and_cannot_change_it(client, tokens) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, tokens["officer"])
    text = await page(client, "/unit")
    assert 'id="unit-form"' not in text and "missing: ask a supervisor" in text
    csrf = CSRF.search(text)[1]
    resp = await client.post("/unit", data={"csrf": csrf, "authority": "Mine now"})
    assert resp.status == 403
    resp = await client.post("/unit", data={"authority": "No CSRF"})
    assert resp.status == 403
    assert (await _unit(client, tokens["officer"]))["authority"] != "Mine now"


async def test_saving_reaches_the_lookup_at_once(client, tokens) -> None:  # type: ignore[no-untyped-def]
    cache = client.server.app[UNIT_SETTINGS]
    await sign_in(client, tokens["supervisor"])
    csrf = CSRF.search(await page(client, "/unit"))[1]
    await client.get(
        "/api/v1/lookup?identifier=example.com&type=domain", headers=auth(tokens["officer"])
    )
    assert cache._seen, "the look-up remembers the unit's copy_to_poc"
    resp = await client.post(
        "/unit", data={"csrf": csrf, "copy_to_poc": "false"}, allow_redirects=False
    )
    assert resp.status == 303
    assert cache._seen == {}


async def test_the_checklist_links_to_the_profile_when_contact_details_are_missing(
    client, ready
) -> None:  # type: ignore[no-untyped-def]
    # beta's profile is empty; alpha's (the ready fixture's) has its e-mail and telephone.
    await sign_in(client, ready["other_officer"])
    resp = await client.post("/requests/new", data=request_form(await csrf_of(client)))
    text = await resp.text()
    assert '<a href="/unit">fill in the unit profile</a>' in text
    client.session.cookie_jar.clear()
    await sign_in(client, ready["officer"])
    resp = await client.post("/requests/new", data=request_form(await csrf_of(client)))
    assert "fill in the unit profile" not in await resp.text()
