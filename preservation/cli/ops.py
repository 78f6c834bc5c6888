"""db backup, db check, token revoke, token list: operations.

`db backup FILE` copies a SQLite database while the service keeps writing, with SQLite's online
backup API: pages are copied in steps, and a writer may commit between two steps (then SQLite
restarts the copy from the new state). Should writers keep restarting it, the copy finishes in one
step: in WAL mode (which the service always uses) that step is one read transaction, and readers
never block writers. Either way the copy is one consistent state of the database that holds every
transaction committed before the backup began. It is written to FILE.partial, checked, then
renamed, so FILE is never a half-written copy. PostgreSQL: pg_dump and pg_restore (see
docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from preservation.settings import load_settings
from preservation.storage.files import private_file

#: Pages per step (4 MiB with SQLite's default 4 KiB pages).
STEP_PAGES = 1024
#: Restarts tolerated before the copy is finished in one step.
MAX_RESTARTS = 3
EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2
#: Tokens are found by their first characters (ApiToken.prefix).
TOKEN_PREFIX = 10

PG_BACKUP_HINT = (
    "this database is PostgreSQL: back it up with pg_dump and restore with pg_restore, e.g.\n"
    "  pg_dump --format=custom --file=preservation.dump 'postgresql://USER@HOST/DB'\n"
    "  pg_restore --clean --if-exists --no-owner --dbname='postgresql://USER@HOST/DB' "
    "preservation.dump\n"
    "(see docs/operations.md, 'Backup and restore')"
)


def register(sub: argparse._SubParsersAction) -> None:
    db = _subcommands(sub, "db", help="database maintenance")
    backup = db.add_parser(
        "backup", help="copy the SQLite database to FILE while the service keeps running"
    )
    backup.add_argument("file", metavar="FILE", help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.add_argument(
        "--step-pages",
        type=int,
        default=STEP_PAGES,
        help=f"pages copied per step (default {STEP_PAGES}); writers proceed between steps",
    )
    backup.add_argument("--json", action="store_true", help="machine-readable summary")
    backup.set_defaults(func=cmd_db_backup)

    check = db.add_parser(
        "check", help="run SQLite's integrity check on the database or on a backup file"
    )
    check.add_argument(
        "--file", metavar="FILE", help="a SQLite file to check (default: the configured database)"
    )
    check.set_defaults(func=cmd_db_check)

    token = _subcommands(sub, "token", help="bearer tokens")
    revoke = token.add_parser(
        "revoke", help="revoke a bearer token, given whole or by its first 10 characters"
    )
    revoke.add_argument("token", metavar="TOKEN_OR_PREFIX")
    revoke.set_defaults(func=cmd_token_revoke)
    listing = token.add_parser("list", help="list tokens by prefix (never the tokens themselves)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_token_list)


def _subcommands(sub: argparse._SubParsersAction, name: str, **kwargs: str):  # type: ignore[no-untyped-def]
    """The sub-command group `name` (made by another module, or here when it does not exist)."""
    parser = sub.choices.get(name)
    if parser is None:
        parser = sub.add_parser(name, **kwargs)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(
        dest=f"{name}_command", required=True, parser_class=sub._parser_class
    )


# -- backup -------------------------------------------------------------------------------------


class BackupError(Exception):
    """The backup could not be made."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, kw_only=True)
class BackupResult:
    source: str
    target: str
    pages: int
    bytes: int
    steps: int
    restarts: int
    one_step: bool
    seconds: float


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL (or an in-memory SQLite database)."""
    url = make_url(database_url)
    if not url.get_backend_name().startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class _Restarted(Exception):
    pass


def backup_sqlite(
    source: Path,
    target: Path,
    *,
    force: bool = False,
    step_pages: int = STEP_PAGES,
    max_restarts: int = MAX_RESTARTS,
    on_step: Callable[[int, int], None] | None = None,
) -> BackupResult:
    """Copy `source` to `target` with the online backup API (see the module's docstring).

    `on_step(remaining, total)` is called after each step (progress reports; tests write there)."""
    if step_pages < 1:
        raise BackupError("--step-pages must be at least 1", exit_code=EXIT_BAD_INPUT)
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    if target.exists() and not force:
        raise BackupError(
            f"{target} exists; give --force to overwrite it", exit_code=EXIT_BAD_INPUT
        )
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot overwrite the database itself", exit_code=2)
    if not target.parent.is_dir():
        raise BackupError(f"no directory {target.parent}", exit_code=EXIT_BAD_INPUT)
    partial = target.with_name(target.name + ".partial")
    for leftover in _with_sidecars(partial):
        leftover.unlink(missing_ok=True)
    started = time.monotonic()
    steps = restarts = 0
    one_step = False
    # mode=rw: never create an empty database where a path was mistyped.
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        # The copy holds everything the database does: readable by its owner only (0600).
        private_file(partial)
        dst = sqlite3.connect(partial)
        try:
            last_remaining: int | None = None

            def progress(_status: int, remaining: int, total: int) -> None:
                nonlocal steps, restarts, last_remaining
                steps += 1
                if last_remaining is not None and remaining > last_remaining:
                    # A writer committed between two steps: SQLite started the copy over.
                    restarts += 1
                    if restarts > max_restarts:
                        raise _Restarted
                last_remaining = remaining
                if on_step is not None:
                    on_step(remaining, total)

            try:
                src.backup(dst, pages=step_pages, progress=progress)
            except _Restarted:
                one_step = True
                src.backup(dst, pages=-1)
                steps += 1
            problems = _integrity(dst, quick=True)
            if problems:
                raise BackupError(f"the copy failed its check: {problems[0]}")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            # A self-contained file: no -wal or -shm beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        for leftover in _with_sidecars(partial):
            leftover.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from None
    except BaseException:
        for leftover in _with_sidecars(partial):
            leftover.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    _fsync(partial)
    os.replace(partial, target)
    _fsync_dir(target.parent)
    return BackupResult(
        source=str(source),
        target=str(target),
        pages=pages,
        bytes=target.stat().st_size,
        steps=steps,
        restarts=restarts,
        one_step=one_step,
        seconds=round(time.monotonic() - started, 3),
    )


def _with_sidecars(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _integrity(conn: sqlite3.Connection, *, quick: bool = False) -> list[str]:
    """The problems SQLite's integrity check reports (an empty list when the file is sound)."""
    pragma = "quick_check" if quick else "integrity_check"
    rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}").fetchall()]
    return [] if rows == ["ok"] else rows


def check_sqlite(path: Path) -> list[str]:
    if not path.is_file():
        raise BackupError(f"no database at {path}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        problems = _integrity(conn)
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        problems += [f"foreign key: table {r[0]} row {r[1]} -> {r[2]}" for r in fk]
        return problems
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()


# -- commands -----------------------------------------------------------------------------------


def cmd_db_backup(args: argparse.Namespace) -> int:
    settings = load_settings()
    source = sqlite_path(settings.database_url)
    if source is None:
        print(f"preservation: {PG_BACKUP_HINT}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        result = backup_sqlite(
            source, Path(args.file), force=args.force, step_pages=args.step_pages
        )
    except BackupError as exc:
        print(f"preservation: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        print(
            f"backed up {result.source} to {result.target}: {result.pages} pages, "
            f"{result.bytes} bytes in {result.seconds} s"
        )
    return EXIT_OK


async def _revoke(prefix: str) -> int:
    from preservation.access.auth import revoke_tokens
    from preservation.domain.clock import SystemClock
    from preservation.storage.db import Database

    db = Database(load_settings().database_url)
    try:
        async with db.write() as session:
            return await revoke_tokens(session, prefix=prefix, now=SystemClock().now())
    finally:
        await db.dispose()


def cmd_token_revoke(args: argparse.Namespace) -> int:
    prefix = args.token.strip()[:TOKEN_PREFIX]
    if len(prefix) < TOKEN_PREFIX:
        print(
            f"preservation: give the token or at least its first {TOKEN_PREFIX} characters",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    count = asyncio.run(_revoke(prefix))
    if count == 0:
        print(f"preservation: no token starts with {prefix}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"revoked {count} token(s) starting with {prefix}")
    return EXIT_OK


async def _tokens() -> list[dict[str, object]]:
    from sqlalchemy import select

    from preservation.storage.db import Database
    from preservation.storage.models import ApiToken, Unit, User

    db = Database(load_settings().database_url)
    try:
        async with db.read() as session:
            rows = await session.execute(
                select(
                    ApiToken.prefix,
                    Unit.name,
                    User.name,
                    User.role,
                    ApiToken.created_at,
                    ApiToken.revoked_at,
                )
                .join(User, User.id == ApiToken.user_id)
                .join(Unit, Unit.id == User.unit_id)
                .order_by(ApiToken.created_at, ApiToken.id)
            )
            return [
                {
                    "prefix": prefix,
                    "unit": unit,
                    "user": user,
                    "role": role,
                    "created_at": created.isoformat() if created else None,
                    "revoked_at": revoked.isoformat() if revoked else None,
                }
                for prefix, unit, user, role, created, revoked in rows
            ]
    finally:
        await db.dispose()


def cmd_token_list(args: argparse.Namespace) -> int:
    tokens = asyncio.run(_tokens())
    if args.json:
        print(json.dumps(tokens, indent=2))
        return EXIT_OK
    for t in tokens:
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
        print(f"{t['prefix']}  {t['unit']}  {t['user']} ({t['role']})  {t['created_at']}  {state}")
    return EXIT_OK


def cmd_db_check(args: argparse.Namespace) -> int:
    if args.file:
        path: Path | None = Path(args.file)
    else:
        path = sqlite_path(load_settings().database_url)
        if path is None:
            print(
                "preservation: db check runs SQLite's integrity check; for PostgreSQL use "
                "pg_amcheck (see docs/operations.md)",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
    try:
        problems = check_sqlite(path)
    except BackupError as exc:
        print(f"preservation: {exc}", file=sys.stderr)
        return exc.exit_code
    if problems:
        for line in problems[:50]:
            print(line)
        print(f"preservation: {path} failed the integrity check", file=sys.stderr)
        return EXIT_FAILURE
    print(f"{path}: ok")
    return EXIT_OK
