"""Storage edge: the async engine, sessions, SQLite's single writer, and migrations.

SQLite: WAL, foreign keys on, a busy timeout, and write transactions opened with BEGIN IMMEDIATE
through one in-process writer lock (readers never wait). PostgreSQL: asyncpg, ordinary
transactions. A SQLite file and its side files are readable by their owner only
(storage/files.py). Driver errors are translated here: no IntegrityError or connection error
reaches a handler. The engines hide statement parameters (hide_parameters): a driver error that
does reach the error log carries the SQL, never the values (identifiers, case text)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from preservation.errors import Conflict, Unavailable
from preservation.storage import sqlite_inline
from preservation.storage.files import secure_sqlite

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
#: How long a SQLite write waits for another connection's lock before it gives up (503).
BUSY_TIMEOUT_SECONDS = 30


def _sqlite_engine(
    url: str, *, immediate: bool, checkpointer: sqlite_inline.Checkpointer | None = None
) -> AsyncEngine:
    """aiosqlite's threads for readers; for the writer (`checkpointer` given), a connection that
    runs on the event loop's thread (see sqlite_inline: no lock wait or checkpoint blocks it)."""
    kwargs: dict[str, Any] = {}
    if checkpointer is not None:
        path = checkpointer.path

        async def creator() -> sqlite_inline.InlineConnection:
            return await sqlite_inline.connect(
                path, busy_timeout=BUSY_TIMEOUT_SECONDS, on_commit=checkpointer.committed
            )

        kwargs["async_creator"] = creator
    else:
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_SECONDS}
    engine = create_async_engine(url, hide_parameters=True, **kwargs)
    inline = checkpointer is not None

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, issue BEGIN (see SQLAlchemy's pysqlite notes).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # The inline writer waits for locks itself, without blocking the loop, and leaves
        # checkpoints to its Checkpointer's thread.
        cursor.execute(f"PRAGMA busy_timeout={0 if inline else BUSY_TIMEOUT_SECONDS * 1000}")
        if inline:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """Owns the engines. `write()` for a transaction that changes data, `read()` for one that does not."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # Created 0600 before SQLite opens it; its -wal and -shm follow (storage/files.py).
            secure_sqlite(url)
            self._checkpointer: sqlite_inline.Checkpointer | None = sqlite_inline.Checkpointer(
                make_url(url).database or ":memory:"
            )
            self.engine = _sqlite_engine(url, immediate=True, checkpointer=self._checkpointer)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self._checkpointer = None
            self.engine = create_async_engine(
                url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True
            )
            self.read_engine = self.engine
        self._write_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        # One writer at a time in this process on SQLite: BEGIN IMMEDIATE would otherwise spin on
        # the busy timeout; across processes the busy timeout still applies.
        self._writer = asyncio.Lock() if self.is_sqlite else None
        #: Called once for each Unavailable raised (the metrics count database errors with it).
        self.on_error: Callable[[Exception], None] | None = None

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction that commits on success and rolls back on any error."""
        if self._writer is not None:
            async with self._writer:
                async with self._transaction(self._write_sessions) as session:
                    yield session
        else:
            async with self._transaction(self._write_sessions) as session:
                yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._transaction(self._read_sessions) as session:
            yield session

    @asynccontextmanager
    async def _transaction(
        self, factory: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[AsyncSession]:
        try:
            async with factory() as session, session.begin():
                yield session
        except IntegrityError as exc:
            log.info(
                "integrity error", extra={"action": "db.integrity", "constraint": _constraint(exc)}
            )
            raise Conflict("the change conflicts with existing data") from None
        except (OperationalError, DBAPIError, OSError, ConnectionError) as exc:
            if isinstance(exc, DBAPIError) and not _is_unavailable(exc):
                raise
            log.warning(
                "database unavailable",
                extra={"action": "db.unavailable", "error": type(exc).__name__},
            )
            if self.on_error is not None:
                self.on_error(exc)
            raise Unavailable(
                "the database is unavailable; nothing was written, try again"
            ) from None

    async def ping(self) -> bool:
        try:
            async with self.read_engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ok" for the health check
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        if self._checkpointer is not None:
            await self._checkpointer.close()


def _constraint(exc: IntegrityError) -> str:
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "constraint_name", "") or "")


def _is_unavailable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    message = str(exc.orig).lower() if exc.orig is not None else ""
    needles = (
        "connection",
        "could not connect",
        "server closed",
        "database is locked",
        "disk i/o",
        "database or disk is full",
        "unable to open",
        "terminating",
        "cannot connect",
        "too many clients",
    )
    return any(n in message for n in needles)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade_sync(url: str, revision: str = "heads") -> None:
    """Apply the migrations (runs its own event loop: call from a thread or the CLI)."""
    from alembic import command

    secure_sqlite(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "heads") -> None:
    await asyncio.to_thread(upgrade_sync, url, revision)
