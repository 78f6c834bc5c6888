"""The EPOC-PR certificate (requests/epoc_forms.certificate) as XML in the input shape of the
Commission's reference implementation (`epocPrForm2`), checked against the schemas kept in
documents/schemas/ (their README says what each element rests on). Pure, apart from reading the
schema files once per process."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).parent / "schemas"
INPUT_XSD = SCHEMAS / "epoc-pr-input.xsd"

EPOC_NS = "http://data.europa.eu/edm/1/ns/epoc"
EIO_NS = "http://data.europa.eu/edm/1/ns/eio"
FORM2_NS = "http://data.europa.eu/edm/1/ns/forms/EPOC-PR-FORM-2#"
#: The service's own elements (Sections A and E, an identifier's port): not the Commission's.
X_NS = "urn:x-preservation-dispatcher:epoc-pr:1"
PREFIXES = {"epoc": EPOC_NS, "eio": EIO_NS, "epocform2": FORM2_NS, "x": X_NS}
for _prefix, _uri in PREFIXES.items():
    ET.register_namespace(_prefix, _uri)


class ExportInvalid(ValueError):
    """The export does not validate against its schema (a defect of the service: never sent)."""


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _add(parent: ET.Element, ns: str, name: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, _q(ns, name))
    if text is not None:
        el.text = str(text)
    return el


def _opt(parent: ET.Element, ns: str, name: str, text: object | None) -> None:
    if text not in (None, ""):
        _add(parent, ns, name, text)


def _address(parent: ET.Element, text: str | None) -> None:
    lines = [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]
    if lines:
        address = _add(parent, EIO_NS, "Address")
        for line in lines[:20]:
            _add(address, EIO_NS, "AddressLine", line)


def _details(parent: ET.Element, a: dict[str, Any]) -> None:
    """eio's authority details in the order of the schema's AuthorityDetails group."""
    _add(parent, EIO_NS, "NameOfAuthority", a.get("name") or "")
    _opt(parent, EIO_NS, "NameOfRepresentative", a.get("representative"))
    _opt(parent, EIO_NS, "PostHeld", a.get("post_held"))
    _opt(parent, EIO_NS, "FileReference", a.get("file_reference"))
    _address(parent, a.get("address"))
    _opt(parent, EIO_NS, "TelNo", a.get("phone"))
    _opt(parent, EIO_NS, "Email", a.get("email"))
    languages = [code for code in a.get("languages") or [] if code]
    if languages:
        group = _add(parent, EIO_NS, "LanguagesToCommunicate")
        for code in languages[:30]:
            _add(group, EIO_NS, "Language", code)


def certificate_xml(cert: dict[str, Any]) -> bytes:
    """The issued certificate as the reference implementation's input, validated; ExportInvalid
    when it does not validate (never returned then)."""
    s = cert["sections"]
    root = ET.Element("epocInput")
    ET.SubElement(root, "globalCaseId").text = cert.get("national_reference") or cert["reference"]
    ET.SubElement(root, "formId").text = f"{cert['reference']}-form2"
    form = ET.SubElement(ET.SubElement(root, "form"), _q(FORM2_NS, "epocPrForm2"))

    a = _add(form, FORM2_NS, "SectionA")
    _add(a, X_NS, "Status", cert["status"])
    _add(a, X_NS, "EpocPrReference", cert["reference"])
    _add(a, X_NS, "IssuingState", s["A"]["issuing_state"] or "")
    _add(a, X_NS, "IssuingAuthority", s["A"]["issuing_authority"] or "")
    _opt(a, X_NS, "ValidatingAuthority", s["A"]["validating_authority"])
    _opt(a, X_NS, "FileNumberIssuingAuthority", s["A"]["file_number_issuing_authority"])
    _opt(a, X_NS, "FileNumberValidatingAuthority", s["A"]["file_number_validating_authority"])

    b = _add(form, FORM2_NS, "SectionB")
    addressee = _add(b, EPOC_NS, "Addressee")
    rep = s["B"]["addressee"] or {}
    authority = _add(addressee, EPOC_NS, "Authority")
    _add(authority, EIO_NS, "NameOfAuthority", rep.get("name") or "")
    _address(authority, rep.get("address"))
    _opt(authority, EIO_NS, "Email", rep.get("email"))
    technical = _add(addressee, EIO_NS, "AuthorityTechnicalIdentifier")
    # The converter takes this as the issuing authority's technical identifier although it
    # reads it under Addressee: the issuing State, and the national id left to that system.
    _add(technical, EIO_NS, "Country", s["A"]["issuing_state"] or "")
    _add(technical, EIO_NS, "NationalId", "")
    _add(b, EPOC_NS, "EmergencyCase", "true" if s["B"]["emergency_case"] else "false")

    c = _add(form, FORM2_NS, "SectionC")
    wanted = s["D"]["categories"]
    for item in s["C"]["evidence"]:
        ev = _add(c, EPOC_NS, "Evidence")
        ident = _add(ev, EPOC_NS, "Identifier")
        _add(ident, EPOC_NS, "Id", item["id"])
        _add(ident, EPOC_NS, "Type", item["type"])
        _add(ident, EPOC_NS, "Value", item["value"])
        _opt(ident, X_NS, "Platform", item.get("platform"))
        _opt(ident, X_NS, "Port", item.get("port"))
        period = item.get("date_time_range")
        if period:
            rng = _add(ident, EPOC_NS, "DateTimeRange")
            _add(rng, EPOC_NS, "Start", period["start"])
            _add(rng, EPOC_NS, "End", period["end"])
        cats = _add(ev, EPOC_NS, "DataCategories")
        for name in ("Subscriber", "UserIdentification", "Traffic", "Content"):
            if wanted.get(name):
                _add(cats, EPOC_NS, name)
        _add(cats, EPOC_NS, "Selection")

    e = _add(form, FORM2_NS, "SectionE")
    _add(e, X_NS, "Purpose", s["E"]["purpose_code"])
    _add(e, X_NS, "Offence", s["E"]["offence"] or "")
    _opt(e, X_NS, "StatutoryProvisions", s["E"]["statutory_provisions"])
    _opt(e, X_NS, "Facts", s["E"]["facts"])
    _opt(e, X_NS, "Necessity", s["E"]["necessity"])
    _opt(e, X_NS, "Relevance", s["C"]["relevance"])

    f = _add(form, FORM2_NS, "SectionF")
    _add(f, EPOC_NS, "Type", s["F"]["type"] or "")
    both = _add(f, EPOC_NS, "IssuingAndContactAuthority")
    _details(_add(both, EPOC_NS, "IssuingAuthority"), s["F"])
    contact = s["F"].get("contact_authority") or {}
    if contact.get("name") and contact.get("name") != s["F"].get("name"):
        reach = _add(_add(both, EPOC_NS, "ContactAuthority"), EPOC_NS, "Authority")
        _add(reach, EIO_NS, "NameOfAuthority", contact["name"])
        _address(reach, contact.get("address"))
        _opt(reach, EIO_NS, "TelNo", contact.get("phone"))
        _opt(reach, EIO_NS, "Email", contact.get("email"))

    if s["G"].get("applicable"):
        g = _add(form, FORM2_NS, "SectionG")
        _add(g, EPOC_NS, "Type", s["G"].get("type") or "")
        _details(_add(g, EPOC_NS, "Details"), s["G"])

    ET.indent(root)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    problems = validation_errors(body)
    if problems:
        raise ExportInvalid("; ".join(problems[:5]))
    return body


@cache
def _schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(INPUT_XSD))


def validation_errors(body: bytes) -> list[str]:
    """What makes `body` invalid against documents/schemas/epoc-pr-input.xsd ([] when valid)."""
    return [str(err.reason or err) for err in _schema().iter_errors(body.decode("utf-8"))]
