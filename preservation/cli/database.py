"""Which database a command opens, said on every command, and never made by mistake.

A CLI run from another folder with the default ``sqlite+aiosqlite:///./preservation.db`` would
otherwise create an empty database there and print tokens that the server (reading its own
database) rejects. So every command that opens a database names it on standard error, and only
``serve`` and ``db upgrade`` may create one; the others refuse a SQLite file that does not exist.
(A PostgreSQL database is created by its administrator, never by the CLI.)"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from sqlalchemy.engine import make_url

from preservation.cli.ops import sqlite_path
from preservation.settings import load_settings

__all__ = ["MissingDatabase", "check_database", "describe"]


class MissingDatabase(Exception):
    """No database where the settings point."""


def describe(database_url: str) -> str:
    """The database as a person finds it: the SQLite file's absolute path, or the PostgreSQL
    URL without its password."""
    path = sqlite_path(database_url)
    if path is not None:
        return str(path.expanduser().resolve())
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is reported by the command itself
        return database_url


def check_database(
    args: argparse.Namespace, *, creates: set[Callable[..., object]], quiet: bool = False
) -> None:
    """Name the database of this command on stderr; refuse a missing SQLite file unless the
    command is one of `creates` (serve, db upgrade)."""
    url = load_settings().database_url
    path = sqlite_path(url)
    where = describe(url)
    if path is not None and getattr(args, "func", None) not in creates:
        if not path.expanduser().exists():
            raise MissingDatabase(
                f"no database at {where}: run `preservation db upgrade` to create it, or run "
                "this command from the folder that holds it (or set PRESERVATION_DATABASE_URL "
                "to it)"
            )
    if not quiet:
        print(f"preservation: database {where}", file=sys.stderr)
