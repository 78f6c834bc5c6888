"""SQLModel tables of the service: units, users, tokens, requests, identifiers, audit events,
outbox and reminder rows, idempotency keys. Instants are stored timezone-aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String, Text, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from preservation.storage import partial


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
    __table_args__ = (
        UniqueConstraint("unit_id", "name", name="uq_user_unit_name"),
        # People sign in by a name unique across units; token-only rows have none (NULL).
        Index("uq_user_login", "login", unique=True),
        Index("uq_user_oidc_subject", "oidc_subject", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)  # access/auth.py Role
    email: str = Field(default="", max_length=320)
    #: argon2id (access/passwords.py); empty: no password sign-in.
    password_hash: str = Field(default="", max_length=300)
    created_at: datetime | None = utc_column(nullable=False)
    # --- people (access/people.py; migration 0007_people) ---
    #: "person", or "integration" (a program's tokens, named for the audit trail).
    kind: str = Field(default="person", max_length=20)
    #: The sign-in name (lower case, unique); NULL for rows made by `token create` alone.
    login: str | None = Field(default=None, max_length=64)
    display_name: str = Field(default="", max_length=200)
    #: Printed under the name on letters ("Detective Inspector").
    function: str = Field(default="", max_length=200)
    disabled_at: datetime | None = utc_column()
    password_changed_at: datetime | None = utc_column()
    #: TOTP secret (base32); active once totp_enabled_at is set.
    totp_secret: str = Field(default="", max_length=64)
    totp_enabled_at: datetime | None = utc_column()
    #: The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: int | None = None
    failed_signins: int = 0
    locked_until: datetime | None = utc_column()
    #: "<issuer> <sub>" of the person's OpenID Connect identity.
    oidc_subject: str | None = Field(default=None, max_length=400)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    prefix: str = Field(max_length=12)
    created_at: datetime | None = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column()
    #: After this instant the credential opens nothing (NULL: no expiry, as before 0007).
    expires_at: datetime | None = utc_column()
    #: Page sessions: the last request seen (inactivity ends them).
    last_used_at: datetime | None = utc_column()
    #: What the owner called it ("case system export").
    label: str = Field(default="", max_length=200)
    #: Page sessions and feeds: the bearer token they were opened with; revoking it ends them
    #: (access/revocation.py; migration 0009_hardening).
    parent_id: int | None = Field(default=None, index=True)


class RecoveryCode(SQLModel, table=True):
    """One-time codes that stand in for the second factor; shown once, stored as SHA-256."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    code_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime | None = utc_column(nullable=False)
    used_at: datetime | None = utc_column()


class ReferenceCounter(SQLModel, table=True):
    """Last number handed out per year for PR-<year>-<6 digits> references."""

    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


#: Partial-index conditions of migration 0006_read_indexes (storage/partial.py): requests that
#: can still lapse, and reminders not yet delivered.
OPEN_REQUEST = partial.where(partial.OPEN_REQUEST_SQL)
OPEN_REMINDER = partial.where(partial.OPEN_REMINDER_SQL)


class PreservationRequest(SQLModel, table=True):
    __tablename__ = "preservation_request"
    __table_args__ = (
        # Read indexes (migration 0006_read_indexes): each list's order per unit.
        Index("ix_request_unit_id", "unit_id", "id"),
        Index("ix_request_unit_status_id", "unit_id", "status", "id"),
        Index("ix_request_unit_updated", "unit_id", "updated_at"),
        Index("ix_request_unit_provider", "unit_id", "provider", "id"),
        Index("ix_request_unit_case", "unit_id", text("lower(case_reference)")),
        # Open preservations by expiry (dashboard, expiring_within; the lapse sweep): partial,
        # so closed and lapsed history is not in them.
        Index("ix_request_unit_open_expiry", "unit_id", "expires_at", "id", **OPEN_REQUEST),
        Index("ix_request_open_expiry", "expires_at", "id", **OPEN_REQUEST),
        # A unit's emergencies, oldest first (the dashboard; migration 0012_emergency_index).
        Index(
            "ix_request_unit_emergency",
            "unit_id",
            "created_at",
            "id",
            **partial.where(partial.EMERGENCY_SQL),
        ),
        # A unit's lapses by expiry (the dashboard's recent ones; 0013_lapsed_index).
        Index(
            "ix_request_unit_lapsed",
            "unit_id",
            "expires_at",
            "id",
            **partial.where(partial.LAPSED_SQL),
        ),
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
    #: True when the officer named the instrument (it then steers the route); False when the
    #: service chose it from the route and the unit's State.
    regime_asked: bool = False
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
    #: Sent outside the service and recorded after the fact (requests/record.py): nothing is
    #: dispatched, the deadlines run from the dates recorded.
    record_only: bool = False
    mla_sent_at: datetime | None = utc_column()
    mla_reference: str = Field(default="", max_length=200)
    #: When the requested State confirmed receipt of the MLA request (Art. 29(7): the hold
    #: pending the decision starts then).
    mla_received_at: datetime | None = utc_column()
    #: EPOC-PR: the addressee's receipt, as the national IT system reports it (the 60 days of
    #: Regulation (EU) 2023/1543, Art. 11(1) run from it; migration 0010_epoc_pr).
    received_at: datetime | None = utc_column()
    #: Recorded dates given without a time of day, and how they were read (field -> note).
    date_notes: dict[str, Any] | None = json_column()
    closed_at: datetime | None = utc_column()
    outcome: str = Field(default="", max_length=30)
    close_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: Extensions as a JSON list of {"requested_at", "granted_at"} ISO instants.
    extensions: list[dict[str, Any]] = json_column([])
    expires_at: datetime | None = utc_column(index=True)
    expiry_rule: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    held_until_decision: bool = False
    next_reminder_at: datetime | None = utc_column()
    #: "preservation", or "emergency": an emergency disclosure request (danger of death or
    #: serious physical injury; migration 0010_emergency).
    kind: str = Field(default="preservation", max_length=20)
    #: An emergency's facts: {"threat", "why_now", "data_needed", "callback_phone"}, and, once
    #: made, "follow_up": {"id", "reference"} of the preservation request that followed it.
    emergency: dict[str, Any] | None = json_column()
    #: What the officer adds to the formal MLA request drafted from the record (requested
    #: authority, legal classification, penalty, assistance, certification, contacts...;
    #: requests/mla.py; migration 0011_documents).
    mla_draft: dict[str, Any] | None = json_column()
    #: The route decided at creation: {"channel", "to", "copy_to", "why"}.
    route: dict[str, Any] | None = json_column()
    checklist: dict[str, Any] | None = json_column()
    warnings: list[str] = json_column([])
    version: int = 1


class RequestIdentifier(SQLModel, table=True):
    __tablename__ = "request_identifier"
    # The request search by identifier (migration 0006_read_indexes).
    __table_args__ = (Index("ix_identifier_normalized", "normalized"),)

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


class MailMessage(SQLModel, table=True):
    """A message of a request's correspondence: a reply taken in (direction "in": attached to
    its request, or quarantined for the unit's supervisors or, when no unit is known, for the
    operator), or a letter we sent by e-mail (direction "out"). Bodies are kept size-capped and
    attachments only listed (requests/messages.py)."""

    __tablename__ = "mail_message"
    __table_args__ = (
        # One row per message: a redelivery (the MTA retrying after a lost answer) adds nothing.
        UniqueConstraint("dedupe_key", name="uq_mail_message_dedupe"),
        Index("ix_mail_message_request", "request_id", "at"),
        Index("ix_mail_message_unit_state", "unit_id", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: The unit whose correspondence it is; NULL: quarantined at the operator (no unit known).
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    request_id: int | None = Field(default=None, foreign_key="preservation_request.id")
    #: The outbox row whose Message-ID it answers ("in"), or that sent it ("out").
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    #: "in" | "out"
    direction: str = Field(max_length=3)
    #: in: attached | quarantined | dismissed; out: sent
    state: str = Field(max_length=20)
    #: How a reply was matched: in-reply-to | references | subject | report (a bounce), or ""
    matched_by: str = Field(default="", max_length=20)
    dedupe_key: str = Field(max_length=100)
    message_id: str = Field(default="", max_length=1000)
    from_addr: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    to_addrs: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: The envelope recipients (LMTP RCPT, or the MTA's pipe argument): JSON list.
    recipients: list[str] = json_column([])
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: The Date header (in), or when it was sent (out).
    sent_at: datetime | None = utc_column()
    #: When we took it in (in) or sent it (out).
    at: datetime | None = utc_column(nullable=False)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: The text was cut at settings.inbound_body_chars.
    truncated: bool = False
    #: Size of the whole message in bytes.
    size: int = 0
    #: [{"filename", "content_type", "size"}]
    attachments: list[dict[str, Any]] = json_column([])
    #: {"provider_reference", "preserved_at", "notes", "pattern"} proposed from the text.
    proposal: dict[str, Any] | None = json_column()
    #: Who attached or dismissed a quarantined message, and why.
    handled_by: str = Field(default="", max_length=200)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Reminder(SQLModel, table=True):
    """A reminder, alert or digest falling due at an instant; claimed and delivered once."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("unit_id", "key", name="uq_reminder_unit_key"),
        Index("ix_reminder_due", "status", "next_attempt_at"),
        # A unit's delivered reminders of a recent window (the calendar feed's recent past).
        Index("ix_reminder_unit_due", "unit_id", "status", "due_at"),
        # GET /deadlines and the feed: a unit's open reminders by due time (partial).
        Index("ix_reminder_unit_open_due", "unit_id", "due_at", "id", **OPEN_REMINDER),
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
    import preservation.storage.epoc  # noqa: F401
    import providers.models  # noqa: F401


class DirectoryVersion(SQLModel, table=True):
    """A counter bumped by every directory change, so each node knows when to rebuild its index."""

    __tablename__ = "directory_version"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = 0


class DirectoryEvent(SQLModel, table=True):
    """One change to the shared directory (a provider or a point of contact): who, from which
    unit, when, the row before and after. Events form one hash chain (``seq`` from 1, each
    ``prev_hash`` the previous event's ``hash``), verified by ``preservation audit verify``."""

    __tablename__ = "directory_event"
    __table_args__ = (UniqueConstraint("seq", name="uq_directory_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int
    at: datetime | None = utc_column(nullable=False)
    actor: str = Field(max_length=200)
    unit: str = Field(default="", max_length=200)
    #: "provider" | "contact" | "directory" (a load or import touching many rows)
    entity: str = Field(max_length=20)
    #: The provider's slug or the contact's id.
    key: str = Field(max_length=200)
    #: "create" | "update" | "delete" | "load"
    action: str = Field(max_length=20)
    before: dict[str, Any] | None = json_column()
    after: dict[str, Any] | None = json_column()
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(max_length=64)
