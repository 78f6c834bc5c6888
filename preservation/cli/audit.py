"""`preservation audit verify`: check every request's hash chain of audit events, and the chain
of directory changes (read-only: it neither migrates nor changes anything)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from preservation.directory import changes as directory_changes
from preservation.requests import audit
from preservation.settings import load_settings
from preservation.storage.db import Database
from preservation.storage.models import PreservationRequest


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("audit", help="the audit trail")
    asub = cmd.add_subparsers(dest="audit_command", required=True, parser_class=sub._parser_class)
    verify = asub.add_parser(
        "verify", help="check every request's chain of events; name the first broken link"
    )
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=cmd_verify)


async def _verify() -> tuple[int, list[dict[str, object]], int, dict[str, object] | None]:
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            changes, link = await directory_changes.verify_all(session)
            directory = None if link is None else {"seq": link.seq, "reason": link.reason}
            checked, broken = await audit.verify_all(session)
            found = []
            for link in broken:
                req = await session.get(PreservationRequest, link.request_id)
                found.append(
                    {
                        "request_id": link.request_id,
                        "reference": req.reference if req is not None else None,
                        "seq": link.seq,
                        "reason": link.reason,
                    }
                )
            return checked, found, changes, directory
    finally:
        await db.dispose()


def cmd_verify(args: argparse.Namespace) -> int:
    checked, broken, changes, directory = asyncio.run(_verify())
    ok = not broken and directory is None
    if args.json:
        print(
            json.dumps(
                {
                    "checked": checked,
                    "ok": ok,
                    "broken": broken,
                    "directory": {"changes": changes, "ok": directory is None, "broken": directory},
                },
                indent=2,
            )
        )
    if directory is not None:
        print(
            "preservation: directory change log broken: change "
            f"{directory['seq']}: {directory['reason']}",
            file=sys.stderr,
        )
    elif not args.json:
        print(f"{changes} directory change(s) verified: chain intact")
    if ok:
        if not args.json:
            print(f"{checked} audit chain(s) verified: all intact")
        return 0
    for link in broken:
        name = link["reference"] or f"request {link['request_id']}"
        print(
            f"preservation: audit chain broken: {name} event {link['seq']}: {link['reason']}",
            file=sys.stderr,
        )
    if not args.json:
        print(f"{checked} audit chain(s) checked, {len(broken)} broken")
    return 1
