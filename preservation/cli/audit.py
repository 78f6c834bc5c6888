"""`preservation audit verify`: check every request's hash chain of audit events (read-only:
it neither migrates nor changes anything)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

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


async def _verify() -> tuple[int, list[dict[str, object]]]:
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
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
            return checked, found
    finally:
        await db.dispose()


def cmd_verify(args: argparse.Namespace) -> int:
    checked, broken = asyncio.run(_verify())
    if args.json:
        print(json.dumps({"checked": checked, "ok": not broken, "broken": broken}, indent=2))
    if not broken:
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
