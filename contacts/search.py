"""Find 24/7 points of contact by country and free text (pure; no I/O).

``ContactIndex`` is built once from the directory's contacts and rebuilt when it changes.
Free text looks at the authority, the network, the e-mail addresses, the notes and the
country (code and English names, so ``"Brasil"`` finds Brazil); it is case- and
accent-insensitive and tolerates typos. Scores: exact 100, prefix 86-99 (every query word
found as a whole word: 90), fuzzy at most 85.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

import pycountry
from rapidfuzz import fuzz, process

from contacts.validation import country_code, normalize_text

__all__ = ["ContactIndex", "ContactLike", "country_names"]


class ContactLike(Protocol):
    """What the index reads: a ``Contact`` row, ``ContactCreate`` or ``ContactPublic``."""

    @property
    def country(self) -> str: ...
    @property
    def authority(self) -> str: ...
    @property
    def network(self) -> str: ...
    @property
    def emails(self) -> list[str]: ...
    @property
    def notes(self) -> str: ...


C = TypeVar("C", bound=ContactLike)

EXACT = 100.0
#: Every word of the query is a whole word of the contact ("koln" in "... Cybercrime Köln").
WORDS = 90.0
_PREFIX_FLOOR, _PREFIX_SPAN = 86.0, 13.0
_FUZZY_WEIGHT = 0.85
FUZZY_CUTOFF = 75.0
MIN_FUZZY_QUERY = 3
#: Notes are long: only their start is matched, so a note does not drown the authority name.
_NOTES_CHARS = 200


def country_names(code: str) -> list[str]:
    """English names pycountry knows for an alpha-2 code (name, official and common name)."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return []
    names = [country.name]
    for attr in ("official_name", "common_name"):
        extra = getattr(country, attr, None)
        if extra and extra not in names:
            names.append(extra)
    return names


class ContactIndex(Generic[C]):
    """Lookup tables over a fixed list of contacts. Build a new one when the list changes."""

    def __init__(self, contacts: Iterable[C]) -> None:
        self.contacts: tuple[C, ...] = tuple(contacts)
        self._by_country: dict[str, list[int]] = {}
        self._tokens: dict[str, set[int]] = {}
        exact: dict[str, set[int]] = {}
        choices: list[str] = []
        owners: list[int] = []
        names_cache: dict[str, list[str]] = {}

        for i, c in enumerate(self.contacts):
            self._by_country.setdefault(c.country, []).append(i)
            if c.country not in names_cache:
                names_cache[c.country] = [normalize_text(n) for n in country_names(c.country)]
            words = {normalize_text(c.authority), normalize_text(c.network)}
            words.update(normalize_text(e) for e in c.emails)
            words.update(names_cache[c.country])
            exact_words = set(words)
            exact_words.add(c.country.lower())
            notes = normalize_text(c.notes[:_NOTES_CHARS])
            if notes:
                words.add(notes)
            for word in exact_words:
                key = word.replace(" ", "")
                if key:
                    exact.setdefault(key, set()).add(i)
            for word in words:
                for token in word.split():
                    self._tokens.setdefault(token, set()).add(i)
                if len(word.replace(" ", "")) >= MIN_FUZZY_QUERY:
                    choices.append(word)
                    owners.append(i)

        order = sorted(range(len(self.contacts)), key=self._sort_key)
        self._rank = {i: r for r, i in enumerate(order)}
        for indices in self._by_country.values():
            indices.sort(key=self._rank.__getitem__)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._sorted_keys = sorted(self._exact)
        self._choices = choices
        self._owners = owners

    def _sort_key(self, i: int) -> tuple[str, int, str]:
        c = self.contacts[i]
        # The 24/7 network's point of contact first, then others, by authority name.
        return (c.country, 0 if c.network == "24/7" else 1, c.authority.casefold())

    def __len__(self) -> int:
        return len(self.contacts)

    def by_country(self, country: str) -> list[C]:
        """Contacts serving ``country`` (alpha-2, alpha-3 or English name); ``ValueError`` if
        it is not a country."""
        code = country_code(country)
        return [self.contacts[i] for i in self._by_country.get(code, ())]

    def search(
        self, q: str | None = None, *, country: str | None = None, limit: int = 20
    ) -> list[tuple[C, float]]:
        """Contacts matching free text ``q`` and/or ``country``, best first, with scores.

        Without ``q`` every contact of the country (or of the directory) scores 100, in
        directory order. ``ValueError`` if ``country`` is not a country.
        """
        if limit <= 0:
            return []
        allowed: set[int] | None = None
        if country is not None and country.strip():
            allowed = set(self._by_country.get(country_code(country), ()))
        words = normalize_text(q or "")
        key = words.replace(" ", "")
        if not key:
            pool = sorted(
                allowed if allowed is not None else range(len(self.contacts)),
                key=self._rank.__getitem__,
            )
            return [(self.contacts[i], EXACT) for i in pool[:limit]]

        best: dict[int, float] = {}

        def offer(i: int, score: float) -> None:
            if (allowed is None or i in allowed) and score > best.get(i, -1.0):
                best[i] = score

        for i in self._exact.get(key, ()):
            offer(i, EXACT)
        holders = [self._tokens.get(token, set()) for token in words.split()]
        for i in set.intersection(*holders):
            offer(i, WORDS)
        pos = bisect_left(self._sorted_keys, key)
        while pos < len(self._sorted_keys) and self._sorted_keys[pos].startswith(key):
            candidate = self._sorted_keys[pos]
            if candidate != key:
                score = _PREFIX_FLOOR + _PREFIX_SPAN * len(key) / len(candidate)
                for i in self._exact[candidate]:
                    offer(i, score)
            pos += 1
        if len(key) >= MIN_FUZZY_QUERY and self._choices:
            for _choice, score, j in process.extract(
                words,
                self._choices,
                scorer=fuzz.WRatio,
                processor=None,
                limit=None,
                score_cutoff=FUZZY_CUTOFF,
            ):
                offer(self._owners[j], round(score * _FUZZY_WEIGHT, 1))

        ranked = sorted(best.items(), key=lambda item: (-item[1], self._rank[item[0]]))
        return [(self.contacts[i], round(score, 1)) for i, score in ranked[:limit]]
