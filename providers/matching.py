"""Find a provider from a domain, a platform name or free text (pure; no I/O, no network).

``ProviderIndex`` is built once from the directory's providers and rebuilt when the directory
changes; lookups then cost a dictionary probe (domain, platform) or one
``rapidfuzz.process.extract`` over precomputed normalised strings (search).

The public suffix list is tldextract's bundled snapshot: the extractor is made with
``suffix_list_urls=()`` and ``cache_dir=None`` so it never fetches or writes anything.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import tldextract
from rapidfuzz import fuzz, process

from contacts.validation import normalize_text

__all__ = ["ProviderIndex", "ProviderLike", "host_of", "normalize_text", "registered_domain"]


class ProviderLike(Protocol):
    """What the index reads: a ``Provider`` row, ``ProviderCreate`` or ``ProviderPublic`` (and
    their ``platforms`` where they have them)."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> list[str]: ...
    @property
    def domains(self) -> list[str]: ...


P = TypeVar("P", bound=ProviderLike)

#: Score bands, so that the order of results is the order of scores:
#: exact key 100; prefix of a key 86-99; fuzzy at most 85.
EXACT = 100.0
_PREFIX_FLOOR, _PREFIX_SPAN = 86.0, 13.0
_FUZZY_WEIGHT = 0.85
#: WRatio below this is noise; queries shorter than this many characters are not fuzzed.
FUZZY_CUTOFF = 75.0
MIN_FUZZY_QUERY = 3
_PREFILTER_CUTOFF = 40.0


def _compact(value: str) -> str:
    return normalize_text(value).replace(" ", "")


@cache
def _extractor() -> tldextract.TLDExtract:
    # Made once, on first use: the bundled suffix list, no download, no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def host_of(value: str) -> str | None:
    """The host name in a domain, URL or e-mail address, lower-case and IDNA-encoded."""
    text = value.strip()
    if not text:
        return None
    if "://" not in text and "@" in text:
        text = text.rsplit("@", 1)[1]
    try:
        host = urlsplit(text if "://" in text else "//" + text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    try:
        return host.encode("idna").decode("ascii") if host else None
    except UnicodeError:
        return None


def registered_domain(host: str) -> str | None:
    """The domain directly under its public suffix (``mail.google.co.uk`` -> ``google.co.uk``)."""
    result = _extractor()(host)
    top = getattr(result, "top_domain_under_public_suffix", None)
    if top is None:  # tldextract < 5.3
        top = result.registered_domain
    return top or None


def _owners(held: int | tuple[int, ...]) -> tuple[int, ...]:
    return (held,) if isinstance(held, int) else held


class ProviderIndex(Generic[P]):
    """Lookup tables over a fixed list of providers. Build a new one when the list changes.

    ``conflicts`` lists keys (domain or platform name) claimed by more than one provider as
    ``(key, kept_slug, ignored_slug)``; the first provider in the input wins.
    """

    def __init__(self, providers: Iterable[P]) -> None:
        self.providers: tuple[P, ...] = tuple(providers)
        self._domains: dict[str, int] = {}
        self._platforms: dict[str, int] = {}
        self.conflicts: list[tuple[str, str, str]] = []
        exact: dict[str, set[int]] = {}
        choices: list[str] = []
        owners: list[int] = []

        for i, p in enumerate(self.providers):
            keys: set[str] = set()
            words: set[str] = set()
            platforms = getattr(p, "platforms", None) or ()
            for name in (p.slug, p.name, *p.aliases, *platforms):
                word = normalize_text(name)
                key = word.replace(" ", "")
                if key:
                    self._claim(self._platforms, key, i)
                    keys.add(key)
                    words.add(word)
            for domain in p.domains:
                d = domain.lower().rstrip(".")
                self._claim(self._domains, d, i)
                keys.add(_compact(d))
                label = normalize_text(_extractor()(d).domain)
                if label:
                    keys.add(label.replace(" ", ""))
                    words.add(label)
            for key in keys:
                exact.setdefault(key, set()).add(i)
            for word in words:
                if len(word.replace(" ", "")) >= MIN_FUZZY_QUERY:
                    choices.append(word)
                    owners.append(i)

        # Most keys have one owner: its position alone (a tuple per key cost 4 MB at 10,000
        # providers); several owners keep a tuple.
        self._exact: dict[str, int | tuple[int, ...]] = {
            k: next(iter(v)) if len(v) == 1 else tuple(sorted(v)) for k, v in exact.items()
        }
        self._sorted_keys = sorted(self._exact)
        self._choices: Sequence[str] = choices
        self._owners: Sequence[int] = owners

    def _claim(self, table: dict[str, int], key: str, i: int) -> None:
        held = table.setdefault(key, i)
        if held != i:
            self.conflicts.append((key, self.providers[held].slug, self.providers[i].slug))

    def __len__(self) -> int:
        return len(self.providers)

    def by_domain(self, host_or_domain: str) -> P | None:
        """The provider serving a domain, host, URL or e-mail address, or None.

        The host and each parent down to its registered domain are tried, most specific first,
        so ``mail.google.com`` finds ``google.com`` and ``user.github.io`` finds ``github.io``.
        """
        i = self._domain_position(host_or_domain)
        return None if i is None else self.providers[i]

    def _domain_position(self, host_or_domain: str) -> int | None:
        host = host_of(host_or_domain)
        if host is None:
            return None
        top = registered_domain(host)
        if top is None:  # no public suffix (intranet name, IP address): exact host only
            return self._domains.get(host)
        candidate = host
        while True:
            i = self._domains.get(candidate)
            if i is not None or candidate == top or "." not in candidate:
                return i
            candidate = candidate.split(".", 1)[1]

    def by_platform(self, name: str) -> P | None:
        """The provider behind a platform named in an account identifier, or None.

        Accepts a slug, the provider's name, an alias (``instagram``, ``IG``, ``Gmail``) or a
        domain (``instagram.com``); no guessing: a typo returns None (use ``search``).
        """
        key = _compact(name)
        if key in self._platforms:
            return self.providers[self._platforms[key]]
        if "." in name:
            return self.by_domain(name)
        return None

    def search(self, q: str, limit: int = 10) -> list[tuple[P, float]]:
        """Providers matching free text, best first, each with a score from 0 to 100.

        Case- and accent-insensitive; looks at slug, name, aliases and domains. An exact
        match scores 100 and a prefix match 86-99, above any typo-tolerant (fuzzy) match.
        """
        if limit <= 0:
            return []
        words = normalize_text(q)
        key = words.replace(" ", "")
        if not key:
            return []
        best: dict[int, float] = {}

        def offer(i: int, score: float) -> None:
            if score > best.get(i, -1.0):
                best[i] = score

        for i in _owners(self._exact.get(key, ())):
            offer(i, EXACT)
        at = self._domain_position(q) if ("." in q or "@" in q) else None
        if at is not None:
            offer(at, EXACT)

        pos = bisect_left(self._sorted_keys, key)
        while pos < len(self._sorted_keys) and self._sorted_keys[pos].startswith(key):
            candidate = self._sorted_keys[pos]
            if candidate != key:
                score = _PREFIX_FLOOR + _PREFIX_SPAN * len(key) / len(candidate)
                for i in _owners(self._exact[candidate]):
                    offer(i, score)
            pos += 1

        # A domain, URL or address that names a provider needs no guessing. Otherwise: a
        # cheap Indel ratio over every choice picks candidates, WRatio scores only those.
        if at is None and len(key) >= MIN_FUZZY_QUERY and self._choices:
            candidates = process.extract(
                words,
                self._choices,
                scorer=fuzz.ratio,
                processor=None,
                limit=max(100, limit * 10),
                score_cutoff=_PREFILTER_CUTOFF,
            )
            for choice, _ratio, j in candidates:
                score = fuzz.WRatio(words, choice, processor=None)
                if score >= FUZZY_CUTOFF:
                    offer(self._owners[j], round(score * _FUZZY_WEIGHT, 1))

        ranked = sorted(best.items(), key=lambda item: (-item[1], self.providers[item[0]].slug))
        return [(self.providers[i], round(score, 1)) for i, score in ranked[:limit]]
