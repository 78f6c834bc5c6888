"""Cryptocurrency addresses: which chain an address belongs to, checked by its format and its
checksum (pure: no I/O). The checksums are iocsearcher's validators (MIT, imported on first use).

In a request a crypto address is `{"type": "crypto", "value": ADDRESS, "platform": CHAIN}`:
the chain travels where an account's platform does."""

from __future__ import annotations

import re

from preservation.domain.timing import sibling_field
from preservation.errors import InvalidInput

__all__ = ["CHAINS", "crypto_address", "crypto_chain"]

#: Chain -> the shape of its addresses. The checksums are iocsearcher's (MIT); the shapes are
#: anchored here so that a whole value, not a piece of text, is judged.
_CHAINS: dict[str, tuple[re.Pattern[str], str]] = {
    "bitcoin": (
        re.compile(
            r"^(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[pq][ac-hj-np-z02-9]{58}|"
            r"bc1q[ac-hj-np-z02-9]{38})$",
            re.IGNORECASE,
        ),
        "is_valid_bitcoin",
    ),
    "ethereum": (re.compile(r"^0x[a-fA-F0-9]{40}$"), "is_valid_ethereum"),
    "litecoin": (
        re.compile(r"^(?:[LM][1-9A-HJ-NP-Za-km-z]{26,33}|ltc1[ac-hj-np-z02-9]{39,59})$"),
        "is_valid_litecoin",
    ),
    "tron": (re.compile(r"^T[a-km-zA-HJ-NP-Z1-9]{33}$"), "is_valid_tron"),
    "monero": (
        re.compile(r"^(?:[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}|4[1-9A-HJ-NP-Za-km-z]{105})$"),
        "is_valid_monero",
    ),
    "dogecoin": (
        re.compile(r"^(?:[AD][5-9A-HJ-NP-U][1-9A-HJ-NP-Za-km-z]{32}|9[1-9A-HJ-NP-Za-km-z]{33})$"),
        "is_valid_dogecoin",
    ),
    "ripple": (re.compile(r"^r[1-9A-HJ-NP-Za-km-z]{24,34}$"), "is_valid_ripple"),
    "bitcoincash": (
        re.compile(r"^(?:bitcoincash:)?[pq][ac-hj-np-z02-9]{41}$"),
        "is_valid_bitcoincash",
    ),
    "dash": (re.compile(r"^[7X][1-9A-HJ-NP-Za-km-z]{33}$"), "is_valid_dashcoin"),
    "zcash": (re.compile(r"^t[13][1-9A-HJ-NP-Za-km-z]{33}$"), "is_valid_zcash"),
    "solana": (re.compile(r"^[1-9A-HJ-NP-Za-km-z]{43,44}$"), "is_valid_solana"),
}
CHAINS = tuple(_CHAINS)


def _chain_ok(chain: str, address: str) -> bool:
    pattern, check = _CHAINS[chain]
    if not pattern.match(address):
        return False
    from iocsearcher.searcher import Searcher  # imported on first use: a heavy import

    try:
        return bool(getattr(Searcher, check)(address.removeprefix("bitcoincash:")))
    except Exception:  # noqa: BLE001 - a checksum library's refusal is a "no"
        return False


def crypto_chain(address: str) -> str | None:
    """The chain whose address format and checksum `address` passes, or None. Solana's format
    (any 32-byte base58 key) is only tried when no other chain fits."""
    a = address.strip()
    if not 25 <= len(a) <= 120 or not a.isalnum() and not a.startswith("bitcoincash:"):
        return None
    for chain in CHAINS:
        if _chain_ok(chain, a):
            return chain
    return None


def crypto_address(v: str, *, field: str, chain: str | None) -> str:
    """The address as the letter shows it; InvalidInput naming `field` (or its sibling
    "platform", which carries the chain) when it is not an address of that chain. Without a
    chain, the one the address's format and checksum fit is taken."""
    name = chain
    if name is None:
        detected = crypto_chain(v)
        if detected is None:
            raise InvalidInput(
                sibling_field(field, "platform"),
                f"is required for a cryptocurrency address: its chain ({', '.join(CHAINS)})",
            )
        name = detected
    if name not in _CHAINS:
        raise InvalidInput(
            sibling_field(field, "platform"),
            f"unknown chain {name!r}; one of: {', '.join(CHAINS)}",
        )
    if not _chain_ok(name, v):
        raise InvalidInput(
            field, f"is not a valid {name} address (its format or checksum does not match)"
        )
    # Bech32 addresses are case-insensitive and written in lower case; base58 and EIP-55
    # (Ethereum's mixed-case checksum) are kept exactly as given.
    return v.lower() if v.lower().startswith(("bc1", "ltc1", "bitcoincash:")) else v
