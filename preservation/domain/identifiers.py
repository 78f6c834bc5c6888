"""Typed identifiers: detect, validate, normalise (pure: no I/O, no DNS, no clock).

A normalised value is what the letter shows and what the directory looks up: a compressed IPv6
address, a lower-case IDNA domain, an E.164 phone number, a URL with a lower-case scheme and host.
The value as given is always kept beside it. Nothing here decides whether an address is worth
preserving (private ranges, shared hosting ...): such warnings are computed elsewhere; the one
warning made here is the missing source port of an IPv4 address, which the request cannot
do without (RFC 6302).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# idna (IDNA 2008 + UTS 46) is a dependency of email-validator: the stdlib codec is IDNA 2003,
# which turns "straße.de" into "strasse.de", another registrant's domain.
import idna
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from preservation.domain.crypto import CHAINS, crypto_address, crypto_chain
from preservation.domain.text import control_problem
from preservation.domain.timing import (
    LocalInstant,
    sibling_field,
)
from preservation.errors import InvalidInput

__all__ = [
    "CGN_WARNING",
    "IdentifierType",
    "NormalizedIdentifier",
    "ParsedIdentifier",
    "CHAINS",
    "crypto_chain",
    "detect_type",
    "normalize",
    "normalize_identifier",
]


class IdentifierType(StrEnum):
    #: An e-mail address: local part kept as given, domain lower-case IDNA.
    EMAIL = "email"
    #: An http(s) URL: a profile, a post, a shared link.
    URL = "url"
    #: A domain name.
    DOMAIN = "domain"
    #: A phone number, E.164.
    PHONE = "phone"
    #: An IPv4 address (needs the instant, and should have the source port).
    IPV4 = "ipv4"
    #: An IPv6 address (needs the instant).
    IPV6 = "ipv6"
    #: An account on a platform: a handle or a numeric user ID.
    ACCOUNT = "account"
    #: A device IMEI: 15 digits, the last a Luhn check digit.
    IMEI = "imei"
    #: A MAC address (listed by the EU preservation form).
    MAC = "mac"
    #: A cryptocurrency address; its chain (bitcoin, ethereum ...) travels as the platform.
    CRYPTO = "crypto"


IP_TYPES = frozenset({IdentifierType.IPV4, IdentifierType.IPV6})

CGN_WARNING = (
    "no source port: behind carrier-grade NAT one IPv4 address is shared by many subscribers "
    "at once, so the provider may not be able to identify the user from the address and time "
    "alone (RFC 6302: log the source port)"
)


@dataclass(frozen=True, kw_only=True)
class NormalizedIdentifier:
    type: IdentifierType
    #: As given.
    value: str
    normalized: str
    platform: str | None = None
    port: int | None = None
    warnings: tuple[str, ...] = ()
    #: What normalisation changed that the investigator should see ("https:// was added").
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ParsedIdentifier:
    """One identifier of a request, checked: values normalised, times resolved to UTC."""

    type: IdentifierType
    #: As given.
    value: str
    normalized: str
    platform: str | None
    port: int | None
    #: The IANA zone given (canonical spelling), or None.
    tz: str | None
    at: LocalInstant | None
    from_: LocalInstant | None
    to: LocalInstant | None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_public(self) -> dict[str, Any]:
        """The IdentifierPublic shape (without `position`), instants in UTC with a "Z"."""
        instants = {"at": self.at, "from": self.from_, "to": self.to}
        return {
            "type": self.type.value,
            "value": self.value,
            "normalized": self.normalized,
            "platform": self.platform,
            "port": self.port,
            "tz": self.tz,
            "at_utc": self.at.utc_iso() if self.at else None,
            "from_utc": self.from_.utc_iso() if self.from_ else None,
            "to_utc": self.to.utc_iso() if self.to else None,
            "local": {k: v.as_public() for k, v in instants.items() if v is not None},
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


# --- detection ---------------------------------------------------------------------------------

_HANDLE = re.compile(r"^@[^\s@]+(@[^\s@]+)?$")  # "@name", or a fediverse "@name@instance"
_PHONE_CHARS = re.compile(r"^\+?[\d\s\-().]+$")
_MAC_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_MAC_DOTTED = re.compile(r"^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$")
_MAC_BARE = re.compile(r"^[0-9A-Fa-f]{12}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_IMEI_SEPARATORS = re.compile(r"[\s\-/.]")


def detect_type(text: str, *, region: str | None = None) -> IdentifierType | None:
    """Guess the type of an identifier given without one (the directory look-up, the form).
    None when nothing fits; a guess is only a look-up aid, never written into a request.
    `region` (the unit's country) lets a national number ("0151 12345678") read as a phone."""
    found = detect(text, region=region)
    return found[0] if found is not None else None


def detect(text: str, *, region: str | None = None) -> tuple[IdentifierType, str | None] | None:
    """`detect_type`, with the value normalised as that type when telling the type already did
    it (an e-mail address, an IP address, a domain), else None beside the type: the look-up
    then does not validate the same address twice."""
    t = text.strip()
    if not t or (any(c.isspace() for c in t) and not _PHONE_CHARS.match(t)):
        return None
    if _HANDLE.match(t):
        return IdentifierType.ACCOUNT, None
    if "://" in t:
        return IdentifierType.URL, None
    if "@" in t:
        email = _normalized(IdentifierType.EMAIL, t)
        return (IdentifierType.EMAIL, email) if email is not None else None
    ipv4 = _normalized(IdentifierType.IPV4, t)
    if ipv4 is not None:
        return IdentifierType.IPV4, ipv4
    if ":" in t:
        ipv6 = _normalized(IdentifierType.IPV6, t)
        if ipv6 is not None:
            return IdentifierType.IPV6, ipv6
    if _MAC_SEPARATED.match(t) or _MAC_DOTTED.match(t):
        return IdentifierType.MAC, None
    digits = re.sub(r"\D", "", t)
    if _PHONE_CHARS.match(t) and (t.startswith("00") or (region and t.startswith("0"))):
        # "0049 151 12345678" is 15 digits that may pass the Luhn test, but no IMEI starts with
        # 00 (its reporting body code): the international prefix of most of the world it is.
        try:
            return IdentifierType.PHONE, _phone(t, "value", region)
        except InvalidInput:
            pass
    if re.fullmatch(r"[\d\s\-/]+", t) and len(digits) == 15 and _luhn_ok(digits):
        return IdentifierType.IMEI, None
    if _PHONE_CHARS.match(t) and len(digits) >= 7 and (t.startswith("+") or "." not in t):
        return IdentifierType.PHONE, None
    if _MAC_BARE.match(t) and not t.isdigit():
        return IdentifierType.MAC, None
    if crypto_chain(t) is not None:
        return IdentifierType.CRYPTO, None
    if t.lower().startswith("www.") or (
        "/" in t and _valid(IdentifierType.DOMAIN, t.split("/")[0])
    ):
        return IdentifierType.URL, None
    domain = _normalized(IdentifierType.DOMAIN, t)
    if domain is not None:
        return IdentifierType.DOMAIN, domain
    return None


def _normalized(kind: IdentifierType, text: str) -> str | None:
    """`text` normalised as `kind`, or None when it is not one."""
    try:
        return _normalize(kind, text, field="value", platform="x", region=None)[0]
    except InvalidInput:
        return None


def _valid(kind: IdentifierType, text: str) -> bool:
    return _normalized(kind, text) is not None


# --- normalisation -----------------------------------------------------------------------------


def normalize(
    type: IdentifierType | str,
    value: str,
    *,
    field: str,
    platform: str | None = None,
    region: str | None = None,
) -> str:
    """The normalised form of `value`; InvalidInput(field, reason) when it is not valid.
    `region` (ISO 3166-1 alpha-2) lets a phone number go without its leading "+country code"."""
    return _normalize(_type(type, field), value, field=field, platform=platform, region=region)[0]


def normalize_identifier(
    type: IdentifierType | str,
    value: str,
    *,
    field: str,
    platform: str | None = None,
    port: int | None = None,
    region: str | None = None,
) -> NormalizedIdentifier:
    """Like normalize(), with the platform, port, warnings and notes beside the value."""
    kind = _type(type, field)
    normalized, notes = _normalize(kind, value, field=field, platform=platform, region=region)
    warnings = (CGN_WARNING,) if kind is IdentifierType.IPV4 and port is None else ()
    return NormalizedIdentifier(
        type=kind,
        value=value,
        normalized=normalized,
        platform=_platform(platform),
        port=port,
        warnings=warnings,
        notes=notes,
    )


def _type(type: IdentifierType | str, field: str) -> IdentifierType:
    try:
        return IdentifierType(type)
    except ValueError:
        raise InvalidInput(
            sibling_field(field, "type"),
            f"unknown identifier type {type!r}; one of: {', '.join(t.value for t in IdentifierType)}",
        ) from None


def _normalize(
    kind: IdentifierType, value: str, *, field: str, platform: str | None, region: str | None
) -> tuple[str, tuple[str, ...]]:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "is empty")
    v = value.strip()
    problem = control_problem(v)  # the single-line rule (domain/text.py)
    if problem is not None:
        raise InvalidInput(field, problem)
    match kind:
        case IdentifierType.IPV4:
            return _ipv4(v, field)
        case IdentifierType.IPV6:
            return _ipv6(v, field), ()
        case IdentifierType.EMAIL:
            return _email(v, field), ()
        case IdentifierType.PHONE:
            return _phone(v, field, region), ()
        case IdentifierType.URL:
            return _url(v, field)
        case IdentifierType.DOMAIN:
            return _domain(v, field), ()
        case IdentifierType.IMEI:
            return _imei(v, field), ()
        case IdentifierType.MAC:
            return _mac(v, field), ()
        case IdentifierType.ACCOUNT:
            handle = _account(v, field, platform)
            return handle, handle_warnings(handle, _platform(platform))
        case IdentifierType.CRYPTO:
            return crypto_address(v, field=field, chain=_platform(platform)), ()
    raise AssertionError(kind)  # pragma: no cover


def _ipv4(v: str, field: str) -> tuple[str, tuple[str, ...]]:
    try:
        return str(ipaddress.IPv4Address(v)), ()
    except ValueError:
        pass
    try:
        mapped = ipaddress.IPv6Address(v.strip("[]")).ipv4_mapped
    except ValueError:
        mapped = None
    if mapped is None:
        raise InvalidInput(field, f"{v!r} is not an IPv4 address (four numbers 0-255: 203.0.113.7)")
    return str(mapped), (
        f"given as the IPv4-mapped IPv6 address {v}; the IPv4 address is {mapped}",
    )


def _ipv6(v: str, field: str) -> str:
    try:
        address = ipaddress.IPv6Address(v[1:-1] if v.startswith("[") and v.endswith("]") else v)
    except ValueError:
        raise InvalidInput(field, f"{v!r} is not an IPv6 address") from None
    if address.scope_id:
        raise InvalidInput(field, "has a zone index (%...), which only means something on one host")
    if address.ipv4_mapped is not None:
        # RFC 5952 section 5: an IPv4-mapped address is written in mixed notation, as the
        # provider's logs show it (::ffff:198.51.100.9, not ::ffff:c633:6409).
        return f"::ffff:{address.ipv4_mapped}"
    return address.compressed


def _email(v: str, field: str) -> str:
    try:
        # check_deliverability=False: no DNS query (pure module; and the mailbox may be gone).
        result = validate_email(v, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(field, f"is not a valid e-mail address ({exc})") from None
    return f"{result.local_part}@{result.ascii_domain}"


#: The international prefix of most of the world (ITU-T E.164 recommends it): "0049 ..." is
#: "+49 ...". Countries with another one (011 in North America) are read through `region`.
_INTERNATIONAL_00 = re.compile(r"^00(?=[1-9])")


def _phone(v: str, field: str, region: str | None) -> str:
    if not v.startswith("+") and region is None and not _INTERNATIONAL_00.match(v):
        raise InvalidInput(
            field,
            "needs its country code: write it with a leading + or 00 (e.g. +49 30 901820), "
            "or set the unit's country so that national numbers can be read",
        )
    number = None
    if v.startswith("+") or region is not None:
        try:
            number = phonenumbers.parse(v, region)
        except phonenumbers.NumberParseException as exc:
            if not _INTERNATIONAL_00.match(v):
                raise InvalidInput(field, f"is not a phone number ({exc._msg})") from None
    if _INTERNATIONAL_00.match(v) and (number is None or not phonenumbers.is_valid_number(number)):
        try:
            number = phonenumbers.parse(_INTERNATIONAL_00.sub("+", v), None)
        except phonenumbers.NumberParseException as exc:
            raise InvalidInput(field, f"is not a phone number ({exc._msg})") from None
    assert number is not None
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput(field, "is not a possible phone number (wrong length for its country)")
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(field, "is not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _url(v: str, field: str) -> tuple[str, tuple[str, ...]]:
    if any(c.isspace() for c in v):
        raise InvalidInput(field, "contains spaces; percent-encode them (%20)")
    notes: tuple[str, ...] = ()
    if v.startswith("//"):
        v = "https:" + v
        notes = ("https:// was added (the URL had no scheme)",)
    elif "://" not in v:
        if not re.match(r"^[^/?#:@]+\.[^/?#:@]+(?:[:/?#]|$)", v):
            raise InvalidInput(
                field, "is not a URL: give it with its scheme (https://example.com/...)"
            )
        v = "https://" + v
        notes = ("https:// was added (the URL had no scheme)",)
    try:
        parts = urlsplit(v)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(field, f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInput(field, f"has the scheme {scheme!r}; only http and https URLs are taken")
    if not parts.hostname:
        raise InvalidInput(field, "has no host name")
    host = _url_host(parts.hostname, field)
    netloc = host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc = f"{host}:{port}"
    if "@" in parts.netloc:
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment)), notes


def _url_host(hostname: str, field: str) -> str:
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return _domain(hostname, field, what="the URL's host")
    return f"[{address.compressed}]" if address.version == 6 else str(address)


def _domain(v: str, field: str, *, what: str = "") -> str:
    name = v[:-1] if v.endswith(".") else v
    subject = f"{what} " if what else ""
    if not name or any(c.isspace() for c in name) or "/" in name or "@" in name:
        raise InvalidInput(field, f"{subject}is not a domain name (example.com)".strip())
    try:
        ascii_name = _idna(name)
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidInput(field, f"{subject}is not a valid domain name ({exc})".strip()) from None
    labels = ascii_name.lower().split(".")
    if len(labels) < 2:
        raise InvalidInput(field, f"{subject}needs at least two labels (example.com)".strip())
    if len(ascii_name) > 253:
        raise InvalidInput(field, f"{subject}is longer than 253 characters".strip())
    for label in labels:
        if not label:
            raise InvalidInput(field, f"{subject}has an empty label (two dots in a row)".strip())
        if not _LABEL.match(label):
            raise InvalidInput(
                field,
                f"{subject}has an invalid label {label!r} (letters, digits and inner hyphens, "
                "1 to 63 characters)".strip(),
            )
    if not _TLD.match(labels[-1]):
        raise InvalidInput(
            field, f"{subject}has an invalid top-level domain {labels[-1]!r}".strip()
        )
    return ".".join(labels)


def _idna(name: str) -> str:
    """IDNA 2008 with UTS 46 mapping (case, width, ideographic full stops), label by label:
    ASCII labels are only lower-cased (underscores stay: real host names carry them, and
    idna refuses them), "xn--" labels must decode, others are Punycode-encoded."""
    mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
    labels = []
    for label in mapped.split("."):
        if not label.isascii():
            label = idna.alabel(label).decode("ascii")
        elif label.startswith("xn--"):
            idna.ulabel(label)
        labels.append(label.lower())
    return ".".join(labels)


def _imei(v: str, field: str) -> str:
    digits = _IMEI_SEPARATORS.sub("", v)
    if not digits.isdigit():
        raise InvalidInput(field, "an IMEI has digits only (15 of them)")
    if len(digits) == 14:
        raise InvalidInput(
            field,
            "has 14 digits: an IMEI has 15, the last being the Luhn check digit "
            f"(for these 14 it would be {_luhn_digit(digits)}; copy it from the device or its box)",
        )
    if len(digits) == 16:
        raise InvalidInput(
            field,
            "has 16 digits: that is an IMEISV (software version, no check digit); "
            "give the 15-digit IMEI",
        )
    if len(digits) != 15:
        raise InvalidInput(field, f"has {len(digits)} digits: an IMEI has 15")
    if not _luhn_ok(digits):
        raise InvalidInput(
            field,
            f"fails the Luhn check: the check digit (the last) should be "
            f"{_luhn_digit(digits[:14])}, not {digits[14]}; a digit may be mistyped",
        )
    return digits


def _mac(v: str, field: str) -> str:
    if not (_MAC_SEPARATED.match(v) or _MAC_DOTTED.match(v) or _MAC_BARE.match(v)):
        raise InvalidInput(
            field,
            "is not a MAC address (six hex pairs: 00:1a:2b:3c:4d:5e, 00-1A-..., 001a.2b3c.4d5e)",
        )
    hexdigits = re.sub(r"[^0-9A-Fa-f]", "", v).lower()
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def _account(v: str, field: str, platform: str | None) -> str:
    if _platform(platform) is None:
        raise InvalidInput(
            sibling_field(field, "platform"),
            "is required for an account: the platform's name (e.g. instagram, x, discord)",
        )
    handle = v[1:] if v.startswith("@") else v
    if not handle.strip():
        raise InvalidInput(field, "is empty: give the handle or the numeric user ID")
    return handle.strip()


#: The handle syntax of the common platforms, as each platform states its rules, and the form of
#: their numeric user IDs. A handle outside it is warned about, not refused: platforms change
#: their rules, and a typo is more likely than a rule change.
_HANDLES: dict[str, tuple[re.Pattern[str], str]] = {
    "x": (re.compile(r"^[A-Za-z0-9_]{1,15}$"), "1-15 letters, digits or underscores"),
    "instagram": (
        re.compile(r"^[A-Za-z0-9._]{1,30}$"),
        "up to 30 letters, digits, periods or underscores",
    ),
    "tiktok": (
        re.compile(r"^[A-Za-z0-9_.]{2,24}$"),
        "2-24 letters, digits, underscores or periods",
    ),
    "discord": (
        re.compile(r"^[a-z0-9_.]{2,32}$"),
        "2-32 lower-case letters, digits, underscores or periods",
    ),
    "telegram": (re.compile(r"^[A-Za-z0-9_]{5,32}$"), "5-32 letters, digits or underscores"),
}
_PLATFORM_NAMES = {
    "twitter": "x",
    "x.com": "x",
    "ig": "instagram",
    "tg": "telegram",
    "t.me": "telegram",
}
#: Discord user IDs are "snowflakes": 64-bit integers, 17 to 20 digits in practice.
_SNOWFLAKE = re.compile(r"^\d{17,20}$")
_NUMERIC_ID = re.compile(r"^\d{1,20}$")


def handle_warnings(handle: str, platform: str | None) -> tuple[str, ...]:
    """Warnings for a handle that does not fit its platform's syntax (pure)."""
    name = _PLATFORM_NAMES.get(platform or "", platform or "")
    rule = _HANDLES.get(name)
    if rule is None:
        return ()
    if name == "discord":
        if "#" in handle:
            return (
                "Discord retired the #1234 discriminators: give the new username or the numeric"
                " user ID",
            )
        if handle.isdigit():
            return (
                ()
                if _SNOWFLAKE.match(handle)
                else ("a Discord user ID (snowflake) has 17 to 20 digits: check it",)
            )
    elif _NUMERIC_ID.match(handle):
        return ()  # a numeric user ID
    pattern, words = rule
    if not pattern.match(handle):
        label = {"x": "an X", "instagram": "an Instagram", "tiktok": "a TikTok"}.get(
            name, f"a {name.title()}"
        )
        return (f"does not look like {label} handle ({words}): check it",)
    return ()


def _platform(platform: str | None) -> str | None:
    if platform is None or not platform.strip():
        return None
    return platform.strip().lower()


def _luhn_digit(payload: str) -> int:
    """The check digit that makes payload + digit pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # doubled: these sit at odd positions once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return (10 - total % 10) % 10


def _luhn_ok(digits: str) -> bool:
    return _luhn_digit(digits[:-1]) == int(digits[-1])
