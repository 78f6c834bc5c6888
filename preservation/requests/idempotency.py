"""Idempotency-Key: a repeat of a POST with the same key and body returns the first answer and
changes nothing; the same key with another body is refused (422 on "Idempotency-Key").

The record is written in the SAME transaction as the work it remembers, and it is inserted first:
  - PostgreSQL: a concurrent repeat blocks on the unique index (user_id, scope, key) until the
    first transaction ends, then fails with a unique violation; its transaction (and any work)
    is rolled back and it re-reads the first answer.
  - SQLite: write transactions are serialised (BEGIN IMMEDIATE), so the repeat sees the record.
A failed first attempt (an error answer) rolls back with its record: a repeat tries again."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.errors import Conflict, InvalidInput
from preservation.storage.db import Database
from preservation.storage.models import IdempotencyRecord

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

Work = Callable[[AsyncSession], Awaitable[tuple[Any, int]]]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    body: Any
    status: int
    #: True when this is a repeat answered from the record (nothing was done).
    replayed: bool


class _Raced(Exception):
    """Another transaction stored the same key first."""


def check_key(raw: str | None) -> str | None:
    """The header's value, or None when absent; 422 when malformed."""
    if raw is None:
        return None
    key = raw.strip()
    if not _KEY.match(key):
        raise InvalidInput(HEADER, "must be 1 to 200 visible ASCII characters")
    return key


def fingerprint(body: Any) -> str:
    """SHA-256 of the body as canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _replay_status(status: int) -> int:
    # A repeat of a creation did not create anything: 200, not 201.
    return 200 if status == 201 else status


async def _stored(
    session: AsyncSession, *, user_id: int, scope: str, key: str
) -> IdempotencyRecord | None:
    return (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
            )
        )
    ).scalar_one_or_none()


def _answer(record: IdempotencyRecord, print_: str) -> Outcome:
    if record.fingerprint != print_:
        raise InvalidInput(
            HEADER, "was already used with a different body; use a new key for a new request"
        )
    return Outcome(body=record.body, status=_replay_status(record.status_code), replayed=True)


async def run(
    db: Database,
    *,
    user_id: int,
    scope: str,
    key: str | None,
    body: Any,
    now: datetime,
    work: Work,
    _tries: int = 3,
) -> Outcome:
    """Run `work(session)` -> (JSON-able answer, status) in one write transaction, remembering the
    answer under `key` when one is given; a repeat returns the remembered answer instead."""
    if key is None:
        async with db.write() as session:
            answer, status = await work(session)
        return Outcome(body=answer, status=status, replayed=False)
    print_ = fingerprint(body)
    try:
        async with db.write() as session:
            existing = await _stored(session, user_id=user_id, scope=scope, key=key)
            if existing is not None:
                return _answer(existing, print_)
            record = IdempotencyRecord(
                user_id=user_id,
                scope=scope[:200],
                key=key,
                fingerprint=print_,
                status_code=0,
                body=None,
                created_at=now,
            )
            session.add(record)
            try:
                await session.flush()
            except IntegrityError:
                raise _Raced() from None
            answer, status = await work(session)
            record.status_code = status
            record.body = answer
    except _Raced:
        async with db.read() as session:
            existing = await _stored(session, user_id=user_id, scope=scope, key=key)
        if existing is None and _tries > 1:
            # The winner rolled back (its work failed): nothing is remembered, so try again.
            return await run(
                db,
                user_id=user_id,
                scope=scope,
                key=key,
                body=body,
                now=now,
                work=work,
                _tries=_tries - 1,
            )
        if existing is None:
            raise Conflict(
                "a concurrent request with the same Idempotency-Key failed; try again"
            ) from None
        return _answer(existing, print_)
    return Outcome(body=answer, status=status, replayed=False)
