"""`preservation request new|show|list`: the same use cases as the API, on the configured database.

The CLI acts as a named user of a named unit, given on the command line: `--unit` is required
(a unit sees only its own requests), and `request new` also needs `--user`, an existing officer or
supervisor of that unit (create one with `preservation token create`); it is the actor recorded
in the audit trail. No environment variable stands in for them: a script says who acts.

A request submitted here is picked up by the running service's claim loop on its next poll
(`claim_interval_seconds`): this process has no scheduler to wake."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from sqlmodel import select

from preservation.access.auth import REQUEST_ROLES, Principal
from preservation.domain.clock import SystemClock
from preservation.errors import BadRequest, InvalidInput
from preservation.requests import create as creation
from preservation.requests import listing, view
from preservation.requests.schemas import RequestCreate, RequestList, RequestPublic
from preservation.runtime.context import Context
from preservation.settings import Settings, load_regimes, load_settings
from preservation.storage.db import Database, upgrade_sync
from preservation.storage.models import Unit, User


def emit(result: Any, *, as_json: bool, text: Any) -> None:
    # preservation.cli imports this module while it loads: look its printer up at call time.
    from preservation.cli import emit as cli_emit

    cli_emit(result, as_json=as_json, text=text)


def register(sub: argparse._SubParsersAction) -> None:
    req = sub.add_parser("request", help="preservation requests")
    rsub = req.add_subparsers(dest="request_command", required=True, parser_class=sub._parser_class)
    # `request import`: requests sent elsewhere, recorded (cli/record_import.py).
    from preservation.cli import record_import

    record_import.register(rsub)

    new = rsub.add_parser("new", help="create a request from a JSON file (the API's body)")
    new.add_argument("--file", required=True, help="JSON file; '-' reads standard input")
    new.add_argument("--submit", action="store_true", help="submit it in the same transaction")
    new.add_argument("--unit", required=True, help="the unit the request belongs to")
    new.add_argument("--user", required=True, help="an officer or supervisor of the unit")
    new.add_argument("--json", action="store_true", help="print the request as JSON")
    new.set_defaults(func=cmd_new)

    show = rsub.add_parser("show", help="show one request of the unit")
    show.add_argument("id", help="the request's id or reference (PR-2026-000123)")
    show.add_argument("--unit", required=True)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    lst = rsub.add_parser("list", help="list the unit's requests, newest first")
    lst.add_argument("--unit", required=True)
    lst.add_argument("--status")
    lst.add_argument("--expiring-within", help="ISO 8601 duration, e.g. P14D")
    lst.add_argument("--limit", type=int, default=100)
    lst.add_argument("--q", help="a whole reference, case reference, identifier or provider slug")
    lst.add_argument("--cursor", help="the page after the one that printed it")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)


def _context(settings: Settings) -> Context:
    return Context(
        settings=settings, clock=SystemClock(), regimes=load_regimes(settings.regimes_path)
    )


async def _principal(db: Database, *, unit: str, user: str | None) -> Principal:
    async with db.read() as session:
        unit_row = (
            await session.execute(select(Unit).where(Unit.name == unit))
        ).scalar_one_or_none()
        if unit_row is None:
            raise InvalidInput("--unit", f"no unit named {unit!r}")
        if user is None:
            # Reading needs only the unit (isolation); no user is recorded.
            return Principal(
                user_id=0,
                user_name="cli",
                unit_id=unit_row.id,
                unit_name=unit_row.name,
                role="officer",
            )
        user_row = (
            await session.execute(
                select(User).where(User.unit_id == unit_row.id, User.name == user)
            )
        ).scalar_one_or_none()
    if user_row is None:
        raise InvalidInput("--user", f"no user {user!r} in unit {unit!r}")
    if user_row.role not in REQUEST_ROLES:
        raise InvalidInput(
            "--user", f"{user!r} is {user_row.role}: only officers and supervisors file requests"
        )
    return Principal(
        user_id=user_row.id,
        user_name=user_row.name,
        unit_id=unit_row.id,
        unit_name=unit_row.name,
        role=user_row.role,
    )


def _read_body(path: str, *, submit: bool) -> RequestCreate:
    from preservation.web.endpoints import parse_model

    try:
        raw = Path(path).read_text(encoding="utf-8") if path != "-" else _stdin()
    except OSError as exc:
        raise InvalidInput("--file", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"{path} is not valid JSON: {exc}") from None
    if submit and isinstance(data, dict):
        data["submit"] = True
    return parse_model(RequestCreate, data)


def _stdin() -> str:
    import sys

    return sys.stdin.read()


async def _run(args: argparse.Namespace, work: Any) -> Any:
    settings = load_settings()
    await asyncio.to_thread(upgrade_sync, settings.database_url)
    db = Database(settings.database_url)
    try:
        return await work(db, _context(settings))
    finally:
        await db.dispose()


def _text(pub: RequestPublic) -> str:
    lines = [f"{pub.reference}  {pub.status}  (id {pub.id}, regime {pub.regime})"]
    if pub.case_reference:
        lines.append(f"  case: {pub.case_reference}")
    for i in pub.identifiers:
        when = ", ".join(v.text for v in i.local.values())
        lines.append(
            f"  identifier {i.position}: {i.type} {i.normalized}" + (f"  [{when}]" if when else "")
        )
    if pub.route is not None:
        lines.append(f"  route: {pub.route.channel} {pub.route.to}  ({pub.route.why})")
    for r in pub.recipients:
        lines.append(f"  recipient: {r.role} via {r.channel} to {r.to}  [{r.status}]")
    lines.append(
        "  checklist: complete"
        if pub.checklist.complete
        else f"  checklist: missing {', '.join(pub.checklist.missing)}"
    )
    for w in pub.warnings:
        lines.append(f"  warning: {w}")
    if pub.expires_at:
        lines.append(f"  expires: {pub.expires_at.isoformat()}  ({pub.expiry_rule})")
    return "\n".join(lines)


def cmd_new(args: argparse.Namespace) -> int:
    body = _read_body(args.file, submit=args.submit)

    async def work(db: Database, ctx: Context) -> RequestPublic:
        principal = await _principal(db, unit=args.unit, user=args.user)
        return await creation.create_request(db, ctx=ctx, principal=principal, data=body)

    pub = asyncio.run(_run(args, work))
    emit(pub.model_dump(mode="json") if args.json else pub, as_json=args.json, text=_text)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    async def work(db: Database, ctx: Context) -> RequestPublic:
        principal = await _principal(db, unit=args.unit, user=None)
        request_id: int | str = args.id
        if str(args.id).upper().startswith("PR-"):
            request_id = await _id_of_reference(db, principal, str(args.id).upper())
        return await view.get_request(db, principal=principal, request_id=request_id)

    pub = asyncio.run(_run(args, work))
    emit(pub.model_dump(mode="json") if args.json else pub, as_json=args.json, text=_text)
    return 0


async def _id_of_reference(db: Database, principal: Principal, reference: str) -> int:
    from preservation.errors import NotFound
    from preservation.storage.models import PreservationRequest

    async with db.read() as session:
        rid = (
            await session.execute(
                select(PreservationRequest.id).where(
                    PreservationRequest.reference == reference,
                    PreservationRequest.unit_id == principal.unit_id,
                )
            )
        ).scalar_one_or_none()
    if rid is None:
        raise NotFound(f"no request {reference} in unit {principal.unit_name}")
    return rid


def _list_text(result: RequestList) -> str:
    if not result.items:
        return "no requests"
    lines = []
    for r in result.items:
        expires = r.expires_at.isoformat() if r.expires_at else "-"
        lines.append(
            f"{r.id:>6}  {r.reference}  {r.status:<19}  {r.regime:<15}  {r.country or '--'}"
            f"  {r.provider or '-':<12}  expires {expires}"
        )
    if result.next:
        lines.append(f"({len(result.items)} shown; more with --cursor {result.next})")
    else:
        lines.append(f"({len(result.items)} shown; no more)")
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
    from preservation.requests.schemas import ListQuery
    from preservation.web.endpoints import parse_model

    query = parse_model(
        ListQuery,
        {
            k: v
            for k, v in {
                "status": args.status,
                "expiring_within": args.expiring_within,
                "limit": args.limit,
                "q": args.q,
                "cursor": args.cursor,
            }.items()
            if v is not None
        },
        prefix="query",
    )

    async def work(db: Database, ctx: Context) -> RequestList:
        principal = await _principal(db, unit=args.unit, user=None)
        return await listing.list_requests(
            db,
            ctx=ctx,
            principal=principal,
            status=query.status,
            expiring_within=query.expiring_within,
            q=query.q,
            limit=query.limit,
            cursor=query.cursor,
        )

    result = asyncio.run(_run(args, work))
    emit(
        result.model_dump(mode="json") if args.json else result, as_json=args.json, text=_list_text
    )
    return 0
