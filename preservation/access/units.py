"""The unit's profile: letterhead, contact details, zone, alert addresses, webhook."""

from __future__ import annotations

from datetime import datetime

import pytz
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.errors import NotFound
from preservation.storage.models import Unit


class UnitPublic(BaseModel):
    name: str
    timezone: str
    authority: str
    address: str
    phone: str
    email: str
    contact_24_7: str
    alert_emails: list[str]
    webhook_url: str
    webhook_configured: bool
    copy_to_poc: bool


class UnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(None, max_length=64)
    authority: str | None = Field(None, max_length=300)
    address: str | None = Field(None, max_length=500)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=320)
    contact_24_7: str | None = Field(None, max_length=300)
    alert_emails: list[str] | None = Field(None, max_length=20)
    webhook_url: str | None = Field(None, max_length=2000)
    webhook_secret: str | None = Field(None, max_length=200)
    copy_to_poc: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return pytz.timezone(value).zone
        except pytz.UnknownTimeZoneError:
            raise ValueError(f"unknown IANA time zone {value!r}") from None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return value
        return _valid_email(value)

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [_valid_email(v) for v in value]

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


def _valid_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def public(unit: Unit) -> UnitPublic:
    return UnitPublic(
        name=unit.name,
        timezone=unit.timezone,
        authority=unit.authority,
        address=unit.address,
        phone=unit.phone,
        email=unit.email,
        contact_24_7=unit.contact_24_7,
        alert_emails=list(unit.alert_emails or []),
        webhook_url=unit.webhook_url,
        webhook_configured=bool(unit.webhook_secret and unit.webhook_url),
        copy_to_poc=unit.copy_to_poc,
    )


async def get_unit(session: AsyncSession, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("no such unit")
    return unit


async def update_unit(
    session: AsyncSession, *, unit_id: int, change: UnitUpdate, now: datetime
) -> Unit:
    unit = await get_unit(session, unit_id)
    for key, value in change.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(unit, key, value)
    return unit
