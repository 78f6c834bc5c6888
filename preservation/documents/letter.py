"""The preservation letter: one context (pure, in one language), rendered as text, HTML, PDF,
DOCX or JSON.

The templates (templates/en/*.j2) print the fixed wording through gettext (`_("...")`): each
language is a catalogue (documents/i18n.py), not a copy of the templates. A unit may still put
its own templates in templates/<lang>/ (they win over the shared ones). The PDF and the DOCX are
the text letter set on the page (DejaVu Sans in the PDF, any script the font covers), so every
format says the same words.

Every instant of an identifier appears in the zone it was given in, with its offset, and in UTC;
the letter's own dates are written the locale's way."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytz
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from preservation.documents import i18n
from preservation.documents.i18n import N_, Words
from preservation.documents.wording import BUDAPEST, custodian_text, law_paragraphs
from preservation.errors import InvalidInput, Unavailable

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("text", "html", "pdf", "docx", "json")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": DOCX,
    "json": "application/json",
}
#: File name extension of each format (downloads).
EXTENSIONS = {"text": "txt", "html": "html", "pdf": "pdf", "docx": "docx", "json": "json"}
#: Where DejaVu Sans is found: the copy shipped with the package first (free licence, see
#: render/fonts/LICENSE), so a fresh machine needs no font package; then the system's.
FONT_DIRS = (
    Path(__file__).parent / "fonts",
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/opt/homebrew/share/fonts"),
    Path("/usr/local/share/fonts"),
)

CATEGORY_LABELS = {
    "subscriber": N_("subscriber information"),
    "identifying": N_("data identifying the user (IP address, source port and time of connection)"),
    "traffic": N_("traffic data"),
    "content": N_("content data"),
}
TYPE_LABELS = {
    "email": N_("E-mail address"),
    "url": N_("URL"),
    "domain": N_("Domain name"),
    "phone": N_("Telephone number"),
    "ipv4": N_("IPv4 address"),
    "ipv6": N_("IPv6 address"),
    "account": N_("Account"),
    "imei": N_("IMEI"),
    "mac": N_("MAC address"),
    "crypto": N_("Cryptocurrency address"),
}
#: The title line of the documents set from their text form (their HTML's h1).
TITLES = {"mla_request": "REQUEST FOR MUTUAL LEGAL ASSISTANCE IN CRIMINAL MATTERS"}
#: Roles of the recipients whose letter follows the T-CY(2018)11 layout (a 24/7 point of contact).
TCY_ROLES = frozenset({"poc"})


def available_languages() -> list[str]:
    """The languages of the catalogues (and English), and any a unit added as a templates
    folder (read once per process: restart to add one)."""
    return sorted(set(i18n.languages()) | set(_languages_in(str(TEMPLATES))))


@cache
def _languages_in(folder: str) -> tuple[str, ...]:
    root = Path(folder)
    if not root.is_dir():
        return ()
    return tuple(
        sorted(
            d.name
            for d in root.iterdir()
            if d.is_dir() and (d / "letter.txt.j2").is_file() and (d / "letter.html.j2").is_file()
        )
    )


def _environment(lang: str = i18n.SOURCE) -> Environment:
    return _environment_for(str(TEMPLATES), lang)


@cache
def _environment_for(folder: str, lang: str = i18n.SOURCE) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["quoted"] = quoted
    return env


def quoted(text: str | None) -> str:
    """The officer's own words, as written: each line behind "> " (the text and PDF forms; the
    HTML form sets them in a blockquote). Never translated."""
    lines = (text or "").strip("\n").splitlines() or [""]
    return "\n".join(f"> {line}".rstrip() for line in lines)


def _offset(local: datetime) -> str:
    off = local.utcoffset()
    assert off is not None
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def both_zones(utc: datetime, zone: str | None) -> str:
    """'2026-11-20 14:03:11 CET (UTC+01:00), 2026-11-20 13:03:11 UTC'."""
    try:
        tz = pytz.timezone(zone or "UTC")
    except pytz.UnknownTimeZoneError:
        tz = pytz.UTC
    local = utc.astimezone(tz)
    in_utc = f"{utc.astimezone(pytz.UTC):%Y-%m-%d %H:%M:%S} UTC"
    if tz is pytz.UTC:
        return in_utc
    abbr = local.tzname() or ""
    offset = _offset(local)
    label = f"{abbr} (UTC{offset})" if abbr[:1].isalpha() else f"(UTC{offset})"
    return f"{local:%Y-%m-%d %H:%M:%S} {label} [{tz.zone}], {in_utc}"


def _instant_text(local: dict[str, Any] | None, utc: datetime | None) -> str | None:
    """From the stored local form {"local", "tz", "offset", "abbreviation"}: the instant as
    given, with its offset, and in UTC."""
    if utc is None:
        return None
    in_utc = f"{utc.astimezone(pytz.UTC):%Y-%m-%d %H:%M:%S} UTC"
    if not local:
        return in_utc
    given = datetime.fromisoformat(local["local"])
    abbr = local.get("abbreviation") or ""
    offset = local.get("offset") or _offset(given)
    zone = local.get("tz") or ""
    label = (
        f"{abbr} (UTC{offset})"
        if abbr[:1].isalpha() and abbr != f"UTC{offset}"
        else f"(UTC{offset})"
    )
    where = f" [{zone}]" if zone and zone != "UTC" else ""
    return f"{given:%Y-%m-%d %H:%M:%S} {label}{where}, {in_utc}"


def identifier_items(identifiers: Sequence[Any], _: Words) -> list[dict[str, Any]]:
    """The identifiers as the documents print them: each instant as given, with its offset, and
    in UTC (numeric in every language: what a provider searches its logs with)."""
    items = []
    for row in identifiers:
        local = row.local or {}
        items.append(
            {
                "position": row.position + 1,
                "type": row.type,
                "type_label": _(TYPE_LABELS[row.type]) if row.type in TYPE_LABELS else row.type,
                "value": row.normalized,
                "given": row.value,
                "platform": row.platform,
                "port": row.port,
                "at": _instant_text(local.get("at"), row.at_utc),
                "from": _instant_text(local.get("from"), row.from_utc),
                "to": _instant_text(local.get("to"), row.to_utc),
                "at_utc": row.at_utc.isoformat() if row.at_utc else None,
                "from_utc": row.from_utc.isoformat() if row.from_utc else None,
                "to_utc": row.to_utc.isoformat() if row.to_utc else None,
            }
        )
    return items


def unit_view(unit: Any) -> dict[str, Any]:
    return {
        "name": unit.name,
        "authority": unit.authority,
        "address": unit.address,
        "phone": unit.phone,
        "email": unit.email,
        "contact_24_7": unit.contact_24_7,
        "timezone": unit.timezone,
        "country": getattr(unit, "country", None),
    }


def letter_context(
    *,
    req: Any,
    identifiers: Sequence[Any],
    unit: Any,
    regime: Any,
    recipients: Sequence[dict[str, Any]],
    creator: str,
    provider: dict[str, Any] | None,
    now: datetime,
    instrument: dict[str, Any] | None = None,
    lang: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the templates print, JSON-safe (the JSON format is this dict), in `lang`
    (default: the request's). `instrument` is the instrument of the recipient the letter is for
    (default: the request's regime). `previous` makes it an extension request
    (requests/extension.py): the request it extends, and {"kind": "renewal"|"fresh", ...}."""
    lang = lang or getattr(req, "lang", None) or i18n.SOURCE
    _ = i18n.words(lang)
    instrument = instrument or {"key": regime.key, "citation": regime.basis, "why": ""}
    dated = req.submitted_at or now
    if previous is not None:
        dated = now  # an extension request is dated the day it is drafted
    main = [r for r in recipients if r.get("role") in ("provider", "poc")]
    copies = [r for r in recipients if r.get("role") == "copy"]
    ext = ""
    if regime.max_extensions and regime.extension_days:
        ext = f"{regime.max_extensions} extension(s) of {regime.extension_days} days" + (
            f" ({regime.extension_citation})" if regime.extension_citation else ""
        )
    tcy = bool(main) and all(r.get("role") in TCY_ROLES for r in main)
    return {
        "document": "extension_request" if previous is not None else "preservation_request",
        "lang": lang,
        "draft": req.status == "draft",
        "status": req.status,
        "reference": req.reference,
        "case_reference": req.case_reference,
        "date": _.instant(dated, unit.timezone),
        "date_short": _.date(dated, unit.timezone),
        "date_utc": dated.isoformat(),
        "urgent": req.urgent,
        "urgency_reason": req.urgency_reason,
        "confidential": req.confidential,
        "mla_to_follow": req.mla_to_follow,
        "offence": req.offence,
        "summary": req.summary,
        "relevance": req.relevance,
        "necessity": getattr(req, "necessity", "") or "",
        "country": req.country,
        "country_name": _.country(req.country),
        "provider": {
            "name": provider.get("name"),
            "country": provider.get("country"),
            "entity_by_region": provider.get("entity_by_region"),
            "entity": provider.get("entity"),
        }
        if provider
        else None,
        "custodian": custodian_text(provider, country=req.country, _=_),
        "instrument": dict(instrument),
        "law": law_paragraphs(
            instrument=instrument,
            regime=regime,
            provider=provider,
            data_categories=list(req.data_categories or []),
            mla_to_follow=req.mla_to_follow,
            _=_,
            renewal=(previous or {}).get("renewal") if previous is not None else None,
        ),
        "data_categories": [
            _(CATEGORY_LABELS[c]) if c in CATEGORY_LABELS else c
            for c in (req.data_categories or [])
        ],
        "identifiers": identifier_items(identifiers, _),
        "regime": {
            "key": regime.key,
            "name": regime.name,
            "citation": regime.citation,
            "period_days": regime.period_days,
            "extension": ext,
            "mla_citation": regime.mla_citation,
            "holds_until_decision": regime.holds_until_decision,
        },
        "recipients": main,
        "copies": copies,
        "unit": unit_view(unit),
        "officer": creator,
        "expires_at": _.instant(req.expires_at, unit.timezone) if req.expires_at else None,
        "expiry_rule": req.expiry_rule,
        # The T-CY(2018)11 layout (a letter to a 24/7 point of contact): its numbered fields.
        "tcy": {
            "title": _(
                "Data Preservation Request under Articles 29 and 30 Budapest Convention on"
                " Cybercrime"
            )
            if instrument.get("key") == BUDAPEST
            else "",
            "timezone": _tz_label(unit.timezone, dated),
        }
        if tcy
        else None,
        "previous": previous,
        # An emergency disclosure request (templates/<lang>/emergency.*.j2): its facts.
        "kind": getattr(req, "kind", None) or "preservation",
        "emergency": {
            k: str((getattr(req, "emergency", None) or {}).get(k) or "")
            for k in ("threat", "why_now", "data_needed", "callback_phone")
        }
        if getattr(req, "kind", None) == "emergency"
        else None,
    }


def _tz_label(zone: str | None, at: datetime) -> str:
    """'Europe/Berlin (UTC+01:00)' on the letter's date."""
    try:
        tz = pytz.timezone(zone or "UTC")
    except pytz.UnknownTimeZoneError:
        return zone or "UTC"
    return f"{tz.zone} (UTC{_offset(at.astimezone(tz))})"


def template_for(name: str, lang: str, ext: str) -> str:
    """A unit's own template in templates/<lang>/ wins; otherwise the shared one (en/)."""
    own = f"{lang}/{name}.{ext}.j2"
    return own if (TEMPLATES / own).is_file() else f"{i18n.SOURCE}/{name}.{ext}.j2"


def render_document(context: dict[str, Any], *, name: str, fmt: str, lang: str) -> bytes:
    """Document `name` (a template: letter, mla_request) of `context` in `fmt` and `lang`."""
    if fmt not in FORMATS:
        raise InvalidInput("query.format", f"must be one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(context, ensure_ascii=False, indent=2).encode("utf-8")
    if lang not in available_languages():
        raise InvalidInput(
            "query.lang",
            f"no documents in {lang!r}; available: {', '.join(available_languages())}",
        )
    env = _environment(lang)
    title = str(context.get("reference") or name)
    draft = bool(context.get("draft"))
    if fmt == "html" and (TEMPLATES / template_for(name, lang, "html")).is_file():
        return env.get_template(template_for(name, lang, "html")).render(**context).encode("utf-8")
    text = env.get_template(template_for(name, lang, "txt")).render(**context)
    if fmt == "text":
        return text.encode("utf-8")
    if fmt == "html":
        from preservation.documents.docx import html_from_text

        heading = i18n.words(lang)(TITLES[name]) if name in TITLES else ""
        page = html_from_text(text, title=title, lang=lang, draft=draft, heading=heading)
        return page.encode("utf-8")
    if fmt == "docx":
        from preservation.documents.docx import docx_from_text

        return docx_from_text(text, title=title, lang=lang, draft=draft)
    return pdf_from_text(text, title=title)


def render_letter(context: dict[str, Any], *, fmt: str, lang: str) -> bytes:
    """The letter in `fmt` (text, html, pdf, docx, json) and `lang` (the context is built in
    one language: documents/i18n.py)."""
    name = "letter"
    if context.get("kind") == "emergency":
        # An emergency disclosure letter (issue 20): its templates carry English wording.
        name = "emergency"
    return render_document(context, name=name, fmt=fmt, lang=lang)


def find_font(name: str = "DejaVuSans.ttf") -> Path:
    for folder in FONT_DIRS:
        path = folder / name
        if path.is_file():
            return path
    raise Unavailable(
        f"the PDF letter needs the font {name} (Debian: apt-get install fonts-dejavu-core);"
        " the text and HTML letters work without it"
    )


def pdf_from_text(text: str, *, title: str) -> bytes:
    from fpdf import FPDF

    regular = find_font("DejaVuSans.ttf")
    bold = regular.with_name("DejaVuSans-Bold.ttf")
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("preservation dispatcher")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold if bold.is_file() else regular))
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for line in text.splitlines():
        # Headings are upper-case lines in the text template; set them in bold.
        heading = (
            bool(line.strip())
            and not line.startswith(">")
            and line.strip() == line.strip().upper()
            and any(c.isalpha() for c in line)
        )
        pdf.set_font("DejaVu", "B" if heading else "", 10.5 if heading else 10)
        if not line.strip():
            pdf.ln(3)
            continue
        pdf.multi_cell(width, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
