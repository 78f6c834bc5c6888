"""One identifier of a request, checked as the API receives it: its type, value, port and
instants (resolved in their zones, ambiguous or non-existent local times refused), with every
error naming its field."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from preservation.domain.text import bidi_warning, mixed_script_warning

# idna (IDNA 2008 + UTS 46) is a dependency of email-validator: the stdlib codec is IDNA 2003,
# which turns "straße.de" into "strasse.de", another registrant's domain.
from preservation.domain.timing import (
    LocalInstant,
    merge_errors,
    resolve_local,
    validate_zone,
)
from preservation.errors import AmbiguousLocalTime, FieldError, InvalidInput

__all__ = ["check_identifier"]


from preservation.domain.identifiers import (
    CGN_WARNING,
    IP_TYPES,
    IdentifierType,
    ParsedIdentifier,
    _normalize,
    _platform,
    _type,
    crypto_chain,
)

_KNOWN_KEYS = frozenset(
    {"type", "value", "port", "platform", "at", "from", "to", "tz", "dst", "day_first"}
)


def check_identifier(
    raw: dict[str, Any], *, index: int, now: datetime, region: str | None = None
) -> ParsedIdentifier:
    """Validate one identifier object of the API (`{"type", "value", "port", "platform", "at",
    "from", "to", "tz", "dst"}`, plus an optional `day_first` for numeric log dates).

    Errors name the field ("identifiers[0].at"); all errors of the identifier are reported
    together. A lone ambiguous local time is raised as AmbiguousLocalTime with its candidates.
    `dst` applies to whichever of at/from/to falls in a daylight-saving change. `region` (the
    unit's country) reads a national phone number ("0151 12345678") as one of that country."""
    prefix = f"identifiers[{index}]"
    errors: list[InvalidInput] = []

    def fail(name: str, reason: str) -> None:
        errors.append(InvalidInput(f"{prefix}.{name}", reason))

    for key in raw:
        if key not in _KNOWN_KEYS:
            fail(str(key), "is not a field of an identifier")

    kind: IdentifierType | None = None
    raw_type = raw.get("type")
    if raw_type is None:
        fail("type", f"is required; one of: {', '.join(t.value for t in IdentifierType)}")
    else:
        try:
            kind = _type(
                raw_type if isinstance(raw_type, str) else repr(raw_type), f"{prefix}.value"
            )
        except InvalidInput as exc:
            errors.append(exc)

    value = raw.get("value")
    if not isinstance(value, str):
        fail("value", "is required (a string)")
        value = None

    platform = raw.get("platform")
    if platform is not None and not isinstance(platform, str):
        fail("platform", "must be a string")
        platform = None

    normalized = ""
    notes: tuple[str, ...] = ()
    if kind is not None and value is not None:
        try:
            normalized, notes = _normalize(
                kind, value, field=f"{prefix}.value", platform=platform, region=region
            )
            if kind is IdentifierType.CRYPTO and platform is None:
                platform = crypto_chain(normalized)
        except InvalidInput as exc:
            errors.append(exc)

    port = raw.get("port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            fail("port", "must be a whole number from 1 to 65535")
            port = None
        elif kind is not None and kind not in IP_TYPES:
            fail("port", "only goes with an IP address (ipv4, ipv6)")
            port = None

    dst = raw.get("dst")
    if dst is not None and not isinstance(dst, bool):
        fail("dst", "must be true or false")
        dst = None
    day_first = raw.get("day_first")
    if day_first is not None and not isinstance(day_first, bool):
        fail("day_first", "must be true or false")
        day_first = None

    tz_ok = True
    tz = raw.get("tz")
    if tz is not None:
        try:
            tz = validate_zone(tz, field=f"{prefix}.tz")
        except InvalidInput as exc:
            errors.append(exc)
            tz_ok = False

    at_text, from_text, to_text = raw.get("at"), raw.get("from"), raw.get("to")
    at = start = end = None
    if at_text is not None and (from_text is not None or to_text is not None):
        fail("at", "give either the instant (at) or the period (from and to), not both")
    elif (from_text is None) != (to_text is None):
        missing = "to" if to_text is None else "from"
        fail(missing, "is required too: a period needs both from and to")
    elif at_text is None and from_text is None and kind in IP_TYPES:
        fail("at", "an IP address needs the instant it was seen, with its time zone")
    elif tz_ok:

        def resolve(name: str, text: Any) -> LocalInstant | None:
            try:
                return resolve_local(
                    text, tz, field=f"{prefix}.{name}", now=now, dst=dst, day_first=day_first
                )
            except InvalidInput as exc:
                errors.append(exc)
                return None

        if at_text is not None:
            at = resolve("at", at_text)
        elif from_text is not None:
            start, end = resolve("from", from_text), resolve("to", to_text)
            if start is not None and end is not None and start.utc >= end.utc:
                fail(
                    "to", f"must be after from ({start.describe()} is not before {end.describe()})"
                )

    if errors:
        merged = merge_errors(errors)
        if isinstance(merged, AmbiguousLocalTime):
            raise merged
        raise InvalidInput(errors=_unique(merged.errors))

    assert kind is not None and value is not None
    warnings = (CGN_WARNING,) if kind is IdentifierType.IPV4 and port is None else ()
    warnings += _misreadings(kind, value, normalized, (at, start, end))
    return ParsedIdentifier(
        type=kind,
        value=value,
        normalized=normalized,
        platform=_platform(platform),
        port=port,
        tz=tz,
        at=at,
        from_=start,
        to=end,
        warnings=warnings,
        notes=notes,
    )


def _misreadings(
    kind: IdentifierType,
    value: str,
    normalized: str,
    instants: tuple[LocalInstant | None, ...],
) -> tuple[str, ...]:
    """Warnings on what is easily misread: bidirectional controls in the value, a domain that
    mixes scripts (a look-alike), a zone abbreviation, Etc/GMT+N, an implausible year."""
    found: list[str] = []
    bidi = bidi_warning(value, what="the value")
    if bidi:
        found.append(bidi)
    host = ""
    if kind is IdentifierType.EMAIL:
        host = normalized.rpartition("@")[2]
    elif kind is IdentifierType.DOMAIN:
        host = normalized
    elif kind is IdentifierType.URL:
        host = urlsplit(normalized).hostname or ""
    mixed = mixed_script_warning(host) if host else None
    if mixed:
        found.append(mixed)
    for instant in instants:
        if instant is not None:
            found.extend(instant.warnings)
    return tuple(dict.fromkeys(found))


def _unique(errors: list[FieldError]) -> list[FieldError]:
    """The first error of each field (a wrong platform would otherwise also be a missing one)."""
    seen: set[str] = set()
    out = []
    for e in errors:
        if e.field not in seen:
            seen.add(e.field)
            out.append(e)
    return out
