"""HTML form <-> contract body for the request pages, and the mapping of 422 field names
("identifiers[0].at") to the inputs that show them ("identifiers-0-at"). Pure: no I/O.

The form is the API's body spelled as form fields; every rule stays in the schemas and the
service (the pages parse the same RequestCreate / RequestPatch models)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from preservation.errors import FieldError

REQUEST_TEXT = ("case_reference", "offence", "summary", "relevance", "necessity", "urgency_reason")
REQUEST_CHOICE = ("regime", "country", "provider", "lang")
REQUEST_FLAGS = ("urgent", "confidential", "mla_to_follow")
CATEGORIES = ("subscriber", "identifying", "traffic", "content")
IDENTIFIER_TYPES = ("ipv4", "ipv6", "email", "url", "domain", "phone", "account", "imei", "crypto")
IDENTIFIER_FIELDS = ("type", "value", "platform", "port", "at", "from", "to", "tz", "dst")
MAX_ROWS = 50
DEFAULT_ROWS = 1


def field_id(name: str) -> str:
    """The id of the input that shows errors of a contract field:
    "identifiers[0].at" -> "identifiers-0-at", "query.q" -> "query-q"."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", name.replace("]", "")).replace("[", "-").strip("-")


_LABELS = {
    "at": "time",
    "from": "from",
    "to": "to",
    "tz": "time zone",
    "dst": "daylight saving",
    "port": "source port",
    "case_reference": "case reference",
    "urgency_reason": "reason for urgency",
    "mla_to_follow": "MLA to follow",
    "data_categories": "data to preserve",
    "provider_reference": "provider's reference",
    "preserved_at": "preserved at",
    "requested_at": "requested at",
    "sent_at": "sent at",
    "le_email": "law-enforcement e-mail",
    "portal_url": "portal URL",
    "preservation_days": "preservation days",
    "verified_on": "verified on",
    "unit.email": "the unit's e-mail",
    "emergency.threat": "the threat",
    "emergency.why_now": "why it cannot wait",
    "emergency.data_needed": "data needed",
    "emergency.callback_phone": "your direct line",
    "unit.phone": "the unit's telephone",
}
_ROW = re.compile(r"^identifiers\[(\d+)\](?:\.(\w+))?$")


def field_label(name: str) -> str:
    """A contract field name as people read it: "identifiers[0].at" -> "Identifier 1: time"."""
    match = _ROW.match(name)
    if match:
        head = f"Identifier {int(match[1]) + 1}"
        return f"{head}: {_LABELS.get(match[2], match[2])}" if match[2] else head
    label = _LABELS.get(name, name.replace("_", " "))
    return label[:1].upper() + label[1:]


@dataclass(kw_only=True)
class FormErrors:
    """Errors by input id, plus the full list for the summary at the top of the form."""

    by_id: dict[str, list[str]] = field(default_factory=dict)
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (id, label, message)

    @classmethod
    def of(cls, errors: Iterable[FieldError]) -> FormErrors:
        out = cls()
        for e in errors:
            ident = field_id(e.field)
            out.by_id.setdefault(ident, []).append(e.message)
            out.items.append((ident, field_label(e.field), e.message))
        return out

    def __bool__(self) -> bool:
        return bool(self.items)

    def get(self, ident: str) -> list[str]:
        return self.by_id.get(ident, [])


#: "platform:handle" as people type an account ("instagram:some.handle"), not a URL.
_PLATFORM_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z0-9._-]{0,62}):(?!//)([^\s:]\S*)$")


def detected_type(value: str) -> tuple[str, str | None, str]:
    """(type, platform, value) for a row left on "detect": an "instagram:handle" is an account
    of that platform; otherwise the type the value reads as (domain.identifiers.detect_type),
    or "" when nothing fits (the service then names the row's type as required)."""
    from preservation.domain.identifiers import detect_type

    text = value.strip()
    kind = detect_type(text)
    m = _PLATFORM_PREFIX.match(text)
    if m and kind not in ("ipv6", "url", "mac"):
        return "account", m.group(1).lower(), m.group(2)
    return (kind.value if kind is not None else ""), None, text


@dataclass(kw_only=True)
class IdentifierRow:
    #: "" = detect from the value (the form's default: the type follows what was typed).
    type: str = ""
    value: str = ""
    platform: str = ""
    port: str = ""
    at: str = ""
    from_: str = ""
    to: str = ""
    tz: str = ""
    dst: str = ""

    def blank(self) -> bool:
        return not any(
            v.strip() for v in (self.value, self.platform, self.port, self.at, self.from_, self.to)
        )

    def body(self) -> dict[str, Any]:
        """The contract's identifier object (empty inputs left out; pydantic checks the rest)."""
        kind, platform, value = self.type.strip(), self.platform.strip(), self.value.strip()
        if not kind:
            kind, found, value = detected_type(value)
            platform = platform or found or ""
        elif (
            kind == "account"
            and (m := _PLATFORM_PREFIX.match(value))
            and (not platform or m.group(1).lower() == platform.lower())
        ):
            platform, value = platform or m.group(1).lower(), m.group(2)
        out: dict[str, Any] = {"value": value}
        if kind:
            out["type"] = kind
        for key, value in (
            ("platform", platform),
            ("port", self.port),
            ("at", self.at),
            ("from", self.from_),
            ("to", self.to),
            ("tz", self.tz),
        ):
            if value.strip():
                out[key] = value.strip()
        if self.dst in ("true", "false"):
            out["dst"] = self.dst == "true"
        return out


@dataclass(kw_only=True)
class RequestForm:
    """What the new-request form holds, as text, ready to render again."""

    values: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys((*REQUEST_TEXT, *REQUEST_CHOICE), "")
    )
    categories: list[str] = field(default_factory=lambda: ["subscriber", "traffic"])
    flags: dict[str, bool] = field(
        default_factory=lambda: {"urgent": False, "confidential": True, "mla_to_follow": True}
    )
    rows: list[IdentifierRow] = field(default_factory=lambda: [IdentifierRow()])
    draft_id: str = ""
    form_key: str = ""

    def body(self) -> dict[str, Any]:
        """The body of POST /api/v1/requests (without "submit")."""
        out: dict[str, Any] = {}
        for name in REQUEST_TEXT:
            out[name] = self.values.get(name, "")
        for name in REQUEST_CHOICE:
            value = self.values.get(name, "").strip()
            if value:
                out[name] = value
            elif name in ("country", "provider", "regime"):
                # regime: null hands the choice to the service (route and unit's country).
                out[name] = None
        out["data_categories"] = list(self.categories)
        for name in REQUEST_FLAGS:
            out[name] = self.flags.get(name, False)
        out["identifiers"] = [r.body() for r in self.rows if not r.blank()]
        return out

    def compact(self) -> None:
        """Drop blank rows (their indexes would not match the errors), keep one to fill in."""
        self.rows = [r for r in self.rows if not r.blank()] or [IdentifierRow()]


def parse_form(data: Mapping[str, Any], *, getall: Any = None) -> RequestForm:
    """Read the posted form. `getall(name)` returns every value of a repeated field."""
    form = RequestForm()
    form.values = {n: str(data.get(n, "")) for n in (*REQUEST_TEXT, *REQUEST_CHOICE)}
    form.categories = [c for c in (getall("data_categories") if getall else []) if c in CATEGORIES]
    form.flags = {n: data.get(n) in ("on", "true", "1") for n in REQUEST_FLAGS}
    form.draft_id = str(data.get("draft_id", "")).strip()
    form.form_key = str(data.get("form_key", "")).strip()[:100]
    try:
        count = int(str(data.get("identifier_rows", DEFAULT_ROWS)))
    except ValueError:
        count = DEFAULT_ROWS
    count = max(0, min(count, MAX_ROWS))
    rows = []
    for i in range(count):

        def get(name: str, i: int = i) -> str:
            return str(data.get(f"identifiers-{i}-{name}", ""))[:1000]

        rows.append(
            IdentifierRow(
                type=get("type"),
                value=get("value"),
                platform=get("platform"),
                port=get("port"),
                at=get("at"),
                from_=get("from"),
                to=get("to"),
                tz=get("tz"),
                dst=get("dst"),
            )
        )
    form.rows = rows or [IdentifierRow()]
    return form


def form_from_public(public: Any) -> RequestForm:
    """A stored draft (RequestPublic) as the form that edits it."""
    form = RequestForm()
    form.values = {
        "case_reference": public.case_reference,
        "offence": public.offence,
        "summary": public.summary,
        "relevance": public.relevance,
        "necessity": public.necessity,
        "urgency_reason": public.urgency_reason,
        "regime": public.regime if public.regime_asked else "",
        "country": public.country or "",
        "provider": public.provider or "",
        "lang": public.lang,
    }
    form.categories = list(public.data_categories)
    form.flags = {
        "urgent": public.urgent,
        "confidential": public.confidential,
        "mla_to_follow": public.mla_to_follow,
    }
    rows = []
    for ident in public.identifiers:
        local = ident.local or {}

        def given(name: str, local: dict[str, Any] = local) -> str:
            item = local.get(name)
            if item is None:
                return ""
            # The text as given when the service keeps it, else the wall time with its offset.
            return str(getattr(item, "given", None) or item.local)

        rows.append(
            IdentifierRow(
                type=ident.type,
                value=ident.value,
                platform=ident.platform or "",
                port="" if ident.port is None else str(ident.port),
                at=given("at"),
                from_=given("from"),
                to=given("to"),
                tz=ident.tz or "",
            )
        )
    form.rows = rows or [IdentifierRow()]
    form.draft_id = str(public.id)
    return form


_READINGS = re.compile(r"dst true: (?P<true>[^;]+); dst false: (?P<false>[^;]+)")


def dst_choices(messages: Iterable[str]) -> list[tuple[str, str]] | None:
    """When an identifier's error is a daylight-saving ambiguity, the two readings to offer:
    [("true", "CEST (UTC+02:00) = ... UTC"), ("false", ...)], earlier instant first."""
    for message in messages:
        match = _READINGS.search(message)
        if match:
            return [("true", match["true"].strip()), ("false", match["false"].strip())]
        if "candidate instants:" in message:
            return [("true", "the first reading (summer time)"), ("false", "the second reading")]
    return None
