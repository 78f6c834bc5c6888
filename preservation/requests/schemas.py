"""Input and output models of the preservation-request contract (docs/api.md).

Inputs refuse unknown fields and cap every length; outputs are exactly what the API returns
(the OpenAPI description is generated from them and responses are checked against it).
Deeper checks (identifier syntax, local times and zones, the regime and provider keys) are made
by the service, which names the field the same way ("identifiers[0].at")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator

from preservation.domain.lifecycle import Status
from preservation.domain.text import MultiLine, SingleLine

IdentifierType = Literal[
    "email", "url", "domain", "phone", "ipv4", "ipv6", "account", "imei", "mac", "crypto"
]
DataCategory = Literal["subscriber", "identifying", "traffic", "content"]
StatusName = Literal[
    "draft",
    "awaiting_validation",
    "queued",
    "sent",
    "preserved",
    "extension_requested",
    "mla_sent",
    "closed",
    "lapsed",
]
assert set(StatusName.__args__) == {s.value for s in Status}  # type: ignore[attr-defined]

#: Caps on free text (characters). Letters are read by people: a summary is a paragraph or two.
SHORT = 200
TEXT = 4000
MAX_IDENTIFIERS = 50  # the schema's cap; the service applies settings.max_identifiers too


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. US, DE)")
    return code


def _categories(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if len(set(value)) != len(value):
        raise ValueError("each data category may appear once")
    return value


# --- input -------------------------------------------------------------------------------------


class IdentifierIn(BaseModel):
    """One identifier as the investigator gives it. Local times are read in `tz` (IANA zone);
    an ISO 8601 time with an explicit offset is taken as is."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: IdentifierType
    value: str = Field(min_length=1, max_length=1000)
    #: The platform of an account ("instagram"), or of a handle; the chain of a crypto address
    #: ("bitcoin", "ethereum"; found from the address when left out).
    platform: str | None = Field(None, min_length=1, max_length=100)
    #: Source port of an IPv4/IPv6 address (carrier-grade NAT makes an address alone ambiguous).
    port: int | None = Field(None, ge=1, le=65535)
    at: str | None = Field(None, min_length=1, max_length=64)
    from_: str | None = Field(None, alias="from", min_length=1, max_length=64)
    to: str | None = Field(None, min_length=1, max_length=64)
    tz: str | None = Field(None, min_length=1, max_length=64)
    #: Resolves a local time that falls in a daylight-saving change: true = the summer-time reading.
    dst: bool | None = None
    #: How to read a numeric log date such as 05/06/2026 (never guessed).
    day_first: bool | None = None

    def raw(self) -> dict[str, object]:
        """The dict identifiers.check_identifier reads (contract names, unset fields left out)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class EmergencyIn(BaseModel):
    """The facts of an emergency disclosure request (`"kind": "emergency"`): each is required,
    and a request without them is refused naming each one (`emergency.threat`, ...)."""

    model_config = ConfigDict(extra="forbid")

    #: The danger of death or serious physical injury: who is at risk, from what.
    threat: MultiLine = Field("", max_length=TEXT)
    #: Why the normal process (preservation, then the formal request) is too slow.
    why_now: MultiLine = Field("", max_length=TEXT)
    #: The data needed and how they answer the threat (e.g. the last login IP address, to
    #: locate the person).
    data_needed: MultiLine = Field("", max_length=TEXT)
    #: The officer's direct line, in international format (+...): the provider calls back there.
    callback_phone: SingleLine = Field("", max_length=40)


class _RequestFields(BaseModel):
    case_reference: SingleLine | None = Field(None, max_length=SHORT)
    offence: MultiLine | None = Field(None, max_length=TEXT)
    summary: MultiLine | None = Field(None, max_length=TEXT)
    relevance: MultiLine | None = Field(None, max_length=TEXT)
    #: Why the data must be preserved now (Budapest Convention Art. 29(2)(e)).
    necessity: MultiLine | None = Field(None, max_length=TEXT)
    #: The legal instrument; omitted, the service chooses it from the route and the unit's State
    #: (GET /api/v1/instruments); given, it must fit them.
    regime: str | None = Field(None, min_length=1, max_length=40)
    #: ISO 3166-1 alpha-2 code of the requested country (where the data are).
    country: str | None = Field(None, min_length=2, max_length=2)
    #: A provider slug from the directory, or null.
    provider: str | None = Field(None, min_length=1, max_length=64)
    data_categories: list[DataCategory] | None = Field(None, max_length=4)
    urgent: bool | None = None
    urgency_reason: MultiLine | None = Field(None, max_length=TEXT)
    confidential: bool | None = None
    mla_to_follow: bool | None = None
    #: Language of the letter (a folder under preservation/documents/templates).
    lang: str | None = Field(
        None, min_length=2, max_length=10, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$"
    )
    identifiers: list[IdentifierIn] | None = Field(None, max_length=MAX_IDENTIFIERS)
    #: An emergency's facts (only with `"kind": "emergency"`; PATCH replaces them whole).
    emergency: EmergencyIn | None = None

    @field_validator("country")
    @classmethod
    def _check_country(cls, value: str | None) -> str | None:
        return _country(value)

    @field_validator("data_categories")
    @classmethod
    def _check_categories(cls, value: list[str] | None) -> list[str] | None:
        return _categories(value)

    @field_validator("provider")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return value.strip().lower() if value is not None else None


class RequestCreate(_RequestFields):
    """POST /api/v1/requests. `submit: true` creates and submits in one transaction."""

    model_config = ConfigDict(extra="forbid")

    case_reference: SingleLine = Field("", max_length=SHORT)
    offence: MultiLine = Field("", max_length=TEXT)
    summary: MultiLine = Field("", max_length=TEXT)
    relevance: MultiLine = Field("", max_length=TEXT)
    necessity: MultiLine = Field("", max_length=TEXT)
    regime: str | None = Field(None, min_length=1, max_length=40)
    data_categories: list[DataCategory] = Field(
        default_factory=lambda: ["subscriber", "traffic"], max_length=4
    )
    urgent: bool = False
    urgency_reason: MultiLine = Field("", max_length=TEXT)
    confidential: bool = True
    mla_to_follow: bool = True
    lang: str = Field("en", min_length=2, max_length=10, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=MAX_IDENTIFIERS)
    submit: bool = False
    #: "preservation" (default), or "emergency": an emergency disclosure request (danger of
    #: death or serious physical injury), with its facts in `emergency`; routed to the
    #: provider's emergency channel or the 24/7 point of contact, followed up in hours.
    kind: Literal["preservation", "emergency"] = "preservation"
    # A request sent outside the service, recorded after the fact (requests/record.py).
    #: Nothing is dispatched; the deadlines run from sent_at (and preserved_at).
    record_only: bool = False
    #: When it was sent (record_only): ISO 8601 with an offset, a local time with "tz", or a date.
    sent_at: str | None = Field(None, min_length=1, max_length=64)
    #: When the provider preserved the data, if it confirmed (record_only).
    preserved_at: str | None = Field(None, min_length=1, max_length=64)
    provider_reference: SingleLine = Field("", max_length=200)
    #: IANA zone of sent_at and preserved_at given as local times; "dst" resolves a DST change.
    tz: str | None = Field(None, min_length=1, max_length=64)
    dst: bool | None = None


class RequestPatch(_RequestFields):
    """PATCH /api/v1/requests/{id} (drafts only): the fields given replace the stored ones;
    `identifiers`, when given, replaces the whole list."""

    model_config = ConfigDict(extra="forbid")


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: A whole reference, case reference (any case), identifier (as given or normalised) or
    #: provider slug (requests/listing.py).
    q: str | None = Field(None, max_length=200, examples=["CY-2026-0042", "203.0.113.7"])
    status: StatusName | None = None
    #: ISO 8601 duration: open requests whose preservation expires between now and now + this,
    #: soonest first.
    expiring_within: str | None = Field(None, max_length=40, examples=["P14D"])
    limit: int = Field(100, ge=1, le=500)
    #: The `next` of the previous page (keyset pagination); absent: the first page.
    cursor: str | None = Field(None, max_length=500)


class LetterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["text", "html", "pdf", "docx", "json"] = "text"
    #: The recipient (its id in `recipients`) whose letter to show; default: the main addressee.
    recipient: int | None = Field(None, ge=1, le=2**63 - 1)
    #: Letter language; default: the request's.
    lang: str | None = Field(
        None, min_length=2, max_length=10, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$"
    )


# --- output ------------------------------------------------------------------------------------


class LocalTimePublic(BaseModel):
    """An instant as the investigator gave it, in its zone."""

    #: The local wall-clock time with its offset, ISO 8601 ("2026-11-20T14:03:11+01:00").
    local: str
    #: The text as given ("2026-11-20T14:03:11", "20/Nov/2026:14:03:11 +0100").
    given: str
    #: IANA zone name; without a zone, "UTC" or the bare offset ("UTC+02:00").
    tz: str
    #: "+01:00"
    offset: str
    #: "CET"; may be a bare offset where the zone has no abbreviation.
    abbreviation: str
    #: "2026-11-20 14:03:11 CET (UTC+01:00), 2026-11-20 13:03:11 UTC"
    text: str


class IdentifierPublic(BaseModel):
    position: int
    type: str
    #: As given.
    value: str
    #: Normalised (compressed IPv6, lower-case domain, E.164 phone, URL with scheme and host).
    normalized: str
    platform: str | None
    port: int | None
    tz: str | None
    at_utc: datetime | None
    from_utc: datetime | None
    to_utc: datetime | None
    #: The instants as given, by field: "at", "from", "to".
    local: dict[str, LocalTimePublic]
    warnings: list[str]


class InstrumentPublic(BaseModel):
    #: The instrument's key (GET /api/v1/instruments).
    key: str
    #: What the letter cites as its legal basis.
    citation: str
    #: Why this instrument applies to this recipient.
    why: str


class RecipientPublic(BaseModel):
    #: The outbox row's id (None while the request is a draft): `?recipient=` of the letter.
    id: int | None = None
    #: provider | poc | copy
    role: str
    #: email | portal | webhook
    channel: str
    to: str
    name: str
    #: planned (draft) | pending | sending | sent | failed | handoff (portal: a task for the officer)
    status: str
    #: The legal instrument this recipient's letter rests on.
    instrument: InstrumentPublic | None = None


class FollowUpPublic(BaseModel):
    #: The preservation request made after the emergency (POST .../follow-up).
    id: int
    reference: str


class EmergencyPublic(BaseModel):
    threat: str
    why_now: str
    data_needed: str
    #: The officer's direct line (E.164).
    callback_phone: str
    #: The preservation request that followed the emergency, once made.
    follow_up: FollowUpPublic | None = None


class CallPublic(BaseModel):
    """A number to call now about an emergency request."""

    #: provider (its emergency line) | poc (the 24/7 point of contact)
    role: str
    name: str
    #: E.164
    phone: str
    hours: str = ""


class RoutePublic(BaseModel):
    channel: str
    to: str
    copy_to: list[int]
    why: str


class ChecklistItem(BaseModel):
    key: str
    label: str
    ok: bool
    #: A required item blocks submission while it is not ok.
    required: bool


class ChecklistPublic(BaseModel):
    complete: bool
    #: Keys of the required items that are not ok.
    missing: list[str]
    items: list[ChecklistItem]


class DeadlinePublic(BaseModel):
    kind: str
    due_at: datetime


class ExtensionPublic(BaseModel):
    requested_at: str
    granted_at: str | None = None
    #: The provider's reference for the extension, when it gave one.
    reference: str = ""


class RequestPublic(BaseModel):
    id: int
    reference: str
    status: StatusName
    unit: str
    created_by: str
    case_reference: str
    offence: str
    summary: str
    relevance: str
    necessity: str
    regime: str
    #: True when the officer named the instrument; False when the service chose it.
    regime_asked: bool
    country: str | None
    provider: str | None
    data_categories: list[str]
    urgent: bool
    urgency_reason: str
    confidential: bool
    mla_to_follow: bool
    lang: str
    identifiers: list[IdentifierPublic]
    route: RoutePublic | None
    recipients: list[RecipientPublic]
    checklist: ChecklistPublic
    warnings: list[str]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    sent_at: datetime | None
    preserved_at: datetime | None
    provider_reference: str
    mla_sent_at: datetime | None
    mla_reference: str
    #: When the requested State confirmed receipt of the MLA request.
    mla_received_at: datetime | None
    #: EPOC-PR: the addressee's receipt, as the national IT system reports it.
    received_at: datetime | None = None
    closed_at: datetime | None
    outcome: str
    extensions: list[ExtensionPublic]
    expires_at: datetime | None
    expiry_rule: str
    held_until_decision: bool
    next_reminder_at: datetime | None
    deadlines: list[DeadlinePublic]
    #: "preservation" or "emergency".
    kind: str = "preservation"
    #: An emergency's facts (null for a preservation request).
    emergency: EmergencyPublic | None = None
    #: Numbers to call now (an emergency), first first: the provider's emergency line, or the
    #: 24/7 point of contact's telephone.
    call: list[CallPublic] = Field(default_factory=list)
    #: Actions the current state allows (POST /api/v1/requests/{id}/<action>).
    allowed_actions: list[str]
    version: int
    #: Sent outside the service and recorded after the fact: nothing was dispatched.
    record_only: bool = False


class RequestSummary(BaseModel):
    id: int
    reference: str
    status: StatusName
    case_reference: str
    regime: str
    country: str | None
    provider: str | None
    urgent: bool
    created_at: datetime
    submitted_at: datetime | None
    expires_at: datetime | None
    next_reminder_at: datetime | None
    #: "preservation" or "emergency".
    kind: str = "preservation"


class RequestList(BaseModel):
    items: list[RequestSummary]
    #: The cursor of the next page (`?cursor=`); null on the last page.
    next: str | None
    limit: int


class EventPublic(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    detail: dict[str, object]
    hash: str
    prev_hash: str


class EventList(BaseModel):
    items: list[EventPublic]
    #: The cursor of the next page (`?cursor=`); null on the last page.
    next: str | None = None


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(200, ge=1, le=1000)
    #: The `next` of the previous page; absent: from the first event.
    cursor: str | None = Field(None, max_length=500)
