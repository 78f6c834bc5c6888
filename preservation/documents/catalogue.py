"""The documents' translation catalogues: extraction and update (a developer's tool; the service
only reads the catalogues, documents/i18n.py).

Extracted: every `_("...")` in preservation/documents/*.py and in the document templates
(templates/**/*.j2), and the legal texts of config/regimes.toml that a document prints (each
instrument's name, basis, citation, extension and MLA citations): a French letter cites the
Convention in French.

    python -m preservation.documents.catalogue          # write documents.pot, update each .po
    python -m preservation.documents.catalogue --check  # exit 1 when a catalogue lags behind

New sentences enter each catalogue untranslated and marked fuzzy: a translator fills them in and
removes the mark (tests/documents/test_catalogues.py fails until then)."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from preservation.documents.i18n import DOMAIN, LOCALE_DIR

PACKAGE = Path(__file__).parent
ROOT = PACKAGE.parents[1]
REGIMES = ROOT / "config" / "regimes.toml"
#: The regimes' keys whose text a document prints.
REGIME_TEXTS = ("name", "basis", "citation", "extension_citation", "mla_citation")
KEYWORDS = {"_": None, "gettext": None, "N_": None}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}


def _sources() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.glob("*.py")):
        yield "python", path
    for path in sorted((PACKAGE / "templates").rglob("*.j2")):
        yield "jinja2.ext:babel_extract", path


def extract(regimes: Path = REGIMES) -> Catalog:
    """Every fixed sentence of the documents, with where it comes from."""
    catalog = Catalog(domain=DOMAIN, project="preservation dispatcher", charset="utf-8")
    for method, path in _sources():
        options = JINJA_OPTIONS if method.startswith("jinja2") else {}
        for lineno, message, comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options, strip_comment_tags=True
        ):
            catalog.add(
                message,
                locations=[(str(path.relative_to(ROOT)), lineno)],
                auto_comments=comments,
                flags=("python-format",) if "%(" in str(message) else (),
            )
    for message, where in regime_texts(regimes):
        catalog.add(message, locations=[(where, 0)], auto_comments=["legal text: config"])
    return catalog


def regime_texts(path: Path = REGIMES) -> list[tuple[str, str]]:
    """(text, "config/regimes.toml:[key].field") for each printed text of each instrument."""
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for key, regime in table.items():
        for name in REGIME_TEXTS:
            value = regime.get(name)
            if isinstance(value, str) and value.strip() and "%" not in value:
                out.append((value, f"config/regimes.toml:[{key}].{name}"))
    return out


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def update() -> list[str]:
    """Write documents.pot; merge it into each language's catalogue. Returns the languages whose
    catalogue changed."""
    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True, width=100)
    changed = []
    for folder in sorted(p for p in LOCALE_DIR.iterdir() if p.is_dir()):
        catalog = read(folder.name)
        before = {m.id: (m.string, m.fuzzy) for m in catalog if m.id}
        catalog.update(template, no_fuzzy_matching=True)
        after = {m.id: (m.string, m.fuzzy) for m in catalog if m.id}
        if before != after:
            changed.append(folder.name)
            with po_path(folder.name).open("wb") as handle:
                write_po(handle, catalog, sort_output=True, width=100, ignore_obsolete=True)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        wanted = {m.id for m in extract() if m.id}
        lagging = [
            p.name
            for p in sorted(LOCALE_DIR.iterdir())
            if p.is_dir() and {m.id for m in read(p.name) if m.id} != wanted
        ]
        if lagging:
            print("catalogues behind the sources: " + ", ".join(lagging), file=sys.stderr)
            return 1
        return 0
    for lang in update():
        print(f"updated {po_path(lang).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
