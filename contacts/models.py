"""24/7 points of contact (Budapest Convention Art. 35 and similar networks): the SQLModel
family ``ContactBase``, ``ContactCreate``, ``ContactUpdate``, ``Contact`` (table ``contact``)
and ``ContactPublic``.

Input is checked in ``ContactCreate`` and ``ContactUpdate`` only; a ``ValueError`` raised by a
validator becomes a pydantic error whose ``loc`` names the field. The natural key, used to
upsert on import, is ``(country, authority)``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from contacts.validation import (
    clean_text,
    country_code,
    each,
    email_address,
    is_stale,
    language_code,
    phone_e164,
)

__all__ = [
    "Contact",
    "ContactBase",
    "ContactCreate",
    "ContactPublic",
    "ContactUpdate",
    "contact_public",
    "is_stale",
    "natural_key",
]


class ContactBase(SQLModel):
    #: ISO 3166-1 alpha-2 code of the country the point of contact serves.
    country: str = Field(max_length=2, index=True)
    authority: str = Field(min_length=1, max_length=300)
    network: str = Field(default="24/7", min_length=1, max_length=50)
    #: E.164 numbers, first one first.
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    hours: str = Field(default="24/7", max_length=200)
    #: ISO 639 codes (639-1 where one exists).
    languages: list[str] = Field(default_factory=list)
    accepts_preservation: bool = True
    notes: str = ""
    verified_on: date | None = None
    source: str = Field(default="", max_length=500)
    #: True for the fictional demonstration set shipped with the package.
    demo: bool = False


class _ContactChecks(SQLModel):
    """Validators shared by the create and update models (mode="before": they normalise)."""

    @field_validator("country", mode="before", check_fields=False)
    @classmethod
    def _country(cls, v: Any) -> Any:
        return country_code(v) if isinstance(v, str) else v

    @field_validator("authority", "network", "hours", "source", mode="before", check_fields=False)
    @classmethod
    def _text(cls, v: Any) -> Any:
        return clean_text(v) if isinstance(v, str) else v

    @field_validator("notes", mode="before", check_fields=False)
    @classmethod
    def _notes(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v

    @field_validator("phones", mode="before", check_fields=False)
    @classmethod
    def _phones(cls, v: Any) -> Any:
        return each(v, phone_e164) if isinstance(v, list | tuple) else v

    @field_validator("emails", mode="before", check_fields=False)
    @classmethod
    def _emails(cls, v: Any) -> Any:
        return each(v, email_address) if isinstance(v, list | tuple) else v

    @field_validator("languages", mode="before", check_fields=False)
    @classmethod
    def _languages(cls, v: Any) -> Any:
        return each(v, language_code) if isinstance(v, list | tuple) else v


class ContactCreate(ContactBase, _ContactChecks):
    pass


class ContactUpdate(_ContactChecks):
    """Partial update: only the fields that are set change (``model_dump(exclude_unset=True)``)."""

    country: str | None = Field(default=None, max_length=2)
    authority: str | None = Field(default=None, min_length=1, max_length=300)
    network: str | None = Field(default=None, min_length=1, max_length=50)
    phones: list[str] | None = None
    emails: list[str] | None = None
    hours: str | None = Field(default=None, max_length=200)
    languages: list[str] | None = None
    accepts_preservation: bool | None = None
    notes: str | None = None
    verified_on: date | None = None
    source: str | None = Field(default=None, max_length=500)
    demo: bool | None = None


class Contact(ContactBase, table=True):
    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("country", "authority", name="uq_contact_country_authority"),
    )

    id: int | None = Field(default=None, primary_key=True)
    phones: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    emails: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))


class ContactPublic(ContactBase):
    id: int
    #: Not verified within the configured age (or never): check before relying on it.
    stale: bool


def natural_key(contact: ContactBase | ContactCreate) -> tuple[str, str]:
    """The upsert key of a contact: ``(country, authority)``."""
    return (contact.country, contact.authority)


def contact_public(contact: Contact, *, today: date, max_age_days: int) -> ContactPublic:
    """The API view of a stored contact, with ``stale`` computed for ``today``."""
    data = contact.model_dump()
    data["stale"] = is_stale(contact.verified_on, today, max_age_days)
    return ContactPublic.model_validate(data)
