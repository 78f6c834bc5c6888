"""People: who may sign in, in which unit, with which role; adding, listing, disabling, role
changes and resets. The CLI (`preservation user ...`) and a supervisor's page call these.

- A person signs in with a name unique across units (`login`, lower case). Rows made by
  `preservation token create` alone have no login: they sign in with a token, or not at all.
- Every role but officer must use a second factor (`needs_second_factor`): a role added later
  needs one too unless it is added to SECOND_FACTOR_OPTIONAL.
- Disabling a person ends every credential they hold: API tokens, page sessions, calendar
  feeds, enrolment links and remembered browsers (all rows of ``api_token``).
- The enrolment link is a credential like the others: random, shown once, stored as a hash
  (of ``"enrol:" + value``), with an expiry, revoked once used."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from preservation.access.auth import Role
from preservation.errors import Conflict, Forbidden, InvalidInput, NotFound
from preservation.storage.models import ApiToken, RecoveryCode, Unit, User

#: Roles that may sign in with a password alone (until they enrol a second factor).
SECOND_FACTOR_OPTIONAL = frozenset({Role.officer})
#: Roles a unit's supervisor may grant on the people page (the others: on the CLI only).
UNIT_ROLES = (Role.officer, Role.supervisor)
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ENROL_PREFIX = "pde_"
SESSION_PREFIX = "pds_"
DEVICE_PREFIX = "pdv_"


def needs_second_factor(role: str) -> bool:
    return role not in SECOND_FACTOR_OPTIONAL


def check_role(role: str) -> str:
    if role not in Role.__members__:
        raise InvalidInput("role", f"must be one of {', '.join(Role)}")
    return role


def normal_name(name: str) -> str:
    """The sign-in name as stored: lower case, letters, digits, '.', '_' and '-'."""
    value = name.strip().lower()
    if not NAME.fullmatch(value):
        raise InvalidInput(
            "user", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with one"
        )
    return value


def enrol_hash(value: str) -> str:
    return hashlib.sha256(b"enrol:" + value.encode("utf-8")).hexdigest()


class PersonPublic(BaseModel):
    user: str
    unit: str
    role: str
    display_name: str
    function: str
    kind: str
    #: active | enrolment pending | disabled | locked
    status: str
    second_factor: bool
    signs_in_with: str
    created_at: datetime | None
    disabled_at: datetime | None


def public(user: User, unit: Unit, *, now: datetime) -> PersonPublic:
    if user.disabled_at is not None:
        status = "disabled"
    elif user.locked_until is not None and user.locked_until > now:
        status = "locked"
    elif (
        user.login
        and not user.oidc_subject
        and (
            not user.password_hash
            or (needs_second_factor(user.role) and user.totp_enabled_at is None)
        )
    ):
        status = "enrolment pending"
    else:
        status = "active"
    ways = [
        w
        for w, on in (
            ("password", bool(user.password_hash)),
            ("single sign-on", bool(user.oidc_subject)),
        )
        if on
    ]
    return PersonPublic(
        user=user.login or f"{user.name}@{unit.name}",
        unit=unit.name,
        role=user.role,
        display_name=user.display_name,
        function=user.function,
        kind=user.kind,
        status=status,
        second_factor=user.totp_enabled_at is not None,
        signs_in_with=", ".join(ways) or "token",
        created_at=user.created_at,
        disabled_at=user.disabled_at,
    )


def signatory(user: User | None) -> str:
    """The name printed on letters: "Display Name, Function" (or the user name)."""
    if user is None:
        return ""
    name = user.display_name or user.name
    return f"{name}, {user.function}" if user.function else name


@dataclass(frozen=True, kw_only=True)
class Added:
    user: User
    unit: Unit
    #: The one-time enrolment link's value (None when nothing is left to enrol).
    enrolment: str | None


async def find_person(session: AsyncSession, name: str, *, unit_id: int | None = None) -> User:
    """A person by sign-in name, or a token-only row by "name@unit"; within `unit_id` if given."""
    name = name.strip()
    query = select(User)
    if "@" in name:
        user_name, _, unit_name = name.rpartition("@")
        query = query.join(Unit, Unit.id == User.unit_id).where(
            User.name == user_name, Unit.name == unit_name
        )
    else:
        query = query.where(User.login == name.lower())
    if unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    user = (await session.execute(query)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no person {name!r}" + (" in your unit" if unit_id is not None else ""))
    return user


async def add_person(
    session: AsyncSession,
    *,
    unit: str,
    name: str,
    role: str,
    now: datetime,
    enrolment_hours: int,
    display_name: str = "",
    function: str = "",
    password_hash: str | None = None,
    create_unit: bool = True,
) -> Added:
    """Add a person (a token-only row of the same name in the unit is taken over). Without a
    password, or when the role needs a second factor, an enrolment link is made too."""
    check_role(role)
    login = normal_name(name)
    display_name = _text("display_name", display_name)
    function = _text("function", function)
    unit = unit.strip()
    if not unit or len(unit) > 200:
        raise InvalidInput("unit", "must be 1 to 200 characters")
    unit_row = (await session.execute(select(Unit).where(Unit.name == unit))).scalar_one_or_none()
    if unit_row is None:
        if not create_unit:
            raise NotFound(f"no unit {unit!r}")
        unit_row = Unit(name=unit, created_at=now)
        session.add(unit_row)
        await session.flush()
    taken = (await session.execute(select(User).where(User.login == login))).scalar_one_or_none()
    if taken is not None:
        raise Conflict(f"there is already a person {login!r}")
    user = (
        await session.execute(
            select(User).where(User.unit_id == unit_row.id, func.lower(User.name) == login)
        )
    ).scalar_one_or_none()
    if user is None:
        user = User(unit_id=unit_row.id, name=login, role=role, created_at=now)
        session.add(user)
    user.login = login
    user.role = role
    user.kind = "person"
    user.display_name = display_name
    user.function = function
    user.disabled_at = None
    if password_hash:
        user.password_hash = password_hash
        user.password_changed_at = now
    await session.flush()
    enrolment = None
    if not password_hash or needs_second_factor(role):
        enrolment = await create_enrolment(session, user=user, now=now, hours=enrolment_hours)
    return Added(user=user, unit=unit_row, enrolment=enrolment)


def _text(field: str, value: str) -> str:
    value = value.strip()
    if len(value) > 200 or any(ord(c) < 32 for c in value):
        raise InvalidInput(field, "must be at most 200 characters on one line")
    return value


async def create_enrolment(session: AsyncSession, *, user: User, now: datetime, hours: int) -> str:
    """A new one-time enrolment link's value for `user` (earlier open links are revoked)."""
    assert user.id is not None
    await _revoke(session, user.id, now, prefixes=(ENROL_PREFIX,))
    value = ENROL_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=enrol_hash(value),
            prefix=value[:10],
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return value


async def list_people(
    session: AsyncSession, *, now: datetime, unit_id: int | None = None
) -> list[PersonPublic]:
    """Everyone who can sign in or hold a token: people first by unit and name."""
    query = select(User, Unit).join(Unit, Unit.id == User.unit_id)
    if unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    rows = (await session.execute(query.order_by(Unit.name, User.name))).all()
    return [public(u, unit, now=now) for u, unit in rows]


async def disable_person(session: AsyncSession, *, user: User, now: datetime) -> int:
    """Disable `user` and revoke every credential they hold; returns how many were live."""
    assert user.id is not None
    user.disabled_at = user.disabled_at or now
    return await _revoke(session, user.id, now)


async def enable_person(session: AsyncSession, *, user: User) -> None:
    """Let a disabled person sign in again (their old credentials stay revoked)."""
    user.disabled_at = None
    user.failed_signins = 0
    user.locked_until = None


async def set_role(session: AsyncSession, *, user: User, role: str) -> None:
    """Change the role; pages and tokens see it on their next request (see security.md)."""
    user.role = check_role(role)


async def reset_person(session: AsyncSession, *, user: User, now: datetime, hours: int) -> str:
    """Lost password or authenticator: clear both, end the person's page sessions and
    remembered browsers, and return a new enrolment link (their API tokens stay)."""
    assert user.id is not None
    if user.disabled_at is not None:
        raise Conflict("the person is disabled: enable them first")
    user.password_hash = ""
    user.password_changed_at = now
    user.totp_secret = ""
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.failed_signins = 0
    user.locked_until = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await end_sessions(session, user_id=user.id, now=now, devices=True)
    return await create_enrolment(session, user=user, now=now, hours=hours)


async def end_sessions(
    session: AsyncSession, *, user_id: int, now: datetime, devices: bool = False
) -> int:
    """Revoke the user's page sessions (and remembered browsers when `devices`)."""
    prefixes = (SESSION_PREFIX, DEVICE_PREFIX) if devices else (SESSION_PREFIX,)
    return await _revoke(session, user_id, now, prefixes=prefixes)


async def _revoke(
    session: AsyncSession, user_id: int, now: datetime, *, prefixes: tuple[str, ...] = ()
) -> int:
    conditions = [ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)]
    if prefixes:
        conditions.append(or_(*(ApiToken.prefix.startswith(p, autoescape=True) for p in prefixes)))
    result = await session.execute(
        update(ApiToken)
        .where(*conditions)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def may_manage(manager_role: str, manager_id: int, user: User) -> None:
    """Forbidden unless a unit's supervisor may change `user` on the page: not themselves, and
    only people whose role the page grants."""
    if user.id == manager_id:
        raise Forbidden("you cannot change your own account here")
    if user.role not in UNIT_ROLES:
        raise Forbidden(f"the {user.role} role is managed on the command line")
    if manager_role not in (Role.supervisor, Role.admin):
        raise Forbidden("only a supervisor manages the unit's people")
