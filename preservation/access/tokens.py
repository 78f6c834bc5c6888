"""API tokens a person makes for their own programs (the profile page): each has a label and an
expiry, acts with its owner's role and unit, and is named in the audit trail by its owner."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from preservation.access import passwords
from preservation.access.auth import TOKEN_PREFIX, Principal, hash_token, new_token
from preservation.access.people import end_sessions
from preservation.errors import InvalidInput, NotFound
from preservation.storage.models import ApiToken, User


class TokenPublic(BaseModel):
    prefix: str
    label: str
    created_at: datetime | None
    expires_at: datetime | None
    #: active | expired | revoked
    state: str


def _public(row: ApiToken, now: datetime) -> TokenPublic:
    if row.revoked_at is not None:
        state = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        state = "expired"
    else:
        state = "active"
    return TokenPublic(
        prefix=row.prefix,
        label=row.label,
        created_at=row.created_at,
        expires_at=row.expires_at,
        state=state,
    )


async def own_tokens(session: AsyncSession, *, user_id: int, now: datetime) -> list[TokenPublic]:
    """The person's API tokens (not their page sessions, feeds or remembered browsers)."""
    rows = (
        (
            await session.execute(
                select(ApiToken)
                .where(
                    ApiToken.user_id == user_id,
                    ApiToken.prefix.startswith(TOKEN_PREFIX, autoescape=True),
                )
                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())  # type: ignore[union-attr]
            )
        )
        .scalars()
        .all()
    )
    return [_public(r, now) for r in rows]


async def create_own_token(
    session: AsyncSession,
    *,
    principal: Principal,
    label: str,
    days: int,
    max_days: int,
    now: datetime,
) -> str:
    """A new token of the person's own, shown once."""
    label = label.strip()
    if not label or len(label) > 200 or any(ord(c) < 32 for c in label):
        raise InvalidInput("label", "name the program that will use it (1 to 200 characters)")
    if not 1 <= days <= max_days:
        raise InvalidInput("days", f"must be between 1 and {max_days}")
    token = new_token()
    session.add(
        ApiToken(
            user_id=principal.user_id,
            token_hash=hash_token(token),
            prefix=token[:10],
            created_at=now,
            expires_at=now + timedelta(days=days),
            label=label,
        )
    )
    return token


async def revoke_own_token(
    session: AsyncSession, *, user_id: int, prefix: str, now: datetime
) -> None:
    row = (
        await session.execute(
            select(ApiToken).where(
                ApiToken.user_id == user_id,
                ApiToken.prefix == prefix,
                ApiToken.prefix.startswith(TOKEN_PREFIX, autoescape=True),
                ApiToken.revoked_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such token of yours")
    row.revoked_at = now


async def change_password(
    session: AsyncSession,
    *,
    user_id: int,
    current: str,
    new_hash: str,
    now: datetime,
) -> None:
    """Replace the password (the current one checked) and end every page session of the
    person, this one included."""
    user = await session.get(User, user_id)
    if user is None or not user.password_hash:
        raise InvalidInput("current", "this account has no password")
    if not await asyncio.to_thread(passwords.verify_password, user.password_hash, current):
        raise InvalidInput("current", "is not your current password")
    user.password_hash = new_hash
    user.password_changed_at = now
    await end_sessions(session, user_id=user_id, now=now)
