"""The pages in a real browser: Debian's headless Chromium, driven by Playwright, against
`preservation serve` in a subprocess. Screenshots of each page go to artifacts/screenshots/.

Flow: sign in; create and submit a request whose time falls in the autumn clock change (see the
error, choose the reading); see it on the dashboard; record the acknowledgement and the MLA
request; find a provider in the directory by a typo; the directory role edits it; keyboard and 200%
zoom."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Server, clean_env, run_cli

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium (scripts/system-deps.sh installs it)",
    ),
]


def _token(env: dict[str, str], cwd: Path, role: str, user: str) -> str:
    made = run_cli(
        "token",
        "create",
        "--create-unit",
        "--unit",
        "Cyber Unit",
        "--role",
        role,
        "--user",
        user,
        "--json",
        env=env,
        cwd=cwd,
    )
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)["token"]


def _api(server: Server, method: str, path: str, token: str, body: dict) -> dict:
    req = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("browser")
    env = clean_env(
        PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/p.db",
        # Nobody listens there: e-mail deliveries fail and are retried, which the pages show.
        PRESERVATION_SMTP_HOST="127.0.0.1",
        PRESERVATION_SMTP_PORT="9",
    )
    server = Server(env=env, cwd=tmp).start()
    try:
        tokens = {
            "supervisor": _token(env, tmp, "supervisor", "sue"),
            "admin": _token(env, tmp, "admin", "ada"),
            "directory": _token(env, tmp, "directory", "dora"),
        }
        # The letter's contact details come from the unit profile (the checklist needs them).
        _api(
            server,
            "PATCH",
            "/api/v1/unit",
            tokens["supervisor"],
            {
                "authority": "Cybercrime Unit, State Police",
                "email": "cyber-unit@police.example",
                "phone": "+49 30 12345678",
                "country": "DE",
                "timezone": "Europe/Berlin",
            },
        )
        yield server, tokens
    finally:
        code = server.stop()
        assert code == 0, server.log()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    user_data = SHOTS.parent / "chromium-profile"
    shutil.rmtree(user_data, ignore_errors=True)
    with sync_playwright() as pw:
        # A fresh profile per run; launch_persistent_context would be the same with a context.
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module", autouse=True)
def shots_dir() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if page.locator("iframe.letter").count():
        page.frame_locator("iframe.letter").locator("h1").wait_for()
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def watch(page, errors: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Collect script errors, CSP refusals and failed sub-resources (a refused form's own 401
    or 422 page is expected and not collected)."""

    def console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def response(resp) -> None:  # type: ignore[no-untyped-def]
        if resp.request.resource_type != "document" and resp.status >= 400:
            errors.append(f"{resp.status} {resp.url}")

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", response)


def sign_in(browser, server: Server, token: str, **context):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    errors: list[str] = []
    watch(page, errors)
    page.goto(server.url + "/")
    assert page.url.endswith("/signin")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_load_state()
    page.console_errors = errors  # type: ignore[attr-defined]
    return page


def test_officer_flow(browser, served) -> None:  # type: ignore[no-untyped-def]
    server, tokens = served
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    console: list[str] = []
    watch(page, console)

    # Sign in (a wrong token first).
    page.goto(server.url + "/")
    assert page.url.endswith("/signin")
    page.get_by_label("Token").fill("pdt_wrong")
    page.get_by_role("button", name="Sign in with the token").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    shot(page, "01-signin-refused")
    page.get_by_label("Token").fill(tokens["supervisor"])
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_url(server.url + "/")
    cookie = next(c for c in ctx.cookies() if c["name"] == "pd_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert tokens["supervisor"] not in cookie["value"]
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    shot(page, "02-dashboard-empty")

    # New request: the live look-up names the provider as the identifier is typed.
    page.get_by_role("link", name="New request").click()
    page.get_by_label("Case reference").fill("CY-2026-0042")
    page.get_by_label("Offence").fill("Computer fraud (section 263a of the Criminal Code)")
    page.get_by_label("Summary of the facts").fill(
        "Phishing e-mails sent from the account below led to transfers of EUR 48,000."
    )
    page.get_by_label("Why the data are relevant").fill(
        "The subscriber data and logins identify the sender of the phishing e-mails."
    )
    page.get_by_label("Why the data must be preserved now").fill(
        "Google deletes the data of closed accounts; the suspect may close the account."
    )
    # The instrument is chosen by the service from the route and the unit's country.
    assert page.get_by_label("Legal instrument").input_value() == ""
    page.get_by_label("Provider", exact=True).fill("google")
    page.get_by_label("Urgent").check()
    page.get_by_label("Reason for urgency").fill("The account may be deleted tonight.")
    page.locator("#identifiers-0-type").select_option("email")
    page.locator("#identifiers-0-value").type("suspect.example@gmail.com", delay=10)
    lookup = page.locator("#identifiers-0-lookup")
    lookup.get_by_role("link", name="Google").wait_for(timeout=10_000)
    assert "Route" in lookup.inner_text() and "Country" in lookup.inner_text()
    # 02:30 on 25 October 2026 happens twice in Berlin (the clocks go back at 03:00).
    page.locator("#identifiers-0-at").fill("2026-10-25T02:30:00")
    page.locator("#identifiers-0-tz").fill("Europe/Berlin")
    shot(page, "03-new-request-filled")
    page.get_by_role("button", name="Submit the request").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert "happens twice" in summary.inner_text()
    assert page.locator("#identifiers-0-at").get_attribute("aria-invalid") == "true"
    assert "happens twice" in page.locator("#identifiers-0-at-error-1").inner_text()
    shot(page, "04-new-request-dst-error")

    # Fix it: the later reading (standard time, CET).
    choice = page.get_by_label("This local time falls in a daylight-saving change")
    options = choice.locator("option").all_inner_texts()
    assert any("Earlier" in o and "CEST" in o for o in options), options
    assert any("Later" in o and "CET" in o for o in options), options
    choice.select_option("false")
    page.get_by_role("button", name="Check (save the draft)").click()
    page.wait_for_load_state()
    assert "saved" in page.locator(".alert.ok").inner_text()
    checklist = page.locator(".checklist")
    assert "01:30:00 UTC" in checklist.inner_text()
    assert page.locator(".checklist-items li.missing").count() == 0
    shot(page, "05-new-request-checked")
    page.get_by_role("button", name="Submit the request").click()
    page.wait_for_url("**/requests/*?done=submitted")
    assert "queued" in page.locator("h1").inner_text()
    reference = page.locator("h1").inner_text().split()[0]
    assert reference.startswith("PR-2026-")
    record_url = page.url.split("?")[0]
    page.frame_locator("iframe.letter").get_by_text(
        "Request for the expedited preservation"
    ).wait_for()
    shot(page, "06-request-queued")

    # The dashboard lists it as awaiting acknowledgement.
    page.get_by_role("link", name="Dashboard").click()
    awaiting = page.locator(
        "section", has=page.get_by_role("heading", name="Awaiting acknowledgement")
    )
    assert reference in awaiting.inner_text()

    # Acknowledgement, then the MLA request.
    page.goto(record_url)
    page.get_by_label("Provider's reference").fill("GOOG-PRES-7781")
    page.get_by_role("button", name="Record acknowledgement").click()
    page.wait_for_url("**?done=acknowledge")
    assert "preserved" in page.locator("h1").inner_text()
    assert (
        "Expires" in page.locator("#plan-h + *").inner_text() or page.get_by_text("Expires").count()
    )
    shot(page, "07-request-preserved")

    page.get_by_role("link", name="Dashboard").click()
    bar = page.locator(f"svg.timeline a[href='{record_url.removeprefix(server.url)}']")
    assert bar.count() == 1
    assert "later" in bar.locator("rect").get_attribute("class")
    shot(page, "08-dashboard-timeline")
    # The bar is a link, reachable by keyboard.
    bar.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(record_url)

    page.get_by_label("MLA reference").fill("MLA-2026-113")
    page.get_by_role("button", name="Record MLA request").click()
    page.wait_for_url("**?done=mla")
    assert "mla sent" in page.locator("h1").inner_text()
    trail = page.locator("table.audit").inner_text()
    for action in ("create", "submit", "acknowledge", "mla"):
        assert action in trail
    shot(page, "09-request-mla-sent")

    # The directory: a typo finds the provider.
    page.get_by_role("link", name="Directory").click()
    page.get_by_label("Name, alias, domain or authority").fill("faceboo")
    page.get_by_role("button", name="Search").click()
    first = page.locator("table.providers tbody tr").first
    assert "Meta" in first.inner_text()
    shot(page, "10-directory-search")
    first.get_by_role("link").click()
    assert page.get_by_role("heading", name="Policy").is_visible()
    assert page.get_by_role("heading", name="Source").is_visible()
    assert page.get_by_role("heading", name="Edit (directory role)").count() == 0
    shot(page, "11-provider")

    # Keyboard: the first Tab reaches the skip link, which is then visible.
    page.goto(server.url + "/requests/new")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator("a.skip").bounding_box()["x"] >= 0

    # Sign out: the session is gone.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    page.goto(server.url + "/")
    assert page.url.endswith("/signin")
    assert console == [], console
    ctx.close()


def test_the_directory_role_edits_a_provider(browser, served) -> None:  # type: ignore[no-untyped-def]
    server, tokens = served
    page = sign_in(browser, server, tokens["directory"])
    assert page.url.endswith("/directory")
    page.goto(server.url + "/directory/providers/meta")
    page.get_by_label("Notes").fill("Checked by phone with the law-enforcement desk.")
    page.get_by_label("Preservation days").fill("0")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#preservation_days").get_attribute("aria-invalid") == "true"
    shot(page, "12-provider-edit-error")
    page.get_by_label("Preservation days").fill("90")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**?done=saved")
    assert "Checked by phone" in page.locator("dl.facts").inner_text()
    shot(page, "13-provider-saved")
    assert page.console_errors == []
    page.context.close()


def test_readable_at_200_percent(browser, served) -> None:  # type: ignore[no-untyped-def]
    """200% zoom of a 1280-pixel window is a 640-CSS-pixel viewport: no sideways scrolling."""
    server, tokens = served
    page = sign_in(browser, server, tokens["supervisor"])
    page.set_viewport_size({"width": 640, "height": 900})
    for path, name in (
        ("/", "14-zoom-dashboard"),
        ("/requests/new", "15-zoom-new-request"),
        ("/directory?q=goog", "16-zoom-directory"),
    ):
        page.goto(server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 640 px"
        shot(page, name)
    page.context.close()
