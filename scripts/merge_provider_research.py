"""Merge the provider research rows (RESEARCH_DIR/providers_*.json, one file per area, each row a
provider with the documents its facts come from) into providers/data/providers.json.

Run once by the session of issue 23 (2026-12-04); kept as the record of what was changed on the
way in. Every row is taken as researched, then:

- a fact the row's own notes say was NOT read in a document ("general knowledge — verify") is
  dropped (the list is ``DOUBTFUL`` below, one entry per fact, with the note's words);
- an address (law-enforcement e-mail, portal, emergency contact, entity, EU representative)
  whose document is secondary is dropped, and so is an e-mail or portal not on one of the
  provider's own domains unless the row names the provider's page sending officers there
  (``intake_page``);
- rows that duplicate another provider's domains are merged (``MERGE``);
- each drop is said in the row's notes ("Directory merge: ...").

Usage: .venv/bin/python scripts/merge_provider_research.py RESEARCH_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from providers.models import ProviderCreate  # noqa: E402
from providers.provenance import address_problems, document_url  # noqa: E402

FILES = (
    "providers_core.json",
    "providers_messaging_mail.json",
    "providers_finance.json",
    "providers_hosting.json",
    "providers_platforms_telecom.json",
    "providers_extra.json",
)

#: (slug, field, value or None for the whole field, the row's own words). Facts the row says
#: were not read in a document.
DOUBTFUL: list[tuple[str, str, Any, str]] = [
    ("yandex", "domains", "yandex.ru", "general knowledge (not named in pages read)"),
    ("kakao", "domains", "daum.net", "general knowledge"),
    ("gmx", "domains", "gmx.de", "general knowledge of the brand"),
    ("gmx", "domains", "gmx.at", "inferred from country-specific privacy pages"),
    ("gmx", "domains", "gmx.ch", "inferred from country-specific privacy pages"),
    ("infomaniak", "aliases", "Infomaniak Network SA", "general knowledge"),
    ("infomaniak", "aliases", "ik.me", "general knowledge"),
    (
        "wattpad",
        "eu_representative",
        None,
        "a DSA Art. 13 representative, not confirmed as a Directive 2023/1544 representative",
    ),
]

#: Items added by the session of issue 23 (2026-12-04), each from a document it read with the
#: search tool: (slug, list field, items, document).
ADDED: list[tuple[str, str, list[str], dict[str, Any]]] = [
    (
        "apple",
        "domains",
        ["me.com", "mac.com"],
        {
            "url": "https://support.apple.com/en-vn/118230",
            "title": "About your @icloud.com, @me.com, and @mac.com email addresses",
            "published": None,
            "kind": "provider",
        },
    ),
    (
        "proton",
        "domains",
        ["protonmail.com", "pm.me", "protonmail.ch"],
        {
            "url": "https://proton.me/support/nl/addresses-and-aliases",
            "title": "Types of email addresses and aliases (Proton support)",
            "published": None,
            "kind": "provider",
        },
    ),
    (
        "github",
        "domains",
        ["github.io"],
        {
            "url": "https://docs.github.com/cn/enterprise-server@3.2/pages/quickstart",
            "title": "GitHub Pages quickstart (user site at username.github.io)",
            "published": None,
            "kind": "provider",
        },
    ),
    (
        "google",
        "domains",
        ["youtu.be"],
        {
            "url": "https://vator.tv/2019/news/2009-12-22-youtube-launches-its-own-link-shortener",
            "title": "YouTube launches its own link shortener (quotes YouTube's announcement)",
            "published": "2009-12-22",
            "kind": "secondary",
        },
    ),
    (
        "yahoo",
        "domains",
        ["rocketmail.com"],
        {
            "url": "https://en.wikipedia.org/wiki/RocketMail",
            "title": "RocketMail (Wikipedia): Yahoo! sign-ups under rocketmail.com",
            "published": None,
            "kind": "secondary",
        },
    ),
    (
        "whatsapp",
        "domains",
        ["wa.me"],
        {
            "url": "https://wplink.app/blog/what-is-whatsapp-link",
            "title": "What Is a WhatsApp Link? (wa.me, WhatsApp's click-to-chat domain)",
            "published": None,
            "kind": "secondary",
        },
    ),
]

#: The provider's own page that sends officers to a third-party intake platform (Kodex).
INTAKE = {
    "discord": "https://discord.com/safety/360044157931-working-with-law-enforcement",
}

#: Rows dropped: another row covers them.
DROP = {
    "skype": "historic only (a c. 2010 guide); Skype is part of Microsoft, whose row keeps skype.com",
}


def _note(row: dict[str, Any], text: str) -> None:
    row["notes"] = (row.get("notes") or "").rstrip() + f" Directory merge: {text}."


def _drop_value(row: dict[str, Any], field: str, value: Any, why: str) -> None:
    if value is None:
        if row.get(field):
            row[field] = [] if isinstance(row[field], list) else None
            _note(row, f"{field} dropped ({why})")
        return
    if value in (row.get(field) or []):
        row[field] = [v for v in row[field] if v != value]
        _note(row, f"{value} dropped from {field} ({why})")


def _kind_of(row: dict[str, Any], field: str) -> str | None:
    url = document_url(row, field)
    for doc in [row.get("source"), *(row.get("other_sources") or [])]:
        if doc and doc.get("url") == url:
            return doc.get("kind")
    return None


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for e in row.get("entities") or []:
        if e.get("address") is None:
            e["address"] = ""
    eu = row.get("eu_representative")
    if isinstance(eu, dict):
        for k in ("address",):
            if eu.get(k) is None:
                eu[k] = ""
    # Addresses from a secondary document: dropped.
    for field in ("le_email", "portal_url", "emergency_contact", "entities", "eu_representative"):
        if row.get(field) and _kind_of(row, field) == "secondary":
            row[field] = [] if field == "entities" else None
            row.get("facts_from", {}).pop(field, None)
            _note(row, f"{field} dropped (read only in a secondary document)")
    # facts_from entries of emptied fields go too.
    row["facts_from"] = {
        k: v for k, v in (row.get("facts_from") or {}).items() if row.get(k.split(":", 1)[0])
    }
    return row


def merge(research: Path) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for name in FILES:
        path = research / name
        if not path.exists():
            continue
        for row in json.loads(path.read_text(encoding="utf-8")):
            if row["slug"] in DROP:
                continue
            rows.setdefault(row["slug"], row)
    for slug, field, value, why in DOUBTFUL:
        if slug in rows:
            suffix = "" if value is None else ", not read in a document"
            _drop_value(rows[slug], field, value, why + suffix)
    _split_whatsapp(rows)
    for slug, field, items, doc in ADDED:
        row = rows.get(slug)
        if row is None:
            continue
        row[field] = list(row.get(field) or []) + [i for i in items if i not in row.get(field, [])]
        if doc["url"] not in {d["url"] for d in row.get("other_sources") or []}:
            row.setdefault("other_sources", []).append(doc)
        for item in items:
            row.setdefault("facts_from", {})[f"{field}:{item}"] = doc["url"]
    for slug, page in INTAKE.items():
        if slug in rows:
            rows[slug]["intake_page"] = page
    for row in rows.values():
        # An alias is a name to match on; a remark in brackets belongs in the notes (and ";"
        # separates list items in the CSV export).
        for alias in [a for a in row.get("aliases", []) if ";" in a or "(" in a]:
            name = alias.split("(", 1)[0].strip()
            row["aliases"] = [a for a in row["aliases"] if a != alias]
            if name and ";" not in name and name not in row["aliases"]:
                row["aliases"].append(name)
            if name.casefold() == "line":
                row["aliases"].remove(name)  # the LINE row owns that name
                _note(row, f"alias {alias!r} dropped (LINE has its own row)")
    _one_owner_per_name(rows)
    out = []
    for slug in sorted(rows):
        row = _clean(rows[slug])
        problems = address_problems(row)
        if problems:
            raise SystemExit(f"{slug}: {problems}")
        out.append(ProviderCreate.model_validate(row).model_dump(mode="json"))
    return out


def _one_owner_per_name(rows: dict[str, dict[str, Any]]) -> None:
    """A company name shared by two rows (1&1 Mail & Media for GMX and WEB.DE) would make a
    platform name ambiguous: the first row by slug keeps it as an alias."""
    from providers.matching import normalize_text

    owner: dict[str, str] = {}
    for slug in sorted(rows):
        row = rows[slug]
        for name in (slug, row["name"], *row.get("platforms", [])):
            owner.setdefault(normalize_text(name).replace(" ", ""), slug)
    for slug in sorted(rows):
        row = rows[slug]
        kept = []
        for alias in row.get("aliases", []):
            key = normalize_text(alias).replace(" ", "")
            if owner.setdefault(key, slug) == slug:
                kept.append(alias)
            else:
                _note(row, f"alias {alias!r} left to the {owner[key]} row (one owner per name)")
        row["aliases"] = kept


def _split_whatsapp(rows: dict[str, dict[str, Any]]) -> None:
    """WhatsApp has its own row: Meta's row gives up the alias and the WhatsApp entity (from
    WhatsApp's privacy policy, which moves with it)."""
    meta, wa = rows.get("meta"), rows.get("whatsapp")
    if meta is None or wa is None:
        return
    meta["aliases"] = [a for a in meta["aliases"] if a.lower() != "whatsapp"]
    moved = [e for e in meta["entities"] if "WhatsApp" in e["region"]]
    if not moved:
        return
    meta["entities"] = [e for e in meta["entities"] if e not in moved]
    doc_url = meta["facts_from"].get("entities")
    doc = next((d for d in meta["other_sources"] if d["url"] == doc_url), None)
    if doc is not None and "WhatsApp" in doc["title"]:
        wa["entities"] = [{**e, "region": "European Region"} for e in moved]
        if doc not in wa["other_sources"]:
            wa["other_sources"].append(doc)
        wa["facts_from"]["entities"] = doc["url"]
        meta["other_sources"] = [d for d in meta["other_sources"] if d is not doc]
        meta["facts_from"].pop("entities", None)
        _note(meta, "the WhatsApp entity moved to the whatsapp row")
        _note(wa, "entity from WhatsApp's privacy policy, read for the Meta row")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print(
            "usage: merge_provider_research.py RESEARCH_DIR (a directory of providers_*.json)",
            file=sys.stderr,
        )
        return 2
    research = Path(argv[1])
    rows = merge(research)
    target = ROOT / "providers" / "data" / "providers.json"
    target.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(rows)} providers written to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
