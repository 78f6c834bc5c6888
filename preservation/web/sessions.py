"""Browser sessions for the pages: sign-in with a bearer token, a session cookie, CSRF tokens.

Design (works with any number of nodes, needs no new table and no shared secret setting):

- Signing in with a valid bearer token creates a *session credential*: a new random value
  ("pds_..."), stored like every other credential as a hash in ``api_token`` for the same user,
  with its creation time. The cookie carries only that value. Any node can check it against the
  database; signing out revokes the row (``revoked_at``), so a copied cookie dies with it.
- The stored hash is SHA-256 of ``"session:" + value``, not of the value alone: a stolen cookie
  can never be used as a bearer token on the API (``principal_for_token`` hashes the bare value
  and finds nothing).
- A session lasts at most ``SESSION_HOURS`` from sign-in (checked on every request, and the
  cookie's Max-Age says the same), and ends after ``session_idle_minutes`` without a request
  (``last_used_at``, moved on at most once a minute). A password change, a reset and disabling
  the person revoke their sessions (access/people.py).
- The bearer token itself never reaches the cookie jar: it is a long-lived secret, the session
  value is short-lived and revocable.
- CSRF: every form carries HMAC-SHA256(session value, "csrf") (double submit tied to the
  session: an attacker can read neither the cookie nor compute the token), checked on every
  POST. The sign-in form, before any session exists, uses a random cookie and the same value
  in a hidden field. The cookies are also SameSite=Strict and HttpOnly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal, live_credential
from preservation.access.revocation import parent_is_live
from preservation.storage.models import ApiToken, Unit, User

SESSION_COOKIE = "pd_session"
SIGNIN_CSRF_COOKIE = "pd_signin"
SESSION_PREFIX = "pds_"
SESSION_HOURS = 12
#: Longest cookie value read: anything longer is not ours.
MAX_VALUE = 100


@dataclass(frozen=True, kw_only=True)
class WebSession:
    principal: Principal
    #: The cookie value (needed to derive the CSRF token; never logged).
    value: str
    expires_at: datetime
    #: The last request seen (the session's start until then).
    last_used_at: datetime | None = None

    @property
    def csrf(self) -> str:
        return csrf_token(self.value)


def session_hash(value: str) -> str:
    """What is stored for a session value: never equal to the hash of a bearer token."""
    return hashlib.sha256(b"session:" + value.encode("utf-8")).hexdigest()


def csrf_token(value: str) -> str:
    return hmac.new(value.encode("utf-8"), b"csrf", hashlib.sha256).hexdigest()


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def is_secure(request: web.Request) -> bool:
    """True when the browser talks TLS: directly, or to a proxy that says so."""
    if request.secure:
        return True
    return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"


def absolute_url(request: web.Request, path: str) -> str:
    """`path` on this service as the client reaches it (https behind a TLS proxy)."""
    scheme = "https" if is_secure(request) else request.scheme
    return f"{scheme}://{request.host}{path}"


def set_cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
    )


def clear_cookie(response: web.StreamResponse, request: web.Request, name: str) -> None:
    response.del_cookie(name, path="/", httponly=True, samesite="Strict", secure=is_secure(request))


async def start_session(
    db_session: AsyncSession, *, principal: Principal, now: datetime
) -> tuple[str, datetime]:
    """Create a session credential for `principal` (in the caller's transaction); the value is
    returned once. The user's expired and revoked sessions are removed on the way."""
    cutoff = now - timedelta(hours=SESSION_HOURS)
    await db_session.execute(
        delete(ApiToken).where(
            ApiToken.user_id == principal.user_id,
            ApiToken.prefix.startswith(SESSION_PREFIX, autoescape=True),
            (ApiToken.revoked_at.is_not(None)) | (ApiToken.created_at < cutoff),
        )
    )
    value = SESSION_PREFIX + secrets.token_urlsafe(32)
    db_session.add(
        ApiToken(
            user_id=principal.user_id,
            token_hash=session_hash(value),
            prefix=value[:10],
            created_at=now,
            # Revoking the token it was opened with ends it (access/revocation.py).
            parent_id=principal.token_id,
            last_used_at=now,
        )
    )
    return value, now + timedelta(hours=SESSION_HOURS)


#: How stale `last_used_at` may get before a request writes it again.
TOUCH_EVERY = timedelta(minutes=1)


async def touch_session(db_session: AsyncSession, *, value: str, now: datetime) -> None:
    """Record activity on the session (inactivity ends it)."""
    await db_session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == session_hash(value), ApiToken.revoked_at.is_(None))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


async def find_session(
    db_session: AsyncSession, *, value: str, now: datetime, idle: timedelta | None = None
) -> WebSession | None:
    """The live session of a cookie value, or None (unknown, revoked, expired, idle for longer
    than `idle`, or its person disabled)."""
    if not value.startswith(SESSION_PREFIX) or len(value) > MAX_VALUE:
        return None
    digest = session_hash(value)
    row = (
        await db_session.execute(
            select(ApiToken, User, Unit)
            .join(User, User.id == ApiToken.user_id)
            .join(Unit, Unit.id == User.unit_id)
            .where(parent_is_live())
            .where(*live_credential(digest, now))
        )
    ).first()
    if row is None:
        return None
    token, user, unit = row
    if not hmac.compare_digest(token.token_hash, digest):
        return None
    expires_at = token.created_at + timedelta(hours=SESSION_HOURS)
    if expires_at <= now:
        return None
    last_used = token.last_used_at or token.created_at
    if idle is not None and last_used + idle <= now:
        return None
    principal = Principal(
        user_id=user.id,
        user_name=user.name,
        unit_id=unit.id,
        unit_name=unit.name,
        role=user.role,
        token_id=token.parent_id,
    )
    return WebSession(
        principal=principal, value=value, expires_at=expires_at, last_used_at=last_used
    )


async def end_session(db_session: AsyncSession, *, value: str, now: datetime) -> bool:
    """Revoke the session of a cookie value; True when there was one."""
    if not value.startswith(SESSION_PREFIX) or len(value) > MAX_VALUE:
        return False
    row = (
        await db_session.execute(
            select(ApiToken).where(
                ApiToken.token_hash == session_hash(value), ApiToken.revoked_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    row.revoked_at = now
    return True
