"""The documents' languages (issue 18): every fixed sentence of every document is in every
catalogue, translated, with the same placeholders; each catalogue names its translator and asks
for a legal translator's review; every language renders every document with no English fixed
sentence left and with its own date format; English keeps docs/legal.md's wording exactly."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from preservation.documents import catalogue, i18n
from tests.conftest import auth
from tests.requests.test_documents import ADDITIONS, make
from tests.requests.test_requests_api import URL, ready  # noqa: F401 - fixture

LANGUAGES = ("fr", "de", "es")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: 20 November 2026 (the frozen clock) the way each language writes it.
TODAY = {
    "en": "20 November 2026",
    "fr": "20 novembre 2026",
    "de": "20. November 2026",
    "es": "20 de noviembre de 2026",
}

#: A November 2026 date the way each language writes it (the record's dates, the letter's date).
DATES = {
    "en": r"\b\d{1,2} November 2026",
    "fr": r"\b\d{1,2} novembre 2026",
    "de": r"\b\d{1,2}\. November 2026",
    "es": r"\b\d{1,2} de noviembre de 2026",
}


def sources() -> dict[str, Any]:
    return {m.id: m for m in catalogue.extract() if m.id}


def test_the_template_and_every_catalogue_have_the_same_keys() -> None:
    wanted = set(sources())
    with (i18n.LOCALE_DIR / "documents.pot").open("rb") as handle:
        from babel.messages.pofile import read_po

        pot = {m.id for m in read_po(handle) if m.id}
    assert pot == wanted, "run `python -m preservation.documents.catalogue`"
    assert set(i18n.languages()) >= {"en", *LANGUAGES}
    for lang in LANGUAGES:
        cat = catalogue.read(lang)
        keys = {m.id for m in cat if m.id}
        assert keys == wanted, (lang, sorted(wanted - keys)[:3], sorted(keys - wanted)[:3])
        for message in cat:
            if not message.id:
                continue
            assert message.string, (lang, message.id)
            assert not message.fuzzy, (lang, message.id)
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
                set(PLACEHOLDER.findall(message.string))
            ) or set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string)), (
                lang,
                message.id,
            )


def test_each_catalogue_says_who_translated_it_and_asks_for_a_legal_review() -> None:
    for lang in LANGUAGES:
        header = catalogue.read(lang).header_comment
        assert "Translated by:" in header
        assert "legal translator must review" in header
        assert catalogue.read(lang).last_translator


def test_words_format_dates_numbers_money_and_states_for_the_locale() -> None:
    instant = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for lang, today in TODAY.items():
        words = i18n.words(lang)
        assert words.date(date(2026, 11, 20)) == today
        assert words.instant(instant, "Asia/Nicosia").startswith(f"{today}, 14:00 EET (UTC+02:00)")
    assert i18n.words("fr").money("12500", "EUR") == "12\u202f500,00 EUR"
    assert i18n.words("de").money("12500", "EUR") == "12.500,00 EUR"
    assert i18n.words("en").money("800", "USD") == "800.00 USD"
    assert i18n.words("fr").country("US") == "États-Unis"
    assert i18n.words("es").country("DE") == "Alemania"
    # A requested State's language where a catalogue exists, else English.
    assert i18n.default_language("AT") == "de"
    assert i18n.default_language("MX") == "es"
    assert i18n.default_language("BE") == "fr"
    assert i18n.default_language("JP") == "en"
    assert i18n.default_language(None) == "en"


def untranslated(text: str, lang: str) -> list[str]:
    """English fixed sentences (or long pieces of them between placeholders) still in `text`."""
    translated = i18n.translations(lang)
    left = []
    for msgid in sources():
        if translated.gettext(msgid) == msgid:
            continue  # the same words in both languages ("URL", "18 U.S.C. § 2703(f)(1)")
        for piece in PLACEHOLDER.split(msgid)[::2]:
            piece = piece.strip(" .,:;()")
            if len(piece) >= 14 and piece in text:
                left.append(piece)
    return left


async def render(client: Any, token: str, rid: int, kind: str, lang: str, fmt: str) -> str:
    resp = await client.get(
        f"{URL}/{rid}/{kind}", params={"lang": lang, "format": fmt}, headers=auth(token)
    )
    assert resp.status == 200, await resp.text()
    body = await resp.text()
    return html.unescape(re.sub(r"<[^>]+>", " ", body)) if fmt == "html" else body


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_every_language_renders_every_document(client, ready, lang) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    token = ready["officer"]
    # A letter to the provider under its policy and one to the point of contact (T-CY layout),
    # the MLA request bare and completed, a fresh request (Budapest) and a renewal (2703(f)).
    direct = await make(client, token)
    poc = await make(client, token, regime="budapest-art29")
    documents: list[tuple[int, str, dict[str, Any]]] = [
        (direct["id"], "letter", {}),
        (poc["id"], "letter", {}),
        (direct["id"], "mla-request", {}),
        (poc["id"], "extension-request", {}),
        (direct["id"], "extension-request", {}),
    ]
    for rid, kind, _ in documents:
        for fmt in ("text", "html"):
            text = await render(client, token, rid, kind, lang, fmt)
            assert untranslated(text, lang) == [], (kind, fmt)
            assert re.search(DATES[lang], text), (kind, fmt)
            assert not re.search(DATES["en"], text), (kind, fmt)
    resp = await client.put(f"{URL}/{direct['id']}/mla-draft", json=ADDITIONS, headers=auth(token))
    assert resp.status == 200
    text = await render(client, token, direct["id"], "mla-request", lang, "text")
    assert untranslated(text, lang) == []
    # The officer's words as written, marked; the fixed wording translated.
    assert "> Public Prosecutor's Office" not in text  # a name, printed as data
    assert "> 5 years' imprisonment" in text
    assert "> Computer fraud (Art. 8 Budapest Convention)" in text
    # The requested State in the document's language.
    assert i18n.words(lang).country("US") in text


async def test_english_keeps_the_legal_wording_exactly(client, ready) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    token = ready["officer"]
    poc = await make(client, token, regime="budapest-art29")
    text = await render(client, token, poc["id"], "letter", "en", "text")
    assert "Convention on Cybercrime (ETS No. 185), Art. 29(1)" in text
    assert "a period of not less than sixty days" in text and "for 60 days" not in text
    assert "Art. 29(7)" in text and "Art. 30(1)" in text and "Art. 29(6)" in text
    # T-CY(2018)11 layout: title and the numbered fields read there.
    title = text.index("DATA PRESERVATION REQUEST UNDER ARTICLES 29 AND 30")
    assert title < text.index("1. Date: 10 November 2026")  # the record's sending date
    for field in (
        "2. Reference / case number: PR-2026-",
        "3. Request status: new request",
        "4. Requested authority: US 24/7 point of contact",
        "5. Requesting authority",
        "Time zone: Asia/Nicosia (UTC+02:00)",
        "Response preferred by e-mail to cyber@police.example",
        "6. Should additional confirmation from the requesting authority be needed",
        "7. Investigative/operational authority in charge of the case: alpha",
    ):
        assert field in text, field
    fresh = await render(client, token, poc["id"], "extension-request", "en", "text")
    assert "3. Request status: extension of previous request" in fresh
    assert f"Reference of the previous request: {poc['reference']}" in fresh
    assert "not less than sixty days" in fresh and "provides no extension" in fresh
