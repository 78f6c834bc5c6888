"""Import and export of the directory (providers or points of contact) as CSV or JSON.

Import: every row is validated (``ProviderCreate`` / ``ContactCreate``) and upserted on its
natural key (provider ``slug``; contact ``(country, authority)``), in the caller's transaction.
When any row is invalid nothing is written, unless ``skip_invalid`` (then the valid rows are).
A dry run validates and classifies (created / updated / unchanged) and writes nothing.

Files:

- JSON: a list of objects with the fields of ``ProviderCreate`` or ``ContactCreate``.
- CSV: UTF-8 with a header row; the same fields as columns. List fields (``aliases``,
  ``domains``, ``platforms``, ``phones``, ``emails``, ``languages``) hold items separated by
  ``;``; ``entity_by_region``, ``source``, ``entities``, ``other_sources``, ``facts_from``,
  ``emergency_contact`` and ``eu_representative`` hold JSON; booleans ``true``/``false``; an empty cell is null
  for nullable fields, an empty list for list fields, and the default for ``network``,
  ``hours``, ``notifies_user``, ``accepts_preservation`` and ``demo``.
- ``id`` and ``stale`` (in the API's answers) are ignored; any other unknown column or key is an
  error. A field absent from a row keeps its stored value on update (its default on create).
- Row numbers count data rows from 1 (a CSV header is not a row); CSV errors also give the line.

The kind is inferred when not given: ``slug`` means providers, ``authority`` contacts.
Exports list every field, providers by slug and contacts by country and authority, and import
back unchanged.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact, ContactCreate
from preservation.directory.changes import Author, contact_state, provider_state
from preservation.directory.snapshot import bump_version, decode_json
from preservation.domain.spreadsheet import csv_text, restore_cell
from preservation.errors import FieldError, InvalidInput
from preservation.storage.db import Database
from providers.models import Provider, ProviderCreate

__all__ = [
    "KINDS",
    "ImportReport",
    "RowError",
    "export_directory",
    "import_directory",
    "infer_kind",
    "parse_content",
]

Kind = Literal["providers", "contacts"]
Format = Literal["csv", "json"]
KINDS: tuple[Kind, ...] = ("providers", "contacts")
Progress = Callable[[int, int], None]

_MODELS: dict[str, type[BaseModel]] = {"providers": ProviderCreate, "contacts": ContactCreate}
_LISTS = {"aliases", "domains", "platforms", "phones", "emails", "languages"}
_DICTS = {
    "entity_by_region",
    "source",
    "entities",
    "other_sources",
    "facts_from",
    "emergency_contact",
    "eu_representative",
}
_NULLABLE = {
    "country",
    "portal_url",
    "le_email",
    "accepts_foreign_direct",
    "preservation_days",
    "extension_days",
    "max_extensions",
    "extension_lead_days",
    "verified_on",
    "entity_by_region",
    "intake_page",
}
#: An empty cell means "the default" for these (a cell cannot be empty on purpose).
_DEFAULT_WHEN_EMPTY = {"network", "hours", "notifies_user", "accepts_preservation", "demo"}
_IGNORED = {"id", "stale"}
# Markers of a malformed row (no header can name them).
_EXTRA, _SHAPE = "\0extra", "\0shape"


def columns(kind: Kind) -> list[str]:
    """The fields of a kind, in the models' order (the CSV header of an export)."""
    return list(_MODELS[kind].model_fields)


@dataclass(frozen=True, kw_only=True)
class RowError:
    #: Data row number from 1; 0 for the file as a whole (its header or its shape).
    row: int
    field: str
    message: str
    #: CSV line where the row starts (the header is line 1).
    line: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line else "")
        if self.row == 0:
            where = "file"
        return f"{where}: {self.field}: {self.message}"

    def as_field_error(self) -> FieldError:
        name = f"rows[{self.row}].{self.field}" if self.row else self.field
        return FieldError(field=name, message=self.message)


@dataclass(kw_only=True)
class ImportReport:
    kind: Kind
    dry_run: bool
    #: Rows read from the file.
    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: Whether the changes were written (false for a dry run, or when a row failed and
    #: ``skip_invalid`` was not given).
    written: bool = False

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.errors:
            parts.append(f"{len({e.row for e in self.errors})} invalid")
        state = (
            "written"
            if self.written
            else ("dry run: nothing written" if self.dry_run else "nothing written")
        )
        return f"{self.kind}: {self.rows} rows: {', '.join(parts)} ({state})"


@dataclass(frozen=True, kw_only=True)
class _Row:
    number: int
    line: int | None
    data: dict[str, Any]


# --- reading files ----------------------------------------------------------------------------


def infer_kind(keys: set[str] | list[str]) -> Kind | None:
    keys = set(keys)
    if "slug" in keys:
        return "providers"
    if "authority" in keys:
        return "contacts"
    return None


def _csv_rows(text: str) -> tuple[list[str], list[_Row]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("content", "the CSV file is empty (a header row is required)") from None
    except csv.Error as exc:
        raise InvalidInput("content", f"not readable as CSV: {exc}") from None
    header = [h.strip() for h in header]
    rows: list[_Row] = []
    number = 0
    start = reader.line_num + 1
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                start = reader.line_num + 1
                continue
            number += 1
            data: dict[str, Any] = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                data[_EXTRA] = len(cells) - len(header)
            rows.append(_Row(number=number, line=start, data=data))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(
            "content", f"line {reader.line_num}: not readable as CSV: {exc}"
        ) from None
    return header, rows


def _json_rows(text: str) -> tuple[list[str], list[_Row]]:
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("content", f"not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise InvalidInput("content", "the JSON file must hold a list of objects")
    keys: list[str] = []
    rows = []
    for i, item in enumerate(items, start=1):
        data = item if isinstance(item, dict) else {_SHAPE: type(item).__name__}
        for k in data:
            if k not in keys:
                keys.append(k)
        rows.append(_Row(number=i, line=None, data=data))
    return keys, rows


def parse_content(text: str, fmt: Format) -> tuple[list[str], list[_Row]]:
    """The keys (CSV header, or every key seen in JSON) and the rows of a file."""
    return _csv_rows(text) if fmt == "csv" else _json_rows(text)


def _from_cells(data: dict[str, str], kind: Kind = "providers") -> dict[str, Any]:
    """CSV text cells -> values the models validate (see the module docstring)."""
    out: dict[str, Any] = {}
    dicts = _DICTS if kind == "providers" else set()
    for key, raw in data.items():
        # A cell the export neutralised for spreadsheets ('=...) reads back as it was.
        cell = restore_cell(raw).strip() if isinstance(raw, str) else raw
        if key in _LISTS:
            out[key] = [part.strip() for part in cell.split(";") if part.strip()]
        elif key in dicts:
            if not cell:
                out[key] = None
            else:
                try:
                    out[key] = json.loads(cell)
                except ValueError:
                    out[key] = cell  # the model names the field: not an object
        elif cell == "":
            if key in _DEFAULT_WHEN_EMPTY:
                continue
            out[key] = None if key in _NULLABLE else ""
        else:
            out[key] = cell
    return out


# --- validating and planning ------------------------------------------------------------------


def _key(kind: Kind, model: Any) -> str:
    return model.slug if kind == "providers" else f"{model.country}/{model.authority}"


def _validate(
    kind: Kind, fmt: Format, rows: list[_Row], errors: list[RowError], progress: Progress | None
) -> Iterator[tuple[_Row, BaseModel, set[str]]]:
    model = _MODELS[kind]
    allowed = set(model.model_fields)
    total = len(rows)
    for done, row in enumerate(rows, start=1):
        if progress is not None and (done % 200 == 0 or done == total):
            progress(done, total)
        if _SHAPE in row.data:
            errors.append(
                RowError(row=row.number, line=row.line, field="row", message="must be an object")
            )
            continue
        if _EXTRA in row.data:
            extra = row.data[_EXTRA]
            errors.append(
                RowError(
                    row=row.number,
                    line=row.line,
                    field="row",
                    message=f"{extra} more cells than the header has columns",
                )
            )
            continue
        data = {k: v for k, v in row.data.items() if k not in _IGNORED}
        unknown = [k for k in data if k not in allowed]
        if unknown:
            for k in unknown:
                errors.append(
                    RowError(row=row.number, line=row.line, field=k, message="unknown field")
                )
            continue
        if fmt == "csv":
            data = _from_cells(data, kind)
        try:
            item = model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"]) or "row"
                message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
                errors.append(RowError(row=row.number, line=row.line, field=loc, message=message))
            continue
        yield row, item, set(data)


async def import_directory(
    session: AsyncSession,
    *,
    content: str,
    fmt: Format,
    kind: Kind | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    by: Author,
) -> ImportReport:
    """Validate and upsert every row of ``content`` in the caller's transaction; each row
    created or changed is a directory change by ``by`` (``directory.changes``).

    Returns the report; ``report.errors`` lists each bad row's number, field and reason, and
    ``report.written`` says whether anything was written. A file that cannot be read at all
    (not CSV/JSON, no header, kind not inferable) raises ``InvalidInput``.

    Thousands of rows without freezing the node: the stored rows are read in slices, the file is
    parsed, validated and compared with them in a worker thread (``_plan``), and the writes go
    in chunks (``directory.bulk``). ``import_into`` does the same with the planning outside the
    write transaction.
    """
    report, changes = await _prepare(
        session, content=content, fmt=fmt, kind=kind, dry_run=dry_run, progress=progress
    )
    return await _apply(session, report, changes, dry_run=dry_run, skip_invalid=skip_invalid, by=by)


async def import_into(
    db: Database,
    *,
    content: str,
    fmt: Format,
    kind: Kind | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    by: Author,
) -> ImportReport:
    """``import_directory`` in transactions of its own: the file is read, validated and compared
    with the stored rows in a read transaction, and only the writes hold the writer.

    On SQLite there is one writer: planning 10,000 providers inside the write transaction held
    it for 1.5 s more, and every other write (a request filed, a reminder claimed) waited that
    long. The plan is made against one version of the directory; if another change committed
    in between, the import is planned again inside the write transaction (as
    ``import_directory``), so it never writes over a change it did not see.
    """
    from preservation.directory.snapshot import current_version

    plan = functools.partial(
        _prepare, content=content, fmt=fmt, kind=kind, dry_run=dry_run, progress=progress
    )
    async with db.read() as session:
        version = await current_version(session)
        report, changes = await plan(session)
    if not _writes(report, dry_run=dry_run, skip_invalid=skip_invalid):
        return report
    async with db.write() as session:
        if await current_version(session) != version:
            # Another change committed meanwhile: planned again against what this transaction
            # sees (the file is checked again too: its rows may now be updates, or conflict).
            report, changes = await plan(session)
        return await _apply(
            session, report, changes, dry_run=dry_run, skip_invalid=skip_invalid, by=by
        )


async def _prepare(
    session: AsyncSession,
    *,
    content: str,
    fmt: Format,
    kind: Kind | None,
    dry_run: bool,
    progress: Progress | None,
) -> tuple[ImportReport, list[_Planned]]:
    """The report and the rows to write, planned against the rows `session` sees."""
    from preservation.directory.snapshot import attribute_rows
    from preservation.runtime.offload import offload

    if kind is None:
        keys, _ = await offload(parse_content, content, fmt)
        kind = infer_kind(keys)
        if kind is None:
            raise InvalidInput(
                "kind",
                "cannot tell providers (a slug column) from contacts (an authority column): "
                "give the kind",
            )
    table = Provider if kind == "providers" else Contact
    existing = await attribute_rows(session, table, "slug" if kind == "providers" else "id")
    return await offload(
        _plan,
        bulk=True,
        keep=True,
        content=content,
        fmt=fmt,
        kind=kind,
        dry_run=dry_run,
        existing=existing,
        progress=progress,
    )


def _writes(report: ImportReport, *, dry_run: bool, skip_invalid: bool) -> bool:
    """Whether a planned import is written: not a dry run, and no bad row unless skipped."""
    return not dry_run and (not report.errors or skip_invalid)


async def _apply(
    session: AsyncSession,
    report: ImportReport,
    changes: list[_Planned],
    *,
    dry_run: bool,
    skip_invalid: bool,
    by: Author,
) -> ImportReport:
    """The planned rows written in `session` (unless a dry run, or errors not to be skipped)."""
    from preservation.runtime.offload import trim_heap

    if not _writes(report, dry_run=dry_run, skip_invalid=skip_invalid):
        return report
    if changes:
        await _write(session, report.kind, changes, by=by)
        del changes
        await trim_heap()
    report.written = True
    return report


@dataclass(frozen=True, kw_only=True)
class _Planned:
    key: str
    #: The stored row's attributes (None: a new row).
    current: dict[str, Any] | None
    #: What to write: every field for a new row, the fields given for an update.
    values: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any]


def _plan(
    *,
    content: str,
    fmt: Format,
    kind: Kind,
    dry_run: bool,
    existing: list[dict[str, Any]],
    progress: Progress | None,
) -> tuple[ImportReport, list[_Planned]]:
    """Parse, validate, classify (created / updated / unchanged) against the stored rows, and
    make each change's before and after (pure CPU work: run in a worker thread)."""
    _, rows = parse_content(content, fmt)
    report = ImportReport(kind=kind, dry_run=dry_run, rows=len(rows))
    valid = list(_validate(kind, fmt, rows, report.errors, progress))
    table = Provider if kind == "providers" else Contact
    decode_json(table, existing)
    stored = {_key(kind, SimpleNamespace(**r)): r for r in existing}

    # Repeated keys in the file: the first one counts, the others are errors.
    seen: dict[str, int] = {}
    planned: list[tuple[_Row, BaseModel, set[str], str]] = []
    for row, item, present in valid:
        key = _key(kind, item)
        if key in seen:
            name = "slug" if kind == "providers" else "authority"
            report.errors.append(
                RowError(
                    row=row.number,
                    line=row.line,
                    field=name,
                    message=f"{key} is also in row {seen[key]}",
                )
            )
            continue
        seen[key] = row.number
        planned.append((row, item, present, key))

    if kind == "providers":
        planned = _check_domain_clashes(
            planned, {k: SimpleNamespace(**r) for k, r in stored.items()}, report.errors
        )

    state = provider_state if kind == "providers" else contact_state
    bad_rows = {e.row for e in report.errors}
    changes: list[_Planned] = []
    for row, item, present, key in planned:
        if row.number in bad_rows:
            continue
        values = item.model_dump(include=present | _required(kind))
        current = stored.get(key)
        if current is None:
            report.created.append(key)
            full = item.model_dump()
            changes.append(
                _Planned(
                    key=key,
                    current=None,
                    values=full,
                    before=None,
                    after=state(table.model_validate(full)),
                )
            )
        elif any(current.get(k) != v for k, v in values.items()):
            report.updated.append(key)
            changes.append(
                _Planned(
                    key=key,
                    current=current,
                    values=values,
                    before=state(table(**current)),
                    after=state(table(**{**current, **values})),
                )
            )
        else:
            report.unchanged.append(key)
    report.errors.sort(key=lambda e: (e.row, e.field))
    return report, changes


async def _write(session: AsyncSession, kind: Kind, changes: list[_Planned], *, by: Author) -> None:
    """The planned rows written in chunks, then their change events (directory.bulk)."""
    from sqlalchemy import insert, update

    from preservation.directory.bulk import Change, record_changes, write_chunks
    from providers.models import legacy_columns

    creates = [c for c in changes if c.current is None]
    updates = [c for c in changes if c.current is not None]
    if kind == "providers":
        await write_chunks(session, insert(Provider), [legacy_columns(c.values) for c in creates])
        await write_chunks(
            session,
            update(Provider),
            [
                legacy_columns({**c.values, "slug": c.current["slug"]})  # type: ignore[index]
                if "source" in c.values
                else {**c.values, "slug": c.current["slug"]}  # type: ignore[index]
                for c in updates
            ],
        )
        keys = [c.key for c in creates]
    else:
        ids = await write_chunks(
            session,
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
            [c.values for c in creates],
            returning=True,
        )
        await write_chunks(
            session,
            update(Contact),
            [{**c.values, "id": c.current["id"]} for c in updates],  # type: ignore[index]
        )
        keys = [str(row[0]) for row in ids]
    await bump_version(session)
    entity = "provider" if kind == "providers" else "contact"
    new_keys = iter(keys)
    logged = []
    # In the file's order, as one change at a time would have chained them.
    for c in changes:
        if c.current is None:
            key = next(new_keys)
            after = {**c.after, "id": int(key)} if kind == "contacts" else c.after
            logged.append(Change(entity=entity, key=key, action="create", before=None, after=after))
        else:
            key = c.key if kind == "providers" else str(c.current["id"])
            logged.append(
                Change(entity=entity, key=key, action="update", before=c.before, after=c.after)
            )
    await record_changes(session, logged, by=by)


def _required(kind: Kind) -> set[str]:
    return {"slug"} if kind == "providers" else {"country", "authority"}


def _check_domain_clashes(
    planned: list[tuple[_Row, Any, set[str], str]],
    existing: dict[str, Any],
    errors: list[RowError],
) -> list[tuple[_Row, Any, set[str], str]]:
    """A domain may belong to one provider: check the directory as it would be after import."""
    final: dict[str, list[str]] = {slug: list(p.domains) for slug, p in existing.items()}
    for _row, item, present, slug in planned:
        if "domains" in present or slug not in final:
            final[slug] = list(item.domains)
    owners: dict[str, list[str]] = {}
    for slug, domains in final.items():
        for d in domains:
            owners.setdefault(d, []).append(slug)
    for row, item, present, slug in planned:
        if "domains" not in present and slug in existing:
            continue
        clashes = [
            f"{d} ({', '.join(s for s in owners[d] if s != slug)})"
            for d in item.domains
            if len(owners[d]) > 1
        ]
        if clashes:
            errors.append(
                RowError(
                    row=row.number,
                    line=row.line,
                    field="domains",
                    message=f"also listed by another provider: {', '.join(clashes)}",
                )
            )
    return planned


# --- export -----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


async def export_directory(session: AsyncSession, *, kind: Kind, fmt: Format) -> tuple[str, int]:
    """The whole directory of one kind as text, and the number of rows."""
    if kind == "providers":
        stmt = select(Provider).order_by(Provider.slug)
    else:
        stmt = select(Contact).order_by(Contact.country, Contact.authority, Contact.id)
    rows = (await session.execute(stmt)).scalars().all()
    names = columns(kind)
    records = [{n: d[n] for n in names} for d in (r.model_dump(mode="json") for r in rows)]
    if fmt == "json":
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n", len(rows)
    # Cells a spreadsheet would run as formulas are neutralised (domain/spreadsheet.py).
    return csv_text(names, ([_cell(r[n]) for n in names] for r in records)), len(rows)
