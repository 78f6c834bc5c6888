"""Issue 16: every instant is bounded (422 naming the field, never a 500 from datetime's
range), and what is easily misread is warned about: zone abbreviations, Etc/GMT+N, years
before 2000."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from preservation.domain.identifier_input import check_identifier
from preservation.domain.timing import resolve_local
from preservation.errors import InvalidInput

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "tz"),
    [
        ("0001-01-01T00:30:00+01:00", None),
        ("0001-01-01T00:30:00", "Europe/Berlin"),
        ("0001-01-01T00:30:00", "America/New_York"),
        ("0001-01-01T00:00:00Z", None),
        ("9999-12-31T23:59:59-05:00", None),
        ("1 Jan 0001 00:00 +0100", None),
        ("1899-12-31T23:59:59Z", None),
    ],
)
def test_instants_out_of_range_are_refused_naming_the_field(text: str, tz: str | None) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_local(text, tz, field="identifiers[0].at", now=NOW)
    assert info.value.field == "identifiers[0].at"
    assert "1900" in str(info.value)


def test_zone_abbreviations_are_warned_about() -> None:
    july = resolve_local("2026-07-01T12:00:00", "EST", field="at", now=NOW)
    assert july.utc == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
    (warning,) = july.warnings
    assert "EST" in warning and "America/New_York was on EDT (UTC-04:00)" in warning
    cet = resolve_local("2026-07-01T12:00:00", "CET", field="at", now=NOW)
    assert cet.warnings and "CEST (UTC+02:00)" in cet.warnings[0]
    assert (
        resolve_local("2026-07-01T12:00:00", "America/New_York", field="at", now=NOW).warnings == ()
    )


def test_etc_gmt_sign_inversion_is_warned_about() -> None:
    instant = resolve_local("2026-07-01T12:00:00", "Etc/GMT+3", field="at", now=NOW)
    assert instant.utc == datetime(2026, 7, 1, 15, 0, tzinfo=UTC)  # UTC-3, as POSIX says
    (warning,) = instant.warnings
    assert "UTC-03:00" in warning and "Etc/GMT-3" in warning
    assert resolve_local("2026-07-01T12:00:00", "Etc/GMT", field="at", now=NOW).warnings == ()


def test_implausible_years_are_warned_about() -> None:
    epoch = resolve_local("1970-01-01T00:00:00Z", None, field="identifiers[0].at", now=NOW)
    assert epoch.warnings and "Unix epoch" in epoch.warnings[0]
    assert epoch.warnings[0].startswith("at is in 1970")
    assert resolve_local("1999-06-01T00:00:00Z", None, field="at", now=NOW).warnings
    assert resolve_local("2004-06-01T00:00:00Z", None, field="at", now=NOW).warnings == ()


def test_identifier_warnings_name_what_to_check() -> None:
    rlo = check_identifier(
        {"type": "account", "platform": "instagram", "value": "moc.\u202elivE"}, index=0, now=NOW
    )
    assert any("RIGHT-TO-LEFT OVERRIDE" in w for w in rlo.warnings)
    cyrillic = check_identifier(
        {"type": "email", "value": "suspect@g\u043e\u043egle.com"}, index=0, now=NOW
    )
    assert any("Cyrillic and Latin" in w for w in cyrillic.warnings)
    url = check_identifier({"type": "url", "value": "https://\u0440aypal.com/x"}, index=0, now=NOW)
    assert any("look-alike" in w for w in url.warnings)
    zone = check_identifier(
        {"type": "ipv4", "value": "93.184.215.14", "port": 4444, "at": "2026-07-01T12:00:00",
         "tz": "EST"},
        index=0,
        now=NOW,
    )  # fmt: skip
    assert any(w.startswith("tz EST") for w in zone.warnings)
    plain = check_identifier({"type": "email", "value": "suspect@example.com"}, index=0, now=NOW)
    assert plain.warnings == ()


def test_identifier_values_follow_the_single_line_rule() -> None:
    for value in ("han\u2028dle", "han\x85dle", "handle\x9b"):
        with pytest.raises(InvalidInput) as info:
            check_identifier({"type": "account", "platform": "x", "value": value}, index=0, now=NOW)
        assert info.value.field == "identifiers[0].value"
