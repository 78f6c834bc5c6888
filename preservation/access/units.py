"""The unit's profile: letterhead, contact details, zone, alert addresses, webhook."""

from __future__ import annotations

from datetime import datetime

import pytz
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.validation import country_code
from preservation.domain.text import MultiLine, SingleLine, bidi_warning, mixed_script_warning
from preservation.domain.urls import AllowedHosts, check_outbound_url, strip_credentials
from preservation.errors import InvalidInput, NotFound
from preservation.storage.models import Unit


class UnitPublic(BaseModel):
    name: str
    #: ISO 3166-1 alpha-2 code of the requesting State (null until set: required to submit).
    country: str | None
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
    #: What to check in the profile: look-alike domains, bidirectional controls.
    warnings: list[str] = []


class UnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: ISO 3166-1 alpha-2 code of the requesting State: it decides which legal instruments the
    #: unit's letters may rest on.
    country: str | None = Field(None, min_length=2, max_length=2)
    timezone: str | None = Field(None, max_length=64)
    authority: SingleLine | None = Field(None, max_length=300)
    address: MultiLine | None = Field(None, max_length=500)
    phone: SingleLine | None = Field(None, max_length=40)
    email: SingleLine | None = Field(None, max_length=320)
    contact_24_7: SingleLine | None = Field(None, max_length=300)
    alert_emails: list[SingleLine] | None = Field(None, max_length=20)
    #: Where the unit's messages are POSTed (public hosts only: see domain/urls.py).
    webhook_url: SingleLine | None = Field(None, max_length=2000)
    #: Signs each webhook POST; never shown back.
    webhook_secret: SingleLine | None = Field(None, max_length=200)
    copy_to_poc: bool | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return country_code(value)

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

    def check_webhook(self, allowed: AllowedHosts) -> None:
        """The outbound URL rule (domain/urls.py): InvalidInput naming webhook_url."""
        if self.webhook_url:
            try:
                check_outbound_url(self.webhook_url, allowed=allowed)
            except ValueError as exc:
                raise InvalidInput("webhook_url", str(exc)) from None


def _valid_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


def public(unit: Unit) -> UnitPublic:
    return UnitPublic(
        name=unit.name,
        country=unit.country,
        timezone=unit.timezone,
        authority=unit.authority,
        address=unit.address,
        phone=unit.phone,
        email=unit.email,
        contact_24_7=unit.contact_24_7,
        alert_emails=list(unit.alert_emails or []),
        # A URL saved before credentials were refused is shown without them.
        webhook_url=strip_credentials(unit.webhook_url or ""),
        webhook_configured=bool(unit.webhook_secret and unit.webhook_url),
        copy_to_poc=unit.copy_to_poc,
        warnings=profile_warnings(unit),
    )


def profile_warnings(unit: Unit) -> list[str]:
    """Look-alike (mixed-script) domains and bidirectional controls in the unit's addresses."""
    out: list[str] = []
    named = [("email", unit.email or "")]
    named += [(f"alert_emails[{i}]", a) for i, a in enumerate(unit.alert_emails or [])]
    for field, address in named:
        domain = address.rpartition("@")[2]
        for warning in (
            mixed_script_warning(domain, what=f"{field}: the domain") if domain else None,
            bidi_warning(address, what=f"{field}: the address"),
        ):
            if warning:
                out.append(warning)
    for field in ("authority", "contact_24_7", "address"):
        warning = bidi_warning(getattr(unit, field) or "", what=f"{field}: the text")
        if warning:
            out.append(warning)
    return out


async def get_unit(session: AsyncSession, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("no such unit")
    return unit


async def update_unit(
    session: AsyncSession,
    *,
    unit_id: int,
    change: UnitUpdate,
    now: datetime,
    allowed: AllowedHosts = AllowedHosts(),
) -> Unit:
    """Apply `change`; a webhook URL must pass the outbound rule (`allowed`: the operator's
    exceptions, settings.outbound_allowed)."""
    change.check_webhook(allowed)
    unit = await get_unit(session, unit_id)
    for key, value in change.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(unit, key, value)
    return unit
