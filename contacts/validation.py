"""Field checks shared by the two directory packages (contacts/ and providers/).

Pure functions: each returns the normalised value or raises ``ValueError`` with a message
that pydantic attaches to the field it validates, so an API error names the field.
Nothing here imports from ``preservation/``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

#: Codes seen in EU and Council of Europe lists that are not ISO 3166-1 alpha-2.
_COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}

_SPACES = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_text(value: str) -> str:
    """Case- and accent-free words for matching: ``"Télégram Messenger!"`` -> ``"telegram messenger"``."""
    if not value.isascii():
        decomposed = unicodedata.normalize("NFKD", value)
        value = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", value.casefold()).strip()


def clean_text(value: str) -> str:
    """Strip and collapse runs of white space (names are compared on this form)."""
    return _SPACES.sub(" ", value).strip()


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 code for ``value`` (alpha-2, alpha-3 or English name; any case)."""
    text = clean_text(value)
    if not text:
        raise ValueError("a country is required (ISO 3166-1 alpha-2, e.g. DE)")
    upper = text.upper()
    if upper in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[upper]
    # Codes first: a loose lookup can match a code against another entry's name.
    country = None
    if len(upper) == 2:
        country = pycountry.countries.get(alpha_2=upper)
    elif len(upper) == 3:
        country = pycountry.countries.get(alpha_3=upper)
    if country is None:
        try:
            country = pycountry.countries.lookup(text)
        except LookupError:
            raise ValueError(f"{text!r} is not an ISO 3166-1 country code") from None
    return country.alpha_2


def phone_e164(value: str) -> str:
    """The number in E.164 form; it must be international (``+`` or ``00``) and valid."""
    text = clean_text(value)
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        raise ValueError(f"{value!r} must be in international format, starting with +")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_address(value: str) -> str:
    """The normalised address; syntax only (no DNS lookup: police networks are often closed)."""
    try:
        return validate_email(clean_text(value), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid e-mail address: {exc}") from None


def language_code(value: str) -> str:
    """ISO 639 code (639-1 where one exists, else 639-3) for a code or an English name."""
    text = clean_text(value)
    lower = text.lower()
    # Codes first: a loose lookup finds "en" as the name of the language "En" (enc).
    language = None
    if len(lower) == 2:
        language = pycountry.languages.get(alpha_2=lower)
    elif len(lower) == 3:
        language = pycountry.languages.get(alpha_3=lower)
    if language is None:
        try:
            language = pycountry.languages.lookup(text)
        except LookupError:
            raise ValueError(f"{value!r} is not an ISO 639 language") from None
    return getattr(language, "alpha_2", None) or language.alpha_3


def http_url(value: str) -> str:
    """An absolute http(s) URL, stripped."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return text


def each(values: Iterable[str], check: Callable[[str], str], *, unique: bool = True) -> list[str]:
    """Apply ``check`` to every item, naming the index of the first bad one; drop repeats."""
    out: list[str] = []
    for i, item in enumerate(values):
        if not isinstance(item, str):
            raise ValueError(f"item {i}: expected a string")
        try:
            normalised = check(item)
        except ValueError as exc:
            raise ValueError(f"item {i}: {exc}") from None
        if not unique or normalised not in out:
            out.append(normalised)
    return out


def is_stale(verified_on: date | None, today: date, max_age_days: int) -> bool:
    """True when an entry was never verified or was verified more than ``max_age_days`` ago."""
    if max_age_days < 0:
        raise ValueError("max_age_days must not be negative")
    if verified_on is None:
        return True
    return (today - verified_on).days > max_age_days
