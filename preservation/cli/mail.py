"""`preservation mail receive|quarantine|assign`: inbound mail from the command line.

`mail receive` is what an MTA's pipe runs for each reply (docs/operations.md): one message on
standard input, and an exit code from sysexits.h that the MTA understands:
  0  EX_OK        taken in (attached to its request, quarantined, or already stored)
  65 EX_DATAERR   not an Internet message, or larger than inbound_max_bytes: the MTA returns it
  75 EX_TEMPFAIL  the database is unavailable, or the settings cannot be read: the MTA keeps the
                  message and tries again later (a configuration error must not bounce replies)
Nothing is printed on success unless --json; one line on stderr otherwise. The schema is not
migrated here (`serve` and `db upgrade` do it): a database without the mail table is a
temporary failure, and the MTA retries after the upgrade."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from preservation import logs
from preservation.cli.ops import sqlite_path
from preservation.dispatch.inbound import EX_DATAERR, EX_TEMPFAIL, Outcome, receive_bytes
from preservation.domain.clock import SystemClock
from preservation.errors import SettingsError
from preservation.requests import mailparse, quarantine
from preservation.runtime.context import Context
from preservation.settings import load_settings
from preservation.storage.db import Database, upgrade_sync


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("mail", help="inbound mail: replies of providers and points of contact")
    msub = cmd.add_subparsers(dest="mail_command", required=True, parser_class=sub._parser_class)

    rec = msub.add_parser(
        "receive",
        help="take in one message (RFC 5322) from standard input; exit 0, 65 (return it) or"
        " 75 (try again later)",
    )
    rec.add_argument(
        "--recipient",
        action="append",
        default=[],
        help="an envelope recipient (Postfix pipe: ${original_recipient}); repeatable",
    )
    rec.add_argument("--json", action="store_true", help="print the outcome as JSON")
    rec.set_defaults(func=cmd_receive, mta=True)

    lst = msub.add_parser(
        "quarantine", help="list the mail addressed to no unit (the operator's quarantine)"
    )
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_quarantine)

    assign = msub.add_parser("assign", help="hand a message of that list to a unit's quarantine")
    assign.add_argument("id", help="the message's id (from `mail quarantine`)")
    assign.add_argument("--unit", required=True)
    assign.set_defaults(func=cmd_assign)


def _read_stdin(limit: int) -> bytes:
    # One byte more than the limit tells "too large" from "exactly the limit".
    raw = sys.stdin.buffer.read(limit + 1)
    if len(raw) > limit:
        # Read the rest too (and drop it): an MTA whose pipe is closed early reports a write
        # error instead of our exit code.
        while sys.stdin.buffer.read(1 << 16):
            pass
    return raw


def _print(outcome: Outcome, as_json: bool) -> None:
    received = outcome.received
    data: dict[str, Any] = {
        "exit": outcome.code,
        "state": outcome.state,
        "detail": outcome.detail,
        "message": received.message if received else None,
        "request_id": received.request_id if received else None,
        "unit_id": received.unit_id if received else None,
        "matched_by": received.matched_by if received else "",
    }
    if as_json:
        print(json.dumps(data))
    elif outcome.code:
        print(f"preservation: mail not taken: {outcome.detail or outcome.state}", file=sys.stderr)


def cmd_receive(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"preservation: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    # An MTA shows our stderr in its log or its bounce: one line from us, errors from the rest.
    logs.configure("ERROR")
    raw = _read_stdin(settings.inbound_max_bytes)
    try:
        # Not an e-mail, or too large: returned to the sender whatever the database's state.
        mailparse.parse(raw, max_bytes=settings.inbound_max_bytes)
    except mailparse.UnreadableMail as exc:
        outcome = Outcome(code=EX_DATAERR, state="unreadable", detail=exc.detail)
        _print(outcome, args.json)
        return EX_DATAERR
    path = sqlite_path(settings.database_url)
    if path is not None and not path.expanduser().exists():
        # Never create an empty database here (cli/database.py): the MTA keeps the message.
        print(
            f"preservation: no database at {path.expanduser().resolve()}: mail deferred",
            file=sys.stderr,
        )
        return EX_TEMPFAIL
    ctx = Context(settings=settings, clock=SystemClock())

    async def run() -> Outcome:
        db = Database(settings.database_url)
        try:
            return await receive_bytes(db, ctx=ctx, raw=raw, recipients=args.recipient)
        finally:
            await db.dispose()

    try:
        outcome = asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the MTA must keep the message
        outcome = Outcome(code=EX_TEMPFAIL, state="error", detail=f"{type(exc).__name__}: {exc}")
    _print(outcome, args.json)
    if outcome.code not in (0, EX_DATAERR, EX_TEMPFAIL):
        return EX_TEMPFAIL
    return outcome.code


async def _with_db(work: Any) -> Any:
    settings = load_settings()
    await asyncio.to_thread(upgrade_sync, settings.database_url)
    db = Database(settings.database_url)
    try:
        return await work(db)
    finally:
        await db.dispose()


def cmd_quarantine(args: argparse.Namespace) -> int:
    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.read() as session:
            rows = await quarantine.operator_quarantine(session)
        return [
            {
                "id": r.id,
                "at": r.at.isoformat() if r.at else None,
                "from": r.from_addr,
                "recipients": list(r.recipients or []),
                "subject": r.subject,
                "size": r.size,
                "note": r.note,
            }
            for r in rows
        ]

    items = asyncio.run(_with_db(work))
    if args.json:
        print(json.dumps({"items": items}, indent=2, ensure_ascii=False))
    elif not items:
        print("no mail waits at the operator's")
    else:
        for item in items:
            to = ", ".join(item["recipients"]) or "-"
            print(f"{item['id']:>6}  {item['at']}  from {item['from']}  to {to}")
            print(f"        {item['subject']}  ({item['size']} bytes)")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    clock = SystemClock()

    async def work(db: Database) -> str:
        async with db.write() as session:
            row = await quarantine.assign(
                session, message_id=args.id, unit=args.unit, actor="operator", now=clock.now()
            )
            return f"message {row.id} is now in the quarantine of {args.unit}"

    print(asyncio.run(_with_db(work)))
    return 0
