"""The README is complete on its own: in a fresh `git clone`, its walkthrough (the bash blocks
marked `<!-- walkthrough -->`) reaches a sent request and a mail in the local sink it starts.

The install block (`<!-- walkthrough: install -->`) is replaced by this test environment's
virtualenv (linked as the clone's `.venv`): installing from scratch is tests/e2e/test_install.py's
part, and needs the package index. The ports of the README (8080, 8025) are replaced by free
ones, so the test runs beside anything else on the machine."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import clean_env, free_port

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- walkthrough(?P<kind>: install)? -->\s*```bash\n(?P<code>.*?)```", re.S)


def walkthrough(readme: str) -> tuple[list[str], list[str]]:
    """(install blocks, walkthrough blocks), in the order of the README."""
    install, steps = [], []
    for m in BLOCK.finditer(readme):
        (install if m["kind"] else steps).append(m["code"])
    return install, steps


def test_the_readme_has_no_path_outside_the_repository_and_no_missing_file() -> None:
    readme = (REPO / "README.md").read_text()
    assert "../" not in readme and "shared/" not in readme
    for path in re.findall(
        r"`((?:docs|scripts|config|contacts|providers|tests)/[\w./-]+)`", readme
    ):
        assert (REPO / path).exists(), f"README names {path}, which is not in the repository"
    install, steps = walkthrough(readme)
    assert install and len(steps) >= 4
    # Every token a command uses is made in the walkthrough itself.
    script = "\n".join(steps)
    for variable in set(re.findall(r"\$(\w+)", script)):
        assert re.search(rf"^\s*{variable}=", script, re.M) or variable in {"!"}, variable


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs the git repository")
def test_a_fresh_clone_following_the_readme_sends_a_request(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", str(REPO), str(clone)], check=True, capture_output=True
    )
    install, steps = walkthrough((clone / "README.md").read_text())
    assert "pip install" in install[0]
    (clone / ".venv").symlink_to(Path(sys.prefix))

    web, smtp = free_port(), free_port()
    script = "set -euo pipefail\n" + "\n".join(steps)
    for old, new in (
        ("127.0.0.1:8080", f"127.0.0.1:{web}"),
        ("127.0.0.1:8025", f"127.0.0.1:{smtp}"),
        ("PRESERVATION_SMTP_PORT=8025", f"PRESERVATION_SMTP_PORT={smtp}"),
    ):
        assert old in script, old
        script = script.replace(old, new)
    # serve listens on the README's default port unless told: the free one, as any reader may.
    script = f"export PRESERVATION_PORT={web}\n" + script
    env = clean_env()
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the walkthrough did not finish:\n{out}\n{_logs(clone)}")
    finally:
        # The README stops what it started; a failed step may have left them running.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, f"{out}\n{_logs(clone)}"
    mail = (clone / "sent-mail.log").read_text()
    assert "Subject:" in mail and "poc-us@example.org" in mail, mail[-2000:]
    assert re.search(r"^Subject: .*PR-\d{4}-\d{6}", out, re.M), out
    assert f"preservation: database {clone / 'preservation.db'}" in out


def _logs(clone: Path) -> str:
    parts = []
    for name in ("serve.log", "sent-mail.log"):
        path = clone / name
        if path.exists():
            parts.append(f"--- {name}\n{path.read_text()[-3000:]}")
    return "\n".join(parts)
