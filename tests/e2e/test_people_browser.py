"""People in a real browser (Debian's headless Chromium, Playwright) against `preservation serve`:
enrolment from the link `preservation user add` prints (password, QR code, code, recovery
codes), sign-in with name, password and code (a wrong one first), the profile page's own token,
and single sign-on through an OpenID Connect provider on loopback (on "localhost", another site
than the service's 127.0.0.1, as a real provider is). Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from preservation.access import totp
from tests.access.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, ThreadedProvider
from tests.e2e.helpers import Server, clean_env, run_cli
from tests.e2e.test_browser import ARGS, CHROMIUM, SHOTS, shot, watch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium (scripts/system-deps.sh installs it)",
    ),
]
PASSWORD = "tram harbour violet seventeen"
UNIT = "Cyber Unit"


@pytest.fixture(scope="module")
def idp() -> Iterator[ThreadedProvider]:
    provider = Provider()
    threaded = ThreadedProvider(provider).start()
    provider.issuer = f"http://localhost:{threaded.port}"
    try:
        yield threaded
    finally:
        threaded.stop()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, idp: ThreadedProvider
) -> Iterator[tuple[Server, Path, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("people")
    env = clean_env(
        PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/p.db",
        PRESERVATION_SMTP_HOST="127.0.0.1",
        PRESERVATION_SMTP_PORT="9",
        PRESERVATION_OIDC_ISSUER=idp.provider.issuer,
        PRESERVATION_OIDC_CLIENT_ID=CLIENT_ID,
        PRESERVATION_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        PRESERVATION_OIDC_LABEL="the State Police sign-in",
    )
    server = Server(env=env, cwd=tmp).start()
    idp.provider.redirect_uris.add(f"{server.url}/signin/oidc/callback")
    try:
        yield server, tmp, server.env
    finally:
        code = server.stop()
        assert code == 0, server.log()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _code(secret: str, *, ahead: int = 0) -> str:
    return totp.code_at(secret, datetime.now(UTC) + timedelta(seconds=30 * ahead))


def test_enrolment_then_sign_in_with_the_second_factor(browser, served) -> None:  # type: ignore[no-untyped-def]
    server, tmp, env = served
    added = run_cli(
        "user",
        "add",
        "--unit",
        UNIT,
        "--user",
        "nina",
        "--role",
        "supervisor",
        "--display-name",
        "Nina Novak",
        "--function",
        "Detective Inspector",
        "--json",
        env=env,
        cwd=tmp,
    )
    assert added.returncode == 0, added.stderr
    link = json.loads(added.stdout)["enrolment_url"]
    assert link.startswith(server.url + "/enrol/pde_")

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    watch(page, errors)

    # Enrolment: password twice, the QR code, a wrong code first, then the right one.
    page.goto(link)
    assert page.get_by_role("heading", name="Set up your sign-in").is_visible()
    assert page.locator("figure.qr svg").is_visible()
    secret = page.locator("#totp-key").inner_text().replace(" ", "")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_label("The code the app shows now").fill(
        "000000" if _code(secret) != "000000" else "111111"
    )
    shot(page, "people-01-enrolment")
    page.get_by_role("button", name="Finish").click()
    page.wait_for_load_state()
    assert "does not match" in page.locator("#error-summary").inner_text()
    assert page.locator("#otp").get_attribute("aria-invalid") == "true"
    assert page.locator("#totp-key").inner_text().replace(" ", "") == secret
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_label("The code the app shows now").fill(_code(secret))
    page.get_by_role("button", name="Finish").click()
    page.wait_for_load_state()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    shot(page, "people-02-recovery-codes")
    page.get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/signin")

    # Sign-in: a wrong password, then name, password and the next code.
    page.get_by_label("Name", exact=True).fill("nina")
    page.get_by_label("Password", exact=True).fill("not the password at all")
    page.get_by_label("Code from your authenticator app").fill(_code(secret, ahead=1))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    assert "wrong" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Name", exact=True).input_value() == "nina"
    shot(page, "people-03-signin-refused")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(_code(secret, ahead=1))
    shot(page, "people-04-signin-filled")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(server.url + "/")
    assert "nina" in page.locator(".who").inner_text()
    names = {c["name"]: c for c in ctx.cookies()}
    assert names["pd_session"]["httpOnly"] and names["pd_session"]["sameSite"] == "Strict"
    assert names["pd_device"]["httpOnly"]

    # The profile: a token of her own, shown once.
    page.get_by_role("link", name="Profile").click()
    page.get_by_label("What will use it").fill("case system export")
    page.get_by_label("Valid for (days").fill("30")
    page.get_by_role("button", name="Make a token").click()
    page.wait_for_load_state()
    token = page.locator("#new-token-value").inner_text()
    assert token.startswith("pdt_")
    status, me = server.get_json("/api/v1/me", token)
    assert status == 200 and me["user"] == "nina" and me["role"] == "supervisor"
    shot(page, "people-05-profile")

    # The unit's people, as a supervisor sees them.
    page.get_by_role("link", name="People").click()
    assert "nina" in page.locator("#people").inner_text()
    shot(page, "people-06-people")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    assert errors == [], errors


def test_single_sign_on(browser, served, idp) -> None:  # type: ignore[no-untyped-def]
    server, tmp, env = served
    made = run_cli(
        "token",
        "create",
        "--create-unit",
        "--unit",
        UNIT,
        "--role",
        "officer",
        "--user",
        "x",
        env=env,
        cwd=tmp,
    )
    assert made.returncode == 0, made.stderr  # the unit exists
    idp.provider.claims = {
        "sub": "b7-41",
        "preferred_username": "omar",
        "name": "Omar Oliveira",
        "unit": UNIT,
        "role": "officer",
        "amr": ["pwd"],
    }
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    watch(page, errors)
    page.goto(server.url + "/requests")
    assert "/signin" in page.url
    shot(page, "people-07-signin-with-sso")
    page.get_by_role("link", name="Sign in with the State Police sign-in").click()
    page.wait_for_url(server.url + "/requests")
    assert "omar" in page.locator(".who").inner_text()
    assert "officer" in page.locator(".who").inner_text()
    shot(page, "people-08-after-sso")
    listed = run_cli("user", "list", "--json", env=env, cwd=tmp)
    people = {p["user"]: p for p in json.loads(listed.stdout)}
    assert people["omar"]["signs_in_with"] == "single sign-on" and people["omar"]["unit"] == UNIT
    assert errors == [], errors
