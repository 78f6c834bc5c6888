"""A unit's supervisors manage its people on a page; a person makes their own API tokens (with
an expiry) on the profile page; the audit trail names the person, never a token."""

from __future__ import annotations

import re

from sqlalchemy import select

from preservation.access import totp
from preservation.storage.models import AuditEvent, User
from preservation.web.auth import PRINCIPALS
from preservation.web.keys import DB
from tests.access.support import Browser, add_person, csrf, sign_in
from tests.conftest import assert_problem, auth

LINK = re.compile(r'id="enrolment-link-value">(https?://[^<]+/enrol/(pde_[^<]+))<')
TOKEN = re.compile(r'id="new-token-value">(pdt_[^<]+)<')


async def _supervisor(client, clock) -> None:  # type: ignore[no-untyped-def]
    secret = await add_person(client, "sue", "supervisor", now=clock.now())
    assert (await sign_in(client, "sue", otp=totp.code_at(secret, clock.now()))).status == 303


async def test_a_supervisor_adds_a_person_and_sees_the_link_once(client, clock) -> None:  # type: ignore[no-untyped-def]
    await _supervisor(client, clock)
    token = await csrf(client, "/unit/people")
    resp = await client.post(
        "/unit/people",
        data={
            "csrf": token,
            "user": "Omar",
            "display_name": "Omar Oliveira",
            "function": "Detective",
            "role": "officer",
        },
    )
    text = await resp.text()
    assert resp.status == 200, text
    url, value = LINK.search(text).groups()
    assert url.startswith(str(client.make_url("/enrol/")))
    listed = await (await client.get("/unit/people")).text()
    assert "omar" in listed and "enrolment pending" in listed and value not in listed
    async with Browser(client) as newcomer:
        assert (await newcomer.get(f"/enrol/{value}")).status == 200

    # A duplicate name, a bad name, a role the page does not grant: 422 next to the field.
    for change, field in (
        ({"user": "omar"}, "user"),
        ({"user": "o m"}, "user"),
        ({"user": "ada", "role": "admin"}, "role"),
    ):
        token = await csrf(client, "/unit/people")
        form = {"csrf": token, "display_name": "", "function": "", "role": "officer", **change}
        bad = await client.post("/unit/people", data=form)
        page = await bad.text()
        assert bad.status == 422, page
        assert f'href="#{field}"' in page


async def test_only_supervisors_manage_people(client, clock) -> None:  # type: ignore[no-untyped-def]
    await add_person(client, "olga", "officer", now=clock.now(), second_factor=False)
    assert (await sign_in(client, "olga")).status == 303
    assert (await client.get("/unit/people")).status == 403
    token = await csrf(client, "/profile")
    resp = await client.post(
        "/unit/people", data={"csrf": token, "user": "x", "role": "supervisor"}
    )
    assert resp.status == 403
    async with client.server.app[DB].read() as s:
        assert (await s.execute(select(User).where(User.login == "x"))).first() is None


async def test_role_change_and_disable_on_the_page(client, clock) -> None:  # type: ignore[no-untyped-def]
    await _supervisor(client, clock)
    await add_person(client, "olga", "officer", now=clock.now(), second_factor=False)
    await add_person(client, "ada", "admin", now=clock.now())
    await add_person(client, "bob", "officer", unit="beta", now=clock.now())
    async with Browser(client) as olga:
        assert (await sign_in(olga, "olga")).status == 303
        assert (await olga.get("/profile", allow_redirects=False)).status == 200

        token = await csrf(client, "/unit/people")
        resp = await client.post(
            "/unit/people/olga/role",
            data={"csrf": token, "role": "supervisor"},
            allow_redirects=False,
        )
        assert resp.status == 303
        async with client.server.app[DB].read() as s:
            role = (await s.execute(select(User.role).where(User.login == "olga"))).scalar_one()
        assert role == "supervisor"

        resp = await client.post(
            "/unit/people/olga/disable", data={"csrf": token}, allow_redirects=False
        )
        assert resp.status == 303
        assert (await olga.get("/profile", allow_redirects=False)).status == 303
        assert "disabled" in await (await client.get("/unit/people")).text()

    # Not oneself, not a role of the command line, not another unit's person.
    for path, status in (
        ("/unit/people/sue/disable", 403),
        ("/unit/people/ada/disable", 403),
        ("/unit/people/bob/disable", 404),
    ):
        resp = await client.post(path, data={"csrf": token}, allow_redirects=False)
        assert resp.status == status, path
    # A supervisor cannot hand out the admin role.
    resp = await client.post("/unit/people/olga/role", data={"csrf": token, "role": "admin"})
    assert resp.status == 403


async def test_people_make_their_own_tokens_with_an_expiry(client, clock) -> None:  # type: ignore[no-untyped-def]
    await _supervisor(client, clock)
    token = await csrf(client, "/profile")
    resp = await client.post(
        "/profile/tokens", data={"csrf": token, "label": "case system", "days": "30"}
    )
    text = await resp.text()
    assert resp.status == 200, text
    api_token = TOKEN.search(text)[1]
    me = await client.get("/api/v1/me", headers=auth(api_token))
    assert (await me.json()) == {"user": "sue", "unit": "alpha", "role": "supervisor"}
    listed = await (await client.get("/profile")).text()
    assert api_token not in listed and api_token[:10] in listed and "case system" in listed

    too_long = await client.post(
        "/profile/tokens", data={"csrf": token, "label": "x", "days": "100000"}
    )
    assert too_long.status == 422

    clock.advance(days=31)
    client.server.app[PRINCIPALS].clear()
    await assert_problem(await client.get("/api/v1/me", headers=auth(api_token)), 401)


async def test_a_person_revokes_their_token(client, clock) -> None:  # type: ignore[no-untyped-def]
    await add_person(client, "olga", "officer", now=clock.now(), second_factor=False)
    await sign_in(client, "olga")
    token = await csrf(client, "/profile")
    text = await (
        await client.post("/profile/tokens", data={"csrf": token, "label": "script", "days": "7"})
    ).text()
    api_token = TOKEN.search(text)[1]
    resp = await client.post(
        "/profile/tokens/revoke",
        data={"csrf": token, "prefix": api_token[:10]},
        allow_redirects=False,
    )
    assert resp.status == 303
    client.server.app[PRINCIPALS].clear()
    await assert_problem(await client.get("/api/v1/me", headers=auth(api_token)), 401)


async def test_the_audit_trail_names_the_person(client, clock) -> None:  # type: ignore[no-untyped-def]
    await add_person(client, "olga", "officer", now=clock.now(), second_factor=False)
    await sign_in(client, "olga")
    token = await csrf(client, "/profile")
    text = await (
        await client.post("/profile/tokens", data={"csrf": token, "label": "import", "days": "7"})
    ).text()
    api_token = TOKEN.search(text)[1]
    resp = await client.post(
        "/api/v1/requests",
        json={
            "case_reference": "CY-1",
            "offence": "Fraud",
            "summary": "Phishing",
            "relevance": "Logins",
            "identifiers": [
                {"type": "email", "value": "a@example.com", "at": "2026-11-19T10:00:00Z"}
            ],
        },
        headers=auth(api_token),
    )
    assert resp.status == 201, await resp.text()
    async with client.server.app[DB].read() as s:
        actors = set((await s.execute(select(AuditEvent.actor))).scalars())
    assert actors == {"olga@alpha"}
    assert not any(api_token[:10] in a for a in actors)


async def test_letters_name_the_person_and_their_function(client, clock, tokens) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    await add_person(client, "olga", "officer", now=clock.now(), second_factor=False)
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(User)
            .where(User.login == "olga")
            .values(display_name="Olga Ortiz", function="Detective Inspector")
        )
    await sign_in(client, "olga")
    token = await csrf(client, "/profile")
    text = await (
        await client.post("/profile/tokens", data={"csrf": token, "label": "x", "days": "7"})
    ).text()
    api_token = TOKEN.search(text)[1]
    made = await client.post(
        "/api/v1/requests",
        json={
            "case_reference": "CY-1",
            "offence": "Fraud",
            "summary": "Phishing",
            "relevance": "Logins",
            "identifiers": [
                {"type": "email", "value": "a@example.com", "at": "2026-11-19T10:00:00Z"}
            ],
        },
        headers=auth(api_token),
    )
    assert made.status == 201, await made.text()
    rid = (await made.json())["id"]
    letter = await client.get(f"/api/v1/requests/{rid}/letter?format=text", headers=auth(api_token))
    assert letter.status == 200, await letter.text()
    assert "Olga Ortiz, Detective Inspector" in await letter.text()
