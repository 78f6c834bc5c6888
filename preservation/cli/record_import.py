"""`preservation request import FILE.csv|json [--dry-run] [--skip-invalid]`: requests a unit sent
outside the service, recorded at once (requests/record_import.py). Like `directory import`: each
bad row on stderr as "row N (line L): field: reason", nothing written when a row is bad unless
--skip-invalid, exit 2 when rows were bad and nothing was written. `--user` is the officer or
supervisor the audit trail names as having recorded them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from preservation.cli.directory import _Progress
from preservation.cli.requests import _context, _principal
from preservation.errors import InvalidInput
from preservation.requests.record_import import RecordImportReport, import_records
from preservation.settings import load_settings
from preservation.storage.db import Database, upgrade_sync


def register(rsub: argparse._SubParsersAction) -> None:
    imp = rsub.add_parser(
        "import",
        help="record requests sent outside the service from a CSV or JSON file (nothing is"
        " written when a row is invalid, unless --skip-invalid)",
    )
    imp.add_argument(
        "file", type=Path, help="FILE.csv or FILE.json ('-' reads stdin: give --format)"
    )
    imp.add_argument("--format", choices=["csv", "json"], help="inferred from the file name")
    imp.add_argument("--unit", required=True, help="the unit the requests belong to")
    imp.add_argument("--user", required=True, help="the officer or supervisor recording them")
    imp.add_argument("--dry-run", action="store_true", help="check every row; write nothing")
    imp.add_argument("--skip-invalid", action="store_true", help="record the valid rows anyway")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.set_defaults(func=cmd_import)


def _read(args: argparse.Namespace) -> tuple[str, str]:
    fmt = args.format
    if str(args.file) == "-":
        if fmt is None:
            raise InvalidInput("--format", "give --format csv|json when reading stdin")
        return sys.stdin.read(), fmt
    if fmt is None:
        fmt = args.file.suffix.lower().lstrip(".")
        if fmt not in ("csv", "json"):
            raise InvalidInput("file", "name it .csv or .json, or give --format")
    try:
        return args.file.read_text(encoding="utf-8-sig"), fmt
    except OSError as exc:
        raise InvalidInput("file", f"cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput("file", f"{args.file} is not UTF-8 text") from None


async def _import(args: argparse.Namespace) -> RecordImportReport:
    content, fmt = _read(args)
    settings = load_settings()
    await asyncio.to_thread(upgrade_sync, settings.database_url)
    db = Database(settings.database_url)
    progress = _Progress()
    try:
        principal = await _principal(db, unit=args.unit, user=args.user)
        return await import_records(
            db,
            ctx=_context(settings),
            principal=principal,
            content=content,
            fmt=fmt,  # type: ignore[arg-type]
            dry_run=args.dry_run,
            skip_invalid=args.skip_invalid,
            progress=progress,
        )
    finally:
        progress.close()
        await db.dispose()


def cmd_import(args: argparse.Namespace) -> int:
    report = asyncio.run(_import(args))
    for err in report.errors:
        print(f"preservation: {err}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.summary())
        if report.written:
            for row, reference in report.created:
                print(f"  row {row}: {reference}")
    if report.errors and not args.skip_invalid:
        return 2
    return 0
