"""Issue 16 on the installed command: the files the service makes are its owner's alone (the
database with its WAL and shared-memory files, backups, exports), `serve` runs with umask 077,
and a client that sends its request headers too slowly is cut off."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.helpers import Server, clean_env, run_cli

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():  # type: ignore[no-untyped-def]
    """The usual umask of a login shell: files readable by everyone unless the service says so."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_files_are_private_and_slow_headers_are_cut_off(tmp_path, permissive_umask) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "p.db"
    env = clean_env(
        PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        PRESERVATION_HEADER_TIMEOUT_SECONDS="1",
    )
    server = Server(env=env, cwd=tmp_path).start()
    try:
        assert server.proc is not None
        status = Path(f"/proc/{server.proc.pid}/status").read_text()
        assert "Umask:\t0077" in status, status
        made = run_cli(
            "token", "create", "--create-unit", "--unit", "Cyber", "--role", "supervisor", "--user", "sam",
            "--json", env=env, cwd=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        token = json.loads(made.stdout)["token"]
        req = urllib.request.Request(
            server.url + "/api/v1/unit",
            data=json.dumps({"authority": "Cybercrime Unit"}).encode(),
            method="PATCH",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200
        except urllib.error.HTTPError as exc:
            raise AssertionError(exc.read()) from None
        for path in (db, db.with_name("p.db-wal"), db.with_name("p.db-shm")):
            assert path.exists() and mode(path) == 0o600, (path, oct(mode(path)))

        backup = run_cli("db", "backup", str(tmp_path / "copy.db"), env=env, cwd=tmp_path)
        assert backup.returncode == 0, backup.stderr
        assert mode(tmp_path / "copy.db") == 0o600
        out = tmp_path / "providers.csv"
        out.write_text("left over\n")  # an existing, world-readable file is narrowed too
        exported = run_cli(
            "directory",
            "export",
            "--kind",
            "providers",
            "--format",
            "csv",
            "--output",
            str(out),
            env=env,
            cwd=tmp_path,
        )
        assert exported.returncode == 0, exported.stderr
        assert mode(out) == 0o600

        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            started = time.monotonic()
            closed = False
            while time.monotonic() - started < 5:
                try:
                    sock.sendall(b"a")
                    sock.settimeout(0.2)
                    if sock.recv(1024) == b"":
                        closed = True
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                    break
            assert closed and time.monotonic() - started < 4
        status, _ = server.get_json("/healthz")
        assert status == 200
    finally:
        server.stop()
