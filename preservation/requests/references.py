"""Request references PR-<year>-<6 digits>, unique per deployment.

One atomic upsert on the `reference_counter` row of the year:
``INSERT ... VALUES (year, 1) ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last``.
On PostgreSQL the conflicting row is locked by the first writer until its transaction ends, so
concurrent creations queue on that row and each gets the next number (a rolled-back creation
gives its number back). On SQLite every write transaction is serialised (BEGIN IMMEDIATE).
A count-then-insert or a MAX(reference)+1 would hand out duplicates under concurrency."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.storage.models import ReferenceCounter

PREFIX = "PR"


def format_reference(year: int, number: int) -> str:
    """PR-2026-000123 (more than six digits once a year passes 999999 requests)."""
    return f"{PREFIX}-{year:04d}-{number:06d}"


def _upsert(insert):  # type: ignore[no-untyped-def]
    table = ReferenceCounter.__table__
    stmt = insert(table).values(year=bindparam("year"), last=1)
    return stmt.on_conflict_do_update(
        index_elements=["year"], set_={"last": table.c.last + 1}
    ).returning(table.c.last)


#: Built once per dialect (a statement built per call costs more than the upsert itself).
_UPSERT = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}


async def next_reference(session: AsyncSession, *, now: datetime) -> str:
    """Allocate the next reference of `now`'s UTC year, in the caller's transaction."""
    year = now.year
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    stmt = _UPSERT["postgresql" if dialect == "postgresql" else "sqlite"]
    number = (await session.execute(stmt, {"year": year})).scalar_one()
    return format_reference(year, int(number))
