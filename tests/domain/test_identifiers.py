"""Typed identifiers: detection, validation, normalisation, and one API identifier object."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from preservation.domain.identifier_input import check_identifier
from preservation.domain.identifiers import (
    CGN_WARNING,
    IdentifierType,
    NormalizedIdentifier,
    detect_type,
    normalize,
    normalize_identifier,
)
from preservation.errors import AmbiguousLocalTime, InvalidInput

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
VALUE = "identifiers[0].value"
T = IdentifierType


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("suspect@example.com", T.EMAIL),
        ("John.Doe+tag@Example.COM", T.EMAIL),
        ("https://x.com/someone/status/1858000000000000000", T.URL),
        ("http://example.com", T.URL),
        ("www.example.com", T.URL),
        ("example.com/some/path", T.URL),
        ("example.com", T.DOMAIN),
        ("mail.bücher.de", T.DOMAIN),
        ("+49 30 901820", T.PHONE),
        ("+1 (650) 253-0000", T.PHONE),
        ("030-901820", T.PHONE),
        ("203.0.113.7", T.IPV4),
        ("::ffff:203.0.113.7", T.IPV4),
        ("2001:db8::1", T.IPV6),
        ("[2001:db8::1]", T.IPV6),
        ("@some.handle", T.ACCOUNT),
        ("@alice@mastodon.social", T.ACCOUNT),
        ("490154203237518", T.IMEI),
        ("49-015420-323751-8", T.IMEI),
        ("00:1A:2B:3C:4D:5E", T.MAC),
        ("00-1a-2b-3c-4d-5e", T.MAC),
        ("001a.2b3c.4d5e", T.MAC),
        ("001A2B3C4D5E", T.MAC),
        ("", None),
        ("   ", None),
        ("hello world", None),
        ("not an @ address", None),
        ("a@b", None),
        ("localhost", None),
        ("12345", None),
    ],
)
def test_detect_type(text: str, expected: IdentifierType | None) -> None:
    assert detect_type(text) == expected


# --- normalisation: valid ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (T.IPV4, "203.0.113.7", "203.0.113.7"),
        (T.IPV4, " 10.0.0.1 ", "10.0.0.1"),  # private: accepted; warnings are made elsewhere
        (T.IPV4, "::ffff:203.0.113.7", "203.0.113.7"),
        (T.IPV6, "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        (T.IPV6, "[2001:db8::1]", "2001:db8::1"),
        (T.IPV6, "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        (T.EMAIL, "John.Doe@EXAMPLE.com", "John.Doe@example.com"),  # local part kept
        (T.EMAIL, "x@Straße.de", "x@xn--strae-oqa.de"),  # IDNA 2008, not "strasse.de"
        (T.EMAIL, "Jürgen@example.com", "Jürgen@example.com"),
        (T.PHONE, "+49 30 901820", "+4930901820"),
        (T.PHONE, "+1 (650) 253-0000", "+16502530000"),
        (T.PHONE, "+44 20 7946 0958", "+442079460958"),
        (T.URL, "HTTPS://WWW.Example.COM/Path?q=A#frag", "https://www.example.com/Path?q=A#frag"),
        (T.URL, "https://example.com:443/x", "https://example.com/x"),
        (T.URL, "http://example.com:8080/x", "http://example.com:8080/x"),
        (T.URL, "http://[2001:DB8::1]/x", "http://[2001:db8::1]/x"),
        (T.URL, "https://münchen.de/a", "https://xn--mnchen-3ya.de/a"),
        (T.URL, "https://user@example.com/x", "https://user@example.com/x"),
        (T.DOMAIN, "Example.COM", "example.com"),
        (T.DOMAIN, "example.com.", "example.com"),
        (T.DOMAIN, "Straße.DE", "xn--strae-oqa.de"),
        (T.DOMAIN, "xn--strae-oqa.de", "xn--strae-oqa.de"),
        (T.DOMAIN, "_dmarc.example.com", "_dmarc.example.com"),
        (T.IMEI, "490154203237518", "490154203237518"),
        (T.IMEI, "49 015420 323751 8", "490154203237518"),
        (T.IMEI, "35-209900-176148-1", "352099001761481"),
        (T.MAC, "00:1A:2B:3C:4D:5E", "00:1a:2b:3c:4d:5e"),
        (T.MAC, "00-1a-2b-3c-4d-5e", "00:1a:2b:3c:4d:5e"),
        (T.MAC, "001A.2B3C.4D5E", "00:1a:2b:3c:4d:5e"),
        (T.MAC, "001a2b3c4d5e", "00:1a:2b:3c:4d:5e"),
        (T.ACCOUNT, "@Some.Handle", "Some.Handle"),
        (T.ACCOUNT, "some.handle", "some.handle"),
        (T.ACCOUNT, "1234567890", "1234567890"),  # numeric IDs kept as is
    ],
)
def test_normalize(kind: IdentifierType, value: str, expected: str) -> None:
    assert normalize(kind, value, field=VALUE, platform="instagram") == expected
    assert normalize(kind.value, value, field=VALUE, platform="instagram") == expected


def test_phone_with_region_hint() -> None:
    assert normalize("phone", "030 901820", field=VALUE, region="DE") == "+4930901820"


def test_url_without_scheme_gets_https_and_a_note() -> None:
    got = normalize_identifier("url", "www.example.com/x?y=1", field=VALUE)
    assert got.normalized == "https://www.example.com/x?y=1"
    assert got.notes == ("https:// was added (the URL had no scheme)",)
    assert normalize_identifier("url", "https://example.com", field=VALUE).notes == ()


def test_ipv4_mapped_address_noted() -> None:
    got = normalize_identifier("ipv4", "::ffff:203.0.113.7", field=VALUE, port=443)
    assert got.normalized == "203.0.113.7"
    assert "IPv4-mapped" in got.notes[0]
    assert got.warnings == ()


def test_normalize_identifier_result() -> None:
    got = normalize_identifier("account", "@Some.Handle", field=VALUE, platform=" Instagram ")
    assert got == NormalizedIdentifier(
        type=T.ACCOUNT, value="@Some.Handle", normalized="Some.Handle", platform="instagram"
    )
    ip = normalize_identifier("ipv4", "203.0.113.7", field=VALUE)
    assert ip.warnings == (CGN_WARNING,)
    assert "RFC 6302" in CGN_WARNING


# --- normalisation: invalid ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        (T.IPV4, "256.1.1.1", "not an IPv4 address"),
        (T.IPV4, "203.0.113", "not an IPv4 address"),
        (T.IPV4, "010.0.0.1", "not an IPv4 address"),  # leading zero: octal or decimal?
        (T.IPV4, "2001:db8::1", "not an IPv4 address"),
        (T.IPV6, "2001:db8::g", "not an IPv6 address"),
        (T.IPV6, "203.0.113.7", "not an IPv6 address"),
        (T.IPV6, "fe80::1%eth0", "zone index"),
        (T.EMAIL, "no-at-sign.example.com", "not a valid e-mail address"),
        (T.EMAIL, "a@b", "not a valid e-mail address"),
        (T.EMAIL, "a..b@example.com", "not a valid e-mail address"),
        (T.PHONE, "030 901820", "leading +"),
        (T.PHONE, "0049 123", "not a valid phone number"),  # 00 is read as +
        (T.PHONE, "+49 123", "not a valid phone number"),
        (T.PHONE, "+1 202 555 01", "not a possible phone number"),
        (T.PHONE, "+abc", "not a phone number"),
        (T.URL, "ftp://example.com/x", "only http and https"),
        (T.URL, "javascript:alert(1)", "is not a URL"),
        (T.URL, "https://exa mple.com", "contains spaces"),
        (T.URL, "https:///path", "no host name"),
        (T.URL, "https://example.com:99999/", "not a valid URL"),
        (T.URL, "https://-bad-.com/", "the URL's host"),
        (T.URL, "localhost/x", "is not a URL"),
        (T.DOMAIN, "com", "at least two labels"),
        (T.DOMAIN, "-a.com", "invalid label '-a'"),
        (T.DOMAIN, "a" * 64 + ".com", "1 to 63 characters"),
        (T.DOMAIN, "example.123", "top-level domain"),
        (T.DOMAIN, "exa mple.com", "not a domain name"),
        (T.DOMAIN, "user@example.com", "not a domain name"),
        (T.DOMAIN, "a..com", "empty label"),
        (T.DOMAIN, "xn--zz-zzzzzz.com", "not a valid domain name"),
        (T.DOMAIN, "ex\u2764ample.com", "not a valid domain name"),
        (T.IMEI, "49015420323751", "the Luhn check digit (for these 14 it would be 8"),
        (T.IMEI, "490154203237519", "should be 8, not 9"),
        (T.IMEI, "4901542032375180", "IMEISV"),
        (T.IMEI, "4901542032", "has 10 digits"),
        (T.IMEI, "49015420323751A", "digits only"),
        (T.MAC, "00:1A:2B:3C:4D", "not a MAC address"),
        (T.MAC, "00:1A:2B-3C:4D:5E", "not a MAC address"),
        (T.MAC, "00:1G:2B:3C:4D:5E", "not a MAC address"),
        (T.ACCOUNT, "@", "is empty"),
        (T.EMAIL, "   ", "is empty"),
        (T.EMAIL, "a\x00@example.com", "control"),
    ],
)
def test_normalize_refuses(kind: IdentifierType, value: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize(kind, value, field=VALUE, platform="instagram")
    assert exc.value.field == VALUE
    assert fragment in exc.value.errors[0].message
    assert exc.value.status == 422


def test_account_needs_platform() -> None:
    for platform in (None, "", "  "):
        with pytest.raises(InvalidInput) as exc:
            normalize("account", "some.handle", field=VALUE, platform=platform)
        assert exc.value.field == "identifiers[0].platform"


def test_unknown_type() -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize("fax", "123", field=VALUE)
    assert exc.value.field == "identifiers[0].type"
    assert "mac" in str(exc.value)


# --- one identifier of a request -----------------------------------------------------------------


def check(raw: dict[str, Any], index: int = 0) -> Any:
    return check_identifier(raw, index=index, now=NOW)


def fields(raw: dict[str, Any], index: int = 0) -> list[str]:
    with pytest.raises(InvalidInput) as exc:
        check(raw, index)
    return [e.field for e in exc.value.errors]


def test_api_example_ip() -> None:
    got = check(
        {
            "type": "ipv4",
            "value": "203.0.113.7",
            "port": 51234,
            "at": "2026-11-20T14:03:11",
            "tz": "Europe/Berlin",
        }
    )
    assert got.type is T.IPV4 and got.normalized == "203.0.113.7" and got.port == 51234
    assert got.at is not None and got.at.utc == datetime(2026, 11, 20, 13, 3, 11, tzinfo=UTC)
    assert got.warnings == ()
    public = got.as_public()
    assert public["at_utc"] == "2026-11-20T13:03:11Z"
    assert public["from_utc"] is None and public["to_utc"] is None
    assert public["tz"] == "Europe/Berlin"
    assert public["local"] == {
        "at": {
            "local": "2026-11-20T14:03:11+01:00",
            "given": "2026-11-20T14:03:11",
            "tz": "Europe/Berlin",
            "offset": "+01:00",
            "abbreviation": "CET",
            "text": "2026-11-20 14:03:11 CET (UTC+01:00), 2026-11-20 13:03:11 UTC",
        }
    }


def test_api_example_email_range() -> None:
    got = check(
        {
            "type": "email",
            "value": "suspect@example.com",
            "from": "2026-10-01T00:00",
            "to": "2026-11-20T23:59",
            "tz": "Europe/Berlin",
        },
        index=1,
    )
    public = got.as_public()
    assert public["from_utc"] == "2026-09-30T22:00:00Z"
    assert public["to_utc"] == "2026-11-20T22:59:00Z"
    assert public["local"]["from"]["abbreviation"] == "CEST"
    assert public["local"]["to"]["abbreviation"] == "CET"
    assert got.at is None


def test_api_example_account() -> None:
    got = check({"type": "account", "platform": "Instagram", "value": "@some.handle"}, index=2)
    assert (got.normalized, got.platform, got.at, got.tz) == (
        "some.handle",
        "instagram",
        None,
        None,
    )
    assert got.as_public()["local"] == {}


def test_ipv4_without_port_warns_ipv6_does_not() -> None:
    v4 = check({"type": "ipv4", "value": "203.0.113.7", "at": "2026-11-20T14:03:11Z"})
    assert v4.warnings == (CGN_WARNING,)
    assert v4.as_public()["warnings"] == [CGN_WARNING]
    v6 = check({"type": "ipv6", "value": "2001:db8::1", "at": "2026-11-20T14:03:11Z"})
    assert v6.warnings == ()


def test_ip_needs_an_instant_with_a_zone() -> None:
    assert fields({"type": "ipv4", "value": "203.0.113.7", "port": 1}) == ["identifiers[0].at"]
    assert fields({"type": "ipv6", "value": "2001:db8::1", "tz": "UTC"}, 4) == ["identifiers[4].at"]
    # A local time with no zone at all.
    assert fields({"type": "ipv4", "value": "203.0.113.7", "at": "2026-11-20T14:03"}) == [
        "identifiers[0].at"
    ]
    # A period will do, and an explicit offset stands in for the zone.
    got = check(
        {
            "type": "ipv4",
            "value": "203.0.113.7",
            "port": 1,
            "from": "2026-11-20T14:00+01:00",
            "to": "2026-11-20T15:00+01:00",
        }
    )
    assert got.from_ is not None and got.from_.tz == "UTC+01:00"


@pytest.mark.parametrize("port", [0, 65536, -1, "80", True, 1.5])
def test_port_range(port: Any) -> None:
    raw = {"type": "ipv4", "value": "203.0.113.7", "port": port, "at": "2026-11-20T14:03Z"}
    assert fields(raw) == ["identifiers[0].port"]


@pytest.mark.parametrize("port", [1, 65535])
def test_port_bounds_accepted(port: int) -> None:
    raw = {"type": "ipv6", "value": "2001:db8::1", "port": port, "at": "2026-11-20T14:03Z"}
    assert check(raw).port == port


def test_port_only_for_ip() -> None:
    assert fields({"type": "email", "value": "a@example.com", "port": 25}) == [
        "identifiers[0].port"
    ]


def test_times_optional_for_other_types_and_resolved_when_given() -> None:
    got = check(
        {"type": "phone", "value": "+49 30 901820", "at": "20.11.2026 14:03", "tz": "Europe/Berlin"}
    )
    assert got.normalized == "+4930901820"
    assert got.at is not None and got.at.utc == datetime(2026, 11, 20, 13, 3, tzinfo=UTC)


def test_ambiguous_time_raised_with_candidates_and_resolved_by_dst() -> None:
    raw = {
        "type": "ipv4",
        "value": "203.0.113.7",
        "port": 1,
        "at": "2026-10-25T02:30",
        "tz": "Europe/Berlin",
    }
    with pytest.raises(AmbiguousLocalTime) as exc:
        check(raw, 3)
    assert exc.value.field == "identifiers[3].at"
    assert exc.value.candidates == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]
    assert check({**raw, "dst": True}).as_public()["at_utc"] == "2026-10-25T00:30:00Z"
    assert check({**raw, "dst": False}).as_public()["at_utc"] == "2026-10-25T01:30:00Z"
    assert (
        check({**raw, "at": "2026-10-25T02:30+01:00"}).as_public()["at_utc"]
        == "2026-10-25T01:30:00Z"
    )


def test_dst_applies_to_the_ambiguous_end_of_a_range() -> None:
    raw = {
        "type": "email",
        "value": "a@example.com",
        "from": "2026-03-01T00:00",
        "to": "2026-03-29T02:30",
        "tz": "Europe/Berlin",
    }
    with pytest.raises(AmbiguousLocalTime) as exc:
        check(raw)
    assert exc.value.field == "identifiers[0].to"
    got = check({**raw, "dst": False})
    assert got.as_public()["to_utc"] == "2026-03-29T01:30:00Z"
    assert got.as_public()["from_utc"] == "2026-02-28T23:00:00Z"


def test_day_first_for_numeric_log_dates() -> None:
    raw = {"type": "email", "value": "a@example.com", "at": "05/06/2026 10:00", "tz": "UTC"}
    assert fields(raw) == ["identifiers[0].at"]
    assert check({**raw, "day_first": True}).at.utc == datetime(2026, 6, 5, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"type": "fax", "value": "1"}, ["identifiers[0].type"]),
        ({"value": "1"}, ["identifiers[0].type"]),
        ({"type": "email"}, ["identifiers[0].value"]),
        ({"type": "email", "value": 5}, ["identifiers[0].value"]),
        ({"type": "email", "value": "a@example.com", "colour": "red"}, ["identifiers[0].colour"]),
        ({"type": "account", "value": "x"}, ["identifiers[0].platform"]),
        ({"type": "account", "value": "x", "platform": 3}, ["identifiers[0].platform"]),
        (
            {"type": "email", "value": "a@example.com", "from": "2026-11-01T00:00Z"},
            ["identifiers[0].to"],
        ),
        (
            {"type": "email", "value": "a@example.com", "to": "2026-11-01T00:00Z"},
            ["identifiers[0].from"],
        ),
        (
            {
                "type": "email",
                "value": "a@example.com",
                "at": "2026-11-01T00:00Z",
                "from": "2026-10-01T00:00Z",
                "to": "2026-11-01T00:00Z",
            },
            ["identifiers[0].at"],
        ),
        (
            {
                "type": "email",
                "value": "a@example.com",
                "from": "2026-11-01T00:00Z",
                "to": "2026-11-01T00:00Z",
            },
            ["identifiers[0].to"],
        ),
        (
            {
                "type": "email",
                "value": "a@example.com",
                "from": "2026-11-02T00:00Z",
                "to": "2026-11-01T00:00Z",
            },
            ["identifiers[0].to"],
        ),
        (
            {"type": "email", "value": "a@example.com", "at": "2026-12-24T00:00Z"},
            ["identifiers[0].at"],
        ),
        ({"type": "email", "value": "a@example.com", "at": 20261120}, ["identifiers[0].at"]),
        (
            {
                "type": "email",
                "value": "a@example.com",
                "at": "2026-11-20T14:03",
                "tz": "Mars/Olympus",
            },
            ["identifiers[0].tz"],
        ),
        (
            {
                "type": "email",
                "value": "a@example.com",
                "at": "2026-11-20T14:03+02:00",
                "tz": "Europe/Berlin",
            },
            ["identifiers[0].at"],
        ),
        (
            {"type": "email", "value": "a@example.com", "at": "2026-11-20T14:03Z", "dst": "yes"},
            ["identifiers[0].dst"],
        ),
    ],
)
def test_field_names_in_errors(raw: dict[str, Any], expected: list[str]) -> None:
    assert fields(raw) == expected


def test_errors_are_collected() -> None:
    raw = {
        "type": "ipv4",
        "value": "999.1.1.1",
        "port": 0,
        "at": "2026-11-20T14:03",
        "tz": "Mars/Olympus",
    }
    assert fields(raw, 7) == ["identifiers[7].value", "identifiers[7].port", "identifiers[7].tz"]
    raw = {"type": "email", "value": "nope", "from": "2026-11-20", "to": "2027-01-01T00:00Z"}
    assert fields(raw) == ["identifiers[0].value", "identifiers[0].from", "identifiers[0].to"]


def test_ambiguous_among_other_errors_still_named() -> None:
    raw = {
        "type": "ipv4",
        "value": "999.1.1.1",
        "port": 1,
        "at": "2026-10-25T02:30",
        "tz": "Europe/Berlin",
    }
    with pytest.raises(InvalidInput) as exc:
        check(raw)
    assert [e.field for e in exc.value.errors] == ["identifiers[0].value", "identifiers[0].at"]
    assert "candidate instants: 2026-10-25T00:30:00+00:00, 2026-10-25T01:30:00+00:00" in str(
        exc.value
    )


def test_url_note_travels_with_the_identifier() -> None:
    got = check({"type": "url", "value": "www.example.com/p/abc"})
    assert got.normalized == "https://www.example.com/p/abc"
    assert got.as_public()["notes"] == ["https:// was added (the URL had no scheme)"]


@pytest.mark.parametrize(
    ("kind", "value", "normalized"),
    [
        ("email", "Suspect@Example.COM", "Suspect@example.com"),
        ("url", "https://X.com/someone", "https://x.com/someone"),
        ("domain", "Example.ORG", "example.org"),
        ("phone", "+1 202 555 0143", "+12025550143"),
        ("imei", "35-209900-176148-1", "352099001761481"),
        ("mac", "00-1A-2B-3C-4D-5E", "00:1a:2b:3c:4d:5e"),
        ("ipv6", "2001:DB8::0:1", "2001:db8::1"),
    ],
)
def test_check_identifier_each_type(kind: str, value: str, normalized: str) -> None:
    raw = {"type": kind, "value": value}
    if kind == "ipv6":
        raw["at"] = "2026-11-20T14:03:11Z"
    got = check(raw)
    assert (got.type.value, got.value, got.normalized) == (kind, value, normalized)
