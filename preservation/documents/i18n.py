"""The documents' languages: fixed wording from gettext catalogues, dates and numbers from CLDR
(Babel), the officer's own words left as written.

The English wording is the source: it is the msgid, so an English document prints the sentences
of docs/legal.md exactly. Each other language is one catalogue,
`locale/<lang>/LC_MESSAGES/documents.po`, read (and compiled in memory) once per process; its
header says who translated it and that a legal translator should review it. A sentence a
catalogue lacks stays in English (gettext's fallback); tests/documents/test_catalogues.py makes
sure no shipped catalogue lacks one. `python -m preservation.documents.catalogue` re-extracts the
sentences and updates the catalogues.

Placeholders are `%(name)s` (gettext's python-format, checked by Babel and by the tests): a
translation may move them, never drop or rename them.

Instants of identifiers stay in the numeric ISO form in every language (2026-11-19 14:03:11 CET
(UTC+01:00)): they are what a provider searches its logs with. Dates of the document itself
(its date, the preservation's dates, the expiry) are written the locale's way."""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytz
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "documents"
#: The language of the msgids.
SOURCE = "en"
#: The Babel locale each document language is formatted in (English: day month year, the
#: form read the same way on both sides of the Atlantic).
LOCALES = {"en": "en_GB", "fr": "fr_FR", "de": "de_DE", "es": "es_ES"}

#: The language of each requested State's documents, where a catalogue exists: the official
#: language its authorities work in (several for a few States: the first is taken; the officer
#: chooses another with `lang`). A State not listed gets English.
STATE_LANGUAGES = {
    **dict.fromkeys("FR MC".split(), "fr"),
    # Belgium, Luxembourg, Switzerland and Canada have several official languages: French is
    # one of each, and the one their central authorities all take (Canada: English too).
    **dict.fromkeys("BE LU CH".split(), "fr"),
    **dict.fromkeys("DE AT LI".split(), "de"),
    **dict.fromkeys("ES MX AR CO CL PE VE EC GT CU BO DO HN PY SV NI CR PA UY GQ".split(), "es"),
    # French-speaking States of Africa and elsewhere.
    **dict.fromkeys("SN CI ML BF NE TG BJ GA CG CD CM MG DJ HT".split(), "fr"),
}


def N_(message: str) -> str:
    """Marks a sentence for the catalogues where it is defined (a label table); it is
    translated where it is used, `words(message)`."""
    return message


def languages() -> tuple[str, ...]:
    """English and every language with a catalogue (read once per process)."""
    return _languages_in(str(LOCALE_DIR))


@cache
def _languages_in(folder: str) -> tuple[str, ...]:
    root = Path(folder)
    found = {SOURCE}
    if root.is_dir():
        found |= {d.name for d in root.iterdir() if (d / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()}
    return tuple(sorted(found))


def default_language(country: str | None) -> str:
    """The language of documents for the requested State `country` (English when unknown or
    without a catalogue)."""
    lang = STATE_LANGUAGES.get((country or "").upper(), SOURCE)
    return lang if lang in languages() else SOURCE


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of `lang` (English: none, the msgids are the English text)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == SOURCE or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def locale_of(lang: str) -> Locale:
    try:
        return Locale.parse(LOCALES.get(lang, lang))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(LOCALES[SOURCE])


@dataclass(frozen=True)
class Words:
    """The wording of one document language: `words("...")` translates a fixed sentence,
    `words.date(...)` and friends format for the locale."""

    lang: str = SOURCE
    _t: gettext.NullTranslations = field(init=False, repr=False, compare=False)
    _locale: Locale = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_t", translations(self.lang))
        object.__setattr__(self, "_locale", locale_of(self.lang))

    def __call__(self, message: str, **values: object) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def plural(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self._t.ngettext(singular, plural, n)
        return text % {"n": self.number(n), **values}

    @property
    def locale(self) -> Locale:
        return self._locale

    def date(self, value: date | datetime | None, zone: str | None = None) -> str:
        """'20 November 2026', '20 novembre 2026', '20. November 2026', '20 de noviembre de
        2026' (an instant: its day in `zone`)."""
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(_zone(zone)).date()
        return format_date(value, "long", locale=self._locale)

    def instant(self, utc: datetime | None, zone: str | None) -> str:
        """The day and time in `zone` with its offset, and in UTC: '20 November 2026, 14:03 CET
        (UTC+01:00) [Europe/Berlin]; 13:03 UTC'."""
        if utc is None:
            return ""
        tz = _zone(zone)
        local = utc.astimezone(tz)
        at_utc = utc.astimezone(pytz.UTC)
        day_utc = "" if at_utc.date() == local.date() else f"{self.date(at_utc.date())}, "
        in_utc = f"{day_utc}{format_time(at_utc, 'HH:mm', locale=self._locale)} UTC"
        head = f"{self.date(local.date())}, {format_time(local, 'HH:mm', locale=self._locale)}"
        if tz is pytz.UTC:
            return f"{head} UTC"
        abbr = local.tzname() or ""
        offset = offset_text(local)
        label = f"{abbr} (UTC{offset})" if abbr[:1].isalpha() else f"(UTC{offset})"
        return f"{head} {label} [{tz.zone}]; {in_utc}"

    def number(self, value: int | float | Decimal) -> str:
        return format_decimal(value, locale=self._locale)

    def money(self, amount: Decimal | float | int | str, currency: str) -> str:
        """'12,500.00 USD', '12 500,00 USD': the locale's digits, the ISO code (a symbol such
        as "$" is ambiguous across borders)."""
        digits = format_decimal(Decimal(str(amount)), format="#,##0.00", locale=self._locale)
        return f"{digits} {currency}"

    def country(self, code: str | None) -> str:
        """The State's name in this language ('États-Unis'), or the code when unknown."""
        if not code:
            return ""
        return self._locale.territories.get(code.upper(), code.upper())

    def language_name(self, lang: str) -> str:
        return self._locale.languages.get(lang, lang)


def _zone(name: str | None) -> pytz.BaseTzInfo:
    try:
        return pytz.timezone(name or "UTC")
    except pytz.UnknownTimeZoneError:
        return pytz.UTC


def offset_text(local: datetime) -> str:
    off = local.utcoffset()
    assert off is not None
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def words(lang: str) -> Words:
    return _words(lang)


@cache
def _words(lang: str) -> Words:
    return Words(lang)
