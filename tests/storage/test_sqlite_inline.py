"""SQLite's writer on the event loop's thread (preservation/storage/sqlite_inline.py): a lock held by
another connection is waited for without blocking the loop, a lock never released ends in 503
with nothing written, and the WAL is checkpointed although the writer never does it itself."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from preservation.errors import Unavailable
from preservation.storage import sqlite_inline
from preservation.storage.db import Database, upgrade_sync


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    path = tmp_path / "inline.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


async def _count(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(text("SELECT count(*) FROM reference_counter"))).scalar())


async def test_waits_for_another_connections_lock_without_blocking_the_loop(
    sqlite_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{sqlite_path}")
    other = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock

        async def write() -> None:
            async with db.write() as session:
                await session.execute(
                    text("INSERT INTO reference_counter (year, last) VALUES (1999, 7)")
                )

        task = asyncio.create_task(write())
        # The loop keeps running while the write waits: 20 ticks of 10 ms each take ~0.2 s.
        started = time.monotonic()
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 1.0
        assert not task.done()
        other.execute("COMMIT")
        await asyncio.wait_for(task, timeout=10)
        assert await _count(db) == 1
    finally:
        other.close()
        await db.dispose()


async def test_a_lock_never_released_gives_unavailable_and_writes_nothing(
    sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("preservation.storage.db.BUSY_TIMEOUT_SECONDS", 0.3)
    db = Database(f"sqlite+aiosqlite:///{sqlite_path}")
    other = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(Unavailable):
            async with db.write() as session:
                await session.execute(
                    text("INSERT INTO reference_counter (year, last) VALUES (1999, 7)")
                )
        assert 0.25 <= time.monotonic() - started < 5
        other.execute("ROLLBACK")
        assert await _count(db) == 0
    finally:
        other.close()
        await db.dispose()


def _rows_in_main_file(path: Path, tmp: Path) -> int:
    """Rows of reference_counter in the database file alone (what a checkpoint has copied
    there), read from a copy without the WAL."""
    copy = tmp / "main-only.db"
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM reference_counter").fetchone()[0])
    finally:
        conn.close()


async def test_the_writer_does_not_checkpoint_but_the_checkpointer_does(
    sqlite_path: Path, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{sqlite_path}")
    assert db._checkpointer is not None
    db._checkpointer.every = 20

    async def insert(year: int) -> None:
        async with db.write() as session:
            await session.execute(
                text("INSERT INTO reference_counter (year, last) VALUES (:y, 1)"), {"y": year}
            )

    try:
        for year in range(2000, 2019):  # 19 commits: all still in the WAL
            await insert(year)
        assert _rows_in_main_file(sqlite_path, tmp_path) == 0
        await insert(2019)  # the 20th: a checkpoint in a worker thread
        for _ in range(500):
            if db._checkpointer._task is None:
                break
            await asyncio.sleep(0.01)
        assert _rows_in_main_file(sqlite_path, tmp_path) == 20
        await insert(2020)
        assert _rows_in_main_file(sqlite_path, tmp_path) == 20
    finally:
        await db.dispose()  # a last checkpoint at close
    assert _rows_in_main_file(sqlite_path, tmp_path) == 21


def test_busy_is_told_from_other_errors() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            conn.execute("SELECT * FROM no_such_table")
        assert not sqlite_inline.is_busy(caught.value)
    finally:
        conn.close()


async def test_a_long_transaction_lets_other_tasks_run(sqlite_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{sqlite_path}")
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        async with db.write() as session:
            await session.execute(text("SELECT 1"))
            before = ticks
            for year in range(10 * sqlite_inline.YIELD_EVERY):
                await session.execute(
                    text("INSERT INTO reference_counter (year, last) VALUES (:y, 1)"), {"y": year}
                )
            during = ticks - before
        assert during >= 5, during
        assert await _count(db) == 10 * sqlite_inline.YIELD_EVERY
    finally:
        stop = True
        await task
        await db.dispose()
