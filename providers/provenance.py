"""Where a provider's facts come from, and the values that carry addresses (pure; no I/O).

A provider row names the document it was built from (``source``: URL, title, the date the
document itself carries, and its kind), any further documents (``other_sources``) and, for each
field not taken from ``source``, which of those it came from (``facts_from``). Addresses that a
letter goes to are where a wrong fact does harm: ``address_problems`` says which of a row's
law-enforcement addresses are not on one of the provider's own domains, or rest on a secondary
document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contacts.validation import clean_text, country_code, email_address, http_url, phone_e164

__all__ = [
    "ADDRESS_FIELDS",
    "CATEGORIES",
    "DOCUMENT_KINDS",
    "EmergencyContact",
    "Entity",
    "EuRepresentative",
    "SourceDoc",
    "address_problems",
    "document_date",
    "document_url",
]

#: provider: the provider's own page or guide; official: a government, EU or Council of Europe
#: page; secondary: anything else (news, summaries, community lists, third-party copies).
DOCUMENT_KINDS = ("provider", "official", "secondary")
DocumentKind = Literal["provider", "official", "secondary"]
#: What units look for a provider as.
CATEGORIES = (
    "messaging",
    "social",
    "mail",
    "payments",
    "crypto",
    "hosting",
    "registrar",
    "cloud",
    "vpn",
    "gaming",
    "dating",
    "adult",
    "marketplace",
    "storage",
    "telecom",
    "isp",
    "other",
)
#: Fields that hold an address a request or a letter is sent to. They may come only from a
#: document of kind provider or official (``address_problems``).
ADDRESS_FIELDS = ("le_email", "portal_url", "emergency_contact", "entities", "eu_representative")

_PUBLISHED = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")


def _text(limit: int) -> Any:
    return Field(default="", max_length=limit)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceDoc(_Value):
    """A document a row was built from."""

    url: str = Field(max_length=1000)
    title: str = _text(500)
    #: The date the document itself carries ("last updated"): YYYY-MM-DD, YYYY-MM or YYYY;
    #: null when it carries none. Not the day it was read (that is the row's ``verified_on``).
    published: str | None = None
    kind: DocumentKind

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> Any:
        return http_url(v) if isinstance(v, str) else v

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, v: Any) -> Any:
        return clean_text(v) if isinstance(v, str) else ("" if v is None else v)

    @field_validator("published", mode="before")
    @classmethod
    def _published(cls, v: Any) -> Any:
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str):
            v = v.strip()
            if not v:
                return None
            if not _PUBLISHED.match(v):
                raise ValueError("write the document's date as YYYY-MM-DD, YYYY-MM or YYYY")
            document_date(v)  # a real day of a real month
        return v


class Entity(_Value):
    """The legal entity that holds the data of users of a region, and where it is."""

    #: ISO 3166-1 alpha-2, "EEA", "EU", a region the provider names ("European Region"), or
    #: "default" (everyone else).
    region: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=300)
    address: str = _text(500)

    @field_validator("region", "name", "address", mode="before")
    @classmethod
    def _clean(cls, v: Any) -> Any:
        return clean_text(v) if isinstance(v, str) else ("" if v is None else v)


class EuRepresentative(_Value):
    """The designated establishment or legal representative in the Union (Directive (EU)
    2023/1544): the addressee of an EPOC-PR."""

    name: str = Field(min_length=1, max_length=300)
    address: str = _text(500)
    country: str | None = Field(default=None, max_length=2)
    email: str | None = Field(default=None, max_length=320)

    @field_validator("name", "address", mode="before")
    @classmethod
    def _clean(cls, v: Any) -> Any:
        return clean_text(v) if isinstance(v, str) else ("" if v is None else v)

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, v: Any) -> Any:
        return (country_code(v) if v.strip() else None) if isinstance(v, str) else v

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, v: Any) -> Any:
        return (email_address(v) if v.strip() else None) if isinstance(v, str) else v


class EmergencyContact(_Value):
    """Where a request about a threat to life goes, as the provider publishes it."""

    email: str | None = Field(default=None, max_length=320)
    portal_url: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, v: Any) -> Any:
        return (email_address(v) if v.strip() else None) if isinstance(v, str) else v

    @field_validator("portal_url", mode="before")
    @classmethod
    def _portal(cls, v: Any) -> Any:
        return (http_url(v) if v.strip() else None) if isinstance(v, str) else v

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, v: Any) -> Any:
        return (phone_e164(v) if v.strip() else None) if isinstance(v, str) else v

    def is_empty(self) -> bool:
        return not (self.email or self.portal_url or self.phone)


def document_date(published: str | None) -> date | None:
    """The first day a ``published`` value can mean (``"2014"`` -> 2014-01-01): read on the
    safe side, a document of unknown month counts as the oldest it can be."""
    if not published:
        return None
    parts = [int(p) for p in published.split("-")]
    while len(parts) < 3:
        parts.append(1)
    try:
        return date(parts[0], parts[1], parts[2])
    except ValueError:
        raise ValueError(f"{published!r} is not a date") from None


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def document_url(row: Any, field: str) -> str | None:
    """The URL of the document a row's ``field`` comes from: its ``facts_from`` entry, else
    ``source``."""
    facts = _get(row, "facts_from") or {}
    if facts.get(field):
        return str(facts[field])
    source = _get(row, "source")
    return _get(source, "url") if source is not None else None


def _documents(row: Any) -> dict[str, str]:
    """URL -> kind of every document the row names."""
    out: dict[str, str] = {}
    for doc in [_get(row, "source"), *(_get(row, "other_sources") or [])]:
        if doc is not None and _get(doc, "url"):
            out[str(_get(doc, "url"))] = str(_get(doc, "kind"))
    return out


def _registrable(host: str) -> str | None:
    from providers.matching import registered_domain

    return registered_domain(host)


def _own(address: str, own: set[str]) -> bool:
    from providers.matching import host_of

    host = host_of(address)
    if host is None:
        return False
    top = _registrable(host) or host
    return top in own or host in own


def _addresses(row: Any) -> Iterable[tuple[str, str]]:
    """(field, address) of every e-mail and URL the row sends requests to."""
    for name in ("le_email", "portal_url"):
        value = _get(row, name)
        if value:
            yield name, str(value)
    emergency = _get(row, "emergency_contact")
    if emergency is not None:
        for name in ("email", "portal_url"):
            value = _get(emergency, name)
            if value:
                yield f"emergency_contact.{name}", str(value)
    # The EU representative may be a third party (a law firm or a representative service):
    # its address is not held to the provider's domains, only to a provider or official
    # document (below).


def address_problems(row: Any) -> list[str]:
    """Why the row's law-enforcement addresses cannot be trusted as they stand (empty: none).

    - An e-mail or URL whose registrable domain is not one of the provider's own ``domains``
      (a look-alike page can name any address), unless the row's ``intake_page`` is the
      provider's own page that sends officers there (an intake platform such as Kodex): a
      page on one of its domains, and one of the row's documents of kind provider.
    - An address field whose document is secondary: addresses come only from the provider's
      own page or an official one.
    """
    problems: list[str] = []
    own: set[str] = set()
    for d in _get(row, "domains") or []:
        own.add(d)
        top = _registrable(d)
        if top:
            own.add(top)
    docs = _documents(row)
    page = _get(row, "intake_page")
    intake_ok = bool(page) and docs.get(str(page)) == "provider" and _own(str(page), own)
    for field, address in _addresses(row):
        if _own(address, own) or intake_ok:
            continue
        problems.append(f"{field}: {address} is not on one of the provider's own domains")
    for field in ADDRESS_FIELDS:
        value = _get(row, field)
        if not value:
            continue
        url = document_url(row, field)
        kind = docs.get(url or "")
        if kind is None:
            problems.append(f"{field}: its document {url} is not among the row's sources")
        elif kind == "secondary":
            problems.append(f"{field}: taken from a secondary document ({url})")
    return problems
