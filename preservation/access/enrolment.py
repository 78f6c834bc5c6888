"""Enrolment: a new (or reset) person opens their one-time link, chooses a password, scans the
QR code of a new TOTP secret, proves it with a code, and gets recovery codes, shown once.

The secret is made when the link is first opened and kept (not yet active) until a code
proves it, so reloading the page shows the same QR code. Completing the link revokes it and
ends the person's page sessions (a password change ends sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from preservation.access import totp
from preservation.access.people import ENROL_PREFIX, end_sessions, enrol_hash
from preservation.errors import InvalidInput, NotFound
from preservation.storage.models import ApiToken, RecoveryCode, Unit, User

#: Longest link value looked up: anything longer is not ours.
MAX_VALUE = 100


@dataclass(frozen=True, kw_only=True)
class Enrolment:
    user_id: int
    login: str
    display_name: str
    unit: str
    role: str
    #: A password is still to be chosen (False: set on the CLI, only the second factor is due).
    needs_password: bool
    secret: str
    uri: str


async def _link(session: AsyncSession, value: str, now: datetime) -> tuple[ApiToken, User, Unit]:
    if not value.startswith(ENROL_PREFIX) or len(value) > MAX_VALUE:
        raise NotFound("this enrolment link is not valid")
    row = (
        await session.execute(
            select(ApiToken, User, Unit)
            .join(User, User.id == ApiToken.user_id)
            .join(Unit, Unit.id == User.unit_id)
            .where(
                ApiToken.token_hash == enrol_hash(value),
                ApiToken.revoked_at.is_(None),
                User.disabled_at.is_(None),
            )
        )
    ).first()
    if row is None or (row[0].expires_at is not None and row[0].expires_at <= now):
        raise NotFound(
            "this enrolment link is not valid: it was used, it expired, or a newer one was made;"
            " ask a supervisor for a new one"
        )
    return row[0], row[1], row[2]


async def open_enrolment(session: AsyncSession, *, value: str, now: datetime) -> Enrolment:
    """The enrolment behind a link (in a write transaction: the pending secret is made once)."""
    _, user, unit = await _link(session, value, now)
    if user.totp_enabled_at is not None or not user.totp_secret:
        # A reset cleared the old one; a person enrolling anew gets a new secret.
        user.totp_secret = totp.new_secret()
        user.totp_enabled_at = None
    assert user.id is not None
    login = user.login or user.name
    return Enrolment(
        user_id=user.id,
        login=login,
        display_name=user.display_name or login,
        unit=unit.name,
        role=user.role,
        needs_password=not user.password_hash,
        secret=user.totp_secret,
        uri=totp.provisioning_uri(user.totp_secret, account=f"{login} ({unit.name})"),
    )


async def complete_enrolment(
    session: AsyncSession,
    *,
    value: str,
    password_hash: str | None,
    code: str,
    now: datetime,
) -> list[str]:
    """Set the password (when one is due) and activate the second factor proved by `code`;
    returns the new recovery codes (shown once). InvalidInput names the field at fault."""
    token, user, _ = await _link(session, value, now)
    assert user.id is not None
    if not user.password_hash and not password_hash:
        raise InvalidInput("password", "choose a password")
    step = totp.matching_step(user.totp_secret, code, now=now, after=user.totp_last_step)
    if step is None:
        raise InvalidInput(
            "otp", "that code does not match: scan the QR code again and enter the current code"
        )
    if password_hash:
        user.password_hash = password_hash
        user.password_changed_at = now
    user.totp_enabled_at = now
    user.totp_last_step = step
    user.failed_signins = 0
    user.locked_until = None
    token.revoked_at = now
    await end_sessions(session, user_id=user.id, now=now)
    return await new_recovery_codes(session, user_id=user.id, now=now)


async def new_recovery_codes(session: AsyncSession, *, user_id: int, now: datetime) -> list[str]:
    """Replace the user's recovery codes; the new ones are returned once."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = totp.new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=totp.recovery_hash(c), created_at=now)
        for c in codes
    )
    return codes
