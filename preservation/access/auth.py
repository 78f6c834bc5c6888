"""Units, users, roles and bearer tokens. Tokens are random, shown once, and stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from preservation.access.revocation import parent_is_live, revoke_opened_with
from preservation.errors import InvalidInput
from preservation.storage.models import ApiToken, Unit, User

TOKEN_PREFIX = "pdt_"


class Role(StrEnum):
    officer = "officer"  #: files and follows the unit's requests
    supervisor = "supervisor"  #: the same, plus oversight of the whole unit
    admin = "admin"  #: keeps the unit's users and settings true
    prosecutor = "prosecutor"  #: a judge or prosecutor: issues or validates the unit's EPOC-PRs
    #: the only role that changes the shared directory; granted on the command line only
    directory = "directory"


REQUEST_ROLES = frozenset({Role.officer, Role.supervisor, Role.prosecutor})
ALL_ROLES = frozenset(Role)


@dataclass(frozen=True, kw_only=True)
class Principal:
    user_id: int
    user_name: str
    unit_id: int
    unit_name: str
    role: str
    #: The bearer token (api_token id) the caller's credential was opened with: the token itself,
    #: or the parent of a page session or a feed (None for a session of a password sign-in).
    token_id: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.user_name}@{self.unit_name}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def ensure_user(
    session: AsyncSession, *, unit: str, user: str, role: str, now: datetime
) -> tuple[Unit, User]:
    """Find or create the unit and the user (the role of an existing user is updated)."""
    if role not in Role.__members__:
        raise InvalidInput("role", f"must be one of {', '.join(Role)}")
    unit = unit.strip()
    user = user.strip()
    if not unit or len(unit) > 200:
        raise InvalidInput("unit", "must be 1 to 200 characters")
    if not user or len(user) > 200:
        raise InvalidInput("user", "must be 1 to 200 characters")
    unit_row = (await session.execute(select(Unit).where(Unit.name == unit))).scalar_one_or_none()
    if unit_row is None:
        unit_row = Unit(name=unit, created_at=now)
        session.add(unit_row)
        await session.flush()
    user_row = (
        await session.execute(select(User).where(User.unit_id == unit_row.id, User.name == user))
    ).scalar_one_or_none()
    if user_row is None:
        user_row = User(unit_id=unit_row.id, name=user, role=role, created_at=now)
        session.add(user_row)
        await session.flush()
    elif user_row.role != role:
        user_row.role = role
    return unit_row, user_row


async def create_token(
    session: AsyncSession,
    *,
    unit: str,
    role: str,
    user: str | None,
    now: datetime,
    expires_at: datetime | None = None,
    label: str = "",
    kind: str = "person",
) -> str:
    """Create the unit and user where missing and return a new token (stored only as its hash).
    `kind` "integration" names a program rather than a person (the audit trail shows the name)."""
    _, user_row = await ensure_user(session, unit=unit, user=user or f"{role}", role=role, now=now)
    if user_row.disabled_at is not None:
        raise InvalidInput("user", "is disabled")
    if kind != "person":
        user_row.kind = kind
    token = new_token()
    session.add(
        ApiToken(
            user_id=user_row.id,
            token_hash=hash_token(token),
            prefix=token[:10],
            created_at=now,
            expires_at=expires_at,
            label=label,
        )
    )
    return token


async def principal_for_token(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> Principal | None:
    return await principal_for_hash(session, hash_token(token), now=now)


def live_credential(digest: str, now: datetime | None):  # type: ignore[no-untyped-def]
    """The conditions of a usable credential row: not revoked, not expired at `now` (when
    given), and its owner not disabled."""
    conditions = [
        ApiToken.token_hash == digest,
        ApiToken.revoked_at.is_(None),
        User.disabled_at.is_(None),
    ]
    if now is not None:
        conditions.append(or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
    return conditions


async def principal_for_hash(
    session: AsyncSession, digest: str, *, now: datetime | None = None
) -> Principal | None:
    """The owner of the live credential stored as `digest` (a token, or a feed: see access/feeds.py)."""
    row = (
        await session.execute(
            select(ApiToken, User, Unit)
            .join(User, User.id == ApiToken.user_id)
            .join(Unit, Unit.id == User.unit_id)
            .where(parent_is_live())
            .where(*live_credential(digest, now))
        )
    ).first()
    if row is None:
        return None
    tok, user, unit = row
    # The lookup is by hash already; compare again in constant time so no path leaks timing.
    if not hmac.compare_digest(tok.token_hash, digest):
        return None
    return Principal(
        user_id=user.id,
        user_name=user.name,
        unit_id=unit.id,
        unit_name=unit.name,
        role=user.role,
        token_id=tok.parent_id or tok.id,
    )


async def revoke_tokens(session: AsyncSession, *, prefix: str, now: datetime) -> int:
    rows = (
        (await session.execute(select(ApiToken).where(ApiToken.prefix == prefix))).scalars().all()
    )
    for row in rows:
        row.revoked_at = now
    # The page sessions and feeds opened with them end too (access/revocation.py).
    await revoke_opened_with(session, token_ids=[r.id for r in rows if r.id is not None], now=now)
    return len(rows)
