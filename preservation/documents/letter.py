"""The preservation letter: one context (pure), rendered as text, HTML, PDF or JSON.

Templates live in templates/<lang>/letter.txt.j2 and letter.html.j2: a unit adds a language by
adding that folder. The PDF is the text letter set in DejaVu Sans (any script the font covers),
with real text that can be searched and extracted.

Every instant appears in the zone it was given in, with its offset, and in UTC."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytz
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from preservation.documents.wording import custodian_text, law_paragraphs
from preservation.errors import InvalidInput, Unavailable

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("text", "html", "pdf", "json")
CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}
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
    "subscriber": "subscriber information",
    "identifying": "data identifying the user (IP address, source port and time of connection)",
    "traffic": "traffic data",
    "content": "content data",
}
TYPE_LABELS = {
    "email": "E-mail address",
    "url": "URL",
    "domain": "Domain name",
    "phone": "Telephone number",
    "ipv4": "IPv4 address",
    "ipv6": "IPv6 address",
    "account": "Account",
    "imei": "IMEI",
    "mac": "MAC address",
    "crypto": "Cryptocurrency address",
}


def available_languages() -> list[str]:
    """Languages with both templates present (read once per process: restart to add one)."""
    return list(_languages_in(str(TEMPLATES)))


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


def _environment() -> Environment:
    return _environment_for(str(TEMPLATES))


@cache
def _environment_for(folder: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


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
) -> dict[str, Any]:
    """Everything the templates print, JSON-safe (the JSON format is this dict). `instrument`
    is the instrument of the recipient the letter is for (default: the request's regime)."""
    instrument = instrument or {"key": regime.key, "citation": regime.basis, "why": ""}
    dated = req.submitted_at or now
    items = []
    for row in identifiers:
        local = row.local or {}
        items.append(
            {
                "position": row.position + 1,
                "type": row.type,
                "type_label": TYPE_LABELS.get(row.type, row.type),
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
    main = [r for r in recipients if r.get("role") in ("provider", "poc")]
    copies = [r for r in recipients if r.get("role") == "copy"]
    ext = ""
    if regime.max_extensions and regime.extension_days:
        ext = f"{regime.max_extensions} extension(s) of {regime.extension_days} days" + (
            f" ({regime.extension_citation})" if regime.extension_citation else ""
        )
    return {
        "draft": req.status == "draft",
        "status": req.status,
        "reference": req.reference,
        "case_reference": req.case_reference,
        "date": both_zones(dated, unit.timezone),
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
        "provider": {
            "name": provider.get("name"),
            "country": provider.get("country"),
            "entity_by_region": provider.get("entity_by_region"),
            "entity": provider.get("entity"),
        }
        if provider
        else None,
        "custodian": custodian_text(provider, country=req.country),
        "instrument": dict(instrument),
        "law": law_paragraphs(
            instrument=instrument,
            regime=regime,
            provider=provider,
            data_categories=list(req.data_categories or []),
            mla_to_follow=req.mla_to_follow,
        ),
        "data_categories": [CATEGORY_LABELS.get(c, c) for c in (req.data_categories or [])],
        "identifiers": items,
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
        "unit": {
            "name": unit.name,
            "authority": unit.authority,
            "address": unit.address,
            "phone": unit.phone,
            "email": unit.email,
            "contact_24_7": unit.contact_24_7,
            "timezone": unit.timezone,
        },
        "officer": creator,
        "expires_at": both_zones(req.expires_at, unit.timezone) if req.expires_at else None,
        "expiry_rule": req.expiry_rule,
        # An emergency disclosure request (templates/<lang>/emergency.*.j2): its facts.
        "kind": getattr(req, "kind", None) or "preservation",
        "emergency": {
            k: str((getattr(req, "emergency", None) or {}).get(k) or "")
            for k in ("threat", "why_now", "data_needed", "callback_phone")
        }
        if getattr(req, "kind", None) == "emergency"
        else None,
    }


def render_letter(context: dict[str, Any], *, fmt: str, lang: str) -> bytes:
    """The letter in `fmt` (text, html, pdf, json) and `lang` (a templates folder)."""
    if fmt not in FORMATS:
        raise InvalidInput("query.format", f"must be one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(context, ensure_ascii=False, indent=2).encode("utf-8")
    if lang not in available_languages():
        raise InvalidInput(
            "query.lang",
            f"no letter template in {lang!r}; available: {', '.join(available_languages())}",
        )
    env = _environment()
    name = "letter"
    if context.get("kind") == "emergency":
        # An emergency disclosure letter; in English where the language has none of its own.
        name = "emergency"
        if not (TEMPLATES / lang / "emergency.txt.j2").is_file():
            lang = "en"
    if fmt == "html":
        return env.get_template(f"{lang}/{name}.html.j2").render(**context).encode("utf-8")
    text = env.get_template(f"{lang}/{name}.txt.j2").render(**context)
    if fmt == "text":
        return text.encode("utf-8")
    return pdf_from_text(text, title=f"{context['reference']}")


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
            and line.strip() == line.strip().upper()
            and any(c.isalpha() for c in line)
        )
        pdf.set_font("DejaVu", "B" if heading else "", 10.5 if heading else 10)
        if not line.strip():
            pdf.ln(3)
            continue
        pdf.multi_cell(width, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
