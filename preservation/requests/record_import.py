"""`preservation request import FILE.csv|json`: many requests sent elsewhere, recorded at once
(each as POST /api/v1/requests with "record_only": true would record it: requests/record.py).

Every row goes through the same checks as the API, in one transaction, each in a savepoint: a bad
row is reported (its row number, field and reason, and its CSV line) and leaves nothing. When any
row is bad nothing at all is written, unless `skip_invalid` (then every valid row is). A dry run
checks everything and writes nothing. A row that repeats one already recorded for the unit (same
case reference, provider, country and sending instant), or an earlier row of the file, is bad.

Files (the directory import's conventions, directory/io.py):
- JSON: a list of objects with the fields of POST /api/v1/requests ("record_only" may be left
  out; false is an error).
- CSV: UTF-8 with a header row naming those fields. `data_categories` holds items separated by
  ";"; `identifiers` holds a JSON list, or "type:value" items separated by ";" (an account as
  "account:platform/handle"); booleans true/false; an empty cell is the field's default.
Row numbers count data rows from 1 (a CSV header is not a row)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.directory.io import RowError, parse_content
from preservation.errors import InvalidInput, NotFound
from preservation.requests.create import prepare_create
from preservation.requests.record import record_in_session
from preservation.requests.schemas import RequestCreate
from preservation.runtime.context import Context
from preservation.storage.db import Database
from preservation.storage.models import PreservationRequest

Format = Literal["csv", "json"]
Progress = Callable[[int, int], None]
_LISTS = {"data_categories"}
_BOOLS = {"urgent", "confidential", "mla_to_follow", "record_only", "submit", "dst"}


@dataclass(kw_only=True)
class RecordImportReport:
    dry_run: bool
    rows: int = 0
    #: (row number, reference) of each request recorded (or that would be, in a dry run).
    created: list[tuple[int, str]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    def summary(self) -> str:
        bad = len({e.row for e in self.errors})
        state = (
            "written"
            if self.written
            else ("dry run: nothing written" if self.dry_run else "nothing written")
        )
        return (
            f"requests: {self.rows} rows: {len(self.created)} recorded"
            + (f", {bad} invalid" if bad else "")
            + f" ({state})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "written": self.written,
            "rows": self.rows,
            "created": [{"row": r, "reference": ref} for r, ref in self.created],
            "errors": [
                {"row": e.row, "line": e.line, "field": e.field, "message": e.message}
                for e in self.errors
            ],
        }


class _Rollback(Exception):
    """Ends the import's transaction without writing (a dry run, or a bad row)."""


def _identifiers(cell: str) -> Any:
    cell = cell.strip()
    if not cell:
        return []
    if cell.startswith("["):
        try:
            return json.loads(cell)
        except ValueError:
            return cell  # the model names the field
    items = []
    for part in (p.strip() for p in cell.split(";")):
        if not part:
            continue
        kind, sep, value = part.partition(":")
        if not sep:
            items.append({"type": "", "value": part})
            continue
        kind, value = kind.strip().lower(), value.strip()
        if kind == "account" and "/" in value:
            platform, _, handle = value.partition("/")
            items.append({"type": kind, "platform": platform.strip(), "value": handle.strip()})
        else:
            items.append({"type": kind, "value": value})
    return items


def _from_cells(data: dict[str, Any]) -> dict[str, Any]:
    """CSV text cells -> the values POST /api/v1/requests takes (empty: the default)."""
    out: dict[str, Any] = {}
    for key, raw in data.items():
        cell = raw.strip() if isinstance(raw, str) else raw
        if cell == "" or cell is None:
            continue
        if key == "identifiers":
            out[key] = _identifiers(cell)
        elif key in _LISTS:
            out[key] = [p.strip() for p in cell.split(";") if p.strip()]
        elif key in _BOOLS and cell.lower() in ("true", "false"):
            out[key] = cell.lower() == "true"
        else:
            out[key] = cell
    return out


def _row_errors(number: int, line: int | None, exc: InvalidInput | NotFound) -> list[RowError]:
    errors = getattr(exc, "errors", None) or []
    if not errors:
        return [RowError(row=number, line=line, field="row", message=exc.detail)]
    return [RowError(row=number, line=line, field=e.field, message=e.message) for e in errors]


def _validate(
    number: int, line: int | None, data: dict[str, Any]
) -> RequestCreate | list[RowError]:
    if any(str(k).startswith("\0") for k in data):
        return [
            RowError(
                row=number,
                line=line,
                field="row",
                message="must be an object with the request's fields",
            )
        ]
    data = {k: v for k, v in data.items() if k not in ("id", "reference")}
    if data.get("record_only") is False:
        return [
            RowError(
                row=number,
                line=line,
                field="record_only",
                message="an import records requests sent elsewhere: leave it out or true",
            )
        ]
    data["record_only"] = True
    try:
        return RequestCreate.model_validate(data)
    except ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "row"
            message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
            out.append(RowError(row=number, line=line, field=loc, message=message))
        return out


async def _duplicate(session: AsyncSession, req: Any, principal: Principal) -> str | None:
    """The reference of an earlier record of the same request in the unit, if any."""
    found = (
        await session.execute(
            select(PreservationRequest.reference).where(
                PreservationRequest.unit_id == principal.unit_id,
                PreservationRequest.record_only.is_(True),
                PreservationRequest.id != req.id,
                PreservationRequest.case_reference == req.case_reference,
                PreservationRequest.provider.is_(None)
                if req.provider is None
                else PreservationRequest.provider == req.provider,
                PreservationRequest.country.is_(None)
                if req.country is None
                else PreservationRequest.country == req.country,
                PreservationRequest.sent_at == req.sent_at,
            )
        )
    ).first()
    return found[0] if found else None


async def import_records(
    db: Database,
    *,
    ctx: Context,
    principal: Principal,
    content: str,
    fmt: Format,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> RecordImportReport:
    """Check and record every row of `content` (see the module docstring). A file that cannot
    be read at all (not CSV or JSON, no header) raises InvalidInput."""
    _, rows = parse_content(content, fmt)
    report = RecordImportReport(dry_run=dry_run, rows=len(rows))
    checked: list[tuple[int, int | None, RequestCreate]] = []
    for row in rows:
        data = _from_cells(row.data) if fmt == "csv" else row.data
        result = _validate(row.number, row.line, data)
        if isinstance(result, list):
            report.errors.extend(result)
        else:
            checked.append((row.number, row.line, result))
    try:
        async with db.write() as session:
            for done, (number, line, data) in enumerate(checked, start=1):
                if progress is not None and (done % 50 == 0 or done == len(checked)):
                    progress(done, len(checked))
                try:
                    async with session.begin_nested():
                        prepared = prepare_create(ctx=ctx, data=data)
                        created = await record_in_session(
                            session,
                            ctx=ctx,
                            principal=principal,
                            data=data,
                            prepared=prepared,
                            view=False,
                        )
                        req = await session.get(
                            PreservationRequest, created.public.id, populate_existing=True
                        )
                        earlier = await _duplicate(session, req, principal)
                        if earlier is not None:
                            raise InvalidInput(
                                "sent_at",
                                f"already recorded as {earlier} (same case, provider, country"
                                " and sending)",
                            )
                except (InvalidInput, NotFound) as exc:
                    report.errors.extend(_row_errors(number, line, exc))
                    continue
                report.created.append((number, created.public.reference))
            report.errors.sort(key=lambda e: (e.row, e.field))
            if dry_run or (report.errors and not skip_invalid):
                raise _Rollback()
    except _Rollback:
        if not dry_run:
            report.created = []
        return report
    report.errors.sort(key=lambda e: (e.row, e.field))
    report.written = True
    return report
