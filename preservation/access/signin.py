"""Signing a person in with name, password and code (TOTP or a recovery code), and the limits
on guessing.

Limits (OWASP's "device cookie" design, so that guessing does not lock the real person out):
- Per client address: the service-wide failed-authentication limit (web/auth.py), per minute.
- Per person: after `lock_after` failures in a row the name is locked for `lock_minutes`
  (twice as long after each further series, at most 8 times). While locked, even the right
  password is refused, so guessing from many addresses gains nothing.
- A browser where the person signed in before carries a "remembered browser" credential
  (``pdv_``, stored hashed like every credential). From it, the person's lock does not apply
  and failures do not count towards it; the caller limits that browser's own failures.
- A good sign-in resets the count. Recovery: wait for the lock to pass, sign in from a
  remembered browser, use a recovery code for a lost authenticator, or ask a supervisor for
  a reset (a new enrolment link).

Every failure answers the same for an unknown name, a disabled person, a wrong password or a
wrong code, and an unknown name costs a password check too."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from preservation.access import passwords, totp
from preservation.access.auth import Principal
from preservation.access.people import DEVICE_PREFIX, needs_second_factor
from preservation.storage.db import Database
from preservation.storage.models import ApiToken, RecoveryCode, Unit, User

DEVICE_DAYS = 180
#: Longest lock, as a multiple of lock_minutes.
MAX_LOCK_FACTOR = 8
WRONG = "The name, password or code is wrong."


@dataclass(frozen=True, kw_only=True)
class Policy:
    lock_after: int
    lock_minutes: int


@dataclass(frozen=True, kw_only=True)
class Outcome:
    principal: Principal | None = None
    #: What to tell the person when refused.
    message: str = ""
    #: The field to mark (password, otp) when refused.
    field: str = "password"
    #: A new remembered-browser value to set as a cookie (after a good sign-in).
    device: str | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.principal is not None


def device_hash(value: str) -> str:
    return hashlib.sha256(b"device:" + value.encode("utf-8")).hexdigest()


def lock_for(failures: int, policy: Policy) -> timedelta | None:
    """How long the name is locked after `failures` in a row (None: not locked)."""
    if failures < policy.lock_after or failures % policy.lock_after:
        return None
    series = failures // policy.lock_after
    return timedelta(minutes=policy.lock_minutes * min(2 ** (series - 1), MAX_LOCK_FACTOR))


async def _known_device(session: AsyncSession, user_id: int, value: str, now: datetime) -> bool:
    if not value.startswith(DEVICE_PREFIX) or len(value) > 100:
        return False
    digest = device_hash(value)
    row = (
        await session.execute(
            select(ApiToken.token_hash).where(
                ApiToken.token_hash == digest,
                ApiToken.user_id == user_id,
                ApiToken.revoked_at.is_(None),
                or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
            )
        )
    ).scalar_one_or_none()
    return row is not None and hmac.compare_digest(row, digest)


async def sign_in(
    db: Database,
    *,
    login: str,
    password: str,
    code: str,
    device: str,
    now: datetime,
    policy: Policy,
) -> Outcome:
    """Check name, password and code; on success the caller starts a page session for the
    principal returned. Failures are counted here (per person); per address by the caller."""
    login = login.strip().lower()[:64]
    async with db.read() as session:
        row = (
            await session.execute(
                select(User, Unit).join(Unit, Unit.id == User.unit_id).where(User.login == login)
            )
        ).first()
        user, unit = row if row is not None else (None, None)
        known = bool(
            user is not None and device and await _known_device(session, user.id, device, now)
        )
    if user is None or unit is None:
        await asyncio.to_thread(passwords.verify_password, "", password)
        return Outcome(message=WRONG)
    if not known and user.locked_until is not None and user.locked_until > now:
        return Outcome(
            message=(
                "Too many failed sign-ins for this name. Try again after"
                f" {user.locked_until:%H:%M} UTC, from a browser where you signed in before,"
                " or ask a supervisor to reset your sign-in."
            ),
            locked_until=user.locked_until,
        )
    good = await asyncio.to_thread(passwords.verify_password, user.password_hash, password)
    if not good or user.disabled_at is not None:
        return await _failed(db, user.id, known, now, policy, WRONG)
    code = code.strip()
    if user.totp_enabled_at is None and needs_second_factor(user.role):
        return await _failed(
            db,
            user.id,
            known,
            now,
            policy,
            f"The {user.role} role needs a second factor, and yours is not set up: open your"
            " enrolment link, or ask a supervisor for a new one.",
            field="otp",
        )
    if user.totp_enabled_at is not None and not code:
        return await _failed(
            db,
            user.id,
            known,
            now,
            policy,
            "Enter the 6-digit code from your authenticator app (or a recovery code).",
            field="otp",
        )
    async with db.write() as session:
        if user.totp_enabled_at is not None and not await _second_factor(session, user, code, now):
            accepted = False
        else:
            accepted = True
            fresh = await session.get(User, user.id)
            assert fresh is not None
            fresh.failed_signins = 0
            fresh.locked_until = None
            if passwords.needs_rehash(user.password_hash):
                fresh.password_hash = await asyncio.to_thread(passwords.hash_password, password)
            new_device = None if known else await _remember(session, user.id, now)
    if not accepted:
        return await _failed(db, user.id, known, now, policy, WRONG, field="otp")
    assert user.id is not None and unit.id is not None
    principal = Principal(
        user_id=user.id, user_name=user.name, unit_id=unit.id, unit_name=unit.name, role=user.role
    )
    return Outcome(principal=principal, device=new_device)


async def _second_factor(session: AsyncSession, user: User, code: str, now: datetime) -> bool:
    """Accept a TOTP code once (the stored step moves on in the same statement, so two
    sign-ins racing with one code cannot both pass), or an unused recovery code."""
    if totp.looks_like_recovery_code(code):
        result = await session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == totp.recovery_hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)
    current = await session.get(User, user.id)
    assert current is not None
    step = totp.matching_step(current.totp_secret, code, now=now, after=current.totp_last_step)
    if step is None:
        return False
    result = await session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def _remember(session: AsyncSession, user_id: int, now: datetime) -> str:
    value = DEVICE_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user_id,
            token_hash=device_hash(value),
            prefix=value[:10],
            created_at=now,
            expires_at=now + timedelta(days=DEVICE_DAYS),
            label="remembered browser",
        )
    )
    return value


async def _failed(
    db: Database,
    user_id: int | None,
    known: bool,
    now: datetime,
    policy: Policy,
    message: str,
    *,
    field: str = "password",
) -> Outcome:
    """Count a failure against the person (not from a remembered browser) and lock the name
    when a series is complete."""
    locked_until = None
    if not known and user_id is not None:
        async with db.write() as session:
            user = await session.get(User, user_id)
            assert user is not None
            user.failed_signins = (user.failed_signins or 0) + 1
            lock = lock_for(user.failed_signins, policy)
            if lock is not None:
                user.locked_until = locked_until = now + lock
    return Outcome(message=message, field=field, locked_until=locked_until)
