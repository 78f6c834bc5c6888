"""SQLModel tables of the service: units, users, tokens, requests, identifiers, audit events,
outbox and reminder rows, idempotency keys. Instants are stored timezone-aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """DateTime(timezone=True) that refuses naive values and always returns aware UTC.

    SQLite stores no zone, so values read back are naive: they are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: store aware UTC instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def json_column(default: Any = None) -> Any:
    if default is None:
        return Field(default=None, sa_column=Column(JSON, nullable=True))
    return Field(
        default_factory=lambda: type(default)(default), sa_column=Column(JSON, nullable=False)
    )


class Unit(SQLModel, table=True):
    __tablename__ = "unit"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    #: IANA zone the unit works in: digests run and deadlines are shown in it.
    timezone: str = Field(default="UTC", max_length=64)
    #: Letterhead and contact details printed in every letter.
    authority: str = Field(default="", max_length=300)
    address: str = Field(default="", max_length=500)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=320)
    contact_24_7: str = Field(default="", max_length=300)
    #: Addresses that receive the unit's reminders and alerts (JSON list of e-mails).
    alert_emails: list[str] = json_column([])
    webhook_url: str = Field(default="", max_length=2000)
    webhook_secret: str = Field(default="", max_length=200)
    #: Copy the requested country's 24/7 point of contact when a request goes directly to a provider.
    copy_to_poc: bool = True
    #: ISO 3166-1 alpha-2 code of the requesting State (the unit's country): it decides which
    #: legal instruments the unit may use (required before a request is submitted).
    country: str | None = Field(default=None, max_length=2)
    created_at: datetime | None = utc_column(nullable=False)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("unit_id", "name", name="uq_user_unit_name"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)  # officer | supervisor | admin
    email: str = Field(default="", max_length=320)
    password_hash: str = Field(default="", max_length=300)
    created_at: datetime | None = utc_column(nullable=False)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    prefix: str = Field(max_length=12)
    created_at: datetime | None = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column()


class ReferenceCounter(SQLModel, table=True):
    """Last number handed out per year for PR-<year>-<6 digits> references."""

    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class PreservationRequest(SQLModel, table=True):
    __tablename__ = "preservation_request"
    __table_args__ = (
        Index("ix_request_unit_status", "unit_id", "status"),
        # The lapse sweep: requests still open whose expiry has passed.
        Index("ix_request_status_expires", "status", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(sa_column=Column(String(20), unique=True, nullable=False))
    unit_id: int = Field(foreign_key="unit.id")
    created_by: int = Field(foreign_key="app_user.id")
    status: str = Field(max_length=30)
    case_reference: str = Field(default="", max_length=200)
    offence: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    relevance: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: Why the data must be preserved now (Budapest Convention Art. 29(2)(e)).
    necessity: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: The instrument of the main addressee's letter (config/regimes.toml key).
    regime: str = Field(max_length=40)
    country: str | None = Field(default=None, max_length=2)
    provider: str | None = Field(default=None, max_length=100)
    data_categories: list[str] = json_column([])
    urgent: bool = False
    urgency_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    confidential: bool = True
    mla_to_follow: bool = True
    lang: str = Field(default="en", max_length=10)
    created_at: datetime | None = utc_column(nullable=False)
    updated_at: datetime | None = utc_column(nullable=False)
    submitted_at: datetime | None = utc_column()
    sent_at: datetime | None = utc_column()
    preserved_at: datetime | None = utc_column()
    provider_reference: str = Field(default="", max_length=200)
    mla_sent_at: datetime | None = utc_column()
    mla_reference: str = Field(default="", max_length=200)
    #: When the requested State confirmed receipt of the MLA request (Art. 29(7): the hold
    #: pending the decision starts then).
    mla_received_at: datetime | None = utc_column()
    closed_at: datetime | None = utc_column()
    outcome: str = Field(default="", max_length=30)
    close_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: Extensions as a JSON list of {"requested_at", "granted_at"} ISO instants.
    extensions: list[dict[str, Any]] = json_column([])
    expires_at: datetime | None = utc_column(index=True)
    expiry_rule: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    held_until_decision: bool = False
    next_reminder_at: datetime | None = utc_column()
    #: The route decided at creation: {"channel", "to", "copy_to", "why"}.
    route: dict[str, Any] | None = json_column()
    checklist: dict[str, Any] | None = json_column()
    warnings: list[str] = json_column([])
    version: int = 1


class RequestIdentifier(SQLModel, table=True):
    __tablename__ = "request_identifier"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="preservation_request.id", index=True)
    position: int = 0
    type: str = Field(max_length=20)
    value: str = Field(sa_column=Column(Text, nullable=False))
    normalized: str = Field(sa_column=Column(Text, nullable=False))
    platform: str | None = Field(default=None, max_length=100)
    port: int | None = None
    tz: str | None = Field(default=None, max_length=64)
    at_utc: datetime | None = utc_column()
    from_utc: datetime | None = utc_column()
    to_utc: datetime | None = utc_column()
    #: Original local texts, offsets and zone abbreviations: {"at": {...}, "from": {...}, "to": {...}}.
    local: dict[str, Any] | None = json_column()
    warnings: list[str] = json_column([])


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("request_id", "seq", name="uq_event_request_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="preservation_request.id", index=True)
    seq: int
    at: datetime | None = utc_column(nullable=False)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=50)
    detail: dict[str, Any] | None = json_column()
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)


class OutboxMessage(SQLModel, table=True):
    """One row per recipient of a submitted request; the dispatcher claims and delivers it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="preservation_request.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    role: str = Field(max_length=20)  # provider | poc | copy
    channel: str = Field(max_length=20)  # email | webhook | portal
    to: str = Field(max_length=2000)
    recipient_name: str = Field(default="", max_length=300)
    #: The legal instrument this recipient's letter rests on: {"key", "citation", "why"}.
    instrument: dict[str, Any] | None = json_column()
    #: pending -> sending (claimed) -> sent | failed; portal rows: handoff -> sent when recorded.
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = utc_column()
    claimed_by: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = utc_column()
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    message_id: str = Field(default="", max_length=300)
    created_at: datetime | None = utc_column(nullable=False)
    sent_at: datetime | None = utc_column()


class Reminder(SQLModel, table=True):
    """A reminder, alert or digest falling due at an instant; claimed and delivered once."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("unit_id", "key", name="uq_reminder_unit_key"),
        Index("ix_reminder_due", "status", "next_attempt_at"),
        # GET /deadlines: a unit's open reminders by due time.
        Index("ix_reminder_unit_due", "unit_id", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    request_id: int | None = Field(default=None, foreign_key="preservation_request.id", index=True)
    kind: str = Field(max_length=40)
    #: Stable per unit: "<request id>:<plan key>", "digest:<date>", "alert:..."; the idempotency key.
    key: str = Field(max_length=200)
    due_at: datetime | None = utc_column(nullable=False)
    #: pending -> sending (claimed) -> delivered | failed | cancelled
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    #: When the row may next be claimed: due_at at first, later after each retry's back-off.
    next_attempt_at: datetime | None = utc_column(nullable=False)
    claimed_by: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = utc_column()
    late: bool = False
    payload: dict[str, Any] | None = json_column()
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime | None = utc_column(nullable=False)
    delivered_at: datetime | None = utc_column()


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key", name="uq_idempotency"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    scope: str = Field(max_length=200)
    key: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)
    status_code: int
    body: dict[str, Any] | None = json_column()
    created_at: datetime | None = utc_column(nullable=False)


def all_tables() -> None:
    """Import every module that defines tables so SQLModel.metadata is complete."""
    import contacts.models  # noqa: F401
    import providers.models  # noqa: F401


class DirectoryVersion(SQLModel, table=True):
    """A counter bumped by every directory change, so each node knows when to rebuild its index."""

    __tablename__ = "directory_version"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = 0
