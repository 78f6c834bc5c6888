"""Calendar feed credentials: a calendar client subscribes to a URL and cannot send a bearer
token, so the deadlines feed has a URL of its own, /api/v1/feeds/<value>/deadlines.ics.

- The value is random (256 bits), shown once, and stored like every credential as a hash in
  ``api_token``, of ``"feed:" + value``: it opens the feed and nothing else (as a bearer token it
  matches no row), and a bearer token opens no feed.
- One feed per user: making a new one revokes the old (rotation); the user can revoke it, and
  ``preservation token revoke --prefix`` revokes it like any token.
- It does not expire (a subscription must keep working), and it reads only the deadlines of the
  user's unit: the same content as GET /api/v1/deadlines.ics with the user's token.
- The service logs routes, never paths: the value is not in its logs."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal, principal_for_hash
from preservation.storage.models import ApiToken

FEED_PREFIX = "pdf_"
#: Longest value looked up: anything longer is not ours.
MAX_VALUE = 100


def feed_path(value: str) -> str:
    """Where the feed of `value` is served, relative to the service."""
    return f"/api/v1/feeds/{value}/deadlines.ics"


def feed_hash(value: str) -> str:
    return hashlib.sha256(b"feed:" + value.encode("utf-8")).hexdigest()


def _users_feeds(user_id: int):  # type: ignore[no-untyped-def]
    return (
        ApiToken.user_id == user_id,
        ApiToken.prefix.startswith(FEED_PREFIX, autoescape=True),
        ApiToken.revoked_at.is_(None),
    )


async def revoke_feeds(session: AsyncSession, *, user_id: int, now: datetime) -> int:
    """Revoke the user's feed credentials; returns how many were live."""
    result = await session.execute(
        update(ApiToken)
        .where(*_users_feeds(user_id))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def create_feed(session: AsyncSession, *, principal: Principal, now: datetime) -> str:
    """A new feed credential for the user (the old one is revoked); the value is returned once."""
    await revoke_feeds(session, user_id=principal.user_id, now=now)
    value = FEED_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=principal.user_id,
            token_hash=feed_hash(value),
            prefix=value[:10],
            created_at=now,
            # Revoking the token it was made with ends it (access/revocation.py).
            parent_id=principal.token_id,
        )
    )
    return value


async def principal_for_feed(session: AsyncSession, value: str) -> Principal | None:
    """The owner of a live feed credential, or None."""
    if not value.startswith(FEED_PREFIX) or len(value) > MAX_VALUE:
        return None
    return await principal_for_hash(session, feed_hash(value))
