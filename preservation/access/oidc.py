"""OpenID Connect sign-in through the agency's identity provider (authorization code flow with
PKCE and a nonce). authlib's OAuth 2 client builds the authorization URL and the token request
(its transport here is aiohttp); joserfc checks the ID token's signature against the provider's
published keys (JWKS) and its claims (iss, aud, exp, iat, nonce).

The ID token names the person's unit and role in claims chosen in the settings. The unit must
exist here; the role must be one of ours. A person seen for the first time is added (their
identity is "<issuer> <sub>"; a person added on the CLI with the same name in that unit is
linked to it); each sign-in applies the role the provider names now. A person disabled here
stays disabled whatever the provider says."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from authlib.common.urls import url_decode
from authlib.oauth2.client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from preservation.access.auth import Principal, Role
from preservation.access.people import NAME, needs_second_factor
from preservation.errors import Forbidden, Unauthorized, Unavailable
from preservation.settings import Settings
from preservation.storage.models import Unit, User

#: amr values (RFC 8176) that show a second factor was used.
MFA_METHODS = frozenset({"mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina", "vbm"})
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
TIMEOUT = aiohttp.ClientTimeout(total=10)
#: How long the discovery document and keys are trusted before they are read again.
CACHE_SECONDS = 3600


class OidcError(Unauthorized):
    """Sign-in through the identity provider failed."""


@dataclass(frozen=True, kw_only=True)
class Pending:
    """What the browser carries (in a short-lived cookie) between leaving for the provider and
    coming back: the state (against login CSRF), the nonce (against ID token replay), the PKCE
    verifier (against a stolen code), and where to go afterwards."""

    state: str
    nonce: str
    verifier: str
    next: str

    def dump(self) -> str:
        return json.dumps(
            {"s": self.state, "n": self.nonce, "v": self.verifier, "x": self.next},
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, raw: str) -> Pending | None:
        try:
            data = json.loads(raw)
            return cls(state=data["s"], nonce=data["n"], verifier=data["v"], next=data["x"])
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True, kw_only=True)
class Identity:
    subject: str
    name: str
    display_name: str
    email: str
    unit: str
    role: str
    mfa: bool


class _Client(OAuth2Client):
    """authlib's OAuth 2 client with aiohttp as its transport (authlib ships requests and
    httpx transports; the service already speaks aiohttp)."""

    def __init__(self, http: aiohttp.ClientSession, **kwargs: Any):
        super().__init__(session=None, **kwargs)
        self.http = http

    async def _fetch_token(  # type: ignore[override]
        self, url: str, body: str = "", headers: Any = None, auth: Any = None, method: str = "POST"
    ) -> dict[str, Any]:
        url, headers, body = auth.prepare(method, url, dict(headers or {}), body)
        async with self.http.post(url, data=dict(url_decode(body)), headers=headers) as resp:
            try:
                token = await resp.json(content_type=None)
            except ValueError:
                token = None
        if not isinstance(token, dict):
            raise OidcError(f"the identity provider's token endpoint answered {resp.status}")
        if "error" in token:
            raise OidcError(f"the identity provider refused the code: {token['error']}")
        self.token = token
        return token


class OidcClient:
    """One per node: it keeps the provider's discovery document and keys for an hour, and reads
    the keys again at once when a token names a key it has not seen (key rotation)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._read_at = 0.0

    async def _get_json(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        try:
            async with http.get(url, headers={"Accept": "application/json"}) as resp:
                if resp.status != 200:
                    raise Unavailable(f"the identity provider answered {resp.status} for {url}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unavailable(f"the identity provider cannot be reached: {exc}") from None
        if not isinstance(data, dict):
            raise Unavailable(f"the identity provider's {url} is not a JSON object")
        return data

    async def metadata(self, http: aiohttp.ClientSession, *, refresh: bool = False) -> dict:
        fresh = time.monotonic() - self._read_at < CACHE_SECONDS
        if self._metadata is None or self._keys is None or refresh or not fresh:
            meta = await self._get_json(http, f"{self.issuer}/.well-known/openid-configuration")
            if meta.get("issuer", "").rstrip("/") != self.issuer:
                raise Unavailable("the identity provider's discovery document names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(meta.get(key), str):
                    raise Unavailable(f"the identity provider's discovery document lacks {key}")
            keys = await self._get_json(http, meta["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(keys)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError) as exc:
                raise Unavailable(f"the identity provider's keys cannot be read: {exc}") from None
            self._metadata = meta
            self._read_at = time.monotonic()
        return self._metadata

    def _client(self, http: aiohttp.ClientSession, redirect_uri: str) -> _Client:
        return _Client(
            http,
            client_id=self.settings.oidc_client_id,
            client_secret=self.settings.oidc_client_secret or None,
            scope=self.settings.oidc_scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    async def start(self, *, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        """The provider's authorization URL to send the browser to, and what to remember."""
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            meta = await self.metadata(http)
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next=next_path,
        )
        url, _ = self._client(None, redirect_uri).create_authorization_url(  # type: ignore[arg-type]
            meta["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
        )
        return url, pending

    async def finish(
        self, *, query: dict[str, str], pending: Pending, redirect_uri: str, now: datetime
    ) -> Identity:
        """Check the provider's answer, exchange the code, check the ID token; the identity."""
        if "error" in query:
            raise OidcError(f"the identity provider said: {query['error'][:100]}")
        if not secrets.compare_digest(query.get("state", ""), pending.state):
            raise OidcError("the sign-in did not start here (state mismatch): start again")
        code = query.get("code", "")
        if not code:
            raise OidcError("the identity provider sent no code")
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            meta = await self.metadata(http)
            client = self._client(http, redirect_uri)
            try:
                token = await client.fetch_token(
                    meta["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.verifier,
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise Unavailable(f"the identity provider cannot be reached: {exc}") from None
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise OidcError("the identity provider sent no ID token")
            claims = await self._verify(http, id_token, nonce=pending.nonce, now=now)
        return self.identity(claims)

    async def _verify(
        self, http: aiohttp.ClientSession, id_token: str, *, nonce: str, now: datetime
    ) -> dict[str, Any]:
        assert self._keys is not None
        try:
            decoded = jwt.decode(id_token, self._keys, algorithms=list(ALGORITHMS))
        except JoseError:
            # Perhaps the provider rotated its keys: read them again, once.
            await self.metadata(http, refresh=True)
            try:
                decoded = jwt.decode(id_token, self._keys, algorithms=list(ALGORITHMS))
            except JoseError as exc:
                raise OidcError(f"the ID token's signature does not verify: {exc}") from None
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=60,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.settings.oidc_client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise OidcError(f"the ID token is not valid here: {exc}") from None
        return decoded.claims

    def identity(self, claims: dict[str, Any]) -> Identity:
        """The person the claims name, in the settings' terms (unit, role, name)."""
        s = self.settings
        unit = claim(claims, s.oidc_unit_claim)
        if isinstance(unit, list) and len(unit) == 1:
            unit = unit[0]
        if not isinstance(unit, str) or not unit.strip():
            raise OidcError(f"the ID token has no unit (claim {s.oidc_unit_claim!r})")
        raw_role = claim(claims, s.oidc_role_claim)
        values = raw_role if isinstance(raw_role, list) else [raw_role]
        roles = sorted({v for v in values if isinstance(v, str) and v in Role.__members__})
        if len(roles) != 1:
            raise OidcError(
                f"the ID token must name exactly one role of {', '.join(Role)}"
                f" (claim {s.oidc_role_claim!r})"
            )
        name = claim(claims, s.oidc_name_claim)
        name = name.strip().lower() if isinstance(name, str) else ""
        amr = claims.get("amr")
        mfa = isinstance(amr, list) and any(m in MFA_METHODS for m in amr)
        return Identity(
            subject=f"{claims['iss']} {claims['sub']}",
            name=name if NAME.fullmatch(name) else "",
            display_name=str(claims.get("name") or "")[:200],
            email=str(claims.get("email") or "")[:320],
            unit=unit.strip(),
            role=roles[0],
            mfa=mfa,
        )


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or a nested one by a dotted name ("realm_access.roles")."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


async def person_for(
    session: AsyncSession, identity: Identity, *, require_mfa: bool, now: datetime
) -> Principal:
    """The person signing in (added on first sight); Forbidden when they may not."""
    if require_mfa and needs_second_factor(identity.role) and not identity.mfa:
        raise Forbidden(
            f"the {identity.role} role needs a second factor, and the identity provider does not"
            " say one was used (amr claim): sign in there with your second factor"
        )
    unit = (
        await session.execute(select(Unit).where(Unit.name == identity.unit))
    ).scalar_one_or_none()
    if unit is None:
        raise Forbidden(
            f"the unit {identity.unit!r} named by the identity provider is not known here"
        )
    user = (
        await session.execute(select(User).where(User.oidc_subject == identity.subject))
    ).scalar_one_or_none()
    if user is None and identity.name:
        user = (
            await session.execute(
                select(User).where(
                    User.unit_id == unit.id,
                    func.lower(User.name) == identity.name,
                    User.oidc_subject.is_(None),
                )
            )
        ).scalar_one_or_none()
    if user is None:
        taken = (
            identity.name
            and (await session.execute(select(User.id).where(User.login == identity.name))).first()
        )
        name = identity.name or f"sso-{secrets.token_hex(4)}"
        clash = (
            await session.execute(select(User.id).where(User.unit_id == unit.id, User.name == name))
        ).first()
        if clash:
            name = f"{name}-{secrets.token_hex(2)}"
        user = User(
            unit_id=unit.id,
            name=name,
            login=None if taken or not identity.name else identity.name,
            role=identity.role,
            created_at=now,
        )
        session.add(user)
    if user.disabled_at is not None:
        raise Forbidden("your account is disabled here: ask a supervisor")
    if user.unit_id != unit.id:
        raise Forbidden("the identity provider names another unit than the one you belong to here")
    user.oidc_subject = identity.subject
    user.role = identity.role
    if identity.display_name and not user.display_name:
        user.display_name = identity.display_name
    if identity.email and not user.email:
        user.email = identity.email
    user.failed_signins = 0
    await session.flush()
    assert user.id is not None and unit.id is not None
    return Principal(
        user_id=user.id, user_name=user.name, unit_id=unit.id, unit_name=unit.name, role=user.role
    )
