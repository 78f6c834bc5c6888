"""The MLA request in a real browser (issue 18): Debian's headless Chromium, driven by
Playwright, against `preservation serve` in a subprocess.

Flow: a preservation request is on record; the officer opens its MLA request from the record's
documents, sees what is missing, completes it (a wrong currency first: the error names the
field), saves, sees nothing missing, downloads the Word draft in English and in German and
opens both with python-docx. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from docx import Document

from tests.e2e.helpers import Server, clean_env
from tests.e2e.test_browser import ARGS, CHROMIUM, SHOTS, _api, _token, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium (scripts/system-deps.sh installs it)",
    ),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("mla-browser")
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


def _docx_text(download) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(p.text for p in Document(download.path()).paragraphs)


def test_the_officer_completes_and_downloads_the_mla_request(browser, served) -> None:  # type: ignore[no-untyped-def]
    server, tokens = served
    made = _api(
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
            "data_categories": ["subscriber", "content"],
            "identifiers": [{"type": "email", "value": "suspect.example@gmail.com"}],
            "submit": True,
        },
    )
    page = sign_in(browser, server, tokens["supervisor"], accept_downloads=True)
    page.goto(f"{server.url}/requests/{made['id']}")
    documents = page.locator("#documents")
    assert "MLA request" in documents.inner_text()
    documents.get_by_role("link", name="Complete the MLA request").click()
    page.wait_for_url(f"**/requests/{made['id']}/mla-request")
    missing = page.locator("#missing").inner_text()
    assert "the requested authority (central authority)" in missing
    assert "the maximum penalty" in missing
    # The guidance: content asked, no statement of why it is evidence.
    assert "probable cause" in page.locator("#warnings").inner_text()
    page.screenshot(path=str(SHOTS / "30-mla-missing.png"), full_page=True)

    page.get_by_label("Requested authority").fill(
        "Office of International Affairs, U.S. Department of Justice, Washington, DC"
    )
    page.get_by_label("Treaty or arrangement").fill(
        "Treaty between Germany and the United States on Mutual Legal Assistance"
    )
    page.get_by_label("Requesting judicial authority").fill("Staatsanwaltschaft Berlin")
    page.get_by_label("Legal classification").fill("Computerbetrug, § 263a StGB")
    page.get_by_label("Maximum penalty").fill("5 years' imprisonment")
    page.get_by_label("Subscriber information: exactly what").fill("Name, recovery e-mail, phone")
    page.get_by_label("Content: exactly what").fill("E-mails sent 2026-11-01 to 2026-11-19")
    page.get_by_label("Why the content is evidence of the offence").fill(
        "The victims received the lure e-mails from this account."
    )
    page.get_by_label("Certification of the evidence").select_option("wanted")
    page.get_by_label("How it must be certified").fill("Certificate of authenticity.")
    page.get_by_label("Damage caused").fill("48000")
    page.get_by_label("Currency (ISO code)").fill("XX1")
    page.get_by_role("button", name="Save the MLA request").click()
    page.wait_for_load_state()
    assert "ISO 4217" in page.locator("#error-summary").inner_text()
    assert page.locator("#damages_currency").get_attribute("aria-invalid") == "true"
    # What was typed is still there.
    assert page.get_by_label("Maximum penalty").input_value() == "5 years' imprisonment"

    page.get_by_label("Currency (ISO code)").fill("USD")
    page.get_by_role("button", name="Save the MLA request").click()
    page.wait_for_url("**/mla-request?done=saved*")
    assert page.locator("#missing-none").is_visible()
    assert page.locator("#warnings").count() == 0
    page.frame_locator("iframe.letter").get_by_text("Office of International Affairs").wait_for()
    page.screenshot(path=str(SHOTS / "31-mla-complete.png"), full_page=True)

    # The Word draft, in English, then in German.
    with page.expect_download() as english:
        page.locator("#download-docx").click()
    assert english.value.suggested_filename.endswith("-en.docx")
    text = _docx_text(english.value)
    assert "REQUEST FOR MUTUAL LEGAL ASSISTANCE IN CRIMINAL MATTERS" in text
    assert "> Office of International Affairs, U.S. Department of Justice" in text
    assert "> Computerbetrug, § 263a StGB" in text and "48,000.00 USD" in text
    assert made["reference"] in text and "suspect.example@gmail.com" in text
    assert "to be completed" not in text
    page.get_by_label("Language").select_option("de")
    with page.expect_download() as german:
        page.get_by_role("button", name="Download Word").click()
    assert german.value.suggested_filename.endswith("-de.docx")
    text = _docx_text(german.value)
    assert "ERSUCHEN UM RECHTSHILFE IN STRAFSACHEN" in text
    assert "48.000,00 USD" in text
    assert "> Computerbetrug, § 263a StGB" in text  # the officer's words, as written
    assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
    page.context.close()
