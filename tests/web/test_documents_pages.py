"""The documents on the pages (issue 18): the record lists them with their downloads; the MLA
request's page shows what is missing, saves the officer's additions through the same service as
the API (a wrong value names its field and changes nothing) and serves the draft in every format
and language to the signed-in browser; every input has a label."""

from __future__ import annotations

import io
import re

from docx import Document

from preservation.web.keys import DB
from tests.requests.test_documents import ADDITIONS
from tests.web.test_pages import CSRF, api_create, page, ready, sign_in  # noqa: F401 - fixture


async def test_the_record_lists_its_documents(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    created = await api_create(client, ready["officer"])
    await sign_in(client, ready["officer"])
    text = await page(client, f"/requests/{created['id']}")
    assert 'id="documents"' in text
    assert f"/requests/{created['id']}/documents/letter.docx?lang=en" in text
    assert f"/requests/{created['id']}/documents/mla-request.docx?lang=en" in text
    assert f'href="/requests/{created["id"]}/mla-request"' in text
    resp = await client.get(f"/requests/{created['id']}/documents/letter.docx?lang=de")
    assert resp.status == 200
    assert 'filename="letter-' in resp.headers["Content-Disposition"]
    words = [p.text for p in Document(io.BytesIO(await resp.read())).paragraphs]
    assert "ZU SICHERNDE DATEN" in words


async def test_the_officer_completes_the_mla_request_on_its_page(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    categories = ["subscriber", "traffic", "content"]
    created = await api_create(client, ready["officer"], data_categories=categories)
    rid = created["id"]
    await sign_in(client, ready["officer"])
    text = await page(client, f"/requests/{rid}/mla-request")
    assert "the requested authority (central authority)" in text
    # Every input has a label; no inline style or script.
    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', text)
    assert set(ids) <= set(re.findall(r'<label for="([^"]+)"', text))
    assert "style=" not in text and "<script>" not in text
    csrf = CSRF.search(text)[1]
    form = {
        "csrf": csrf,
        **{k: v for k, v in ADDITIONS.items() if isinstance(v, str)},
        **{f"assistance-{k}": v for k, v in ADDITIONS["assistance"].items()},
    }
    # A wrong currency: 422, the field named, nothing stored.
    resp = await client.post(
        f"/requests/{rid}/mla-request", data={**form, "damages_currency": "XXY"}
    )
    assert resp.status == 422
    assert 'id="damages_currency"' in (body := await resp.text()) and "ISO 4217" in body
    async with client.server.app[DB].read() as s:
        from preservation.storage.models import PreservationRequest

        assert (await s.get(PreservationRequest, rid)).mla_draft is None
    resp = await client.post(f"/requests/{rid}/mla-request", data=form, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].endswith("?done=saved")
    text = await page(client, f"/requests/{rid}/mla-request?done=saved")
    assert 'id="missing-none"' in text, re.findall(r'<li data-field="[^"]+">[^<]+', text)
    assert "Office of International Affairs" in text
    resp = await client.get(f"/requests/{rid}/documents/mla-request.docx?lang=fr")
    assert resp.status == 200
    words = "\n".join(p.text for p in Document(io.BytesIO(await resp.read())).paragraphs)
    assert "DEMANDE D'ENTRAIDE JUDICIAIRE EN MATIÈRE PÉNALE" in words
    assert "> Office of International Affairs, U.S. Department of Justice" in words
    resp = await client.get(f"/requests/{rid}/documents/mla-request.html?lang=en")
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    # Another unit's officer: 404 on the page and the documents.
    await sign_in(client, ready["other_officer"])
    await page(client, f"/requests/{rid}/mla-request", status=404)
    resp = await client.get(f"/requests/{rid}/documents/mla-request.docx")
    assert resp.status == 404
