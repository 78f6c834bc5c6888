"""`preservation user add|list|disable|enable|set-role|reset`: people and their sign-in.

`user add` prints a one-time enrolment link (the person sets a password and a second factor);
with --password-stdin the password is read from standard input instead, and a role that needs
a second factor still gets a link to set it up. NAME is the sign-in name, or NAME@UNIT for an
account made by `token create` alone."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import select

from preservation.access import passwords, people
from preservation.access.auth import Role
from preservation.domain.clock import SystemClock
from preservation.errors import NotFound
from preservation.settings import Settings, load_settings
from preservation.storage.db import Database, upgrade_sync
from preservation.storage.models import Unit


def register(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="people: add, list, disable, change roles, reset")
    usub = user.add_subparsers(dest="user_command", required=True, parser_class=sub._parser_class)
    roles = [str(r) for r in Role]

    add = usub.add_parser("add", help="add a person; prints their one-time enrolment link")
    add.add_argument("--unit", required=True)
    add.add_argument("--user", required=True, help="sign-in name: letters, digits, . _ -")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--display-name", default="", help="full name, as on letters")
    add.add_argument("--function", default="", help="printed on letters under the name")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of printing an enrolment link",
    )
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_add)

    listing = usub.add_parser("list", help="list people and token-only accounts")
    listing.add_argument("--unit")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    disable = usub.add_parser(
        "disable", help="disable a person: ends every token, session and feed of theirs"
    )
    disable.add_argument("name", metavar="NAME")
    disable.set_defaults(func=cmd_disable)

    enable = usub.add_parser("enable", help="let a disabled person sign in again")
    enable.add_argument("name", metavar="NAME")
    enable.set_defaults(func=cmd_enable)

    set_role = usub.add_parser("set-role", help="change a person's role")
    set_role.add_argument("name", metavar="NAME")
    set_role.add_argument("role", metavar="ROLE", choices=roles)
    set_role.set_defaults(func=cmd_set_role)

    reset = usub.add_parser(
        "reset", help="lost password or authenticator: clear both, print a new enrolment link"
    )
    reset.add_argument("name", metavar="NAME")
    reset.set_defaults(func=cmd_reset)


def enrolment_url(settings: Settings, value: str) -> str:
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base}/enrol/{value}"


def _run(work: Callable[[Any, Settings], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        settings = load_settings()
        await asyncio.to_thread(upgrade_sync, settings.database_url)
        db = Database(settings.database_url)
        try:
            return await work(db, settings)
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_add(args: argparse.Namespace) -> int:
    settings = load_settings()
    password_hash = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        passwords.check_policy(password, min_length=settings.password_min_length, name=args.user)
        password_hash = passwords.hash_password(password)

    async def work(db: Database, settings: Settings) -> dict[str, Any]:
        async with db.write() as session:
            added = await people.add_person(
                session,
                unit=args.unit,
                name=args.user,
                role=args.role,
                display_name=args.display_name,
                function=args.function,
                password_hash=password_hash,
                now=SystemClock().now(),
                enrolment_hours=settings.enrolment_hours,
            )
            return {
                "user": added.user.login,
                "unit": added.unit.name,
                "role": added.user.role,
                "enrolment_url": (
                    enrolment_url(settings, added.enrolment) if added.enrolment else None
                ),
                "expires_in_hours": settings.enrolment_hours if added.enrolment else None,
            }

    result = _run(work)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"added {result['user']} ({result['role']}) to {result['unit']}", file=sys.stderr)
    if result["enrolment_url"]:
        why = (
            "to set up the second factor their role needs"
            if password_hash
            else "to choose a password and set up a second factor"
        )
        print(
            f"give them this one-time link {why} (valid {settings.enrolment_hours} hours):",
            file=sys.stderr,
        )
        print(result["enrolment_url"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> list[dict[str, Any]]:
        async with db.read() as session:
            unit_id = None
            if args.unit:
                unit_id = (
                    await session.execute(select(Unit.id).where(Unit.name == args.unit))
                ).scalar_one_or_none()
                if unit_id is None:
                    raise NotFound(f"no unit {args.unit!r}")
            found = await people.list_people(session, now=SystemClock().now(), unit_id=unit_id)
            return [p.model_dump(mode="json") for p in found]

    rows = _run(work)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for p in rows:
        shown = f" ({p['display_name']})" if p["display_name"] else ""
        factor = "2FA" if p["second_factor"] else "no 2FA"
        print(
            f"{p['user']}{shown}  {p['unit']}  {p['role']}  {p['status']}  "
            f"{p['signs_in_with']}  {factor}"
        )
    return 0


def _change(args: argparse.Namespace, action: str) -> Any:
    async def work(db: Database, settings: Settings) -> Any:
        now = SystemClock().now()
        async with db.write() as session:
            user = await people.find_person(session, args.name)
            if action == "disable":
                return await people.disable_person(session, user=user, now=now)
            if action == "enable":
                return await people.enable_person(session, user=user)
            if action == "set-role":
                await people.set_role(session, user=user, role=args.role)
                return people.needs_second_factor(args.role) and user.totp_enabled_at is None
            value = await people.reset_person(
                session, user=user, now=now, hours=settings.enrolment_hours
            )
            return enrolment_url(settings, value)

    return _run(work)


def cmd_disable(args: argparse.Namespace) -> int:
    ended = _change(args, "disable")
    print(f"disabled {args.name}: {ended} credential(s) ended", file=sys.stderr)
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    _change(args, "enable")
    print(f"enabled {args.name} (their old credentials stay revoked)", file=sys.stderr)
    return 0


def cmd_set_role(args: argparse.Namespace) -> int:
    lacks_factor = _change(args, "set-role")
    print(f"{args.name} is now {args.role}", file=sys.stderr)
    if lacks_factor:
        print(
            f"note: the {args.role} role needs a second factor, which {args.name} has not set up:"
            f" `preservation user reset {args.name}` gives them an enrolment link",
            file=sys.stderr,
        )
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    url = _change(args, "reset")
    print(
        f"{args.name}: password and second factor cleared; their enrolment link:", file=sys.stderr
    )
    print(url)
    return 0
