"""SQLite's writer connection, run on the event loop's own thread.

aiosqlite runs every operation in a worker thread and wakes the event loop for each result;
SQLAlchemy's adapter makes three or four such round trips per statement (open cursor, execute,
fetch, close), about 100 µs of CPU each on this machine (bench/bench_create.py and
docs/benchmarks.md). A write transaction here is a handful of small statements on indexed
rows, each a few tens of microseconds inside SQLite: the round trips cost ten times the work.

This module gives SQLAlchemy's aiosqlite dialect (through create_async_engine's documented
`async_creator`) a connection with aiosqlite's interface whose operations run inline. What
would block the event loop is kept out of it:

- Lock waits: the connection has no busy timeout. When another connection or process holds
  SQLite's write lock, the statement fails at once with SQLITE_BUSY (nothing applied), and is
  retried after an asyncio sleep, with back-off, until the configured timeout; then the error
  goes up as "database is locked" (503 Unavailable, as before).
- Long transactions: every YIELD_EVERY statements the writer lets the loop run other tasks
  (reads, health checks; other writers still wait for the writer lock).
- Checkpoints: the writer does not checkpoint on commit (`wal_autocheckpoint=0`, whose fsyncs
  would stall the loop); `Checkpointer` copies the WAL back into the database from a worker
  thread, through its own connection, after enough commits (PASSIVE: it never blocks writers).

Only the writer engine uses it (one transaction at a time: Database's writer lock); reads,
which may be large, stay on aiosqlite's threads."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

#: SQLite's primary result code for "another connection holds the lock".
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_FIRST_WAIT = 0.001
_MAX_WAIT = 0.05
#: A long transaction (a directory import) lets other tasks run every this many statements.
YIELD_EVERY = 64


def is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF) in _BUSY_CODES
    )


class _Immediate:
    """Stands in for aiosqlite's queue to its worker thread: runs the call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineCursor:
    """aiosqlite.Cursor's interface over a sqlite3 cursor, without the thread."""

    def __init__(self, connection: InlineConnection):
        self._connection = connection
        self._cursor = connection._conn.cursor()

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            await self._connection._retry(self._cursor.execute, sql)
        else:
            await self._connection._retry(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        rows = list(parameters)
        await self._connection._retry(self._cursor.executemany, sql, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """aiosqlite.Connection's interface (as SQLAlchemy's aiosqlite dialect uses it) over a
    sqlite3 connection used from the event loop's thread."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        busy_timeout: float,
        on_commit: Callable[[], None] | None = None,
    ):
        self._connection: sqlite3.Connection | None = conn
        self._tx = _Immediate()
        self._busy_timeout = busy_timeout
        self._on_commit = on_commit
        self._statements = 0

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    async def _retry(self, function: Callable[..., Any], *args: Any) -> Any:
        self._statements += 1
        if self._statements % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        deadline = None
        wait = _FIRST_WAIT
        while True:
            try:
                return function(*args)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + self._busy_timeout
                if now >= deadline:
                    raise
                await asyncio.sleep(min(wait, deadline - now))
                wait = min(wait * 2, _MAX_WAIT)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        cursor = InlineCursor(self)
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        await self._retry(self._conn.commit)
        if self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            conn.close()


def checkpoint(path: str) -> tuple[int, int, int]:
    """A PASSIVE checkpoint through a connection of its own (call from a worker thread):
    copies what it can from the WAL into the database without waiting for, or blocking, any
    reader or writer. Returns SQLite's (busy, log frames, checkpointed frames)."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return (int(row[0]), int(row[1]), int(row[2]))
    finally:
        conn.close()


class Checkpointer:
    """Runs a checkpoint in a worker thread after every `every` commits (one at a time), and a
    last one at close, so the WAL does not grow without bound while the writer itself never
    checkpoints."""

    def __init__(self, path: str, *, every: int = 100):
        self.path = path
        self.every = every
        self._commits = 0
        self._task: asyncio.Task[Any] | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits < self.every or self._task is not None:
            return
        self._commits = 0
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            await asyncio.to_thread(checkpoint, self.path)
        except sqlite3.Error:
            pass  # the next one will try again; SQLite keeps the WAL consistent meanwhile
        finally:
            self._task = None

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await asyncio.to_thread(checkpoint, self.path)
        except sqlite3.Error:
            pass


async def connect(
    path: str, *, busy_timeout: float, on_commit: Callable[[], None] | None = None
) -> InlineConnection:
    # timeout=0: a lock wait is never spent blocking the loop (see _retry).
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    return InlineConnection(conn, busy_timeout=busy_timeout, on_commit=on_commit)
