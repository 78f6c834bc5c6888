"""From pasted log lines to a submitted request, in Debian's headless Chromium (Playwright)
against `preservation serve`, at 1280 px and at 390 px wide (a phone). Screenshots go to
artifacts/screenshots/paste-*.png; with UPDATE_SCREENSHOTS=1 also to
docs/screenshots/ (the ones checked in)."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Server, clean_env, run_cli

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
PASTE = """\
203.0.113.7 - - [19/Nov/2026:14:03:11 +0100] "POST /wp-login.php HTTP/1.1" 302 0 "-" "Mozilla/5.0"
Nov 19 09:15:02 web01 sshd[1234]: Failed password for root from 198.51.100.23 port 51234 ssh2
2026-11-19T21:14:40+01:00 web01 sshd[1301]: Accepted password for deploy from 198.51.100.23 port 51240 ssh2
19/11/2026, 21:15 - Victim: he wrote from scammer.mail@gmail.com, pay to bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not at /usr/bin/chromium"),
]


def _token(env: dict[str, str], cwd: Path, role: str, user: str) -> str:
    made = run_cli(
        "token", "create", "--create-unit", "--unit", "Cyber Unit", "--role", role,
        "--user", user, env=env, cwd=cwd,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("paste")
    env = clean_env(
        PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/p.db",
        PRESERVATION_SMTP_HOST="127.0.0.1",
        PRESERVATION_SMTP_PORT="9",
    )
    assert run_cli("db", "upgrade", env=env, cwd=tmp).returncode == 0
    server = Server(env=env, cwd=tmp).start()
    try:
        supervisor = _token(env, tmp, "supervisor", "sue")
        body = {
            "country": "DE",
            "authority": "Landeskriminalamt Berlin, Dezernat Cybercrime",
            "email": "cyber-unit@police.example",
            "phone": "+49 30 12345678",
            "timezone": "Europe/Berlin",
        }
        req = urllib.request.Request(
            server.url + "/api/v1/unit",
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Authorization": f"Bearer {supervisor}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=10).close()
        yield server, _token(env, tmp, "officer", "olga")
    finally:
        assert server.stop() == 0, server.log()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


@pytest.mark.parametrize("width", [1280, 390])
def test_from_pasted_text_to_a_submitted_request(browser, served, width: int) -> None:  # type: ignore[no-untyped-def]
    server, officer = served
    ctx = browser.new_context(viewport={"width": width, "height": 900 if width > 600 else 844})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.goto(server.url + "/signin")
    page.get_by_label("Token").fill(officer)
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_url(server.url + "/")

    page.goto(server.url + "/requests/new")
    page.get_by_label("Case reference").fill(f"CY-2026-{width}")
    page.get_by_label("Offence").fill("Computer fraud (section 263a of the Criminal Code)")
    page.get_by_label("Summary of the facts").fill("Break-ins into a web shop's accounts.")
    page.get_by_label("Why the data are relevant").fill("The connections identify the intruder.")
    page.locator("#necessity").fill(
        "Connection logs are kept for days only; without preservation they are lost."
    )
    page.locator("#country").fill("US")

    # A row left on "detect": typing an e-mail address is not read as an IPv4 address.
    assert page.locator("#identifiers-0-type").input_value() == ""
    page.locator("#identifiers-0-value").type("suspect.example@gmail.com", delay=5)
    lookup = page.locator("#identifiers-0-lookup")
    lookup.get_by_text("email", exact=False).first.wait_for(timeout=10_000)
    assert "IPv4" not in lookup.inner_text()
    page.wait_for_function(
        "document.querySelector('#identifiers-0-type').options[0].textContent === 'detect (email)'"
    )
    page.locator("#identifiers-0-value").fill("")

    # Paste, find, tick.
    page.locator("#paste_text").fill(PASTE)
    page.locator("#paste_tz").fill("Europe/Berlin")
    page.get_by_role("button", name="Find identifiers").click()
    found = page.locator("#found")
    found.wait_for()
    text = found.inner_text()
    assert "198.51.100.23" in text and "port 51234" in text and "needs: year" in text
    assert "bitcoin" in text and "scammer.mail@gmail.com" in text
    _shot(page, f"paste-found-{width}")

    # The sshd line with its full date and offset: resolved, and its port kept.
    row = found.locator("tr", has_text="Accepted password")
    row.locator("input[name=pick]").check()
    page.get_by_role("button", name="Add the ticked identifiers").click()
    page.wait_for_load_state()
    assert page.locator("#identifiers-0-value").input_value() == "198.51.100.23"
    assert page.locator("#identifiers-0-port").input_value() == "51240"
    assert page.locator("#identifiers-0-at").input_value() == "2026-11-19T21:14:40+01:00"
    _shot(page, f"paste-rows-{width}")

    page.get_by_role("button", name="Submit the request").click()
    page.wait_for_url("**/requests/*?done=submitted")
    ids = page.locator("section[aria-labelledby=ids-h]")
    assert "198.51.100.23" in ids.inner_text() and "source port 51240" in ids.inner_text()
    box, summary = ids.bounding_box(), page.locator("#sum-h").bounding_box()
    assert box is not None and summary is not None and box["y"] < summary["y"]
    _shot(page, f"paste-record-{width}")
    assert not errors, errors
    ctx.close()
