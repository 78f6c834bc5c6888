"""Enrolment through the one-time link: password, TOTP secret shown as a QR code, a code to
prove it, recovery codes shown once; the link works once and expires."""

from __future__ import annotations

import re

from sqlalchemy import select

from preservation.access import people, totp
from preservation.storage.models import ApiToken, RecoveryCode, User
from preservation.web.keys import DB, SETTINGS
from tests.access.support import CSRF, PASSWORD, sign_in

KEY = re.compile(r'id="totp-key">([A-Z2-7 ]+)<')


async def _link(client, clock, name: str = "nina", role: str = "supervisor") -> str:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        added = await people.add_person(
            s,
            unit="alpha",
            name=name,
            role=role,
            now=clock.now(),
            enrolment_hours=client.server.app[SETTINGS].enrolment_hours,
            display_name="Nina Novak",
            function="Detective Inspector",
        )
    assert added.enrolment is not None
    return f"/enrol/{added.enrolment}"


async def _open(client, link: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    resp = await client.get(link)
    text = await resp.text()
    assert resp.status == 200, text
    return CSRF.search(text)[1], KEY.search(text)[1].replace(" ", "")


async def test_enrolment_sets_password_and_second_factor(client, clock) -> None:  # type: ignore[no-untyped-def]
    link = await _link(client, clock)
    resp = await client.get(link)
    text = await resp.text()
    assert "<svg" in text and "Nina Novak" in text and "supervisor in alpha" in text
    csrf, secret = await _open(client, link)
    # Reloading shows the same secret (it is kept until a code proves it).
    assert (await _open(client, link))[1] == secret
    csrf, _ = await _open(client, link)
    code = totp.code_at(secret, clock.now())
    form = {"csrf": csrf, "password": PASSWORD, "password2": PASSWORD, "otp": code}

    for change, field in (
        ({"password2": "something else entirely"}, "password2"),
        ({"password": "short", "password2": "short"}, "password"),
        ({"otp": f"{(int(code) + 1) % 1_000_000:06d}"}, "otp"),
    ):
        csrf, _ = await _open(client, link)
        bad = await client.post(link, data={**form, "csrf": csrf, **change})
        page = await bad.text()
        assert bad.status == 422, page
        assert f'id="{field}"' in page and 'aria-invalid="true"' in page
        assert KEY.search(page)[1].replace(" ", "") == secret

    csrf, _ = await _open(client, link)
    done = await client.post(link, data={**form, "csrf": csrf})
    text = await done.text()
    assert done.status == 200, text
    codes = re.findall(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>", text)
    assert len(codes) == 10
    async with client.server.app[DB].read() as s:
        user = (await s.execute(select(User).where(User.login == "nina"))).scalar_one()
        stored = set((await s.execute(select(RecoveryCode.code_hash))).scalars())
    assert user.password_hash.startswith("$argon2id$") and user.totp_enabled_at is not None
    assert stored == {totp.recovery_hash(c) for c in codes}

    # The link worked once.
    assert (await client.get(link)).status == 404
    # The code used to enrol is spent; the next one signs in.
    assert (await sign_in(client, "nina", otp=code)).status == 401
    clock.advance(seconds=30)
    resp = await sign_in(client, "nina", otp=totp.code_at(secret, clock.now()))
    assert resp.status == 303


async def test_enrolment_link_expires_and_is_replaced(client, clock) -> None:  # type: ignore[no-untyped-def]
    first = await _link(client, clock)
    async with client.server.app[DB].write() as s:
        user = await people.find_person(s, "nina")
        second = "/enrol/" + await people.create_enrolment(s, user=user, now=clock.now(), hours=1)
    assert (await client.get(first)).status == 404, "a newer link replaces the older"
    assert (await client.get(second)).status == 200
    clock.advance(hours=1)
    assert (await client.get(second)).status == 404
    assert (await client.get("/enrol/pde_not-a-real-link")).status == 404


async def test_enrolment_needs_the_forms_csrf_token(client, clock) -> None:  # type: ignore[no-untyped-def]
    link = await _link(client, clock)
    _, secret = await _open(client, link)
    resp = await client.post(
        link,
        data={
            "password": PASSWORD,
            "password2": PASSWORD,
            "otp": totp.code_at(secret, clock.now()),
        },
    )
    assert resp.status == 403
    async with client.server.app[DB].read() as s:
        user = (await s.execute(select(User).where(User.login == "nina"))).scalar_one()
    assert user.password_hash == "" and user.totp_enabled_at is None


async def test_password_set_on_the_cli_leaves_only_the_second_factor(client, clock) -> None:  # type: ignore[no-untyped-def]
    from preservation.access import passwords

    async with client.server.app[DB].write() as s:
        added = await people.add_person(
            s,
            unit="alpha",
            name="sam",
            role="supervisor",
            now=clock.now(),
            enrolment_hours=72,
            password_hash=passwords.hash_password(PASSWORD),
        )
        officer = await people.add_person(
            s,
            unit="alpha",
            name="olga",
            role="officer",
            now=clock.now(),
            enrolment_hours=72,
            password_hash=passwords.hash_password(PASSWORD),
        )
    assert officer.enrolment is None, "an officer may start with a password alone"
    assert added.enrolment is not None, "a supervisor still needs a second factor"
    link = f"/enrol/{added.enrolment}"
    resp = await client.get(link)
    text = await resp.text()
    assert 'name="password"' not in text and "<svg" in text
    csrf, secret = await _open(client, link)
    done = await client.post(link, data={"csrf": csrf, "otp": totp.code_at(secret, clock.now())})
    assert done.status == 200
    clock.advance(seconds=30)
    assert (await sign_in(client, "sam", otp=totp.code_at(secret, clock.now()))).status == 303


async def test_reset_clears_the_sign_in_and_gives_a_new_link(client, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.access.support import add_person, cookie

    secret = await add_person(client, "sue", "supervisor", now=clock.now())
    assert (await sign_in(client, "sue", otp=totp.code_at(secret, clock.now()))).status == 303
    async with client.server.app[DB].write() as s:
        user = await people.find_person(s, "sue")
        value = await people.reset_person(s, user=user, now=clock.now(), hours=72)
        live = (
            await s.execute(
                select(ApiToken.prefix).where(
                    ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
                )
            )
        ).scalars()
        assert [p for p in live if not p.startswith("pde_")] == []
    assert (await client.get("/profile", allow_redirects=False)).status == 303
    clock.advance(seconds=30)
    assert (await sign_in(client, "sue", otp=totp.code_at(secret, clock.now()))).status == 401
    assert cookie(client, "pd_session") is None
    assert (await client.get(f"/enrol/{value}")).status == 200
