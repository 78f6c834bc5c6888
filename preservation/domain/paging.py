"""Keyset pagination: the cursor of a list ordered by a unique key.

A page ends with the sort key of its last item; the next page starts strictly after it
(`WHERE (key) > (last)` on an index that serves the order), so a deep page costs what the first
one does, and rows inserted meanwhile neither repeat nor shift an item. The cursor is that key,
with the list's name and a fingerprint of its filters, as URL-safe base64 of a JSON array: it is
opaque to clients (they pass back `next`) but not a secret (it carries only what the caller
could see on the page). A cursor of another list, or of the same list with other filters, is
refused (422 naming `query.cursor`) rather than silently giving a wrong page.

Pure: no I/O, no clock."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from preservation.errors import InvalidInput

#: Longest cursor read (a key of a few values is far shorter).
MAX_CURSOR = 500
KeyType = type[int] | type[str] | type[datetime]


def fingerprint(*filters: object) -> str:
    """A short digest of a list's filters: a cursor only continues the list it came from."""
    text = json.dumps([str(f) if f is not None else None for f in filters], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a cursor")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"a cursor holds ints, strings and datetimes, not {type(value).__name__}")
    return value


def encode(name: str, filters: str, key: Sequence[object]) -> str:
    """The cursor that continues list `name` (filters `filters`) after the item of `key`."""
    data = json.dumps([name, filters, [_plain(v) for v in key]], separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode(
    cursor: str | None,
    *,
    name: str,
    filters: str,
    types: Sequence[KeyType],
    field: str = "query.cursor",
) -> tuple[Any, ...] | None:
    """The key a cursor holds (None for no cursor: the first page), checked against the list's
    name, filters and key types; InvalidInput(field) otherwise."""
    if cursor is None or cursor == "":
        return None
    bad = InvalidInput(field, "is not a cursor of this list: pass back the `next` of a page")
    if len(cursor) > MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not (isinstance(data, list) and len(data) == 3 and isinstance(data[2], list)):
        raise bad
    if data[0] != name:
        raise bad
    if data[1] != filters:
        raise InvalidInput(
            field, "belongs to the same list with other filters: start again without a cursor"
        )
    values = data[2]
    if len(values) != len(types):
        raise bad
    out: list[Any] = []
    for value, kind in zip(values, types, strict=True):
        if kind is datetime:
            if not isinstance(value, str):
                raise bad
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                raise bad from None
            if at.tzinfo is None:
                raise bad
            out.append(at.astimezone(UTC))
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
                raise bad
            out.append(value)
        else:
            if not isinstance(value, str):
                raise bad
            out.append(value)
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class PageOf:
    """A page cut from `limit + 1` rows read: the rows shown, and whether more follow."""

    rows: list[Any]
    more: bool

    @classmethod
    def cut(cls, rows: Sequence[Any], limit: int) -> PageOf:
        return cls(rows=list(rows[:limit]), more=len(rows) > limit)
