"""Word (DOCX) documents with python-docx (MIT): the text form of a document set as Word
paragraphs, so the DOCX says exactly what the text, HTML and PDF forms say (one content model,
several renderers) and a practitioner can edit it.

The text form's conventions carry over: an upper-case line is a heading; a line behind "> " is
the officer's own words (Word's "Quote" style, the "> " kept so the words read the same); an
indented line belongs to the item above it (indented in Word too); the first line of a draft
(its "not sent" mark) is set in red."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime

from docx import Document
from docx.enum.text import WD_BREAK
from docx.shared import Pt, RGBColor

#: The fixed instant written as the file's creation and modification dates: the same document
#: gives the same bytes (the record's own dates are in the text).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def is_heading(line: str) -> bool:
    """The text form's headings: a line in capitals (not the officer's quoted words)."""
    stripped = line.strip()
    return (
        bool(stripped)
        and not line.startswith(">")
        and stripped == stripped.upper()
        and any(c.isalpha() for c in stripped)
    )


def docx_from_text(text: str, *, title: str, lang: str, draft: bool = False) -> bytes:
    """The DOCX of a document's text form: one Word paragraph per non-empty line."""
    doc = Document()
    props = doc.core_properties
    props.title = title
    props.language = lang
    props.author = "preservation dispatcher"
    props.created = props.modified = EPOCH.replace(tzinfo=None)
    props.revision = 1
    normal = doc.styles["Normal"]
    normal.font.name = "DejaVu Sans"
    normal.font.size = Pt(10)
    normal.paragraph_format.space_after = Pt(3)
    lines = text.splitlines()
    gap = False
    for index, line in enumerate(lines):
        if not line.strip():
            gap = True
            continue
        if index == 0 and draft:
            run = doc.add_paragraph().add_run(line.strip())
            run.bold = True
            run.font.color.rgb = RGBColor(0xAA, 0x00, 0x00)
            continue
        if is_heading(line):
            paragraph = doc.add_paragraph(style="Heading 2")
            paragraph.add_run(line.strip())
        elif line.startswith(">"):
            paragraph = doc.add_paragraph(style="Quote")
            paragraph.add_run(line)
        else:
            paragraph = doc.add_paragraph()
            indent = len(line) - len(line.lstrip(" "))
            if indent:
                paragraph.paragraph_format.left_indent = Pt(6 * indent)
            paragraph.add_run(line.strip())
        if gap and not is_heading(line) and paragraph.paragraph_format.space_before is None:
            paragraph.paragraph_format.space_before = Pt(6)
        gap = False
    if not lines:
        doc.add_paragraph().add_run().add_break(WD_BREAK.LINE)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def docx_text(data: bytes) -> list[str]:
    """The non-empty paragraphs of a DOCX, in order (what a reader of the file sees)."""
    doc = Document(io.BytesIO(data))
    return [p.text for p in doc.paragraphs if p.text.strip()]


#: The stylesheet of a document set from its text form (inline: the page shows it in a sandboxed
#: frame with no other source allowed).
STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 46em; margin: 2em auto;
  line-height: 1.45; }
h1 { font-size: 1.15em; } h2 { font-size: 1em; margin: 1.4em 0 .3em; }
p { margin: .2em 0; } p.indent { margin-left: 2em; }
p.draft { color: #a00; font-weight: bold; border: 2px solid #a00; padding: .3em; }
blockquote { margin: .2em 0; padding: 0 .8em; border-left: 3px solid #777; white-space: pre-wrap; }
@media print { @page { size: A4; margin: 20mm 18mm; } body { max-width: none; margin: 0; } }
"""


def html_from_text(
    text: str, *, title: str, lang: str, draft: bool = False, heading: str = ""
) -> str:
    """The HTML of a document's text form, line for line (the same conventions as the DOCX);
    the line `heading` is the document's title (h1), the other headings its sections."""
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(lang)}">',
        '<head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head>",
        "<body>",
    ]
    for index, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        words = html.escape(line.strip())
        if index == 0 and draft:
            out.append(f'<p class="draft">{words}</p>')
        elif is_heading(line):
            level = "h1" if heading and line.strip() == heading else "h2"
            out.append(f"<{level}>{words}</{level}>")
        elif line.startswith(">"):
            out.append(f"<blockquote>{html.escape(line)}</blockquote>")
        elif line.startswith(" "):
            out.append(f'<p class="indent">{words}</p>')
        else:
            out.append(f"<p>{words}</p>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
