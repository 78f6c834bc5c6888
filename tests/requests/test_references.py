"""Reference allocation PR-<year>-<6 digits>: unique and gap-free under concurrency, per year."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from preservation.requests.references import format_reference, next_reference
from preservation.storage.models import ReferenceCounter
from tests.conftest import T0


def test_format() -> None:
    assert format_reference(2026, 123) == "PR-2026-000123"
    assert format_reference(2027, 1_234_567) == "PR-2027-1234567"


async def test_sequence_per_year(db) -> None:  # type: ignore[no-untyped-def]
    async with db.write() as s:
        assert await next_reference(s, now=T0) == "PR-2026-000001"
        assert await next_reference(s, now=T0) == "PR-2026-000002"
    async with db.write() as s:
        assert await next_reference(s, now=datetime(2027, 1, 1, tzinfo=UTC)) == "PR-2027-000001"
        assert await next_reference(s, now=T0) == "PR-2026-000003"


async def test_rolled_back_allocation_leaves_no_trace(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError):
        async with db.write() as s:
            await next_reference(s, now=T0)
            raise RuntimeError("creation failed")
    async with db.read() as s:
        assert (await s.execute(select(ReferenceCounter))).scalars().all() == []
    async with db.write() as s:
        assert await next_reference(s, now=T0) == "PR-2026-000001"


async def test_fifty_parallel_allocations_are_unique(db) -> None:  # type: ignore[no-untyped-def]
    """50 concurrent transactions, each allocating one reference (PostgreSQL: real concurrency
    on 20 pooled connections; SQLite: the single writer)."""

    async def one() -> str:
        async with db.write() as s:
            ref = await next_reference(s, now=T0)
            # Hold the transaction open across an await so that others really overlap.
            await asyncio.sleep(0)
            return ref

    refs = await asyncio.gather(*(one() for _ in range(50)))
    assert len(set(refs)) == 50
    assert sorted(refs) == [format_reference(2026, n) for n in range(1, 51)]
