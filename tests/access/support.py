"""Helpers for the people and sign-in tests: add a person through the use cases, sign in on
the page, read the CSRF token."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from preservation.access import passwords, people, totp
from preservation.storage.models import User
from preservation.web.keys import DB

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "correct horse battery staple"
# One hash for the whole run: argon2 costs ~50 ms a time.
_HASH = passwords.hash_password(PASSWORD)


async def add_person(
    client: Any,
    name: str,
    role: str,
    *,
    now: datetime,
    unit: str = "alpha",
    second_factor: bool = True,
    password: bool = True,
) -> str:
    """Add `name` with the test password and (unless told otherwise) an active TOTP secret;
    returns the secret ("" without one)."""
    async with client.server.app[DB].write() as s:
        added = await people.add_person(
            s,
            unit=unit,
            name=name,
            role=role,
            now=now,
            enrolment_hours=72,
            display_name=name.title(),
            password_hash=_HASH if password else None,
        )
        secret = ""
        if second_factor:
            user = await s.get(User, added.user.id)
            assert user is not None
            secret = user.totp_secret = totp.new_secret()
            user.totp_enabled_at = now
    return secret


async def csrf(client: Any, path: str = "/signin") -> str:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    return CSRF.search(await resp.text())[1]


async def sign_in(
    client: Any, name: str, *, password: str = PASSWORD, otp: str = "", next_path: str = "/"
) -> Any:
    """POST the sign-in form; returns the answer (303 on success, 401 with the page if not)."""
    token = await csrf(client)
    return await client.post(
        "/signin",
        data={"csrf": token, "user": name, "password": password, "otp": otp, "next": next_path},
        allow_redirects=False,
    )


def cookie(client: Any, name: str) -> str | None:
    found = client.session.cookie_jar.filter_cookies(client.make_url("/")).get(name)
    return found.value if found is not None else None


class Browser:
    """A second browser on the same test server (its own cookie jar)."""

    def __init__(self, client: Any):
        import aiohttp

        self._client = client
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def make_url(self, path: str) -> Any:
        return self._client.make_url(path)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(self.make_url(path), **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.session.post(self.make_url(path), **kwargs)

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
