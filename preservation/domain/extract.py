"""Identifiers and their instants found in pasted text: log lines, a provider's return, a chat
export, a victim's screenshot text (pure: no I/O, no clock; `now` is an argument).

What is found is offered, never filed: each item names the line it came from, and the officer
ticks the ones the request is about. The rules:

- Candidates are found by iocsearcher (MIT; its regular expressions for IP addresses, e-mail
  addresses, URLs, domain names, platform handles in URLs and cryptocurrency addresses, plus
  checksums) and phonenumbers' matcher; every candidate is then read by this service's own
  rules (`domain.identifiers`), so an item is exactly what a request would accept.
- An instant is the timestamp of the line an identifier is on (the first one on it), read by
  `domain.timing` (python-dateutil underneath). A timestamp with its offset ("+0100", "Z",
  "UTC", or a CSV column headed "Time (UTC)") is resolved; one without is resolved in the zone
  the officer gave (`tz`), and with none given its `at_utc` is null and the item says that the
  zone is needed (`needs: ["tz"]`): the zone is asked, never guessed. A numeric date whose day
  and month could be swapped is read in the order another date of the same text proves
  ("20/11/2026" proves day first), else the item needs `day_first`.
- A port is taken when the text ties it to the address: ``203.0.113.7:51234``,
  ``[2001:db8::1]:443``, sshd's ``from 198.51.100.23 port 51234``, firewall ``SRC=`` / ``SPT=``,
  or a CSV column headed "port" / "source port".
- An account is a handle in a platform's URL (instagram.com/name, t.me/name, x.com/name), a
  ``platform:handle`` the officer wrote, or an ``@handle`` on a line naming exactly one
  platform; a lone ``@handle`` is offered with `needs: ["platform"]`.

Timestamps are found in domain/log_times.py, CSV headers read in domain/log_csv.py.
iocsearcher's `Searcher` reads its bundled pattern and TLD files once, on first use (like the
phone metadata of phonenumbers): no network, no setting.
"""

from __future__ import annotations

import ipaddress
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

import phonenumbers

from preservation.domain.identifiers import IdentifierType, crypto_chain, normalize_identifier
from preservation.domain.log_csv import Header, header_of, row_of
from preservation.domain.log_times import Reading, Stamp, day_first_of, read_stamp, stamps_in
from preservation.domain.timing import validate_zone
from preservation.errors import InvalidInput

__all__ = ["Extracted", "MAX_TEXT", "extract"]

#: The most text read at once (characters): a few thousand log lines.
MAX_TEXT = 200_000
#: The most items returned; the rest is said to be left off.
MAX_ITEMS = 1000
#: Platforms recognised in "platform:handle" and named on a line beside an "@handle", when the
#: caller (who knows the directory) gives none.
PLATFORMS = frozenset(
    {
        "instagram", "facebook", "x", "twitter", "telegram", "tiktok", "snapchat", "discord",
        "whatsapp", "signal", "github", "youtube", "linkedin", "pinterest", "reddit", "twitch",
        "skype", "viber", "wechat", "threema", "kik", "mastodon", "bluesky", "steam", "roblox",
    }
)  # fmt: skip


#: Platform names that, standing on a line beside an "@handle", say whose handle it is (common
#: words such as "line", "signal" or "x" do not).
_NAMED_ON_LINE = frozenset(
    {
        "instagram", "facebook", "twitter", "telegram", "tiktok", "snapchat", "discord",
        "whatsapp", "github", "youtube", "twitch", "reddit", "threema", "skype", "viber",
        "mastodon", "bluesky",
    }
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Extracted:
    """One identifier found in the text, with the instant of its line."""

    type: str
    #: As it stands in the text (a defanged "example[.]com" is given re-armed).
    value: str
    #: As a request would store it (E.164, lower-case domain, compressed IPv6 ...).
    normalized: str
    #: An account's platform, or a crypto address's chain.
    platform: str | None = None
    port: int | None = None
    #: The timestamp as it stands in the line.
    at: str | None = None
    #: The instant as local time with its offset (ISO 8601), when it could be resolved: what a
    #: request's "at" takes without a zone.
    at_local: str | None = None
    #: The zone the instant was read in: the IANA zone given, or the offset the text states
    #: ("UTC", "UTC+01:00"); null when the text says none and none was given.
    tz: str | None = None
    at_utc: str | None = None
    #: 1-based line number, and the line itself.
    line: int
    line_text: str
    #: What the text does not say and the officer must: "tz", "day_first", "dst", "year",
    #: "platform".
    needs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def chain(self) -> str | None:
        return self.platform if self.type == IdentifierType.CRYPTO else None

    def as_public(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "normalized": self.normalized,
            "platform": self.platform,
            "chain": self.chain,
            "port": self.port,
            "at": self.at,
            "at_local": self.at_local,
            "tz": self.tz,
            "at_utc": self.at_utc,
            "line": self.line,
            "line_text": self.line_text,
            "needs": list(self.needs),
            "warnings": list(self.warnings),
        }


@dataclass(kw_only=True)
class _Span:
    type: IdentifierType
    value: str
    start: int
    end: int
    platform: str | None = None
    port: int | None = None
    notes: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)


# --- identifiers ---------------------------------------------------------------------------------

_HANDLE_PLATFORMS = {
    "instagramHandle": "instagram",
    "twitterHandle": "x",
    "telegramHandle": "telegram",
    "facebookHandle": "facebook",
    "githubHandle": "github",
    "youtubeHandle": "youtube",
    "linkedinHandle": "linkedin",
    "pinterestHandle": "pinterest",
}
_CRYPTO_TARGETS = (
    "bitcoin", "ethereum", "litecoin", "monero", "tron", "ripple", "dogecoin", "bitcoincash",
    "dashcoin", "zcash",
)  # fmt: skip
_TARGETS = ("ip4", "ip6", "email", "url", "fqdn", *_HANDLE_PLATFORMS, *_CRYPTO_TARGETS)
#: Handles in URLs that iocsearcher's table lacks (X's new domain, TikTok's "@").
_URL_HANDLES = [
    (re.compile(r"(?<![\w.])(?:www\.)?x\.com/(?!home\b|i/|search\b)([A-Za-z0-9_]{1,15})\b"), "x"),
    (re.compile(r"(?<![\w.])(?:www\.)?tiktok\.com/@([A-Za-z0-9_.]{2,24})"), "tiktok"),
]
_AT_HANDLE = re.compile(r"(?<![\w.@/])@([A-Za-z0-9_][A-Za-z0-9_.]{1,29}[A-Za-z0-9_])(?![\w@])")
_PREFIXED = re.compile(r"(?<![\w/])([a-z][a-z0-9-]{0,20}):([A-Za-z0-9_.@-]{2,64})(?![\w:/])")
_PORT_AFTER = re.compile(r"^:(\d{1,5})(?![\d:.])")
_SSH_PORT = re.compile(r"^\s+port\s+(\d{1,5})\b")
_KV_PORT = re.compile(r"\b(?:SPT|sport|src_port|srcport|client_port|source_port)=(\d{1,5})\b")
_KV_SOURCE = re.compile(r"(?:SRC|src|src_ip|srcip|client|client_ip|source)=$")
_PHONE_00 = re.compile(r"(?<![\w+])00[1-9][\d ()./-]{6,20}\d(?!\d)")
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


@cache
def _searcher() -> Any:
    from iocsearcher.searcher import Searcher

    with warnings.catch_warnings():
        # iocsearcher 3.1 leaves its patterns file to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        searcher = Searcher()
    # Addresses are judged by this service's rules (documentation and private ranges are
    # offered with a warning, not dropped), so iocsearcher only finds them.
    searcher.validate.discard("ip4")
    searcher.validate.discard("ip6")
    return searcher


def _port(value: str) -> int | None:
    port = int(value)
    return port if 1 <= port <= 65535 else None


def _ip_spans(line: str, matches: list[Any]) -> list[_Span]:
    spans = []
    for m in matches:
        if m.name not in ("ip4", "ip6"):
            continue
        start, end, value = m.start_offset, m.start_offset + len(m.raw_value), m.value
        after_version_mark = start > 0 and line[start - 1] in "/._-"
        longer_number = line[end : end + 1] == "." and line[end + 1 : end + 2].isdigit()
        if after_version_mark or longer_number:
            continue  # a product version (Chrome/119.0.0.0) or a longer dotted number
        kind = IdentifierType.IPV4 if m.name == "ip4" else IdentifierType.IPV6
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            continue
        if address.is_loopback or address.is_unspecified or address.is_multicast:
            continue
        port = None
        rest = line[end:]
        if kind is IdentifierType.IPV6 and start > 0 and line[start - 1] == "[":
            rest = rest[1:] if rest.startswith("]") else ""
            if m2 := _PORT_AFTER.match(rest):
                port = _port(m2.group(1))
        elif m2 := _PORT_AFTER.match(rest) if kind is IdentifierType.IPV4 else None:
            port = _port(m2.group(1))
        elif m2 := _SSH_PORT.match(rest):
            port = _port(m2.group(1))
        elif _KV_SOURCE.search(line[:start]) and (m2 := _KV_PORT.search(line)):
            port = _port(m2.group(1))
        spans.append(_Span(type=kind, value=value, start=start, end=end, port=port))
    return spans


def _covered(span: _Span, others: Iterable[_Span]) -> bool:
    return any(
        o is not span
        and o.start <= span.start
        and span.end <= o.end
        and (o.end - o.start) > (span.end - span.start)
        for o in others
    )


def _line_spans(
    line: str, *, region: str | None, platforms: frozenset[str], header_port: int | None
) -> list[_Span]:
    matches = _searcher().search_matches(line, targets=_TARGETS)
    spans = _ip_spans(line, matches)
    if header_port is not None:
        for s in spans:
            if s.port is None:
                s.port = header_port
    for m in matches:
        start, end = m.start_offset, m.start_offset + len(m.raw_value)
        if m.name == "email":
            spans.append(_Span(type=IdentifierType.EMAIL, value=m.value, start=start, end=end))
        elif m.name == "url":
            spans.append(_Span(type=IdentifierType.URL, value=m.value, start=start, end=end))
        elif m.name == "fqdn":
            spans.append(_Span(type=IdentifierType.DOMAIN, value=m.value, start=start, end=end))
        elif m.name in _HANDLE_PLATFORMS:
            spans.append(
                _Span(
                    type=IdentifierType.ACCOUNT,
                    value=m.value,
                    start=start,
                    end=end,
                    platform=_HANDLE_PLATFORMS[m.name],
                )
            )
        elif m.name in _CRYPTO_TARGETS:
            chain = crypto_chain(m.value)
            if chain is not None:
                spans.append(
                    _Span(
                        type=IdentifierType.CRYPTO,
                        value=m.value,
                        start=start,
                        end=end,
                        platform=chain,
                    )
                )
    for pattern, platform in _URL_HANDLES:
        for m in pattern.finditer(line):
            spans.append(
                _Span(
                    type=IdentifierType.ACCOUNT,
                    value=m.group(1),
                    start=m.start(1),
                    end=m.end(1),
                    platform=platform,
                )
            )
    for m in _PREFIXED.finditer(line):
        if m.group(1) in platforms:
            spans.append(
                _Span(
                    type=IdentifierType.ACCOUNT,
                    value=m.group(2).removeprefix("@"),
                    start=m.start(),
                    end=m.end(),
                    platform=m.group(1),
                )
            )
    # The platform named on the line, outside its addresses ("x" of x.com is no platform name).
    masked = list(line)
    for s in spans:
        if s.type in (IdentifierType.URL, IdentifierType.EMAIL, IdentifierType.DOMAIN) or (
            s.type is IdentifierType.ACCOUNT
        ):
            masked[s.start : s.end] = " " * (s.end - s.start)
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", "".join(masked))}
    named = sorted(words & _NAMED_ON_LINE)
    for m in _AT_HANDLE.finditer(line):
        span = _Span(type=IdentifierType.ACCOUNT, value=m.group(1), start=m.start(), end=m.end())
        if len(named) == 1:
            span.platform = named[0]
            span.notes.append(f"platform {named[0]!r} read from the line")
        else:
            span.needs.append("platform")
        spans.append(span)
    spans.extend(_phones(line, region=region))
    return spans


def _phones(line: str, *, region: str | None) -> list[_Span]:
    spans = []
    for m in phonenumbers.PhoneNumberMatcher(line, region or "ZZ"):
        if sum(c.isdigit() for c in m.raw_string) >= 8:
            spans.append(
                _Span(type=IdentifierType.PHONE, value=m.raw_string, start=m.start, end=m.end)
            )
    if region is None:
        for m in _PHONE_00.finditer(line):
            spans.append(
                _Span(type=IdentifierType.PHONE, value=m.group(0), start=m.start(), end=m.end())
            )
    return spans


def _overlaps(a: _Span | Stamp, b: _Span | Stamp) -> bool:
    return a.start < b.end and b.start < a.end


def _select(spans: list[_Span], stamps: list[Stamp]) -> list[_Span]:
    """Drop what is part of something larger: a domain inside an e-mail address or URL, a phone
    number made of a timestamp's or an address's digits, a repeat of the same identifier."""
    keep = []
    strong = [s for s in spans if s.type is not IdentifierType.PHONE]
    for s in spans:
        if s.type is IdentifierType.PHONE and (
            any(_overlaps(s, o) for o in strong) or any(_overlaps(s, t) for t in stamps)
        ):
            continue
        if s.type is IdentifierType.DOMAIN and any(
            o.type in (IdentifierType.EMAIL, IdentifierType.URL) and _overlaps(s, o) for o in spans
        ):
            continue
        if s.type is IdentifierType.URL and any(
            o.type is IdentifierType.EMAIL and _overlaps(s, o) for o in spans
        ):
            continue
        if s.type in (IdentifierType.IPV4, IdentifierType.IPV6) and any(
            o.type is IdentifierType.URL and _overlaps(s, o) for o in spans
        ):
            continue
        if (
            s.type is IdentifierType.ACCOUNT
            and s.platform is None
            and any(
                o.type is IdentifierType.ACCOUNT and o.platform and _overlaps(s, o) for o in spans
            )
        ):
            continue
        if _covered(s, [o for o in spans if o.type is s.type]):
            continue
        keep.append(s)
    seen: set[tuple[Any, ...]] = set()
    out = []
    for s in sorted(keep, key=lambda s: (s.start, -s.end)):
        key = (s.type, s.value.lower(), s.platform, s.port)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _address_warnings(kind: IdentifierType, normalized: str) -> tuple[str, ...]:
    if kind not in (IdentifierType.IPV4, IdentifierType.IPV6):
        return ()
    address = ipaddress.ip_address(normalized)
    if any(address in n for n in _DOCUMENTATION):
        return ("an address reserved for documentation (RFC 5737, RFC 3849): not routable",)
    if address.is_private or address.is_link_local:
        return (
            "a private address: it only means something inside the network where it was seen; "
            "no provider outside it can identify it",
        )
    return ()


# --- the whole text ------------------------------------------------------------------------------


def extract(
    text: str,
    *,
    tz: str | None,
    now: datetime,
    region: str | None = None,
    platforms: Iterable[str] = (),
) -> list[Extracted]:
    """Every identifier in `text`, line by line, each with the instant of its line.

    `tz` is the IANA zone of times the text gives without an offset (InvalidInput naming "tz"
    when unknown; None: such times are left unresolved, `needs: ["tz"]`). `region` (the unit's
    country) reads national phone numbers; `platforms` (the directory's) adds to the platform
    names recognised in "platform:handle". InvalidInput naming "text" past MAX_TEXT."""
    if len(text) > MAX_TEXT:
        raise InvalidInput("text", f"is longer than {MAX_TEXT} characters: paste less at once")
    zone = validate_zone(tz, field="tz") if tz is not None else None
    known = PLATFORMS | {p.lower() for p in platforms}
    lines = text.splitlines()
    header: Header | None = None
    per_line: list[tuple[int, str, list[Stamp], int | None]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            header = None
            continue
        if len(line) > 4000:
            line = line[:4000]
        found_header = header_of(line)
        if found_header is not None:
            header = found_header
            continue
        cells = row_of(line, header) if header is not None else None
        header_port = None
        stamps: list[Stamp]
        if cells is not None and header is not None:
            if header.port is not None and cells[header.port].strip().isdigit():
                header_port = _port(cells[header.port].strip())
            stamps = stamps_in(line)
            if header.time is not None:
                cell = cells[header.time].strip()
                at = line.find(cell)
                stamps = [
                    replace(s, start=s.start + at, end=s.end + at)
                    for s in stamps_in(cell, header_utc=header.utc)
                ]
        else:
            stamps = stamps_in(line)
        per_line.append((number, line, stamps, header_port))

    day_first = day_first_of(s for _, _, stamps, _ in per_line for s in stamps)
    items: list[Extracted] = []
    for number, line, stamps, header_port in per_line:
        spans = _select(
            _line_spans(line, region=region, platforms=known, header_port=header_port), stamps
        )
        if not spans:
            continue
        stamp = stamps[0] if stamps else None
        reading = (
            read_stamp(stamp, tz=zone, now=now, day_first=day_first) if stamp is not None else None
        )
        for span in spans:
            item = _item(span, stamp=stamp, reading=reading, line=number, text=line, region=region)
            if item is not None:
                items.append(item)
            if len(items) >= MAX_ITEMS:
                return items
    return items


def _item(
    span: _Span,
    *,
    stamp: Stamp | None,
    reading: Reading | None,
    line: int,
    text: str,
    region: str | None,
) -> Extracted | None:
    try:
        ident = normalize_identifier(
            span.type,
            span.value,
            field="value",
            platform=span.platform or ("unknown" if span.type is IdentifierType.ACCOUNT else None),
            port=span.port,
            region=region,
        )
    except InvalidInput:
        return None
    needs = list(span.needs)
    warnings = [*span.notes, *ident.notes, *_address_warnings(span.type, ident.normalized)]
    warnings.extend(ident.warnings)
    if reading is not None:
        needs.extend(n for n in reading.needs if n not in needs)
        warnings.extend(reading.warnings)
    elif span.type in (IdentifierType.IPV4, IdentifierType.IPV6):
        needs.append("at")
        warnings.append("no time on this line: an IP address needs the instant it was seen")
    return Extracted(
        type=span.type.value,
        value=span.value,
        normalized=ident.normalized,
        platform=span.platform,
        port=span.port,
        at=stamp.text if stamp is not None else None,
        at_local=reading.at_local if reading else None,
        tz=reading.tz if reading else None,
        at_utc=reading.at_utc if reading else None,
        line=line,
        line_text=text,
        needs=tuple(needs),
        warnings=tuple(dict.fromkeys(warnings)),
    )
