"""What a bearer token opened dies with it.

Signing in to the pages with a token opens a page session, and a calendar feed URL can be made
with a token (or from a page session opened with one): both are rows of ``api_token`` whose
``parent_id`` is that bearer token. Revoking the token (``preservation token revoke``, or any
other path that sets its ``revoked_at``) ends them:

- at once, on every node, because a session or a feed is only live while its parent is
  (``parent_is_live``, part of every look-up of a session, a feed or a token);
- and for good, because revoking a token also marks its children revoked
  (``revoke_opened_with``), so a later un-revoke by hand does not bring them back.

Credentials without a parent (bearer tokens themselves; page sessions of a password sign-in;
sessions and feeds made before migration 0009_hardening) are not affected by this rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from preservation.storage.models import ApiToken


def parent_is_live() -> Any:
    """A condition on ``ApiToken``: the row has no parent, or its parent is not revoked."""
    parent = aliased(ApiToken)
    return ApiToken.parent_id.is_(None) | exists().where(
        parent.id == ApiToken.parent_id, parent.revoked_at.is_(None)
    )


async def revoke_opened_with(
    session: AsyncSession, *, token_ids: Sequence[int], now: datetime
) -> int:
    """Revoke the page sessions and feeds opened with the tokens `token_ids`; how many were live."""
    if not token_ids:
        return 0
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.parent_id.in_(list(token_ids)), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
