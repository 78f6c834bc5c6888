"""Identifiers from pasted text (domain/extract.py): a corpus of the formats officers paste,
each with the identifiers, ports and instants expected, with and without a zone given."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from preservation.domain.extract import MAX_TEXT, extract
from preservation.errors import InvalidInput

CORPUS = Path(__file__).parent / "extract_corpus"
NOW = datetime(2027, 6, 1, tzinfo=UTC)

#: (file, tz given, [(line, type, normalized, platform/chain, port, at_utc, needs)]).
EXPECTED = [
    (
        "apache_combined.log",
        None,
        [
            (1, "ipv4", "203.0.113.7", None, None, "2026-11-20T13:03:11Z", ""),
            (
                1,
                "url",
                "https://shop.example.com/wp-login.php",
                None,
                None,
                "2026-11-20T13:03:11Z",
                "",
            ),
            (2, "ipv6", "2001:db8:85a3::8a2e:370:7334", None, None, "2026-11-20T13:05:42Z", ""),
            (3, "ipv4", "198.51.100.23", None, None, "2026-11-21T01:17:09Z", ""),
        ],
    ),
    (
        "apache_combined.log",
        "Europe/Berlin",
        [
            (1, "ipv4", "203.0.113.7", None, None, "2026-11-20T13:03:11Z", ""),
            (
                1,
                "url",
                "https://shop.example.com/wp-login.php",
                None,
                None,
                "2026-11-20T13:03:11Z",
                "",
            ),
            (2, "ipv6", "2001:db8:85a3::8a2e:370:7334", None, None, "2026-11-20T13:05:42Z", ""),
            (3, "ipv4", "198.51.100.23", None, None, "2026-11-21T01:17:09Z", ""),
        ],
    ),
    (
        "mail_headers.txt",
        None,
        [
            (1, "domain", "mail.example.net", None, None, "2026-11-20T13:03:11Z", ""),
            (1, "ipv4", "198.51.100.61", None, None, "2026-11-20T13:03:11Z", ""),
            (1, "domain", "mx.example.org", None, None, "2026-11-20T13:03:11Z", ""),
            (2, "email", "support@secure-login.example.com", None, None, None, ""),
            (3, "email", "collector@example.net", None, None, None, ""),
        ],
    ),
    (
        "mail_headers.txt",
        "Europe/Berlin",
        [
            (1, "domain", "mail.example.net", None, None, "2026-11-20T13:03:11Z", ""),
            (1, "ipv4", "198.51.100.61", None, None, "2026-11-20T13:03:11Z", ""),
            (1, "domain", "mx.example.org", None, None, "2026-11-20T13:03:11Z", ""),
            (2, "email", "support@secure-login.example.com", None, None, None, ""),
            (3, "email", "collector@example.net", None, None, None, ""),
        ],
    ),
    (
        "nginx_remote_port.log",
        None,
        [
            (2, "ipv4", "192.0.2.44", None, 51234, "2027-03-28T01:59:59Z", ""),
            (3, "ipv6", "2001:db8::42", None, 60123, "2027-03-28T02:00:05Z", ""),
        ],
    ),
    (
        "nginx_remote_port.log",
        "Europe/Berlin",
        [
            (2, "ipv4", "192.0.2.44", None, 51234, "2027-03-28T01:59:59Z", ""),
            (3, "ipv6", "2001:db8::42", None, 60123, "2027-03-28T02:00:05Z", ""),
        ],
    ),
    (
        "provider_return_local.csv",
        None,
        [
            (2, "phone", "+4915112345678", None, None, None, "tz"),
            (2, "ipv4", "198.51.100.77", None, 51999, None, "tz"),
            (3, "phone", "+4915112345678", None, None, None, "tz"),
            (3, "ipv4", "198.51.100.78", None, None, None, "tz"),
        ],
    ),
    (
        "provider_return_local.csv",
        "Europe/Berlin",
        [
            (2, "phone", "+4915112345678", None, None, "2026-11-20T13:03:11Z", ""),
            (2, "ipv4", "198.51.100.77", None, 51999, "2026-11-20T13:03:11Z", ""),
            (3, "phone", "+4915112345678", None, None, "2026-11-20T14:10:00Z", ""),
            (3, "ipv4", "198.51.100.78", None, None, "2026-11-20T14:10:00Z", ""),
        ],
    ),
    (
        "provider_return_utc.csv",
        None,
        [
            (2, "ipv4", "203.0.113.50", None, 40112, "2026-11-19T22:41:07Z", ""),
            (3, "ipv6", "2001:db8:1::5", None, None, "2026-11-20T06:02:55Z", ""),
        ],
    ),
    (
        "provider_return_utc.csv",
        "Europe/Berlin",
        [
            (2, "ipv4", "203.0.113.50", None, 40112, "2026-11-19T22:41:07Z", ""),
            (3, "ipv6", "2001:db8:1::5", None, None, "2026-11-20T06:02:55Z", ""),
        ],
    ),
    (
        "sshd_auth.log",
        None,
        [
            (1, "ipv4", "198.51.100.23", None, 51234, None, "year+tz"),
            (2, "ipv4", "198.51.100.23", None, 51240, "2026-11-20T13:03:15.512301Z", ""),
            (3, "ipv4", "198.51.100.23", None, 51240, "2026-11-20T13:09:02Z", ""),
        ],
    ),
    (
        "sshd_auth.log",
        "Europe/Berlin",
        [
            (1, "ipv4", "198.51.100.23", None, 51234, None, "year"),
            (2, "ipv4", "198.51.100.23", None, 51240, "2026-11-20T13:03:15.512301Z", ""),
            (3, "ipv4", "198.51.100.23", None, 51240, "2026-11-20T13:09:02Z", ""),
        ],
    ),
    (
        "telegram_chat.txt",
        None,
        [
            (1, "account", "crypto_king_77", "telegram", None, None, "tz"),
            (2, "crypto", "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW", "tron", None, None, "tz"),
            (
                2,
                "crypto",
                "0x52908400098527886E0F7030069857D2E4169EE7",
                "ethereum",
                None,
                None,
                "tz",
            ),
            (3, "url", "https://t.me/cryptokingsignals", None, None, None, "tz"),
            (3, "account", "cryptokingsignals", "telegram", None, None, "tz"),
        ],
    ),
    (
        "telegram_chat.txt",
        "Europe/Berlin",
        [
            (1, "account", "crypto_king_77", "telegram", None, "2026-11-20T20:14:03Z", ""),
            (
                2,
                "crypto",
                "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW",
                "tron",
                None,
                "2026-11-20T20:15:40Z",
                "",
            ),
            (
                2,
                "crypto",
                "0x52908400098527886E0F7030069857D2E4169EE7",
                "ethereum",
                None,
                "2026-11-20T20:15:40Z",
                "",
            ),
            (3, "url", "https://t.me/cryptokingsignals", None, None, "2026-11-20T20:16:12Z", ""),
            (3, "account", "cryptokingsignals", "telegram", None, "2026-11-20T20:16:12Z", ""),
        ],
    ),
    (
        "ufw_kernel.log",
        None,
        [
            (1, "ipv4", "203.0.113.99", None, 44321, "2026-11-20T13:03:11Z", ""),
            (1, "ipv4", "192.0.2.10", None, None, "2026-11-20T13:03:11Z", ""),
        ],
    ),
    (
        "ufw_kernel.log",
        "Europe/Berlin",
        [
            (1, "ipv4", "203.0.113.99", None, 44321, "2026-11-20T13:03:11Z", ""),
            (1, "ipv4", "192.0.2.10", None, None, "2026-11-20T13:03:11Z", ""),
        ],
    ),
    (
        "whatsapp_export.txt",
        None,
        [
            (
                1,
                "crypto",
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "bitcoin",
                None,
                None,
                "tz",
            ),
            (2, "phone", "+4915123456789", None, None, None, "tz"),
            (2, "url", "https://www.instagram.com/bad.guy_2026/", None, None, None, "tz"),
            (2, "account", "bad.guy_2026", "instagram", None, None, "tz"),
            (3, "email", "scammer.mail@gmail.com", None, None, None, "tz"),
        ],
    ),
    (
        "whatsapp_export.txt",
        "Europe/Berlin",
        [
            (
                1,
                "crypto",
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "bitcoin",
                None,
                "2026-11-20T20:14:00Z",
                "",
            ),
            (2, "phone", "+4915123456789", None, None, "2026-11-20T20:15:00Z", ""),
            (
                2,
                "url",
                "https://www.instagram.com/bad.guy_2026/",
                None,
                None,
                "2026-11-20T20:15:00Z",
                "",
            ),
            (2, "account", "bad.guy_2026", "instagram", None, "2026-11-20T20:15:00Z", ""),
            (3, "email", "scammer.mail@gmail.com", None, None, "2026-11-20T20:16:00Z", ""),
        ],
    ),
]


@pytest.mark.parametrize(("name", "tz", "expected"), EXPECTED, ids=lambda v: str(v)[:30])
def test_corpus(name: str, tz: str | None, expected: list[tuple[object, ...]]) -> None:
    items = extract((CORPUS / name).read_text(), tz=tz, now=NOW)
    got = [
        (i.line, i.type, i.normalized, i.platform, i.port, i.at_utc, "+".join(i.needs))
        for i in items
    ]
    assert got == expected


def test_every_corpus_file_is_expected() -> None:
    assert {p.name for p in CORPUS.iterdir()} == {name for name, _, _ in EXPECTED}


def test_the_zone_is_asked_never_guessed() -> None:
    [item] = extract("2026-11-20 14:03:11 login from 198.51.100.7:40000", tz=None, now=NOW)
    assert item.at == "2026-11-20 14:03:11"
    assert item.at_utc is None and item.tz is None and item.needs == ("tz",)
    [item] = extract(
        "2026-11-20 14:03:11 login from 198.51.100.7:40000", tz="Asia/Kolkata", now=NOW
    )
    assert item.at_utc == "2026-11-20T08:33:11Z"
    assert item.at_local == "2026-11-20T14:03:11+05:30"
    assert item.tz == "Asia/Kolkata"


def test_an_offset_in_the_text_wins_over_nothing_and_is_kept_as_the_zone() -> None:
    [item] = extract("2026-11-20T14:03:11-05:00 198.51.100.7", tz=None, now=NOW)
    assert (item.tz, item.at_utc, item.needs) == ("UTC-05:00", "2026-11-20T19:03:11Z", ("at",)[:0])


def test_an_unknown_zone_names_tz() -> None:
    with pytest.raises(InvalidInput) as exc:
        extract("198.51.100.7", tz="Mars/Olympus", now=NOW)
    assert exc.value.errors[0].field == "tz"


def test_a_time_that_happens_twice_needs_dst() -> None:
    [item] = extract("2026-10-25 02:30:00 198.51.100.7:1234", tz="Europe/Berlin", now=NOW)
    assert item.needs == ("dst",) and item.at_utc is None
    assert "happens twice" in item.warnings[-1]


def test_day_and_month_are_read_in_the_order_the_text_proves() -> None:
    text = "05/06/2026 10:00 198.51.100.7:1234\n"
    [alone] = extract(text, tz="UTC", now=NOW)
    assert alone.needs == ("day_first",) and alone.at_utc is None
    proved = extract(text + "25/06/2026 10:00 198.51.100.8:1234", tz="UTC", now=NOW)
    assert [i.at_utc for i in proved] == ["2026-06-05T10:00:00Z", "2026-06-25T10:00:00Z"]
    us = extract(text + "06/25/2026 10:00 198.51.100.8:1234", tz="UTC", now=NOW)
    assert us[0].at_utc == "2026-05-06T10:00:00Z"


def test_a_time_in_the_future_is_not_taken() -> None:
    [item] = extract("2031-01-01T00:00:00Z 198.51.100.7:1234", tz=None, now=NOW)
    assert item.at_utc is None
    assert any("future" in w for w in item.warnings)


def test_phone_numbers_international_and_national() -> None:
    [item] = extract("call 0049 151 12345678 now", tz=None, now=NOW)
    assert (item.type, item.normalized) == ("phone", "+4915112345678")
    assert extract("call 0151 12345678 now", tz=None, now=NOW) == []
    [item] = extract("call 0151 12345678 now", tz=None, now=NOW, region="DE")
    assert item.normalized == "+4915112345678"


def test_accounts_with_their_platform() -> None:
    items = extract("instagram:some.handle and @lonely_one", tz=None, now=NOW)
    assert [(i.type, i.normalized, i.platform, i.needs) for i in items] == [
        ("account", "some.handle", "instagram", ()),
        ("account", "lonely_one", None, ("platform",)),
    ]
    [item] = extract("kodex:agent7", tz=None, now=NOW, platforms=["kodex"])
    assert item.platform == "kodex"


def test_crypto_addresses_carry_their_chain_and_a_bad_checksum_is_dropped() -> None:
    good = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    bad = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"
    items = extract(f"{good} {bad}", tz=None, now=NOW)
    assert [(i.type, i.normalized, i.chain) for i in items] == [("crypto", good, "bitcoin")]
    assert items[0].as_public()["chain"] == "bitcoin"


def test_versions_and_loopback_are_not_addresses() -> None:
    text = '127.0.0.1 - - "Mozilla/5.0 Chrome/119.0.0.0 Safari/537.36" 10.0.0.5'
    items = extract(text, tz=None, now=NOW)
    assert [(i.normalized, bool(i.warnings)) for i in items] == [("10.0.0.5", True)]
    assert "private address" in items[0].warnings[0]


def test_each_item_names_its_line() -> None:
    items = extract("\n\nfirst a@example.com\nsecond b@example.com", tz=None, now=NOW)
    assert [(i.line, i.line_text) for i in items] == [
        (3, "first a@example.com"),
        (4, "second b@example.com"),
    ]


def test_too_much_text_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        extract("x" * (MAX_TEXT + 1), tz=None, now=NOW)
    assert exc.value.errors[0].field == "text"
