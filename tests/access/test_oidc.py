"""OpenID Connect sign-in against a small provider on loopback (tests/access/oidc_provider.py):
the person's unit and role come from the ID token's claims; every check of the flow (state,
nonce, audience, expiry, signature, PKCE, single-use code) refuses what it should."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from preservation.access import people
from preservation.access.oidc import OidcClient, OidcError
from preservation.settings import Settings, load_settings
from preservation.storage.models import User
from preservation.web.keys import DB
from tests.access.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.access.support import cookie

SUPERVISOR = {
    "sub": "f3b1-22",
    "preferred_username": "Nina",
    "name": "Nina Novak",
    "email": "nina@police.example",
    "unit": "alpha",
    "role": "supervisor",
    "amr": ["pwd", "otp"],
}


@pytest.fixture
async def idp(clock) -> AsyncIterator[Provider]:  # type: ignore[no-untyped-def]
    provider = Provider(clock=lambda: clock.now().timestamp())
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = str(server.make_url("")).rstrip("/")
    yield provider
    await server.close()


@pytest.fixture
def settings(database_url: str, idp: Provider) -> Settings:
    return load_settings(
        environ={},
        database_url=database_url,
        load_demo=False,
        node_name="test-node",
        oidc_issuer=idp.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )


@pytest.fixture
async def unit(client, tokens) -> None:  # type: ignore[no-untyped-def]
    """Units alpha and beta exist (made with the tokens)."""


async def _oidc_sign_in(
    client, idp: Provider, claims: dict[str, Any], *, query: dict | None = None
):  # type: ignore[no-untyped-def]
    """Start at /signin/oidc, pass the provider, come back; the callback's answer."""
    idp.redirect_uris.add(str(client.make_url("/signin/oidc/callback")))
    idp.claims = claims
    start = await client.get("/signin/oidc?next=/requests", allow_redirects=False)
    assert start.status == 303, await start.text()
    at_idp = await client.session.get(start.headers["Location"], allow_redirects=False)
    assert at_idp.status == 302, await at_idp.text()
    back = at_idp.headers["Location"]
    if query:
        from urllib.parse import parse_qsl, urlencode, urlsplit

        parts = urlsplit(back)
        params = {**dict(parse_qsl(parts.query)), **query}
        back = parts._replace(query=urlencode(params)).geturl()
    return await client.session.get(back, allow_redirects=False)


async def _person(client, subject_sub: str) -> User | None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].read() as s:
        return (
            await s.execute(select(User).where(User.oidc_subject.like(f"% {subject_sub}")))
        ).scalar_one_or_none()


async def test_sign_in_maps_unit_and_role(client, idp, unit) -> None:  # type: ignore[no-untyped-def]
    page = await (await client.get("/signin")).text()
    assert 'href="/signin/oidc?next=/"' in page
    resp = await _oidc_sign_in(client, idp, SUPERVISOR)
    text = await resp.text()
    assert resp.status == 200, text
    assert 'http-equiv="refresh" content="0; url=/requests"' in text
    assert cookie(client, "pd_session").startswith("pds_")  # type: ignore[union-attr]
    profile = await client.get("/profile", allow_redirects=False)
    assert profile.status == 200
    body = await profile.text()
    assert "nina" in body and "supervisor" in body and "Nina Novak" in body
    user = await _person(client, "f3b1-22")
    assert user is not None
    assert (user.login, user.role, user.email) == ("nina", "supervisor", "nina@police.example")
    assert user.oidc_subject == f"{idp.issuer} f3b1-22"
    # The token request carried the PKCE verifier and the code, and no secret in the body.
    sent = idp.token_requests[-1]
    assert sent["grant_type"] == "authorization_code" and sent["code_verifier"]
    assert CLIENT_SECRET not in str(sent)

    # The provider changes the role: the next sign-in applies it.
    client.session.cookie_jar.clear()
    resp = await _oidc_sign_in(client, idp, {**SUPERVISOR, "role": "officer"})
    assert resp.status == 200
    user = await _person(client, "f3b1-22")
    assert user is not None and user.role == "officer"


async def test_a_person_added_on_the_cli_is_linked(client, idp, unit, clock) -> None:  # type: ignore[no-untyped-def]
    async with client.server.app[DB].write() as s:
        await people.add_person(
            s, unit="alpha", name="nina", role="officer", now=clock.now(), enrolment_hours=72
        )
    resp = await _oidc_sign_in(client, idp, SUPERVISOR)
    assert resp.status == 200
    async with client.server.app[DB].read() as s:
        rows = (await s.execute(select(User).where(User.login == "nina"))).scalars().all()
    assert len(rows) == 1 and rows[0].oidc_subject and rows[0].role == "supervisor"


@pytest.mark.parametrize(
    ("claims", "status", "why"),
    [
        ({**SUPERVISOR, "unit": "gamma"}, 403, "not known here"),
        ({**SUPERVISOR, "amr": ["pwd"]}, 403, "second factor"),
        ({**SUPERVISOR, "role": "emperor"}, 401, "exactly one role"),
        ({**SUPERVISOR, "role": ["officer", "supervisor"]}, 401, "exactly one role"),
        ({k: v for k, v in SUPERVISOR.items() if k != "unit"}, 401, "no unit"),
    ],
)
async def test_claims_that_do_not_fit_are_refused(client, idp, unit, claims, status, why) -> None:  # type: ignore[no-untyped-def]
    resp = await _oidc_sign_in(client, idp, claims)
    assert resp.status == status
    assert why in await resp.text()
    assert cookie(client, "pd_session") is None


async def test_an_officer_needs_no_amr(client, idp, unit) -> None:  # type: ignore[no-untyped-def]
    claims = {**SUPERVISOR, "role": "officer", "amr": ["pwd"]}
    assert (await _oidc_sign_in(client, idp, claims)).status == 200


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        ({"aud": "another-client"}, "aud"),
        ({"nonce": "replayed"}, "nonce"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"exp": 1}, "exp"),
    ],
)
async def test_a_bad_id_token_is_refused(client, idp, unit, tamper, why) -> None:  # type: ignore[no-untyped-def]
    idp.tamper = tamper
    resp = await _oidc_sign_in(client, idp, SUPERVISOR)
    assert resp.status == 401
    assert "ID token is not valid" in await resp.text()
    assert await _person(client, "f3b1-22") is None


async def test_state_must_match_and_a_code_works_once(client, idp, unit) -> None:  # type: ignore[no-untyped-def]
    resp = await _oidc_sign_in(client, idp, SUPERVISOR, query={"state": "forged"})
    assert resp.status == 401 and "state" in await resp.text()
    # Without the cookie of the start (another browser, or a link sent by an attacker).
    idp.redirect_uris.add(str(client.make_url("/signin/oidc/callback")))
    start = await client.get("/signin/oidc", allow_redirects=False)
    at_idp = await client.session.get(start.headers["Location"], allow_redirects=False)
    client.session.cookie_jar.clear()
    resp = await client.session.get(at_idp.headers["Location"], allow_redirects=False)
    assert resp.status == 400
    assert cookie(client, "pd_session") is None


async def test_an_error_from_the_provider_is_shown(client, idp, unit) -> None:  # type: ignore[no-untyped-def]
    resp = await _oidc_sign_in(client, idp, SUPERVISOR, query={"error": "access_denied"})
    assert resp.status == 401 and "access_denied" in await resp.text()


async def test_a_signature_by_another_key_is_refused(client, idp, unit) -> None:  # type: ignore[no-untyped-def]
    from joserfc.jwk import RSAKey

    idp.signing_key = RSAKey.generate_key(2048, {"kid": "k1"})  # a forger's, with the same kid
    resp = await _oidc_sign_in(client, idp, SUPERVISOR)
    assert resp.status == 401 and "signature" in await resp.text()
    assert await _person(client, "f3b1-22") is None


async def test_a_disabled_person_stays_out(client, idp, unit, clock) -> None:  # type: ignore[no-untyped-def]
    assert (await _oidc_sign_in(client, idp, SUPERVISOR)).status == 200
    async with client.server.app[DB].write() as s:
        user = await people.find_person(s, "nina")
        await people.disable_person(s, user=user, now=clock.now())
    assert (await client.get("/profile", allow_redirects=False)).status == 303
    resp = await _oidc_sign_in(client, idp, SUPERVISOR)
    assert resp.status == 403 and "disabled" in await resp.text()


def test_nested_and_list_claims(settings: Settings) -> None:
    keycloak = settings.model_copy(
        update={"oidc_role_claim": "realm_access.roles", "oidc_unit_claim": "groups"}
    )
    identity = OidcClient(keycloak).identity(
        {
            "iss": "https://idp.example",
            "sub": "1",
            "preferred_username": "x y",  # not a usable sign-in name: none is taken from it
            "groups": ["Cyber Unit"],
            "realm_access": {"roles": ["offline_access", "officer", "uma_authorization"]},
        }
    )
    assert (identity.unit, identity.role, identity.name, identity.mfa) == (
        "Cyber Unit",
        "officer",
        "",
        False,
    )
    with pytest.raises(OidcError):
        OidcClient(keycloak).identity({"iss": "i", "sub": "1", "groups": ["a", "b"]})


async def test_without_settings_there_is_no_single_sign_on(tokens, database_url, clock) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient

    from preservation.web.app import create_app

    plain = load_settings(environ={}, database_url=database_url, load_demo=False)
    app = create_app(plain, clock=clock, migrate=False, scheduler=False)
    async with TestClient(TestServer(app)) as other:
        assert "/signin/oidc" not in await (await other.get("/signin")).text()
        assert (await other.get("/signin/oidc")).status == 404
