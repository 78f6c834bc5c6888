"""`preservation directory import|export|lookup`: the directory from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from preservation.directory.changes import OPERATOR, Author
from preservation.directory.io import KINDS, ImportReport, export_directory, import_into
from preservation.directory.lookup import IDENTIFIER_TYPES, lookup
from preservation.directory.snapshot import DirectoryCache
from preservation.domain.clock import SystemClock
from preservation.errors import InvalidInput
from preservation.settings import load_settings
from preservation.storage.db import Database, upgrade_sync
from preservation.storage.files import write_private

#: Files with fewer rows get no progress line.
PROGRESS_MIN_ROWS = 500


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("directory", help="providers and 24/7 points of contact")
    dsub = cmd.add_subparsers(
        dest="directory_command", required=True, parser_class=sub._parser_class
    )

    imp = dsub.add_parser(
        "import",
        help="validate and upsert providers or contacts from a CSV or JSON file "
        "(nothing is written when a row is invalid, unless --skip-invalid)",
    )
    imp.add_argument(
        "file", type=Path, help="FILE.csv or FILE.json ('-' reads stdin: give --format)"
    )
    imp.add_argument("--kind", choices=KINDS, help="inferred from the columns or keys when absent")
    imp.add_argument("--format", choices=["csv", "json"], help="inferred from the file name")
    imp.add_argument(
        "--dry-run", action="store_true", help="report what would change; write nothing"
    )
    imp.add_argument("--skip-invalid", action="store_true", help="write the valid rows anyway")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.set_defaults(func=cmd_import)

    exp = dsub.add_parser("export", help="write providers or contacts as CSV or JSON")
    exp.add_argument("--kind", choices=KINDS, required=True)
    exp.add_argument("--format", choices=["csv", "json"], default="json")
    exp.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    exp.set_defaults(func=cmd_export)

    look = dsub.add_parser(
        "lookup", help="provider, country, points of contact and route for an identifier"
    )
    look.add_argument(
        "identifier", help="e-mail, URL, domain, +phone, IP, IMEI, or platform:handle"
    )
    look.add_argument("--type", choices=IDENTIFIER_TYPES, help="detected when absent")
    look.add_argument("--platform", help="the platform of an account (instagram, x, ...)")
    look.add_argument(
        "--no-copy-to-poc",
        action="store_true",
        help="do not copy the country's point of contact when the provider takes requests directly",
    )
    look.add_argument("--json", action="store_true")
    look.set_defaults(func=cmd_lookup)


async def _database() -> tuple[Database, Any]:
    settings = load_settings()
    await asyncio.to_thread(upgrade_sync, settings.database_url)
    return Database(settings.database_url), settings


class _Progress:
    """One line on stderr, rewritten in place, when stderr is a terminal and the file is large."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_MIN_ROWS:
            return
        width = 30
        filled = width * done // total
        bar = "#" * filled + "-" * (width - filled)
        print(f"\rvalidating [{bar}] {done}/{total} rows", end="", file=sys.stderr, flush=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def _read(args: argparse.Namespace) -> tuple[str, str]:
    fmt = args.format
    if str(args.file) == "-":
        if fmt is None:
            raise InvalidInput("--format", "give --format csv|json when reading stdin")
        return sys.stdin.read(), fmt
    if fmt is None:
        suffix = args.file.suffix.lower().lstrip(".")
        if suffix not in ("csv", "json"):
            raise InvalidInput("file", "name it .csv or .json, or give --format")
        fmt = suffix
    try:
        return args.file.read_text(encoding="utf-8-sig"), fmt
    except OSError as exc:
        raise InvalidInput("file", f"cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput("file", f"{args.file} is not UTF-8 text") from None


def _operator() -> str:
    """The operator at the command line, named by the account that runs the command."""
    import getpass

    try:
        return f"{OPERATOR}: {getpass.getuser()}"
    except (OSError, KeyError):
        return OPERATOR


def report_dict(report: ImportReport) -> dict[str, Any]:
    return {
        "kind": report.kind,
        "dry_run": report.dry_run,
        "written": report.written,
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "errors": [
            {"row": e.row, "line": e.line, "field": e.field, "message": e.message}
            for e in report.errors
        ],
    }


async def _import(args: argparse.Namespace) -> ImportReport:
    content, fmt = _read(args)
    db, _ = await _database()
    progress = _Progress()
    try:
        # Planned outside the write transaction: a running service keeps its writer meanwhile.
        return await import_into(
            db,
            content=content,
            fmt=fmt,  # type: ignore[arg-type]
            kind=args.kind,
            dry_run=args.dry_run,
            skip_invalid=args.skip_invalid,
            progress=progress,
            by=Author(actor=_operator(), unit="", at=SystemClock().now()),
        )
    finally:
        progress.close()
        await db.dispose()


def cmd_import(args: argparse.Namespace) -> int:
    report = asyncio.run(_import(args))
    for err in report.errors:
        print(f"preservation: {err}", file=sys.stderr)
    if args.json:
        print(json.dumps(report_dict(report), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
        for label, keys in (("created", report.created), ("updated", report.updated)):
            for key in keys:
                print(f"  {label}: {key}")
    if report.errors and not args.skip_invalid:
        return 2
    return 0


async def _export(args: argparse.Namespace) -> tuple[str, int]:
    db, _ = await _database()
    try:
        async with db.read() as session:
            return await export_directory(session, kind=args.kind, fmt=args.format)
    finally:
        await db.dispose()


def cmd_export(args: argparse.Namespace) -> int:
    content, count = asyncio.run(_export(args))
    if args.output is None:
        sys.stdout.write(content)
    else:
        write_private(args.output, content)  # 0600: the directory's addresses stay ours
        print(f"{count} {args.kind} written to {args.output}", file=sys.stderr)
    return 0


async def _lookup(args: argparse.Namespace) -> dict[str, Any]:
    db, settings = await _database()
    try:
        async with db.read() as session:
            snap = await DirectoryCache().snapshot(session)
            result = lookup(
                snap,
                identifier=args.identifier,
                type=args.type,
                platform=args.platform,
                copy_to_poc=not args.no_copy_to_poc,
                today=SystemClock().now().date(),
                max_age_days=settings.staleness_days,
            )
            return result
    finally:
        await db.dispose()


def _lookup_text(r: dict[str, Any]) -> str:
    ident, route, provider = r["identifier"], r["route"], r["provider"]
    lines = [f"{ident['type']}: {ident['normalized']}"]
    if provider is not None:
        stale = " (STALE: verify before relying on it)" if provider["stale"] else ""
        lines.append(f"provider: {provider['name']} [{provider['slug']}]{stale}")
    else:
        lines.append("provider: none found")
    lines.append(f"country: {r['country'] or 'unknown'}")
    lines.append(f"route: {route['channel']} -> {route['to'] or '(nobody on file)'}")
    lines.append(f"why: {route['why']}")
    for c in r["contacts"]:
        copied = " (copied)" if c["id"] in route["copy_to"] else ""
        stale = " (STALE)" if c["stale"] else ""
        reach = ", ".join(c["phones"] + c["emails"])
        lines.append(
            f"contact {c['id']}: {c['authority']} ({c['network']}){copied}{stale}: {reach}"
        )
    return "\n".join(lines)


def cmd_lookup(args: argparse.Namespace) -> int:
    result = asyncio.run(_lookup(args))
    print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else _lookup_text(result))
    return 0
