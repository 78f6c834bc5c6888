"""The EPOC-PR forms (requests/epoc_forms.py) as PDF: the certificate (Annex II), Annexes V and
VI and the end-of-preservation notice, set in DejaVu Sans like the letters (documents/letter.py),
with real text that can be searched and extracted."""

from __future__ import annotations

from typing import Any

from preservation.documents.letter import find_font

LABELS = {
    "A": "SECTION A",
    "B": "SECTION B",
    "C": "SECTION C",
    "D": "SECTION D",
    "E": "SECTION E",
    "F": "SECTION F",
    "G": "SECTION G",
}


def _words(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _lines(value: Any, indent: str = "") -> list[str]:
    """A value as indented 'Label: value' lines (dicts and lists unfolded)."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "title" or item in (None, "", [], {}):
                continue
            if isinstance(item, dict | list):
                out.append(f"{indent}{_words(key)}:")
                out += _lines(item, indent + "    ")
            else:
                shown = "yes" if item is True else "no" if item is False else item
                out.append(f"{indent}{_words(key)}: {shown}")
    elif isinstance(value, list):
        for n, item in enumerate(value, 1):
            if isinstance(item, dict | list):
                out.append(f"{indent}{n}.")
                out += _lines(item, indent + "    ")
            else:
                out.append(f"{indent}- {item}")
    elif value not in (None, ""):
        out.append(f"{indent}{value}")
    return out


def form_pdf(form: dict[str, Any]) -> bytes:
    """Any of the EPOC-PR forms: heading, then each section or field group."""
    from fpdf import FPDF

    regular = find_font("DejaVuSans.ttf")
    bold = regular.with_name("DejaVuSans-Bold.ttf")
    pdf = FPDF(format="A4")
    pdf.set_title(f"{form.get('reference')} {form.get('title')}")
    pdf.set_creator("preservation dispatcher")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold if bold.is_file() else regular))
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def para(text: str, *, heading: bool = False, size: float = 9.5) -> None:
        pdf.set_font("DejaVu", "B" if heading else "", size)
        pdf.multi_cell(width, 4.8, text, new_x="LMARGIN", new_y="NEXT")

    annex = f"ANNEX {form['annex']}" if form.get("annex") else "NOTICE"
    draft = " (DRAFT: NOT ISSUED)" if form.get("status") == "draft" else ""
    para(f"{annex}{draft}", heading=True, size=11)
    para(str(form.get("title", "")).upper(), heading=True, size=11)
    para(f"Reference: {form.get('reference')}")
    if form.get("notice_to_addressee"):
        pdf.ln(2)
        para(form["notice_to_addressee"])
    for key, section in (form.get("sections") or {}).items():
        pdf.ln(3)
        para(f"{LABELS.get(key, key)}: {section.get('title', '')}".upper(), heading=True)
        for line in _lines(section):
            para(line)
    if form.get("fields"):
        pdf.ln(3)
        for line in _lines(form["fields"]):
            para(line)
    pdf.ln(3)
    for extra in ("citation", "transmission", "read"):
        if form.get(extra):
            para(str(form[extra]), size=8)
    for warning in form.get("warnings") or []:
        para(f"Note: {warning}", size=8)
    return bytes(pdf.output())
