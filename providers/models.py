"""Service providers and their law-enforcement policies: the SQLModel family ``ProviderBase``,
``ProviderCreate``, ``ProviderUpdate``, ``Provider`` (table ``provider``, primary key ``slug``)
and ``ProviderPublic``.

Unknown is a value here: ``accepts_foreign_direct`` and the period fields are ``None`` when the
provider's published guidelines do not say, and ``notifies_user`` is ``"unknown"``. The
natural key (upsert on import) is ``slug``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, Column, String, Text, event
from sqlmodel import Field, SQLModel

from contacts.validation import clean_text, country_code, each, email_address, http_url, is_stale
from providers.provenance import (
    CATEGORIES,
    EmergencyContact,
    Entity,
    EuRepresentative,
    SourceDoc,
    document_date,
)

__all__ = [
    "NOTIFIES_USER",
    "Provider",
    "ProviderBase",
    "ProviderCreate",
    "ProviderPublic",
    "ProviderUpdate",
    "domain_name",
    "is_stale",
    "provider_public",
    "staleness",
]

#: A document older than this many days is stale whenever it was read: providers revise their
#: guidelines about yearly, and a 2018 text read yesterday is still a 2018 text.
DOCUMENT_MAX_AGE_DAYS = 730
#: Fields ``facts_from`` may name (every fact of a row, not its provenance or its key).
FACT_FIELDS = frozenset(
    {
        "name",
        "category",
        "aliases",
        "domains",
        "platforms",
        "country",
        "portal_url",
        "le_email",
        "intake_page",
        "accepts_foreign_direct",
        "preservation_days",
        "extension_days",
        "max_extensions",
        "extension_lead_days",
        "notifies_user",
        "emergency",
        "emergency_contact",
        "entities",
        "eu_representative",
        "entity_by_region",
    }
)

#: Whether the provider tells its user about a request (see providers/data/README.md):
#: never; unless_asked (it stays silent when the requesting authority asks);
#: always (it notifies unless a law or court order forbids it: a request alone does not stop it);
#: unknown.
NOTIFIES_USER = ("never", "unless_asked", "always", "unknown")

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def domain_name(value: str) -> str:
    """A bare host name, lower-case and IDNA-encoded (no scheme, path, port or trailing dot)."""
    text = value.strip().rstrip(".").lower()
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} is not a domain name") from None
    labels = text.split(".")
    if len(labels) < 2 or len(text) > 253 or not all(_LABEL.match(x) for x in labels):
        raise ValueError(f"{value!r} is not a domain name (write e.g. example.com)")
    return text


def _alias(value: str) -> str:
    text = clean_text(value)
    if not text or len(text) > 100:
        raise ValueError("an alias must have 1 to 100 characters")
    return text


class ProviderBase(SQLModel):
    #: Stable identifier used in URLs and in requests (``/api/v1/providers/{slug}``).
    slug: str = Field(max_length=64)
    name: str = Field(min_length=1, max_length=200)
    #: What units look for it as (``provenance.CATEGORIES``): messaging, mail, telecom, ...
    category: str = Field(default="other", max_length=20)
    #: Other names, products and platform names (``instagram``, ``ig``, ``gmail``).
    aliases: list[str] = Field(default_factory=list)
    #: Registered domains and host names served by the provider (unique across providers).
    domains: list[str] = Field(default_factory=list)
    #: Platform names of account identifiers (``instagram:handle``); unique across providers.
    platforms: list[str] = Field(default_factory=list)
    #: ISO 3166-1 alpha-2 code of the provider's home country, or None.
    country: str | None = Field(default=None, max_length=2)
    portal_url: str | None = Field(default=None, max_length=500)
    le_email: str | None = Field(default=None, max_length=320)
    #: The provider's own page that sends officers to a third-party intake platform (Kodex):
    #: then ``portal_url`` may be on that platform's domain.
    intake_page: str | None = Field(default=None, max_length=1000)
    #: Takes preservation requests straight from foreign authorities; None = unknown.
    accepts_foreign_direct: bool | None = None
    preservation_days: int | None = Field(default=None, ge=1, le=3650)
    extension_days: int | None = Field(default=None, ge=1, le=3650)
    max_extensions: int | None = Field(default=None, ge=0, le=100)
    #: Days before expiry by which an extension must reach the provider.
    extension_lead_days: int | None = Field(default=None, ge=0, le=365)
    notifies_user: str = Field(default="unknown", max_length=20)
    emergency: str = ""
    #: Where a threat-to-life request goes: {"email", "portal_url", "phone"}.
    emergency_contact: EmergencyContact | None = None
    #: The legal entity holding the data per region: [{"region", "name", "address"}].
    entities: list[Entity] = Field(default_factory=list)
    #: The designated establishment or legal representative in the Union (EPOC-PR addressee).
    eu_representative: EuRepresentative | None = None
    notes: str = ""
    #: The day ``source`` was read (not the document's own date: that is ``source.published``).
    verified_on: date | None = None
    #: The document the row was built from: {"url", "title", "published", "kind"}.
    source: SourceDoc | None = None
    #: Further documents read for the row.
    other_sources: list[SourceDoc] = Field(default_factory=list)
    #: For each field not taken from ``source``: the URL of the ``other_sources`` entry it is
    #: from; ``"field:item"`` for one item of a list (``"domains:wa.me"``).
    facts_from: dict[str, str] = Field(default_factory=dict)
    #: Legal entity name by region (kept for older clients; derived from ``entities``).
    entity_by_region: dict[str, str] | None = None


class _ProviderChecks(SQLModel):
    @field_validator("slug", mode="before", check_fields=False)
    @classmethod
    def _slug(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower()
            if not _SLUG.match(v):
                raise ValueError("use 1-64 lower-case letters, digits and inner hyphens")
        return v

    @field_validator("name", "emergency", mode="before", check_fields=False)
    @classmethod
    def _text(cls, v: Any) -> Any:
        return clean_text(v) if isinstance(v, str) else v

    @field_validator("notes", mode="before", check_fields=False)
    @classmethod
    def _notes(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v

    @field_validator("aliases", mode="before", check_fields=False)
    @classmethod
    def _aliases(cls, v: Any) -> Any:
        return each(v, _alias) if isinstance(v, list | tuple) else v

    @field_validator("domains", mode="before", check_fields=False)
    @classmethod
    def _domains(cls, v: Any) -> Any:
        return each(v, domain_name) if isinstance(v, list | tuple) else v

    @field_validator("country", mode="before", check_fields=False)
    @classmethod
    def _country(cls, v: Any) -> Any:
        if isinstance(v, str):
            return country_code(v) if v.strip() else None
        return v

    @field_validator("portal_url", mode="before", check_fields=False)
    @classmethod
    def _portal(cls, v: Any) -> Any:
        if isinstance(v, str):
            return http_url(v) if v.strip() else None
        return v

    @field_validator("le_email", mode="before", check_fields=False)
    @classmethod
    def _email(cls, v: Any) -> Any:
        if isinstance(v, str):
            return email_address(v) if v.strip() else None
        return v

    @field_validator("notifies_user", mode="before", check_fields=False)
    @classmethod
    def _notifies(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower()
            if v not in NOTIFIES_USER:
                raise ValueError(f"must be one of {', '.join(NOTIFIES_USER)}")
        return v

    @field_validator("entity_by_region", mode="before", check_fields=False)
    @classmethod
    def _entities(cls, v: Any) -> Any:
        if isinstance(v, dict):
            out: dict[str, str] = {}
            for key, entity in v.items():
                if not isinstance(key, str) or not isinstance(entity, str):
                    raise ValueError("keys and values must be strings")
                k, e = clean_text(key), clean_text(entity)
                if not k or not e or len(k) > 64 or len(e) > 300:
                    raise ValueError(f"entry {key!r}: region 1-64 and entity 1-300 characters")
                out[k] = e
            return out or None
        return v

    @field_validator("category", mode="before", check_fields=False)
    @classmethod
    def _category(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower() or "other"
            if v not in CATEGORIES:
                raise ValueError(f"must be one of {', '.join(CATEGORIES)}")
        return v

    @field_validator("platforms", mode="before", check_fields=False)
    @classmethod
    def _platforms(cls, v: Any) -> Any:
        return each(v, lambda x: _alias(x).lower()) if isinstance(v, list | tuple) else v

    @field_validator("intake_page", mode="before", check_fields=False)
    @classmethod
    def _intake(cls, v: Any) -> Any:
        if isinstance(v, str):
            return http_url(v) if v.strip() else None
        return v

    @field_validator("source", mode="before", check_fields=False)
    @classmethod
    def _source_doc(cls, v: Any) -> Any:
        # Older clients send the URL alone: a document of unknown kind counts as secondary
        # (it can then give no address).
        if isinstance(v, str):
            return (
                {"url": v, "title": "", "published": None, "kind": "secondary"}
                if v.strip()
                else None
            )
        return v

    @field_validator("other_sources", "entities", mode="before", check_fields=False)
    @classmethod
    def _no_null_list(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("facts_from", mode="before", check_fields=False)
    @classmethod
    def _facts(cls, v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, dict):
            # "field", or "field:item" for one item of a list ("domains:wa.me").
            unknown = sorted(k for k in v if str(k).split(":", 1)[0] not in FACT_FIELDS)
            if unknown:
                raise ValueError(f"not a field of a provider: {', '.join(map(str, unknown))}")
        return v

    @field_validator("emergency_contact", mode="before", check_fields=False)
    @classmethod
    def _emergency_contact(cls, v: Any) -> Any:
        if isinstance(v, dict) and not any(isinstance(x, str) and x.strip() for x in v.values()):
            return None
        return v


class ProviderCreate(ProviderBase, _ProviderChecks):
    @model_validator(mode="after")
    def _provenance(self) -> ProviderCreate:
        docs = {d.url for d in self.other_sources}
        if self.source is not None:
            docs.add(self.source.url)
        for name, url in self.facts_from.items():
            if url not in docs:
                raise ValueError(
                    f"facts_from.{name}: {url} is not the source or one of other_sources"
                )
        # entity_by_region follows entities; an older client's entity_by_region alone becomes
        # entities without addresses.
        if self.entities:
            derived: dict[str, str] = {}
            for e in self.entities:
                derived.setdefault(e.region, e.name)
            self.entity_by_region = derived
        elif self.entity_by_region:
            self.entities = [
                Entity(region=k, name=v, address="") for k, v in self.entity_by_region.items()
            ]
        else:
            self.entity_by_region = None
        return self


class ProviderUpdate(_ProviderChecks):
    """Partial update (the slug is the resource's address and does not change here)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    aliases: list[str] | None = None
    domains: list[str] | None = None
    country: str | None = Field(default=None, max_length=2)
    portal_url: str | None = Field(default=None, max_length=500)
    le_email: str | None = Field(default=None, max_length=320)
    accepts_foreign_direct: bool | None = None
    preservation_days: int | None = Field(default=None, ge=1, le=3650)
    extension_days: int | None = Field(default=None, ge=1, le=3650)
    max_extensions: int | None = Field(default=None, ge=0, le=100)
    extension_lead_days: int | None = Field(default=None, ge=0, le=365)
    notifies_user: str | None = Field(default=None, max_length=20)
    emergency: str | None = None
    notes: str | None = None
    verified_on: date | None = None
    source: SourceDoc | None = None
    entity_by_region: dict[str, str] | None = None
    category: str | None = Field(default=None, max_length=20)
    platforms: list[str] | None = None
    intake_page: str | None = Field(default=None, max_length=1000)
    emergency_contact: EmergencyContact | None = None
    entities: list[Entity] | None = None
    eu_representative: EuRepresentative | None = None
    other_sources: list[SourceDoc] | None = None
    facts_from: dict[str, str] | None = None


class Provider(ProviderBase, table=True):
    __tablename__ = "provider"

    slug: str = Field(sa_column=Column(String(64), primary_key=True))
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    emergency: str = Field(default="", sa_column=Column(Text, nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    entity_by_region: dict[str, str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    # Columns added by revision 0008 (nullable: rows of older nodes have none). JSON values are
    # plain dicts and lists here; ProviderCreate and ProviderPublic give them their shape.
    category: str | None = Field(default="other", sa_column=Column(String(20), nullable=True))
    platforms: list[str] | None = Field(default_factory=list, sa_column=Column(JSON, nullable=True))
    intake_page: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    emergency_contact: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    entities: list[dict[str, Any]] | None = Field(
        default_factory=list, sa_column=Column(JSON, nullable=True)
    )
    eu_representative: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    #: The document (column ``source_doc``); the column ``source`` keeps its URL for nodes
    #: of an older release during a rolling upgrade (``source_url``).
    source: dict[str, Any] | str | None = Field(
        default=None, sa_column=Column("source_doc", JSON, nullable=True)
    )
    source_url: str = Field(
        default="", sa_column=Column("source", String(500), nullable=False, default="")
    )
    other_sources: list[dict[str, Any]] | None = Field(
        default_factory=list, sa_column=Column(JSON, nullable=True)
    )
    facts_from: dict[str, str] | None = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=True)
    )


@event.listens_for(Provider, "before_insert")
@event.listens_for(Provider, "before_update")
def _keep_source_url(_mapper: Any, _connection: Any, target: Provider) -> None:
    target.source_url = _url_of(target.source)


def _url_of(source: Any) -> str:
    if isinstance(source, str):
        return source[:500]
    return str((source or {}).get("url") or "")[:500]


def legacy_columns(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` (a ``ProviderCreate`` dump) with the value of the column older nodes read, for
    a Core INSERT (ORM inserts get it from the ``before_insert`` hook)."""
    return {**row, "source_url": _url_of(row.get("source"))}


class ProviderPublic(ProviderBase):
    #: Not verified within the configured age (or never), or its document is old: check
    #: before relying on it.
    stale: bool
    #: Why it is stale ("" when it is not).
    stale_reason: str = ""


def staleness(
    verified_on: date | None,
    source: Any,
    *,
    today: date,
    max_age_days: int,
    document_max_age_days: int = DOCUMENT_MAX_AGE_DAYS,
) -> str:
    """Why a row is stale on ``today`` ("" when it is not): read too long ago (or never), or
    read recently from a document whose own date is too old."""
    if is_stale(verified_on, today, max_age_days):
        if verified_on is None:
            return "never verified"
        return f"read {verified_on.isoformat()}, more than {max_age_days} days ago"
    published = (
        source.get("published") if isinstance(source, dict) else getattr(source, "published", None)
    )
    when = document_date(published) if published else None
    if when is not None and (today - when).days > document_max_age_days:
        return f"its document is dated {published}, more than {document_max_age_days} days ago"
    return ""


def provider_public(provider: Provider, *, today: date, max_age_days: int) -> ProviderPublic:
    """The API view of a stored provider, with ``stale`` computed for ``today``."""
    data = provider.model_dump()
    for name in ("platforms", "entities", "other_sources"):
        data[name] = data.get(name) or []
    data["facts_from"] = data.get("facts_from") or {}
    data["category"] = data.get("category") or "other"
    # A row an older node wrote has its URL alone (column ``source``): a document of unknown kind.
    source = data.get("source") or data.get("source_url") or None
    if isinstance(source, str):
        source = {"url": source, "title": "", "published": None, "kind": "secondary"}
    data["source"] = source
    reason = staleness(
        provider.verified_on, provider.source, today=today, max_age_days=max_age_days
    )
    data["stale"] = bool(reason)
    data["stale_reason"] = reason
    return ProviderPublic.model_validate(data)
