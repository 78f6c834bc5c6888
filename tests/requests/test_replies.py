"""Proposals read from replies (domain/replies.py with config/reply_patterns.toml): each sample
sender's reference and preservation date, read on the safe side; never our own reference; the
quoted letter below a reply is not read; a malformed patterns file is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from preservation.domain import replies
from preservation.errors import SettingsError
from preservation.settings import load_reply_patterns
from tests.reply_samples import ARRIVES, SAMPLES, SENT, Sample

PATTERNS = load_reply_patterns()


def propose(text: str, *, subject: str = "", sender: str = "example.org", **kw):  # type: ignore[no-untyped-def]
    return replies.propose(
        subject=subject,
        text=text,
        sender_domain=sender,
        patterns=PATTERNS,
        not_before=kw.pop("not_before", SENT),
        not_after=kw.pop("not_after", ARRIVES),
        exclude=kw.pop("exclude", ("PR-2026-000123", "CY-2026-0042")),
    )


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_each_sample_proposes_its_reference_and_date(sample: Sample) -> None:
    found = propose(sample.body, subject=sample.subject, sender=sample.sender.split("@")[1])
    assert found is not None
    assert found.provider_reference == sample.reference
    assert found.preserved_at == sample.preserved_at
    assert found.notes and found.patterns


def test_our_own_references_are_never_proposed() -> None:
    text = "Your reference: PR-2026-000123\nCase number: CY-2026-0042\nOur reference: 55-1234\n"
    found = propose(text)
    assert found is not None and found.provider_reference == "55-1234"
    assert propose("Reference: PR-2026-000123\n") is None


def test_the_quoted_letter_is_not_read() -> None:
    text = (
        "Received, thank you.\n\n"
        "On Tue, 17 Nov 2026 at 09:00, Cyber Unit wrote:\n"
        "> Preservation request PR-2026-000123\n"
        "> Reference: AB-99-1\n"
        "> preserved on 2026-11-18\n"
    )
    assert propose(text) is None
    assert propose("> Ticket number: 1234567\n") is None


def test_dates_are_read_on_the_safe_side() -> None:
    # A date without a zone: its earliest instant (UTC+14).
    found = propose("The data were preserved on 2026-11-19.")
    assert found is not None
    assert found.preserved_at == datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    assert any("UTC+14" in n for n in found.notes)
    # 05/06 read both ways: the earlier day.
    found = propose(
        "Data preserved on 05/06/2026.",
        not_before=datetime(2026, 1, 1, tzinfo=UTC),
        not_after=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert found is not None and found.preserved_at is not None
    # 6 May (not 5 June), at its earliest instant: 5 May, 10:00 UTC.
    assert found.preserved_at == datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
    assert any("earlier" in n for n in found.notes)
    # With an offset: exactly that instant.
    found = propose("Account preserved on 2026-11-19 10:00 +01:00.")
    assert found is not None
    assert found.preserved_at == datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_dates_outside_the_window_are_not_proposed() -> None:
    assert propose("Preserved on 2026-11-25.") is None  # after the reply arrived
    assert propose("Preserved on 2026-10-01.") is None  # before we asked
    # Just before the sending (the day's earliest reading): moved to the sending, and said so.
    found = propose("Preserved on 2026-11-17.")
    assert found is not None and found.preserved_at == SENT
    assert any("when the request was sent" in n for n in found.notes)


def test_provider_patterns_apply_to_their_senders_only() -> None:
    google = next(p for p in PATTERNS if p.key == "google-lers")
    assert google.applies_to("google.com") and google.applies_to("lers.google.com")
    assert not google.applies_to("notgoogle.com")
    assert not google.applies_to("google.com.evil.example")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[[pattern]]\nkey = "a"\nreference = "x(?P<ref>"\nbasis = "b"\n', "not a regular"),
        ('[[pattern]]\nkey = "a"\nreference = "(?P<other>x)"\nbasis = "b"\n', "group named"),
        ('[[pattern]]\nkey = "a"\nreference = "(?P<ref>x)"\n', "basis"),
        ('[[pattern]]\nkey = "a"\nbasis = "b"\n', "reference, preserved"),
        ('[[pattern]]\nkey = "a"\nreference = "(?P<ref>x)"\nbasis = "b"\nextra = 1\n', "unknown"),
    ],
)
def test_a_malformed_patterns_file_is_named(tmp_path, content: str, named: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "patterns.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=named):
        load_reply_patterns(path)


def test_proposal_json_round_trip() -> None:
    found = propose("Ticket number: 42-77\nPreserved on 2026-11-19 10:00 UTC")
    assert found is not None
    data = found.as_json()
    assert data["provider_reference"] == "42-77"
    assert datetime.fromisoformat(data["preserved_at"]) - datetime(
        2026, 11, 19, 10, tzinfo=UTC
    ) == timedelta(0)
