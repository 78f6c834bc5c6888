"""Files the service writes hold case data (identifiers, case text, the webhook secret): they
are made readable by their owner only (0600), whatever the umask of whoever started the command.

- The SQLite database is created 0600 before SQLite opens it; SQLite gives its ``-wal``,
  ``-shm`` and ``-journal`` files the database file's permissions. An existing database (and its
  side files) made with wider permissions is narrowed when it is opened.
- Backups and exports are created 0600 (``private_file``, ``write_private``).
- ``preservation serve`` also sets its umask to 077, so nothing else it creates is readable by
  other local users."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE = 0o600
UMASK = 0o077
SIDE_FILES = ("-wal", "-shm", "-journal")


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    url = make_url(database_url)
    if not url.get_backend_name().startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Path(url.database)


def tighten(path: Path) -> None:
    """Make an existing file of ours readable by its owner only (a no-op when it is already)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_mode & 0o077 and info.st_uid == os.getuid():
        os.chmod(path, (stat.S_IMODE(info.st_mode) & 0o700) | PRIVATE)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 where it does not exist; narrow it where it does."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        tighten(path)
        return
    os.close(fd)


def secure_sqlite(database_url: str) -> None:
    """The database file (created if missing) and its side files: 0600."""
    path = sqlite_file(database_url)
    if path is None or not path.parent.is_dir():
        return
    private_file(path)
    for suffix in SIDE_FILES:
        tighten(path.with_name(path.name + suffix))


def write_private(path: Path, content: str) -> None:
    """Write `content` (UTF-8) to `path`, a file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        tighten(path)  # it existed with wider permissions
        fh.write(content)


def set_private_umask() -> int:
    """For a long-running process (serve): files it creates from now on are 0600/0700."""
    return os.umask(UMASK)
