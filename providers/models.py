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

from pydantic import field_validator
from sqlalchemy import JSON, Column, String, Text
from sqlmodel import Field, SQLModel

from contacts.validation import clean_text, country_code, each, email_address, http_url, is_stale

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
]

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
    #: Other names, products and platform names (``instagram``, ``ig``, ``gmail``).
    aliases: list[str] = Field(default_factory=list)
    #: Registered domains and host names served by the provider (unique across providers).
    domains: list[str] = Field(default_factory=list)
    #: ISO 3166-1 alpha-2 code of the provider's home country, or None.
    country: str | None = Field(default=None, max_length=2)
    portal_url: str | None = Field(default=None, max_length=500)
    le_email: str | None = Field(default=None, max_length=320)
    #: Takes preservation requests straight from foreign authorities; None = unknown.
    accepts_foreign_direct: bool | None = None
    preservation_days: int | None = Field(default=None, ge=1, le=3650)
    extension_days: int | None = Field(default=None, ge=1, le=3650)
    max_extensions: int | None = Field(default=None, ge=0, le=100)
    #: Days before expiry by which an extension must reach the provider.
    extension_lead_days: int | None = Field(default=None, ge=0, le=365)
    notifies_user: str = Field(default="unknown", max_length=20)
    emergency: str = ""
    notes: str = ""
    verified_on: date | None = None
    #: URL of the published guidelines the row was taken from.
    source: str = Field(default="", max_length=500)
    #: Legal entity to address by the user's region: keys are ISO alpha-2 codes, "EEA", a
    #: region named by the provider, or "default".
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

    @field_validator("source", mode="before", check_fields=False)
    @classmethod
    def _source(cls, v: Any) -> Any:
        if isinstance(v, str):
            return http_url(v) if v.strip() else ""
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


class ProviderCreate(ProviderBase, _ProviderChecks):
    pass


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
    source: str | None = Field(default=None, max_length=500)
    entity_by_region: dict[str, str] | None = None


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


class ProviderPublic(ProviderBase):
    #: Not verified within the configured age (or never): check before relying on it.
    stale: bool


def provider_public(provider: Provider, *, today: date, max_age_days: int) -> ProviderPublic:
    """The API view of a stored provider, with ``stale`` computed for ``today``."""
    data = provider.model_dump()
    data["stale"] = is_stale(provider.verified_on, today, max_age_days)
    return ProviderPublic.model_validate(data)
