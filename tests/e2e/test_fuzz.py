"""Fuzz the live API from its own /openapi.json with schemathesis, on a bounded budget:
no 5xx, every answer of the declared status and media type (problem+json for every error),
every body matching its schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import Server, clean_env, run_cli

pytestmark = pytest.mark.e2e
ST = Path(sys.executable).parent / "st"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _token(role: str, env: dict[str, str], cwd: Path) -> str:
    made = run_cli(
        "token",
        "create",
        "--create-unit",
        "--unit",
        "Fuzz Unit",
        "--role",
        role,
        "--user",
        f"fuzz-{role}",
        "--json",
        env=env,
        cwd=cwd,
    )
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)["token"]


@pytest.mark.parametrize("role", ["officer", "admin", "directory"])
def test_fuzz_api(tmp_path: Path, role: str) -> None:
    env = clean_env(
        PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/fuzz.db",
        PRESERVATION_AUTH_FAILURES_PER_MINUTE="100000",
    )
    server = Server(env=env, cwd=tmp_path).start()
    try:
        token = _token(role, env, tmp_path)
        examples = os.environ.get("PRESERVATION_FUZZ_EXAMPLES", "25")
        result = subprocess.run(
            [
                str(ST),
                "run",
                f"{server.url}/openapi.json",
                "--url",
                server.url,
                "-H",
                f"Authorization: Bearer {token}",
                "--checks",
                CHECKS,
                "--max-examples",
                examples,
                "--seed",
                "20261124",
                "--workers",
                "2",
                "--generation-with-security-parameters",
                "false",
                "--request-timeout",
                "20",
                "--phases",
                "examples,coverage,fuzzing",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path / "report"),
                "--exclude-path-regex",
                "^/api/v1/directory/import$" if role == "officer" else "^$",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        server.stop()
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-20000:]
    assert "Traceback" not in server.log(), server.log()[-5000:]
