"""The documents of a request: what can be drafted from its record now, in which formats and
languages, and where (`GET /api/v1/requests/{id}/documents`, the record page, the reminder
mails). Each document is rendered by documents/ from its content model (requests/letters.py,
requests/mla.py, requests/extension.py; the EPOC-PR forms: requests/epoc_forms.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.documents import i18n
from preservation.documents.i18n import N_
from preservation.documents.letter import FORMATS
from preservation.domain.extension import FRESH, ExtensionOffer
from preservation.requests.extension import offer_for
from preservation.requests.mla import has_mla, requested_state
from preservation.requests.view import load_request
from preservation.runtime.context import Context
from preservation.storage.models import PreservationRequest

PRESERVATION_REQUEST = "preservation_request"
MLA_REQUEST = "mla_request"
EXTENSION_REQUEST = "extension_request"
TITLES = {
    PRESERVATION_REQUEST: N_("Preservation request"),
    "emergency": N_("Emergency disclosure request"),
    MLA_REQUEST: N_("MLA request (draft for the issuing authority)"),
    EXTENSION_REQUEST: N_("Extension request"),
    "fresh": N_("New preservation request (extension of the previous request)"),
    "epoc_pr": N_("EPOC-PR certificate (Annex II)"),
    "annex_v": N_("Annex V: confirmation of the subsequent request for production"),
    "annex_vi": N_("Annex VI: extension of the preservation"),
}
#: The EPOC-PR forms (issue 19, web/api/epoc.py): their paths and formats.
EPOC_FORMS = (
    ("epoc_pr", "epoc-pr", ("json", "pdf", "xml")),
    ("annex_v", "forms/annex-v", ("json", "pdf")),
    ("annex_vi", "forms/annex-vi", ("json", "pdf")),
)


class DocumentPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: preservation_request, mla_request, extension_request, epoc_pr, annex_v, annex_vi.
    kind: str
    title: str
    formats: list[str]
    #: The document's URL (add ?format=...&lang=...): relative to the service, or absolute
    #: where the caller asked for absolute links (reminder mails).
    href: str
    #: The languages it can be rendered in, and the one given when `lang` is left out.
    languages: list[str] = Field(default_factory=list)
    lang: str = "en"
    #: An extension request: the last instant it can go out (the expiry less the lead time).
    due_by: datetime | None = None


class DocumentList(BaseModel):
    items: list[DocumentPublic]


class DocumentsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The language of the titles (default: English).
    lang: str | None = Field(
        None, min_length=2, max_length=10, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$"
    )


def documents_of(
    req: PreservationRequest,
    *,
    offer: ExtensionOffer | None,
    base: str = "",
    lang: str = i18n.SOURCE,
) -> list[DocumentPublic]:
    """The documents of `req` (pure): its letter always; the MLA request where one follows; an
    extension request while one is `offer`ed; the EPOC-PR forms for an EPOC-PR."""
    _ = i18n.words(lang)
    all_languages = list(i18n.languages())
    root = f"{base}/api/v1/requests/{req.id}"
    emergency = (getattr(req, "kind", None) or "preservation") == "emergency"
    items = [
        DocumentPublic(
            kind=PRESERVATION_REQUEST,
            title=_(TITLES["emergency" if emergency else PRESERVATION_REQUEST]),
            formats=list(FORMATS),
            href=f"{root}/letter",
            # The emergency letter's wording is English only (its templates, issue 20).
            languages=[i18n.SOURCE] if emergency else all_languages,
            lang=i18n.SOURCE if emergency else req.lang,
        )
    ]
    if has_mla(req):
        items.append(
            DocumentPublic(
                kind=MLA_REQUEST,
                title=_(TITLES[MLA_REQUEST]),
                formats=list(FORMATS),
                href=f"{root}/mla-request",
                languages=all_languages,
                lang=i18n.default_language(requested_state(req)),
            )
        )
    if offer is not None:
        items.append(
            DocumentPublic(
                kind=EXTENSION_REQUEST,
                title=_(TITLES["fresh" if offer.kind == FRESH else EXTENSION_REQUEST]),
                formats=list(FORMATS),
                href=f"{root}/extension-request",
                languages=all_languages,
                lang=req.lang,
                due_by=offer.last_day,
            )
        )
    if req.regime == "eu-epoc-pr":
        for kind, path, formats in EPOC_FORMS:
            items.append(
                DocumentPublic(
                    kind=kind,
                    title=_(TITLES[kind]),
                    formats=list(formats),
                    href=f"{root}/{path}",
                    languages=[i18n.SOURCE],
                    lang=i18n.SOURCE,
                )
            )
    return items


async def list_documents(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    lang: str | None = None,
    base: str = "",
) -> DocumentList:
    """`GET /api/v1/requests/{id}/documents`."""
    req = await load_request(session, principal=principal, request_id=request_id)
    return DocumentList(
        items=documents_of(
            req, offer=await offer_for(session, req, ctx=ctx), base=base, lang=lang or "en"
        )
    )


def document_links(items: list[DocumentPublic]) -> list[dict[str, Any]]:
    """Each document with a link per format (the record page, the mails)."""
    return [
        {
            **item.model_dump(),
            "links": {fmt: f"{item.href}?format={fmt}" for fmt in item.formats},
        }
        for item in items
    ]
