"""The judicial authority a prosecutor-role user acts as: its type (judge, court, investigating
judge, public prosecutor: Regulation (EU) 2023/1543, Art. 3(2) and 4), name, representative, post,
address, telephone, e-mail and the languages it can be addressed in. Sections A, F and G of the
EPOC-PR certificate print it as it stood when the order was issued or validated."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.validation import language_code
from preservation.access.auth import Principal
from preservation.domain.epoc import AUTHORITY_TYPES
from preservation.domain.text import MultiLine, SingleLine
from preservation.errors import FieldError, InvalidInput
from preservation.storage.epoc import JudicialAuthority

AuthorityType = Literal["judge", "court", "investigating_judge", "public_prosecutor"]
assert set(AuthorityType.__args__) == set(AUTHORITY_TYPES)  # type: ignore[attr-defined]

#: What the certificate cannot do without: the rest is printed when given.
REQUIRED = ("authority_type", "name", "address", "languages")


class JudicialAuthorityPublic(BaseModel):
    authority_type: str
    #: The label printed in Section F or G ("Public prosecutor").
    authority_type_label: str
    name: str
    representative: str
    post_held: str
    address: str
    phone: str
    email: str
    languages: list[str]
    #: The fields a certificate still needs (empty: the user may issue and validate).
    missing: list[str]


class JudicialAuthorityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authority_type: AuthorityType | None = None
    #: The authority ("Public Prosecutor's Office Limassol").
    name: SingleLine | None = Field(None, max_length=300)
    #: The person who signs for it.
    representative: SingleLine | None = Field(None, max_length=200)
    post_held: SingleLine | None = Field(None, max_length=200)
    address: MultiLine | None = Field(None, max_length=1000)
    phone: SingleLine | None = Field(None, max_length=40)
    email: SingleLine | None = Field(None, max_length=320)
    #: ISO 639-1 codes or English names ("en", "Greek").
    languages: list[SingleLine] | None = Field(None, max_length=24)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if not value:
            return value
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return list(dict.fromkeys(language_code(v) for v in value))


def missing_fields(row: JudicialAuthority | None) -> list[str]:
    if row is None:
        return list(REQUIRED)
    return [name for name in REQUIRED if not getattr(row, name)]


def public(row: JudicialAuthority | None) -> JudicialAuthorityPublic:
    kind = row.authority_type if row is not None else ""
    return JudicialAuthorityPublic(
        authority_type=kind,
        authority_type_label=AUTHORITY_TYPES.get(kind, ""),
        name=row.name if row is not None else "",
        representative=row.representative if row is not None else "",
        post_held=row.post_held if row is not None else "",
        address=row.address if row is not None else "",
        phone=row.phone if row is not None else "",
        email=row.email if row is not None else "",
        languages=list(row.languages or []) if row is not None else [],
        missing=missing_fields(row),
    )


def snapshot(row: JudicialAuthority, *, signer: str) -> dict[str, object]:
    """The details as the certificate prints them (frozen in the order when it is issued or
    validated: a later change of the profile does not rewrite an issued certificate)."""
    return {
        "type": row.authority_type,
        "type_label": AUTHORITY_TYPES.get(row.authority_type, row.authority_type),
        "name": row.name,
        "representative": row.representative or signer,
        "post_held": row.post_held,
        "address": row.address,
        "phone": row.phone,
        "email": row.email,
        "languages": list(row.languages or []),
    }


async def get_authority(session: AsyncSession, principal: Principal) -> JudicialAuthority | None:
    return await session.get(JudicialAuthority, principal.user_id)


async def require_authority(session: AsyncSession, principal: Principal) -> JudicialAuthority:
    """The caller's judicial authority, complete enough for a certificate; 422 naming each
    missing field (`authority.<field>`) otherwise."""
    row = await get_authority(session, principal)
    missing = missing_fields(row)
    if missing or row is None:
        raise InvalidInput(
            errors=[
                FieldError(
                    field=f"authority.{name}",
                    message="the certificate needs it: PUT /api/v1/me/judicial-authority first",
                )
                for name in missing
            ]
        )
    return row


async def update_authority(
    session: AsyncSession,
    *,
    principal: Principal,
    change: JudicialAuthorityUpdate,
    now: datetime,
) -> JudicialAuthorityPublic:
    """Create or change the caller's judicial authority (the caller's transaction)."""
    row = await get_authority(session, principal)
    if row is None:
        row = JudicialAuthority(user_id=principal.user_id, updated_at=now)
        session.add(row)
    for name, value in change.model_dump(exclude_unset=True).items():
        if value is None:
            continue
        setattr(row, name, value)
    row.updated_at = now
    await session.flush()
    return public(row)
