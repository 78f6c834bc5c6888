"""The directory's lists a page at a time: GET /api/v1/providers and /api/v1/contacts.

The lists are read from this node's snapshot (no query). The whole list of providers is in slug
order, and its cursor is the last slug shown (keyset: a provider added meanwhile is neither
skipped nor repeated). A search, or the contacts of a country, is ranked by how well each entry
matches: its cursor is the position reached in that ranking, which is stable for a given
directory (a change to the directory between two pages may shift it by the entries changed).
`next` is null on the last page: nothing is cut silently."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import contact_public
from preservation.directory.service import ContactList, ProviderList
from preservation.directory.snapshot import DirectoryCache, Snapshot
from preservation.domain import paging
from preservation.errors import InvalidInput
from providers.models import Provider, provider_public

#: Default and largest page.
PAGE = 500
MAX_PAGE = 500


_sorted: tuple[int, int, list[Provider]] | None = None


def _by_slug(snap: Snapshot) -> list[Provider]:
    """The snapshot's providers in slug order (Python's, which the cursor compares with), made
    once per snapshot."""
    global _sorted
    if _sorted is None or _sorted[:2] != (snap.version, id(snap.providers)):
        _sorted = (
            snap.version,
            id(snap.providers),
            sorted(snap.providers.providers, key=lambda p: p.slug),
        )
    return _sorted[2]


async def providers_page(
    session: AsyncSession,
    cache: DirectoryCache,
    *,
    q: str | None,
    today: date,
    max_age_days: int,
    limit: int = PAGE,
    cursor: str | None = None,
) -> ProviderList:
    """Providers matching free text (best match first), or all of them by slug; a page."""
    snap = await cache.snapshot(session)
    q = q.strip() if q else None
    filters = paging.fingerprint("providers", q)
    if q:
        key = paging.decode(cursor, name="providers.search", filters=filters, types=(int,))
        start = key[0] if key else 0
        found = [p for p, _ in snap.providers.search(q, limit=start + limit + 1)]
        rows = found[start : start + limit]
        more = len(found) > start + limit
        next_key = (start + limit,)
        name = "providers.search"
    else:
        key = paging.decode(cursor, name="providers", filters=filters, types=(str,))
        ordered = _by_slug(snap)
        if key is not None:
            ordered = [p for p in ordered if p.slug > key[0]]
        rows = ordered[:limit]
        more = len(ordered) > limit
        next_key = (rows[-1].slug,) if rows else ("",)
        name = "providers"
    return ProviderList(
        items=[provider_public(p, today=today, max_age_days=max_age_days) for p in rows],
        next=paging.encode(name, filters, next_key) if more else None,
    )


async def contacts_page(
    session: AsyncSession,
    cache: DirectoryCache,
    *,
    country: str | None,
    q: str | None,
    today: date,
    max_age_days: int,
    limit: int = PAGE,
    cursor: str | None = None,
) -> ContactList:
    """Points of contact of a country and/or matching free text, best match first; a page."""
    snap = await cache.snapshot(session)
    filters = paging.fingerprint("contacts", country, q)
    key = paging.decode(cursor, name="contacts", filters=filters, types=(int,))
    start = key[0] if key else 0
    try:
        found = snap.contacts.search(q, country=country, limit=start + limit + 1)
    except ValueError as exc:
        raise InvalidInput("country", str(exc)) from None
    rows = found[start : start + limit]
    more = len(found) > start + limit
    return ContactList(
        items=[contact_public(c, today=today, max_age_days=max_age_days) for c, _ in rows],
        next=paging.encode("contacts", filters, (start + limit,)) if more else None,
    )
