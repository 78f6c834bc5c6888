"""serve, db upgrade, token create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from preservation import logs
from preservation.access.auth import create_token
from preservation.domain.clock import SystemClock
from preservation.settings import load_settings
from preservation.storage.db import Database, upgrade_sync
from preservation.storage.files import set_private_umask

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="migrate, load the demo directory, serve the API, pages and scheduler"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, parser_class=sub._parser_class)
    up = dbsub.add_parser("upgrade", help="apply the schema migrations")
    up.set_defaults(func=cmd_db_upgrade)

    token = sub.add_parser("token", help="bearer tokens")
    tsub = token.add_subparsers(dest="token_command", required=True, parser_class=sub._parser_class)
    create = tsub.add_parser("create", help="print a new bearer token once")
    create.add_argument("--unit", required=True)
    create.add_argument(
        "--role",
        required=True,
        choices=["officer", "supervisor", "admin", "directory", "prosecutor"],
        help=(
            "directory: the only role that changes the shared directory (granted here only);"
            " prosecutor: a judge or prosecutor who issues or validates the unit's EPOC-PRs"
        ),
    )
    create.add_argument("--user", help="the person the token belongs to")
    create.add_argument(
        "--integration", help="instead of --user: the program the token is for (named in audits)"
    )
    create.add_argument("--label", default="", help="what the token is used for")
    create.add_argument(
        "--expires-days", type=int, help="days until it expires (default: api_token_days)"
    )
    create.add_argument(
        "--create-unit",
        action="store_true",
        help="create the unit when none has this name (without it, a mistyped --unit is refused)",
    )
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=cmd_token_create)


async def _started(_app: object) -> None:
    from preservation.runtime.offload import favour_the_loop, freeze_heap, start_worker_process

    # What the node loaded (modules, models, the directory) is never garbage: later full
    # collections of the garbage collector skip it (shorter pauses of the event loop).
    freeze_heap()
    # Worker threads hand the interpreter back to the event loop after 1 ms, not 5.
    favour_the_loop()
    # The PDF renderer's process, ready before the first letter is asked for.
    start_worker_process()


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from preservation.runtime.offload import limit_arenas
    from preservation.web.app import create_app
    from preservation.web.timeouts import server_options

    # Before any thread starts (runtime/offload.py).
    limit_arenas()
    overrides = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = load_settings(**overrides)
    # The database, its WAL and whatever else serve creates: readable by this user only.
    set_private_umask()
    logs.configure(settings.log_level)
    app = create_app(settings)
    app.on_startup.append(_started)
    log.info(
        "serving",
        extra={
            "action": "serve.start",
            "host": settings.host,
            "port": settings.port,
            "node": settings.node,
        },
    )
    # run_app turns SIGINT/SIGTERM into a graceful shutdown: the listener closes, in-flight
    # requests get shutdown_timeout to finish, then the cleanup contexts stop the scheduler and
    # close the database.
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        # A request's headers must arrive within header_timeout_seconds (web/timeouts.py).
        **server_options(settings),
        handle_signals=True,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    upgrade_sync(settings.database_url)
    print("database is at the latest schema", file=sys.stderr)
    return 0


async def _token(args: argparse.Namespace) -> str:
    from datetime import timedelta

    from preservation.errors import InvalidInput

    settings = load_settings()
    if args.user and args.integration:
        raise InvalidInput("integration", "give --user or --integration, not both")
    days = settings.api_token_days if args.expires_days is None else args.expires_days
    if not 1 <= days <= 3650:
        raise InvalidInput("expires-days", "must be between 1 and 3650")
    now = SystemClock().now()
    args.expires_at = now + timedelta(days=days)
    await asyncio.to_thread(upgrade_sync, settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.write() as session:
            await _known_unit(session, args.unit, create=args.create_unit)
            return await create_token(
                session,
                unit=args.unit,
                role=args.role,
                user=args.integration or args.user,
                now=now,
                expires_at=args.expires_at,
                label=args.label,
                kind="integration" if args.integration else "person",
            )
    finally:
        await db.dispose()


async def _known_unit(session: Any, name: str, *, create: bool) -> None:
    """A token goes to an existing unit; a new one only when asked (--create-unit), so that a
    typo does not make a second unit whose officers see none of the first one's requests."""
    from sqlalchemy import select

    from preservation.errors import InvalidInput
    from preservation.storage.models import Unit

    if not name.strip():
        raise InvalidInput("unit", "is empty: give the unit's name")
    if create:
        return
    names = list((await session.execute(select(Unit.name).order_by(Unit.name))).scalars())
    if name not in names:
        known = ", ".join(repr(n) for n in names[:20]) or "none yet"
        raise InvalidInput(
            "unit",
            f"no unit is named {name!r} (units: {known}); add --create-unit to create it",
        )


def cmd_token_create(args: argparse.Namespace) -> int:
    token = asyncio.run(_token(args))
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "token": token,
                    "unit": args.unit,
                    "role": args.role,
                    "user": args.integration or args.user or args.role,
                    "expires_at": args.expires_at.isoformat(),
                }
            )
        )
    else:
        print(token)
    return 0
