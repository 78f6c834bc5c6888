"""Phone numbers written with 00 or the national trunk prefix, and crypto addresses with their
chain (domain/identifiers.py, domain/crypto.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from preservation.domain.identifier_input import check_identifier
from preservation.domain.identifiers import IdentifierType, detect_type, normalize
from preservation.errors import InvalidInput

NOW = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("0049 151 12345678", None, "+4915112345678"),
        ("004915112345678", None, "+4915112345678"),
        ("0033 6 12 34 56 78", None, "+33612345678"),
        ("0049 151 12345678", "DE", "+4915112345678"),
        ("0151 12345678", "DE", "+4915112345678"),
        ("011 49 151 12345678", "US", "+4915112345678"),
        ("0049 151 12345678", "US", "+4915112345678"),  # 00 still read as international
        ("+49 151 12345678", "FR", "+4915112345678"),
    ],
)
def test_phone_prefixes(text: str, region: str | None, expected: str) -> None:
    assert normalize("phone", text, field="v", region=region) == expected


def test_a_national_number_without_the_units_country_asks_for_it() -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize("phone", "0151 12345678", field="identifiers[0].value")
    assert "country code" in exc.value.errors[0].message


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        # 15 digits passing the Luhn test, but 00 is no IMEI's reporting body: a German mobile.
        ("0049 151 12345678", None, IdentifierType.PHONE),
        ("004915112345678", None, IdentifierType.PHONE),
        ("0151 12345678", "DE", IdentifierType.PHONE),
        ("490154203237518", None, IdentifierType.IMEI),
        ("suspect@gmail.com", None, IdentifierType.EMAIL),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", None, IdentifierType.CRYPTO),
        ("0x52908400098527886E0F7030069857D2E4169EE7", None, IdentifierType.CRYPTO),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", None, IdentifierType.CRYPTO),
    ],
)
def test_detect_type(text: str, region: str | None, expected: IdentifierType) -> None:
    assert detect_type(text, region=region) is expected


def test_a_request_reads_a_national_number_in_the_units_country() -> None:
    raw = {"type": "phone", "value": "0151 12345678"}
    assert check_identifier(raw, index=0, now=NOW, region="DE").normalized == "+4915112345678"
    with pytest.raises(InvalidInput):
        check_identifier(raw, index=0, now=NOW)


@pytest.mark.parametrize(
    ("address", "chain", "normalized"),
    [
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "bitcoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        (
            "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
            "bitcoin",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ),
        (
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "ethereum",
            "0x52908400098527886E0F7030069857D2E4169EE7",
        ),
        ("TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW", "tron", "TJCnKsPa7y5okkXvQAidZBzqx3QyQ6sxMW"),
    ],
)
def test_crypto_addresses(address: str, chain: str, normalized: str) -> None:
    parsed = check_identifier({"type": "crypto", "value": address}, index=0, now=NOW)
    assert (parsed.normalized, parsed.platform) == (normalized, chain)
    given = check_identifier(
        {"type": "crypto", "value": address, "platform": chain}, index=0, now=NOW
    )
    assert given.platform == chain


def test_a_crypto_address_of_another_chain_or_checksum_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_identifier(
            {
                "type": "crypto",
                "value": "0x52908400098527886E0F7030069857D2E4169EE7",
                "platform": "bitcoin",
            },
            index=0,
            now=NOW,
        )
    assert exc.value.errors[0].field == "identifiers[0].value"
    with pytest.raises(InvalidInput) as exc:
        check_identifier(
            {"type": "crypto", "value": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"}, index=0, now=NOW
        )
    assert exc.value.errors[0].field == "identifiers[0].platform"
    with pytest.raises(InvalidInput) as exc:
        check_identifier(
            {"type": "crypto", "value": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "platform": "doge"},
            index=0,
            now=NOW,
        )
    assert exc.value.errors[0].field == "identifiers[0].platform"
