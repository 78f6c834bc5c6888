"""A provider's return as CSV: the header names which column holds the port and which the time
(and whether that time is UTC), in the languages returns come in (pure: no I/O). Part of
domain/extract.py."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

__all__ = ["Header", "header_of", "row_of"]

_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True, kw_only=True)
class Header:
    delimiter: str
    width: int
    port: int | None
    time: int | None
    utc: bool


_TIME_COLUMN = re.compile(
    r"\b(time|date|timestamp|datum|zeit|zeitpunkt|uhrzeit|fecha|hora|heure)\b"
)


def header_of(line: str) -> Header | None:
    """A CSV header line: two or more named columns, no number among the names."""
    for delimiter in _DELIMITERS:
        if line.count(delimiter) < 1:
            continue
        names = [
            n.strip().strip('"').lower() for n in next(csv.reader([line], delimiter=delimiter))
        ]
        if len(names) < 2 or not all(n and not re.search(r"\d", n) for n in names):
            continue
        if not any(
            re.search(r"\b(ip|address|adresse|port)\b", n) or _TIME_COLUMN.search(n) for n in names
        ):
            continue
        port = next(
            (i for i, n in enumerate(names) if re.search(r"\bport\b", n) and not
             re.search(r"\b(dest|destination|dst|server|remote)\b", n)),
            None,
        )  # fmt: skip
        time = next((i for i, n in enumerate(names) if _TIME_COLUMN.search(n)), None)
        utc = time is not None and bool(re.search(r"\b(utc|gmt|z)\b", names[time]))
        return Header(delimiter=delimiter, width=len(names), port=port, time=time, utc=utc)
    return None


def row_of(line: str, header: Header) -> list[str] | None:
    cells = next(csv.reader([line], delimiter=header.delimiter), [])
    return cells if len(cells) == header.width else None
