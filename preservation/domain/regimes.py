"""Legal regimes: how long a preservation lasts, how it is extended, what the MLA request changes.

The table lives in config/regimes.toml (one TOML table per regime, documented there). This module is
pure: `parse_regimes` does the strict validation of the parsed table;
`preservation.settings.load_regimes(path)` reads the file. A malformed table stops start-up with a `RegimeFileError` naming the regime and the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from preservation.errors import InvalidInput, SettingsError


class StartEvent(StrEnum):
    #: The clock runs from our sending of the request (taken as its receipt).
    SENT = "sent"
    #: The clock runs from the preservation itself, as confirmed by the provider or requested Party.
    PRESERVED = "preserved"


class PeriodKind(StrEnum):
    #: Kept at least that long ("not less than 60 days"); nothing guarantees more.
    MINIMUM = "minimum"
    #: Kept exactly that long ("retained for a period of 90 days", "cease after 60 days").
    FIXED = "fixed"
    #: Kept at most that long ("up to a maximum of ninety days").
    MAXIMUM = "maximum"


class OnMla(StrEnum):
    #: Once the formal request is received, the data stay preserved until it is decided.
    UNTIL_DECISION = "until_decision"
    #: The clock keeps running: the formal process has to arrive before expiry.
    NO_CHANGE = "no_change"


class Channel(StrEnum):
    #: The requested State's 24/7 point of contact (Budapest Convention Art. 35).
    POC = "poc"
    #: The provider itself (its portal or law-enforcement address).
    PROVIDER = "provider"
    #: The EU's decentralised IT system (Regulation (EU) 2023/1543, Art. 19): drafted here,
    #: transmitted by the national system.
    EU_SYSTEM = "eu-system"
    #: Any channel (a domestic order).
    ANY = "any"


class Kind(StrEnum):
    #: A preservation request: keep the data until the formal request arrives.
    PRESERVATION = "preservation"
    #: An emergency disclosure request (danger of death or serious physical injury): no
    #: preservation period; answered in hours.
    EMERGENCY = "emergency"


class HoldStarts(StrEnum):
    #: The hold pending the decision starts when the formal request is sent.
    MLA_SENT = "mla_sent"
    #: It starts when the requested State confirms receipt of the MLA request (Art. 29(7)).
    MLA_RECEIVED = "mla_received"


@dataclass(frozen=True, kw_only=True)
class StateLimit:
    """The requested State's own law limits how long it keeps the data, whatever the treaty says:
    a practical end date `days` after the preservation, citing `citation`."""

    days: int
    citation: str


class RegimeFileError(SettingsError):
    """The regimes table is missing, unreadable or malformed."""


@dataclass(frozen=True, kw_only=True)
class Regime:
    """One legal regime, as configured; see config/regimes.toml for the meaning of each field."""

    key: str
    name: str
    citation: str
    sources: tuple[str, ...]
    period_days: int
    period_kind: PeriodKind
    starts_from: StartEvent
    extension_days: int
    max_extensions: int
    extension_citation: str
    extension_lead_days: int
    on_mla: OnMla
    mla_citation: str
    applies_from: date | None = None
    template: bool = False
    notes: str = ""
    #: The provision the request rests on, printed as its legal basis (Art. 29(1), not 29(7)).
    basis: str = ""
    #: Who may receive a request under this instrument.
    channel: Channel = Channel.ANY
    #: Parties list (config/parties.toml) that both the requesting and the requested State must
    #: be on, or "" when the instrument is not a treaty between States.
    parties: str = ""
    #: Only units of these States may use it (us-2703f: "US"); empty = any.
    requesting_countries: tuple[str, ...] = ()
    #: False for an instrument not in force yet (CETS 224): never chosen, refused when asked for.
    in_force: bool = True
    #: What starts the hold pending the decision on the formal request (when on_mla holds).
    hold_starts: HoldStarts = HoldStarts.MLA_SENT
    #: The period is the provider's published period when it has one (provider-policy); the
    #: table's own period only stands in when the provider publishes none.
    period_from_provider: bool = False
    #: What the letter asks for besides preservation: "art30" (expedited disclosure of traffic
    #: data, Art. 30), "art29-6" (tell us if preservation would alert the user, Art. 29(6)).
    asks: tuple[str, ...] = ()
    #: Requested States whose own law limits the hold (ISO code -> StateLimit).
    state_limits: dict[str, StateLimit] = field(default_factory=dict)
    #: What the instrument is for: a preservation request, or an emergency disclosure request
    #: (which has no period: its period fields are zero and unused).
    kind: Kind = Kind.PRESERVATION

    @property
    def emergency(self) -> bool:
        return self.kind is Kind.EMERGENCY

    @property
    def holds_until_decision(self) -> bool:
        return self.on_mla is OnMla.UNTIL_DECISION

    @property
    def extendable(self) -> bool:
        return self.max_extensions > 0 and self.extension_days > 0


# key -> (expected type(s), required). bool is checked apart from int (bool is an int in Python).
_STR = "a string"
_INT = "a non-negative integer"
_POS = "a positive integer"
_FIELDS: dict[str, tuple[str, bool]] = {
    "name": (_STR, True),
    "citation": (_STR, True),
    "sources": ("a non-empty list of http(s) URLs", True),
    "period_days": (_POS, True),
    "period_kind": ("one of " + ", ".join(repr(k.value) for k in PeriodKind), True),
    "starts_from": ("one of " + ", ".join(repr(k.value) for k in StartEvent), True),
    "extension_days": (_INT, True),
    "max_extensions": (_INT, True),
    "extension_citation": (_STR, True),
    "extension_lead_days": (_INT, True),
    "on_mla": ("one of " + ", ".join(repr(k.value) for k in OnMla), True),
    "mla_citation": (_STR, True),
    "applies_from": ("a date (YYYY-MM-DD)", False),
    "template": ("true or false", False),
    "notes": (_STR, False),
    "basis": (_STR, False),
    "channel": ("one of " + ", ".join(repr(k.value) for k in Channel), False),
    "parties": (_STR, False),
    "requesting_countries": ("a list of ISO 3166-1 alpha-2 codes", False),
    "in_force": ("true or false", False),
    "hold_starts": ("one of " + ", ".join(repr(k.value) for k in HoldStarts), False),
    "period_from_provider": ("true or false", False),
    "asks": ("a list of 'art30', 'art29-6'", False),
    "state_limits": ("a table of ISO code = {days, citation}", False),
    "kind": ("one of " + ", ".join(repr(k.value) for k in Kind), False),
}
#: An emergency instrument has no preservation period: these keys may be left out (zero, unused).
_PERIOD_DEFAULTS: dict[str, Any] = {
    "period_days": 0,
    "period_kind": "fixed",
    "starts_from": "sent",
    "extension_days": 0,
    "max_extensions": 0,
    "extension_citation": "",
    "extension_lead_days": 0,
    "on_mla": "no_change",
    "mla_citation": "",
}
_ASKS = frozenset({"art30", "art29-6"})
_NON_EMPTY = frozenset({"name", "citation"})
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def parse_regimes(data: Mapping[str, Any], *, source: str = "regimes") -> dict[str, Regime]:
    """Validate a parsed regimes table strictly and build the regimes, keyed by regime key."""
    if not data:
        raise RegimeFileError(f"{source}: no regime defined")
    regimes: dict[str, Regime] = {}
    for key, table in data.items():
        if not isinstance(table, Mapping):
            raise RegimeFileError(
                f"{source}: top-level key {key!r} must be a table [{key}] describing a regime"
            )
        if not key or not set(key) <= _KEY_CHARS or key.startswith("-"):
            raise RegimeFileError(
                f"{source}: regime key {key!r} must be lower-case letters, digits and '-'"
            )
        regimes[key] = _parse_regime(key, table, source)
    return regimes


def get_regime(regimes: Mapping[str, Regime], key: str, *, field: str = "regime") -> Regime:
    """The regime named `key`, or InvalidInput naming `field` and the known keys."""
    try:
        return regimes[key]
    except KeyError:
        known = ", ".join(sorted(k for k, r in regimes.items() if not r.template))
        raise InvalidInput(field, f"unknown regime {key!r}; known: {known}") from None


def _parse_regime(key: str, table: Mapping[str, Any], source: str) -> Regime:
    def fail(name: str, message: str) -> RegimeFileError:
        return RegimeFileError(f"{source}: regime {key!r}, key {name!r}: {message}")

    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise fail(unknown[0], "unknown key; allowed keys: " + ", ".join(_FIELDS))
    if table.get("kind") == Kind.EMERGENCY.value:
        table = {**_PERIOD_DEFAULTS, **table}
    for name, (expected, required) in _FIELDS.items():
        if required and name not in table:
            raise fail(name, f"missing; expected {expected}")

    values: dict[str, Any] = {}
    for name, value in table.items():
        expected, _ = _FIELDS[name]

        def bad(value: Any = value, expected: str = expected, name: str = name) -> RegimeFileError:
            return fail(name, f"expected {expected}, got {value!r}")

        if expected == _STR:
            if not isinstance(value, str):
                raise bad()
            if name in _NON_EMPTY and not value.strip():
                raise fail(name, "must not be empty")
            values[name] = value.strip()
        elif expected in (_INT, _POS):
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad()
            positive = expected == _POS and table.get("kind") != Kind.EMERGENCY.value
            if value < 0 or (positive and value == 0):
                raise bad()
            values[name] = value
        elif name == "sources":
            if (
                not isinstance(value, list)
                or not value
                or not all(
                    isinstance(u, str) and u.startswith(("https://", "http://")) for u in value
                )
            ):
                raise bad()
            values[name] = tuple(value)
        elif name == "applies_from":
            # TOML has a native date; a datetime is refused (the instrument applies from a day).
            if isinstance(value, datetime) or not isinstance(value, date):
                raise bad()
            values[name] = value
        elif name in ("template", "in_force", "period_from_provider"):
            if not isinstance(value, bool):
                raise bad()
            values[name] = value
        elif name == "requesting_countries":
            if not isinstance(value, list) or not all(
                isinstance(c, str) and len(c) == 2 and c.isalpha() and c.isupper() for c in value
            ):
                raise bad()
            values[name] = tuple(value)
        elif name == "asks":
            if not isinstance(value, list) or not set(value) <= _ASKS:
                raise bad()
            values[name] = tuple(value)
        elif name == "state_limits":
            values[name] = _state_limits(value, bad)
        else:
            enum = {
                "period_kind": PeriodKind,
                "starts_from": StartEvent,
                "on_mla": OnMla,
                "channel": Channel,
                "hold_starts": HoldStarts,
                "kind": Kind,
            }[name]
            try:
                values[name] = enum(value)
            except ValueError:
                raise bad() from None

    if values["max_extensions"] > 0 and values["extension_days"] == 0:
        raise fail("extension_days", "must be positive when max_extensions is above 0")
    if not values.get("basis"):
        values["basis"] = values["citation"]
    return Regime(key=key, **values)


def _state_limits(value: Any, bad: Any) -> dict[str, StateLimit]:
    if not isinstance(value, Mapping):
        raise bad()
    out = {}
    for code, limit in value.items():
        if not (
            isinstance(code, str)
            and len(code) == 2
            and code.isupper()
            and isinstance(limit, Mapping)
            and set(limit) == {"days", "citation"}
            and isinstance(limit["days"], int)
            and not isinstance(limit["days"], bool)
            and limit["days"] > 0
            and isinstance(limit["citation"], str)
            and limit["citation"].strip()
        ):
            raise bad()
        out[code] = StateLimit(days=limit["days"], citation=limit["citation"].strip())
    return out
