"""Emergency disclosure in a real browser (issue 20): Debian's headless Chromium, driven by
Playwright, against `preservation serve` in a subprocess with the demo directory.

Flow: a preservation request is running; the officer opens the emergency form from the
dashboard, forgets the direct line (the error names it), sends; the record says whom to call; the
dashboard lists the emergency first, above everything else; the record's button makes the
preservation request for the same identifiers. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.helpers import Server, clean_env
from tests.e2e.test_browser import ARGS, CHROMIUM, SHOTS, _api, _token, shot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium (scripts/system-deps.sh installs it)",
    ),
]

#: The demo directory's fictional US point of contact (contacts/data/demo_contacts.json).
US_POC_PHONE = "+12025550142"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("emergency-browser")
    env = clean_env(
        PRESERVATION_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/p.db",
        # Nobody listens there: the letters wait in the outbox, which changes nothing here.
        PRESERVATION_SMTP_HOST="127.0.0.1",
        PRESERVATION_SMTP_PORT="9",
    )
    server = Server(env=env, cwd=tmp).start()
    try:
        tokens = {"supervisor": _token(env, tmp, "supervisor", "sue")}
        _api(
            server,
            "PATCH",
            "/api/v1/unit",
            tokens["supervisor"],
            {
                "authority": "Cybercrime Unit, State Police",
                "email": "cyber-unit@police.example",
                "phone": "+49 30 12345678",
                "timezone": "Europe/Berlin",
                "country": "DE",
            },
        )
        yield server, tokens
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


def test_an_emergency_is_sent_called_and_listed_first(browser, served) -> None:  # type: ignore[no-untyped-def]
    server, tokens = served
    # A preservation request already running: the dashboard has more than the emergency.
    running = _api(
        server,
        "POST",
        "/api/v1/requests",
        tokens["supervisor"],
        {
            "case_reference": "CY-2026-0042",
            "offence": "Computer fraud",
            "summary": "Phishing e-mails sent from the account below.",
            "relevance": "The logins identify the sender.",
            "necessity": "The provider deletes inactive data.",
            "provider": "google",
            "identifiers": [{"type": "email", "value": "suspect.example@gmail.com"}],
            "submit": True,
        },
    )
    assert running["status"] == "queued"

    page = sign_in(browser, server, tokens["supervisor"])
    page.get_by_role("link", name="Emergency: a life at risk").click()
    page.wait_for_url("**/requests/emergency")
    page.get_by_label("Provider", exact=True).fill("google")
    page.get_by_label("The threat").fill(
        "A 15-year-old announced her suicide for tonight; she left home an hour ago."
    )
    page.get_by_label("Why it cannot wait").fill("She said she would act within hours.")
    page.get_by_label("Data needed").fill(
        "The IP addresses of the account's last logins, to locate her phone."
    )
    page.locator("#identifiers-0-type").select_option("email")
    page.locator("#identifiers-0-value").fill("girl.example@gmail.com")
    page.get_by_role("button", name="Send the emergency request now").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert "Your direct line" in summary.inner_text()
    assert page.locator("#emergency-callback_phone").get_attribute("aria-invalid") == "true"
    shot(page, "20-emergency-form-error")

    page.get_by_label("Your direct line").fill("+49 170 1234567")
    page.get_by_role("button", name="Send the emergency request now").click()
    page.wait_for_url("**/requests/*?done=submitted")
    record_url = page.url.split("?")[0]
    heading = page.locator("h1").inner_text()
    reference = heading.split()[0]
    assert "emergency" in heading
    call = page.locator(".call-now")
    assert US_POC_PHONE in call.inner_text()
    assert call.locator("a.call").get_attribute("href") == f"tel:{US_POC_PHONE}"
    page.frame_locator("iframe.letter").get_by_text(
        "Emergency disclosure request: danger of death or serious physical injury"
    ).wait_for()
    assert "+4917012345" in page.locator("#emergency").inner_text()
    shot(page, "21-emergency-record")

    # The dashboard: the emergency first, above everything else, with the number to call.
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(server.url + "/")
    first = page.locator("main section").first
    assert first.get_attribute("id") == "emergencies"
    assert reference in first.inner_text() and US_POC_PHONE in first.inner_text()
    assert running["reference"] not in first.inner_text()
    timeline = page.get_by_role("heading", name="What expires when", exact=False)
    assert first.bounding_box()["y"] < timeline.bounding_box()["y"]
    shot(page, "22-dashboard-emergency-first")

    # After the emergency: one click to the preservation request for the same identifiers.
    page.goto(record_url)
    page.get_by_role("button", name="Make the preservation request").click()
    page.wait_for_url("**/requests/new?draft=*")
    assert page.locator("#identifiers-0-value").input_value() == "girl.example@gmail.com"
    assert reference in page.get_by_label("Summary of the facts").input_value()
    shot(page, "23-emergency-follow-up-draft")
    page.goto(record_url)
    assert "Followed by the preservation request" in page.locator("#emergency").inner_text()

    # The provider answers: recorded, the emergency leaves the top of the dashboard.
    assert page.get_by_role("heading", name="Record the provider's answer").is_visible()
    page.get_by_label("Provider's reference").fill("EDR-2026-42")
    page.get_by_role("button", name="Record acknowledgement").click()
    page.wait_for_url("**?done=acknowledge")
    assert page.locator(".call-now").count() == 0
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(server.url + "/")
    assert page.locator("#emergencies").count() == 0
    assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
    page.context.close()
