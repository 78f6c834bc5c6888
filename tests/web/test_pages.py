"""The HTML pages on aiohttp's test server: sign-in to a session cookie (flags, expiry, sign-out),
CSRF refusals, every page rendering, 422 errors next to their inputs (the DST choice included),
the actions of the record page, the directory (the directory role's edits), HTML vs problem+json
errors."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from contacts.models import Contact
from preservation.storage.models import ApiToken, PreservationRequest, Unit
from preservation.web.keys import DB
from preservation.web.pages import timeline
from preservation.web.pages.base import safe_next
from preservation.web.pages.forms import dst_choices, field_id, parse_form
from providers.models import Provider
from tests.conftest import assert_problem, auth

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
AMBIGUOUS = "2026-10-25T02:30:00"  # happens twice in Europe/Berlin: the clocks go back at 03:00


@pytest.fixture
async def ready(client, tokens):  # type: ignore[no-untyped-def]
    """Tokens, a unit profile with contact details, and a small directory."""
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(
                authority="Cybercrime Unit",
                email="cyber@police.example",
                phone="+35722000000",
                timezone="Europe/Berlin",
            )
        )
        verified = date(2026, 10, 1)
        s.add_all(
            [
                Provider(
                    slug="meta",
                    name="Meta",
                    aliases=["Facebook", "Instagram"],
                    domains=["facebook.com", "instagram.com"],
                    country="US",
                    portal_url="https://le.example.test/portal",
                    accepts_foreign_direct=True,
                    notifies_user="unless_asked",
                    preservation_days=90,
                    verified_on=verified,
                    source="https://example.test/guidelines",
                ),
                Provider(
                    slug="examplemail",
                    name="ExampleMail Inc.",
                    domains=["examplemail.test"],
                    country="US",
                    le_email="lert@examplemail.test",
                    accepts_foreign_direct=True,
                    verified_on=date(2020, 1, 1),
                ),
                Contact(
                    country="US",
                    authority="US 24/7 point of contact",
                    emails=["poc@us.test"],
                    phones=["+12025550100"],
                    verified_on=verified,
                ),
            ]
        )
        from preservation.directory.snapshot import bump_version

        await bump_version(s)
    return tokens


async def sign_in(client, token: str, *, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    resp = await client.get("/signin")
    assert resp.status == 200
    csrf = CSRF.search(await resp.text())[1]
    resp = await client.post(
        "/signin",
        data={"csrf": csrf, "token": token, "next": "/"},
        allow_redirects=False,
        headers=headers or {},
    )
    assert resp.status == 303, await resp.text()
    return resp


async def page(client, path: str, status: int = 200) -> str:  # type: ignore[no-untyped-def]
    resp = await client.get(path, allow_redirects=False)
    text = await resp.text()
    assert resp.status == status, text[:2000]
    if status == 200:
        assert resp.headers["Content-Type"].startswith("text/html")
        assert "Content-Security-Policy" in resp.headers
    return text


async def csrf_of(client, path: str = "/requests/new") -> str:  # type: ignore[no-untyped-def]
    return CSRF.search(await page(client, path))[1]


def request_form(csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf": csrf,
        "identifier_rows": "1",
        "case_reference": "CY-2026-0042",
        "offence": "Computer fraud",
        "summary": "Phishing e-mails led to transfers.",
        "relevance": "The logins identify the sender.",
        "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
        "country": "",
        "provider": "examplemail",
        "lang": "en",
        "data_categories": "subscriber",
        "confidential": "on",
        "mla_to_follow": "on",
        "identifiers-0-type": "email",
        "identifiers-0-value": "suspect@example.com",
        "identifiers-0-at": "2026-11-19T14:03:11",
        "identifiers-0-tz": "Europe/Berlin",
        "action": "check",
    }
    form.update(changes)
    return form


async def request_count(client) -> int:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        return (await s.execute(select(func.count()).select_from(PreservationRequest))).scalar_one()


async def api_create(client, token: str, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {
        "case_reference": "CY-1",
        "offence": "Fraud",
        "summary": "Phishing",
        "relevance": "Logins",
        "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
        "provider": "examplemail",
        "identifiers": [{"type": "email", "value": "a@example.com", "at": "2026-11-19T10:00:00Z"}],
        "submit": True,
    }
    body.update(changes)
    resp = await client.post("/api/v1/requests", json=body, headers=auth(token))
    assert resp.status == 201, await resp.text()
    return await resp.json()


# --- sign-in, cookies, CSRF ----------------------------------------------------------------------


async def test_pages_need_a_session(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"
    resp = await client.get("/requests/new?x=1", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/signin?next=%2Frequests%2Fnew%3Fx%3D1"
    text = await page(client, "/signin")
    assert '<label for="token">' in text


async def test_sign_in_sets_a_strict_http_only_session_cookie(client, ready) -> None:  # type: ignore[no-untyped-def]
    resp = await sign_in(client, ready["officer"])
    assert resp.headers["Location"] == "/"
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("pd_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here: a Secure cookie would never come back
    value = cookie.split(";")[0].split("=", 1)[1]
    assert value.startswith("pds_") and ready["officer"] not in cookie
    text = await page(client, "/")
    assert "officer-a" in text and "Dashboard" in text
    # The session value is no bearer token: the API does not take it.
    resp = await client.get("/api/v1/me", headers=auth(value))
    await assert_problem(resp, 401)


async def test_cookie_is_secure_behind_tls(client, ready) -> None:  # type: ignore[no-untyped-def]
    resp = await sign_in(client, ready["officer"], headers={"X-Forwarded-Proto": "https"})
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith("pd_session="))
    assert "Secure" in cookie


async def test_wrong_token_is_refused_on_the_page(client, ready) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get("/signin")
    csrf = CSRF.search(await resp.text())[1]
    resp = await client.post(
        "/signin", data={"csrf": csrf, "token": "pdt_nope"}, allow_redirects=False
    )
    assert resp.status == 401
    text = await resp.text()
    assert 'role="alert"' in text and "not valid" in text
    assert not any(c.startswith("pd_session=pds_") for c in resp.headers.getall("Set-Cookie", []))


async def test_sign_in_without_its_csrf_token_is_refused(client, ready) -> None:  # type: ignore[no-untyped-def]
    await client.get("/signin")
    resp = await client.post(
        "/signin", data={"csrf": "forged", "token": ready["officer"]}, allow_redirects=False
    )
    assert resp.status == 403
    assert resp.headers["Content-Type"].startswith("text/html")
    assert not any(c.startswith("pd_session=pds_") for c in resp.headers.getall("Set-Cookie", []))


@pytest.mark.parametrize("csrf", [None, "", "0" * 64])
async def test_every_post_needs_the_sessions_csrf_token(client, ready, csrf) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    form = request_form("x", action="submit")
    del form["csrf"]
    if csrf is not None:
        form["csrf"] = csrf
    resp = await client.post("/requests/new", data=form, allow_redirects=False)
    assert resp.status == 403
    assert "security token" in await resp.text()
    assert await request_count(client) == 0
    resp = await client.post("/signout", data={"csrf": csrf or ""}, allow_redirects=False)
    assert resp.status == 403
    await page(client, "/")  # still signed in


async def test_csrf_token_of_another_session_is_refused(client, ready) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["supervisor"])
    other = await csrf_of(client)
    client.session.cookie_jar.clear()
    await sign_in(client, ready["officer"])
    resp = await client.post("/requests/new", data=request_form(other), allow_redirects=False)
    assert resp.status == 403
    assert await request_count(client) == 0


async def test_sign_out_revokes_the_session(client, ready) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    value = client.session.cookie_jar.filter_cookies(client.make_url("/"))["pd_session"].value
    csrf = await csrf_of(client, "/")
    resp = await client.post("/signout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"
    # A copy of the cookie is worth nothing now.
    resp = await client.get("/", cookies={"pd_session": value}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"
    async with client.server.app[DB].read() as s:
        revoked = (
            await s.execute(select(ApiToken.revoked_at).where(ApiToken.prefix == value[:10]))
        ).scalar_one()
    assert revoked is not None


async def test_session_ends_after_twelve_hours(client, ready, clock) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    # Active all along (inactivity alone ends a session sooner: tests/access/test_signin.py).
    for _ in range(35):
        clock.advance(minutes=20)
        await page(client, "/")
    clock.advance(minutes=19)
    await page(client, "/")
    clock.advance(minutes=2)
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"


def test_next_is_only_ever_a_local_path() -> None:
    assert safe_next("/requests/3") == "/requests/3"
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil", "javascript:x", "", None):
        assert safe_next(bad) == "/"


# --- the pages -----------------------------------------------------------------------------------


async def test_each_page_renders(client, ready) -> None:  # type: ignore[no-untyped-def]
    created = await api_create(client, ready["officer"])
    await sign_in(client, ready["officer"])
    for path in ("/", "/requests", "/requests?status=queued", "/requests/new", "/directory"):
        text = await page(client, path)
        assert "<main" in text and "/static/pages.css" in text
    text = await page(client, f"/requests/{created['id']}")
    for heading in ("Deadline plan", "Actions", "Recipients and delivery", "Letter", "Audit trail"):
        assert heading in text
    assert created["reference"] in text and 'sandbox="allow-same-origin"' in text
    resp = await client.get(f"/requests/{created['id']}/letter.html")
    assert resp.status == 200 and "Request for the expedited preservation" in await resp.text()
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"].split("style-src")[0]
    resp = await client.get(f"/requests/{created['id']}/letter.pdf")
    assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")
    text = await page(client, "/directory?q=faceboo")
    assert "/directory/providers/meta" in text
    text = await page(client, "/directory/providers/meta")
    assert "https://example.test/guidelines" in text and "Edit (directory role)" not in text
    text = await page(client, "/directory/providers/examplemail")
    assert "stale" in text
    async with client.server.app[DB].read() as s:
        contact_id = (await s.execute(select(Contact.id))).scalar_one()
    text = await page(client, f"/directory/contacts/{contact_id}")
    assert "+12025550100" in text
    text = await page(client, "/directory?identifier=someone@instagram.com")
    assert "Meta" in text and "portal" in text
    for path in ("/static/pages.css", "/static/pages.js"):
        resp = await client.get(path)
        assert resp.status == 200


async def test_every_input_has_a_label(client, ready) -> None:  # type: ignore[no-untyped-def]
    created = await api_create(client, ready["officer"], submit=False)
    await sign_in(client, ready["officer"])
    for path in ("/requests/new", f"/requests/{created['id']}", "/directory", "/signin"):
        text = await page(client, path)
        ids = re.findall(
            r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', text
        )
        labelled = set(re.findall(r'<label for="([^"]+)"', text))
        inputs = re.findall(r"<(?:input|select|textarea)(?![^>]*type=\"hidden\")[^>]*>", text)
        assert len(ids) == len(inputs), path
        assert set(ids) <= labelled, (path, set(ids) - labelled)
        assert "style=" not in text and "<script>" not in text and "<style" not in text


async def test_unknown_pages_are_html_and_api_paths_stay_problem_json(client, ready) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    resp = await client.get("/no/such/page")
    assert resp.status == 404 and resp.headers["Content-Type"].startswith("text/html")
    resp = await client.get("/api/v1/no-such-thing", headers=auth(ready["officer"]))
    await assert_problem(resp, 404)
    resp = await client.get("/requests/999999")
    assert resp.status == 404 and resp.headers["Content-Type"].startswith("text/html")


async def test_another_units_request_is_not_found(client, ready) -> None:  # type: ignore[no-untyped-def]
    theirs = await api_create(client, ready["other_officer"], submit=False)
    await sign_in(client, ready["officer"])
    await page(client, f"/requests/{theirs['id']}", status=404)
    resp = await client.get(f"/requests/{theirs['id']}/letter.html")
    assert resp.status == 404


async def test_admin_sees_the_directory_not_requests(client, ready) -> None:  # type: ignore[no-untyped-def]
    resp = await sign_in(client, ready["admin"])
    assert resp.headers["Location"] == "/directory"
    await page(client, "/requests/new", status=403)


# --- the new-request form ------------------------------------------------------------------------


async def test_ambiguous_time_is_shown_next_to_its_input_and_resolved_by_a_choice(
    client, ready
) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client)
    form = request_form(csrf, **{"identifiers-0-at": AMBIGUOUS, "action": "submit"})
    resp = await client.post("/requests/new", data=form, allow_redirects=False)
    assert resp.status == 422
    text = await resp.text()
    assert 'href="#identifiers-0-at"' in text  # the summary links to the input
    at_input = re.search(r'<input id="identifiers-0-at"[^>]*>', text)[0]
    assert 'aria-invalid="true"' in at_input and "identifiers-0-at-error-1" in at_input
    assert re.search(r'id="identifiers-0-at-error-1"[^>]*>.*happens twice', text)
    select_html = re.search(r'<select id="identifiers-0-dst".*?</select>', text, re.S)[0]
    assert "Earlier: CEST (UTC+02:00)" in select_html and "Later: CET (UTC+01:00)" in select_html
    assert await request_count(client) == 0  # nothing left behind
    # Values typed are kept.
    assert 'value="suspect@example.com"' in text and "Phishing e-mails" in text

    form["identifiers-0-dst"] = "false"
    form["action"] = "check"
    resp = await client.post("/requests/new", data=form, allow_redirects=False)
    text = await resp.text()
    assert resp.status == 200, text
    assert "2026-10-25 01:30:00 UTC" in text  # the later reading
    draft_id = re.search(r'name="draft_id" value="(\d+)"', text)[1]
    assert "Before you submit" in text and 'class="missing"' not in text
    form["draft_id"] = draft_id
    form["action"] = "submit"
    resp = await client.post("/requests/new", data=form, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == f"/requests/{draft_id}?done=submitted"
    assert await request_count(client) == 1
    text = await page(client, f"/requests/{draft_id}?done=submitted")
    assert "queued" in text and "The request was submitted" in text


async def test_the_same_form_submitted_twice_creates_one_request(client, ready) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    text = await page(client, "/requests/new")
    key = re.search(r'name="form_key" value="([^"]+)"', text)[1]
    csrf = CSRF.search(text)[1]
    form = request_form(csrf, action="submit", form_key=key)
    first = await client.post("/requests/new", data=form, allow_redirects=False)
    second = await client.post("/requests/new", data=form, allow_redirects=False)
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert await request_count(client) == 1


async def test_missing_fields_are_named_and_checklist_shown(client, ready) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client)
    form = request_form(
        csrf,
        offence="",
        urgent="on",
        urgency_reason="",
        **{
            "identifiers-0-port": "99999",
            "identifiers-0-type": "ipv4",
            "identifiers-0-value": "300.1.1.1",
        },
    )
    resp = await client.post("/requests/new", data=form)
    assert resp.status == 422
    text = await resp.text()
    for field in ("identifiers-0-port",):
        assert f'href="#{field}"' in text
    # A draft without errors in its fields, but an incomplete checklist, cannot be submitted.
    form = request_form(csrf, offence="", urgent="on", urgency_reason="", action="check")
    resp = await client.post("/requests/new", data=form)
    text = await resp.text()
    assert resp.status == 200
    assert text.count('class="missing"') == 2  # basic facts, reason for urgency
    draft_id = re.search(r'name="draft_id" value="(\d+)"', text)[1]
    form.update(draft_id=draft_id, action="submit")
    resp = await client.post("/requests/new", data=form)
    assert resp.status == 422
    text = await resp.text()
    assert 'href="#offence"' in text and 'href="#urgency_reason"' in text
    offence = re.search(r'<textarea id="offence"[^>]*>', text)[0]
    assert 'aria-invalid="true"' in offence


async def test_rows_are_added_and_removed_without_javascript(client, ready) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client)
    resp = await client.post("/requests/new", data=request_form(csrf, action="add_row"))
    text = await resp.text()
    assert 'id="identifiers-1-value"' in text and 'name="identifier_rows" value="2"' in text
    form = request_form(csrf, action="remove_row_0", identifier_rows="2")
    form["identifiers-1-value"] = "second@example.com"
    form["identifiers-1-type"] = "email"
    text = await (await client.post("/requests/new", data=form)).text()
    assert 'value="second@example.com"' in text and 'id="identifiers-1-value"' not in text
    assert await request_count(client) == 0


async def test_lookup_json_for_the_live_lookup(client, ready) -> None:  # type: ignore[no-untyped-def]
    resp = await client.get("/lookup.json?identifier=x@instagram.com", allow_redirects=False)
    assert resp.status == 303  # no session
    await sign_in(client, ready["officer"])
    resp = await client.get("/lookup.json?identifier=x@instagram.com&type=email")
    data = await resp.json()
    assert resp.status == 200 and data["provider"]["slug"] == "meta"
    assert data["route"]["channel"] == "portal" and data["provider"]["stale"] is False
    resp = await client.get("/lookup.json?identifier=not an address&type=email")
    assert resp.status == 422 and (await resp.json())["errors"]


# --- the record page: actions ----------------------------------------------------------------------


async def test_acknowledge_and_mla_from_the_record_page(client, ready) -> None:  # type: ignore[no-untyped-def]
    created = await api_create(client, ready["officer"])
    rid = created["id"]
    await sign_in(client, ready["officer"])
    csrf = await csrf_of(client, f"/requests/{rid}")
    # A time that never was (the clocks went forward) names the field and offers both readings.
    resp = await client.post(
        f"/requests/{rid}/acknowledge",
        data={
            "csrf": csrf,
            "provider_reference": "X-1",
            "preserved_at": "2027-03-28T02:30",
            "tz": "Europe/Berlin",
        },
        allow_redirects=False,
    )
    assert resp.status == 422
    text = await resp.text()
    assert 'href="#preserved_at"' in text
    assert re.search(r'<input id="preserved_at"[^>]*aria-invalid="true"', text)
    resp = await client.post(
        f"/requests/{rid}/acknowledge",
        data={"csrf": csrf, "provider_reference": "X-1", "preserved_at": "", "tz": "Europe/Berlin"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == f"/requests/{rid}?done=acknowledge"
    text = await page(client, f"/requests/{rid}?done=acknowledge")
    assert "preserved" in text and "X-1" in text and "Expires" in text
    # Not allowed in this state: 409 shown on the page, nothing changed.
    resp = await client.post(f"/requests/{rid}/submit", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 409 and "text/html" in resp.headers["Content-Type"]
    resp = await client.post(
        f"/requests/{rid}/mla",
        data={"csrf": csrf, "reference": "MLA-7", "sent_at": "", "tz": "Europe/Berlin"},
        allow_redirects=False,
    )
    assert resp.status == 303
    text = await page(client, f"/requests/{rid}")
    assert "mla sent" in text and "MLA-7" in text
    for action in ("create", "submit", "acknowledge", "mla"):
        assert f"<td>{action}</td>" in text
    resp = await client.post(
        f"/requests/{rid}/close",
        data={"csrf": csrf, "outcome": "produced", "note": ""},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert "No action is possible" in await page(client, f"/requests/{rid}")


async def test_dashboard_timeline_and_lists(client, ready, clock) -> None:  # type: ignore[no-untyped-def]
    preserved = await api_create(client, ready["officer"], case_reference="CASE-P")
    waiting = await api_create(client, ready["officer"], case_reference="CASE-W")
    resp = await client.post(
        f"/api/v1/requests/{preserved['id']}/acknowledge",
        json={"provider_reference": "P-1"},
        headers=auth(ready["officer"]),
    )
    assert resp.status == 200, await resp.text()
    expires = (await resp.json())["expires_at"]
    assert expires is not None
    await sign_in(client, ready["officer"])
    text = await page(client, "/")
    bar = re.search(rf'<a href="/requests/{preserved["id"]}" class="barlink">.*?</a>', text, re.S)[
        0
    ]
    assert 'class="bar later"' in bar
    awaiting = text.split("Awaiting acknowledgement")[1]
    assert waiting["reference"] in awaiting and preserved["reference"] not in awaiting
    # Fifty-five days later the same preservation is under a week from its expiry.
    clock.advance(days=55)
    await sign_in(client, ready["officer"])
    text = await page(client, "/")
    bar = re.search(rf'<a href="/requests/{preserved["id"]}" class="barlink">.*?</a>', text, re.S)[
        0
    ]
    assert 'class="bar week"' in bar
    deadlines = text.split("Deadlines in the next")[1].split("Awaiting")[0]
    assert preserved["reference"] in deadlines


# --- directory edits -----------------------------------------------------------------------------


async def test_the_directory_role_edits_a_provider_and_no_unit_role_may(client, ready) -> None:  # type: ignore[no-untyped-def]
    for role in ("officer", "admin"):
        await sign_in(client, ready[role])
        text = await page(client, "/directory/providers/meta")
        assert "Edit (directory role)" not in text
        csrf = await csrf_of(client, "/directory")
        resp = await client.post("/directory/providers/meta", data={"csrf": csrf, "name": "X"})
        assert resp.status == 403, role
        client.session.cookie_jar.clear()
    await sign_in(client, ready["directory"])
    text = await page(client, "/directory/providers/meta")
    assert "Edit (directory role)" in text
    csrf = CSRF.search(text)[1]
    form = {
        "csrf": csrf,
        "name": "Meta",
        "country": "US",
        "portal_url": "https://le.example.test/portal",
        "le_email": "",
        "accepts_foreign_direct": "true",
        "notifies_user": "unless_asked",
        "preservation_days": "-3",
        "domains": "facebook.com\ninstagram.com",
        "aliases": "Facebook, Instagram",
        "entities": "EEA | Meta Platforms Ireland Limited | Merrion Road, Dublin 4, Ireland",
        "source_url": "https://example.test/guidelines",
        "source_title": "Information for law enforcement",
        "source_kind": "provider",
        "source_published": "2025-10-23",
        "verified_on": "2026-11-20",
    }
    resp = await client.post("/directory/providers/meta", data=form)
    assert resp.status == 422
    text = await resp.text()
    assert re.search(r'<input id="preservation_days"[^>]*aria-invalid="true"', text)
    form["preservation_days"] = "120"
    form["notes"] = "Checked with the desk."
    resp = await client.post("/directory/providers/meta", data=form, allow_redirects=False)
    assert resp.status == 303
    text = await page(client, "/directory/providers/meta?done=saved")
    assert "120 days" in text and "Checked with the desk." in text
    assert "Meta Platforms Ireland Limited" in text and "Merrion Road" in text
    resp = await client.get("/api/v1/providers/meta", headers=auth(ready["admin"]))
    meta = await resp.json()
    assert meta["preservation_days"] == 120
    assert meta["source"] == {
        "url": "https://example.test/guidelines",
        "title": "Information for law enforcement",
        "published": "2025-10-23",
        "kind": "provider",
    }
    # the change is on the log, with its author and unit, for every unit to read
    text = await page(client, "/directory/changes")
    assert "directory-a" in text and "preservation_days" in text and "90 → 120" in text


async def test_the_directory_role_edits_a_contact(client, ready) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        cid = (await s.execute(select(Contact.id))).scalar_one()
    await sign_in(client, ready["admin"])
    csrf = await csrf_of(client, f"/directory/contacts/{cid}")
    resp = await client.post(f"/directory/contacts/{cid}", data={"csrf": csrf, "hours": "x"})
    assert resp.status == 403  # a unit's admin does not change the shared directory
    client.session.cookie_jar.clear()
    await sign_in(client, ready["directory"])
    csrf = await csrf_of(client, f"/directory/contacts/{cid}")
    form = {
        "csrf": csrf,
        "country": "US",
        "authority": "US 24/7 point of contact",
        "network": "24/7",
        "phones": "+1 202 555 0100\nnot a phone",
        "emails": "poc-us@example.org",
        "hours": "24/7",
        "languages": "en",
        "accepts_preservation": "on",
        "notes": "",
        "source": "",
        "verified_on": "",
    }
    resp = await client.post(f"/directory/contacts/{cid}", data=form)
    assert resp.status == 422
    form["phones"] = "+1 202 555 0100"
    resp = await client.post(f"/directory/contacts/{cid}", data=form, allow_redirects=False)
    assert resp.status == 303
    assert "+12025550100" in await page(client, f"/directory/contacts/{cid}?done=saved")


# --- pure parts ----------------------------------------------------------------------------------


def test_field_ids_match_the_contracts_field_names() -> None:
    assert field_id("identifiers[0].at") == "identifiers-0-at"
    assert field_id("identifiers[12].from") == "identifiers-12-from"
    assert field_id("offence") == "offence"
    assert field_id("unit.email") == "unit-email"


def test_form_to_body_leaves_blank_rows_and_empty_inputs_out() -> None:
    class Multi(dict):  # type: ignore[type-arg]
        def getall(self, name: str, default: Any = None) -> list[str]:
            return ["subscriber", "bogus"] if name == "data_categories" else []

    data = Multi(
        {
            "identifier_rows": "3",
            "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
            "identifiers-0-type": "ipv4",
            "identifiers-0-value": "203.0.113.7",
            "identifiers-0-port": "51234",
            "identifiers-0-at": "2026-11-20T14:03:11",
            "identifiers-0-tz": "Europe/Berlin",
            "identifiers-0-dst": "true",
            "identifiers-1-type": "email",
            "identifiers-2-type": "account",
            "identifiers-2-value": "some.handle",
            "identifiers-2-platform": "instagram",
        }
    )
    form = parse_form(data, getall=data.getall)
    body = form.body()
    assert body["data_categories"] == ["subscriber"]
    assert body["identifiers"] == [
        {
            "type": "ipv4",
            "value": "203.0.113.7",
            "port": "51234",
            "at": "2026-11-20T14:03:11",
            "tz": "Europe/Berlin",
            "dst": True,
        },
        {"type": "account", "value": "some.handle", "platform": "instagram"},
    ]
    assert body["country"] is None and body["provider"] is None
    assert body["confidential"] is False  # an unticked box sends nothing
    form.compact()
    assert len(form.rows) == 2


def test_dst_choices_read_both_readings_from_the_error() -> None:
    message = (
        "2026-10-25 02:30:00 happens twice in Europe/Berlin (the clocks go back): dst true: CEST"
        " (UTC+02:00) = 2026-10-25 00:30:00 UTC; dst false: CET (UTC+01:00) = 2026-10-25 01:30:00"
        " UTC; or write the offset in the time; candidate instants: ..."
    )
    assert dst_choices([message]) == [
        ("true", "CEST (UTC+02:00) = 2026-10-25 00:30:00 UTC"),
        ("false", "CET (UTC+01:00) = 2026-10-25 01:30:00 UTC"),
    ]
    assert dst_choices(["is not an e-mail address"]) is None


def test_timeline_colours_by_urgency_and_clips_to_the_window() -> None:
    from dataclasses import dataclass
    from datetime import UTC, datetime

    @dataclass
    class R:
        id: int
        reference: str
        status: str
        expires_at: datetime | None
        submitted_at: datetime | None = None

    now = datetime(2026, 11, 20, tzinfo=UTC)
    items = [
        R(1, "PR-1", "preserved", now + timedelta(days=45)),
        R(2, "PR-2", "preserved", now + timedelta(days=3)),
        R(3, "PR-3", "sent", now + timedelta(days=20)),
        R(4, "PR-4", "lapsed", now - timedelta(days=2)),
        R(5, "PR-5", "mla_sent", None),
        R(6, "PR-6", "preserved", now + timedelta(days=200)),
        R(7, "PR-7", "closed", now + timedelta(days=5)),
    ]
    chart = timeline.build(items, now=now, days=90)
    order = [(b.request_id, b.urgency) for b in chart.bars]
    assert order == [
        (4, "lapsed"),
        (2, "week"),
        (3, "month"),
        (1, "later"),
        (6, "later"),
        (5, "held"),
    ]
    by_id = {b.request_id: b for b in chart.bars}
    right = timeline.LABEL_WIDTH + timeline.PLOT_WIDTH
    assert by_id[6].x + by_id[6].width == pytest.approx(right) and by_id[6].beyond
    assert by_id[2].width < by_id[3].width < by_id[1].width
    assert not by_id[1].beyond
    assert all(b.x >= timeline.LABEL_WIDTH for b in chart.bars)


def test_field_labels_are_for_people() -> None:
    from preservation.web.pages.forms import field_label

    assert field_label("identifiers[0].at") == "Identifier 1: time"
    assert field_label("identifiers[2]") == "Identifier 3"
    assert field_label("urgency_reason") == "Reason for urgency"
    assert field_label("offence") == "Offence"
