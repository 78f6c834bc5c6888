"""Authentication and the browser-facing defences: tokens stored only as hashes and compared in
constant time; a burst of failed authentications from one address answered 429 with
Retry-After (API and sign-in page); security headers on every answer (CSP without inline
scripts, X-Frame-Options, Referrer-Policy), the letter frame's own script-free policy; user
text escaped in letters and pages; the API ignores session cookies (no CSRF through it)."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from contacts.models import Contact
from preservation.access.auth import create_token, hash_token, principal_for_token
from preservation.storage.models import ApiToken, Unit
from preservation.web.keys import DB
from tests.conftest import assert_problem, auth

URL = "/api/v1/requests"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
XSS = "<script>alert('x')</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'


@contextlib.asynccontextmanager
async def client_with(settings, clock, **changes: Any) -> AsyncIterator[tuple[TestClient, str]]:  # type: ignore[no-untyped-def]
    from preservation.web.app import create_app

    app = create_app(
        settings.model_copy(update=changes), clock=clock, migrate=False, scheduler=False
    )
    async with TestClient(TestServer(app)) as test_client:
        async with app[DB].write() as s:
            token = await create_token(s, unit="alpha", role="officer", user="o", now=clock.now())
        yield test_client, token


# --- tokens ----------------------------------------------------------------------------------


async def test_tokens_are_stored_only_as_sha256(client, tokens) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        rows = (await s.execute(select(ApiToken))).scalars().all()
    assert len(rows) == len(tokens)
    by_hash = {r.token_hash: r for r in rows}
    for token in tokens.values():
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = by_hash[digest]
        # Only the hash and a short display prefix (for rotation) are kept; never the token.
        assert all(token not in str(value) for value in row.model_dump().values())
        assert len(row.prefix) <= 10 and token.startswith(row.prefix)
        assert len(token) >= 40  # 32 random bytes, URL-safe


async def test_token_is_checked_in_constant_time(client, tokens, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import hmac

    import preservation.access.auth as auth_module

    compared: list[tuple[str, str]] = []
    original = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    async with client.server.app[DB].read() as s:
        assert await principal_for_token(s, tokens["officer"]) is not None
        token = tokens["officer"]
        near_miss = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert await principal_for_token(s, near_miss) is None
    # The stored value and the candidate are compared as digests, never as raw tokens.
    assert compared == [(hash_token(tokens["officer"]), hash_token(tokens["officer"]))]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer pdt_" + "A" * 43,
        "Bearer " + "x" * 5000,
        "Bearer pdt_%00",
    ],
)
async def test_bad_tokens_are_401(client, tokens, header) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header is not None else {}
    await assert_problem(await client.get("/api/v1/me", headers=headers), 401)


async def test_a_near_miss_of_a_real_token_is_401(client, tokens) -> None:  # type: ignore[no-untyped-def]
    token = tokens["officer"]
    for wrong in (
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token + "x",
        token[:-1],
        token.upper(),
    ):
        await assert_problem(await client.get("/api/v1/me", headers=auth(wrong)), 401)
    assert (await client.get("/api/v1/me", headers=auth(token))).status == 200


# --- rate limit of failures --------------------------------------------------------------------


async def test_burst_of_failures_is_429_with_retry_after(settings, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import preservation.web.auth as web_auth

    now = [1000.0]
    monkeypatch.setattr(web_auth.time, "monotonic", lambda: now[0])
    async with client_with(settings, clock, auth_failures_per_minute=3) as (client, token):
        for _ in range(3):
            await assert_problem(await client.get("/api/v1/me", headers=auth("pdt_wrong")), 401)
        resp = await client.get("/api/v1/me", headers=auth("pdt_wrong"))
        await assert_problem(resp, 429)
        retry = int(resp.headers["Retry-After"])
        assert 1 <= retry <= 61
        # While the address is slowed, a good token is still served (issue 16: a shared address
        # must not lock its users out; guessing gains nothing, a token is 256 random bits).
        assert (await client.get("/api/v1/me", headers=auth(token))).status == 200
        # The failing credential is refused on other endpoints too, and so is the sign-in page.
        await assert_problem(await client.get(URL, headers=auth("pdt_wrong")), 429)
        await assert_problem(await client.get(URL, headers=auth("pdt_other")), 429)
        signin = await client.get("/signin")
        csrf = CSRF.search(await signin.text())[1]
        resp = await client.post(
            "/signin", data={"csrf": csrf, "token": token, "next": "/"}, allow_redirects=False
        )
        assert resp.status == 429 and "Retry-After" in resp.headers
        # A minute later the window has passed.
        now[0] += 61
        assert (await client.get("/api/v1/me", headers=auth(token))).status == 200


async def test_failed_page_sign_ins_count_too(settings, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import preservation.web.auth as web_auth

    monkeypatch.setattr(web_auth.time, "monotonic", lambda: 5000.0)
    async with client_with(settings, clock, auth_failures_per_minute=2) as (client, token):
        for _ in range(2):
            signin = await client.get("/signin")
            csrf = CSRF.search(await signin.text())[1]
            resp = await client.post(
                "/signin", data={"csrf": csrf, "token": "pdt_guess", "next": "/"}
            )
            assert resp.status in (401, 422), resp.status
        await assert_problem(await client.get("/api/v1/me", headers=auth("pdt_guess")), 429)
        # A valid token from the same address is not locked out (issue 16).
        assert (await client.get("/api/v1/me", headers=auth(token))).status == 200


# --- headers ----------------------------------------------------------------------------------


def assert_security_headers(resp: Any, path: str) -> None:
    h = resp.headers
    csp = h.get("Content-Security-Policy", "")
    assert csp, path
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    script = directives.get("script-src", directives.get("default-src", ""))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, (path, csp)
    assert "*" not in script.split(), (path, csp)
    assert h.get("X-Frame-Options") in ("DENY", "SAMEORIGIN"), path
    assert h.get("Referrer-Policy") == "no-referrer", path
    assert h.get("X-Content-Type-Options") == "nosniff", path


async def test_security_headers_on_api_pages_and_errors(client, tokens) -> None:  # type: ignore[no-untyped-def]
    paths = [
        ("/healthz", {}),
        ("/openapi.json", {}),
        ("/api/v1/me", auth(tokens["officer"])),
        ("/api/v1/me", {}),  # 401
        (f"{URL}/424242", auth(tokens["officer"])),  # 404
        ("/api/v1/nothing-here", {}),  # unmatched route
        ("/signin", {}),
        ("/", {}),  # redirect to sign-in
        ("/static/pages.css", {}),
        ("/static/pages.js", {}),
    ]
    for path, headers in paths:
        resp = await client.get(path, headers=headers, allow_redirects=False)
        assert resp.status < 500 or path == "/healthz", path  # no scheduler here: 503
        assert_security_headers(resp, path)
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


async def test_pages_carry_no_inline_script(client, tokens) -> None:  # type: ignore[no-untyped-def]
    """The CSP forbids inline scripts; the pages must not need them (they would silently break)."""
    await sign_in(client, tokens["officer"])
    for path in ("/", "/requests", "/requests/new", "/directory"):
        resp = await client.get(path)
        text = await resp.text()
        assert resp.status == 200, path
        assert_security_headers(resp, path)
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.I):
            assert "src=" in tag, (path, tag)
        assert not re.search(r"<script\b[^>]*>(?!\s*</script>)\s*\S", text, flags=re.I), path
        assert not re.search(r"\son[a-z]+\s*=", text, flags=re.I), path
        assert "javascript:" not in text.lower(), path


async def sign_in(client, token: str) -> None:  # type: ignore[no-untyped-def]
    signin = await client.get("/signin")
    csrf = CSRF.search(await signin.text())[1]
    resp = await client.post(
        "/signin", data={"csrf": csrf, "token": token, "next": "/"}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()


# --- escaping of user text ---------------------------------------------------------------------


@pytest.fixture
async def hostile(client, tokens) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A request whose free text and identifiers try to inject markup."""
    async with client.server.app[DB].write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.name == "alpha")
            .values(authority="Cyber", email="cyber@police.example", phone="+35722000000")
        )
        s.add(
            Contact(
                country="US",
                authority="US 24/7 point of contact",
                network="24/7",
                emails=["poc@us.test"],
                phones=["+12025550100"],
                verified_on=date(2026, 10, 1),
            )
        )
    body = {
        "case_reference": XSS_ATTR[:200],
        "offence": XSS,
        "summary": f"Before {XSS} after",
        "relevance": XSS_ATTR,
        "necessity": "The provider deletes inactive data; without preservation the evidence is lost before the MLA request arrives.",
        "country": "US",
        "urgent": True,
        "urgency_reason": XSS,
        "identifiers": [
            {"type": "account", "platform": "instagram", "value": "<script>x</script>"},
            {"type": "url", "value": "https://example.com/?q=<script>alert(1)</script>"},
        ],
        "submit": False,
    }
    resp = await client.post(URL, json=body, headers=auth(tokens["officer"]))
    assert resp.status == 201, await resp.text()
    return await resp.json()


def assert_escaped(text: str, where: str) -> None:
    assert "<script>" not in text.lower(), where
    assert "<img src=x" not in text, where
    assert "onerror=alert" not in text or "&#34;&gt;&lt;img" in text or "&quot;&gt;&lt;img" in text


async def test_letter_html_escapes_user_text(client, tokens, hostile) -> None:  # type: ignore[no-untyped-def]
    rid = hostile["id"]
    resp = await client.get(f"{URL}/{rid}/letter?format=html", headers=auth(tokens["officer"]))
    assert resp.status == 200 and resp.content_type == "text/html"
    text = await resp.text()
    assert_escaped(text, "letter.html")
    assert "&lt;script&gt;alert(" in text
    # The plain-text letter keeps the text as written, served as text (never rendered).
    resp = await client.get(f"{URL}/{rid}/letter?format=text", headers=auth(tokens["officer"]))
    assert resp.content_type == "text/plain" and XSS in await resp.text()
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_pages_escape_user_text_and_the_letter_frame_runs_no_script(
    client, tokens, hostile
) -> None:  # type: ignore[no-untyped-def]
    rid = hostile["id"]
    await sign_in(client, tokens["officer"])
    for path in ("/", "/requests", f"/requests/{rid}"):
        resp = await client.get(path)
        text = await resp.text()
        assert resp.status == 200, path
        assert_escaped(text, path)
    resp = await client.get(f"/requests/{rid}/letter.html")
    assert resp.status == 200
    assert_escaped(await resp.text(), "letter.html page")
    csp = resp.headers["Content-Security-Policy"]
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    # No script source at all: default-src 'none' and no script-src to widen it.
    assert directives["default-src"] == "default-src 'none'"
    assert "script-src" not in directives and "script-src-elem" not in directives
    assert directives["frame-ancestors"] == "frame-ancestors 'self'"
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    # The record page frames the letter in a sandbox without allow-scripts.
    record = await (await client.get(f"/requests/{rid}")).text()
    assert "&gt;&lt;img src=x" in record  # the case reference is there, escaped
    frames = re.findall(r"<iframe\b[^>]*>", record, flags=re.I)
    assert frames
    for frame in frames:
        assert "sandbox" in frame and "allow-scripts" not in frame, frame


# --- CSRF ------------------------------------------------------------------------------------


async def test_api_ignores_the_page_session_cookie(client, tokens) -> None:  # type: ignore[no-untyped-def]
    """A signed-in browser's cookies do not authenticate the API: a cross-site page cannot
    make the browser call it (and the pages' own forms need the session's CSRF token)."""
    await sign_in(client, tokens["officer"])
    assert (await client.get("/requests")).status == 200
    await assert_problem(await client.get("/api/v1/me"), 401)
    await assert_problem(await client.post(URL, json={"regime": "budapest-art29"}), 401)
    resp = await client.post("/requests/new", data={"case_reference": "x"}, allow_redirects=False)
    assert resp.status == 403
