"""Directory use cases: list and search, read, create, update, delete providers and points of
contact; the demo load at start; the staleness report. (The look-up from an identifier is in
``directory_lookup``, import and export in ``directory_io``.)

Writers run inside the caller's transaction (``async with db.write() as session``) and bump the
directory version in it, so every node rebuilds its snapshot (``DirectoryCache``) on its next
read. Readers search the node's snapshot; single rows are read from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from contacts.models import Contact, ContactCreate, ContactPublic, ContactUpdate, contact_public
from contacts.validation import is_stale
from preservation.directory.changes import (
    SYSTEM,
    Author,
    contact_state,
    provider_state,
    record_change,
)
from preservation.directory.snapshot import DirectoryCache, bump_version
from preservation.errors import Conflict, FieldError, InvalidInput, NotFound
from providers.models import (
    Provider,
    ProviderCreate,
    ProviderPublic,
    ProviderUpdate,
    legacy_columns,
    provider_public,
    staleness,
)

__all__ = [
    "ContactList",
    "DemoLoad",
    "ProviderList",
    "StaleEntry",
    "create_contact",
    "create_provider",
    "delete_contact",
    "delete_provider",
    "get_contact",
    "get_provider",
    "list_contacts",
    "list_providers",
    "load_demo_if_empty",
    "stale_entries",
    "update_contact",
    "update_provider",
    "validated",
]

#: Most rows a list or search answer carries.
MAX_ITEMS = 500
#: The largest id a contact can have on both engines (PostgreSQL ``integer``).
_MAX_ID = 2**31 - 1

M = TypeVar("M", bound=BaseModel)


class ContactList(BaseModel):
    items: list[ContactPublic]
    #: The cursor of the next page (`?cursor=`); null on the last page (directory/listing.py).
    next: str | None = None


class ProviderList(BaseModel):
    items: list[ProviderPublic]
    #: The cursor of the next page (`?cursor=`); null on the last page (directory/listing.py).
    next: str | None = None


@dataclass(frozen=True, kw_only=True)
class DemoLoad:
    providers: int
    contacts: int


@dataclass(frozen=True, kw_only=True)
class StaleEntry:
    kind: Literal["provider", "contact"]
    #: The provider's slug, or the contact's id as text.
    key: str
    #: Provider name, or "<country> <authority>" for a contact.
    name: str
    verified_on: date | None


# --- validation -----------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "body"


def validated(model: type[M], data: Any, *, prefix: str = "") -> M:
    """``model.model_validate(data)``, a failure raised as ``InvalidInput`` naming each field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            name = _loc(tuple(err["loc"]))
            if prefix:
                name = f"{prefix}.{name}" if name != "body" else prefix
            message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
            errors.append(FieldError(field=name, message=message))
        raise InvalidInput(errors=errors) from None


# --- reading --------------------------------------------------------------------------------


async def list_contacts(
    session: AsyncSession,
    cache: DirectoryCache,
    *,
    country: str | None,
    q: str | None,
    today: date,
    max_age_days: int,
    limit: int = MAX_ITEMS,
) -> ContactList:
    """Points of contact of a country and/or matching free text, best match first."""
    snap = await cache.snapshot(session)
    try:
        found = snap.contacts.search(q, country=country, limit=limit)
    except ValueError as exc:
        raise InvalidInput("country", str(exc)) from None
    return ContactList(
        items=[contact_public(c, today=today, max_age_days=max_age_days) for c, _ in found]
    )


async def list_providers(
    session: AsyncSession,
    cache: DirectoryCache,
    *,
    q: str | None,
    today: date,
    max_age_days: int,
    limit: int = MAX_ITEMS,
) -> ProviderList:
    """Providers matching free text (best match first), or all of them by slug."""
    snap = await cache.snapshot(session)
    if q and q.strip():
        rows = [p for p, _ in snap.providers.search(q, limit=limit)]
    else:
        rows = list(snap.providers.providers[:limit])
    return ProviderList(
        items=[provider_public(p, today=today, max_age_days=max_age_days) for p in rows]
    )


async def _contact_row(session: AsyncSession, contact_id: int) -> Contact:
    row = await session.get(Contact, contact_id) if 0 < contact_id <= _MAX_ID else None
    if row is None:
        raise NotFound(f"no point of contact {contact_id}")
    return row


async def _provider_row(session: AsyncSession, slug: str) -> Provider:
    row = await session.get(Provider, slug) if len(slug) <= 64 else None
    if row is None:
        raise NotFound(f"no provider {slug!r}")
    return row


async def get_contact(
    session: AsyncSession, contact_id: int, *, today: date, max_age_days: int
) -> ContactPublic:
    return contact_public(
        await _contact_row(session, contact_id), today=today, max_age_days=max_age_days
    )


async def get_provider(
    session: AsyncSession, slug: str, *, today: date, max_age_days: int
) -> ProviderPublic:
    return provider_public(
        await _provider_row(session, slug), today=today, max_age_days=max_age_days
    )


# --- writing (inside the caller's transaction) ------------------------------------------------


async def _check_contact_key(
    session: AsyncSession, data: ContactCreate, *, own_id: int | None
) -> None:
    clash = (
        await session.execute(
            select(Contact.id).where(
                Contact.country == data.country, Contact.authority == data.authority
            )
        )
    ).scalar()
    if clash is not None and clash != own_id:
        raise Conflict(
            f"point of contact {clash} already has country {data.country} and this authority",
            errors=[
                FieldError(
                    field="authority", message=f"already used by contact {clash} in {data.country}"
                )
            ],
        )


async def domain_owners(session: AsyncSession) -> dict[str, str]:
    """Every domain in the directory -> the slug of the provider that lists it."""
    owners: dict[str, str] = {}
    for slug, domains in (await session.execute(select(Provider.slug, Provider.domains))).all():
        for d in domains or ():
            owners.setdefault(d, slug)
    return owners


async def domain_holders(session: AsyncSession, domains: list[str]) -> dict[str, str]:
    """Which providers list any of `domains` (domain -> slug). The JSON lists are searched by
    the database (json_each / json_array_elements_text): reading every provider's domains into
    Python took 150 ms of the event loop per change in a directory of 10,000."""
    if not domains:
        return {}
    if session.bind.dialect.name == "postgresql":
        sql = (
            "SELECT p.slug, d.value FROM provider AS p,"
            " json_array_elements_text(p.domains) AS d(value) WHERE d.value IN :domains"
            " ORDER BY p.slug"
        )
    else:
        sql = (
            "SELECT p.slug, d.value FROM provider AS p, json_each(p.domains) AS d"
            " WHERE d.value IN :domains ORDER BY p.slug"
        )
    statement = text(sql).bindparams(bindparam("domains", expanding=True))
    owners: dict[str, str] = {}
    for slug, domain in await session.execute(statement, {"domains": list(domains)}):
        owners.setdefault(domain, slug)
    return owners


async def _check_domains(session: AsyncSession, data: ProviderCreate) -> None:
    owners = await domain_holders(session, list(data.domains))
    taken = [(d, owners[d]) for d in data.domains if owners.get(d, data.slug) != data.slug]
    if taken:
        listed = ", ".join(f"{d} ({slug})" for d, slug in taken)
        raise Conflict(
            f"domains already listed by another provider: {listed}",
            errors=[
                FieldError(field="domains", message=f"already listed by another provider: {listed}")
            ],
        )


async def create_contact(session: AsyncSession, data: ContactCreate, *, by: Author) -> Contact:
    """Add a point of contact; 409 when its (country, authority) exists."""
    await _check_contact_key(session, data, own_id=None)
    row = Contact.model_validate(data.model_dump())
    session.add(row)
    await session.flush()
    await bump_version(session)
    await record_change(
        session,
        by=by,
        entity="contact",
        key=str(row.id),
        action="create",
        before=None,
        after=contact_state(row),
    )
    return row


async def update_contact(
    session: AsyncSession, contact_id: int, change: ContactUpdate, *, by: Author
) -> Contact:
    """Change the fields set in ``change`` (the others keep their value); the result is
    validated as a whole."""
    row = await _contact_row(session, contact_id)
    before = contact_state(row)
    merged = {**row.model_dump(exclude={"id"}), **change.model_dump(exclude_unset=True)}
    data = validated(ContactCreate, merged)
    await _check_contact_key(session, data, own_id=row.id)
    for key, value in data.model_dump().items():
        setattr(row, key, value)
    await session.flush()
    await bump_version(session)
    after = contact_state(row)
    if after != before:
        await record_change(
            session,
            by=by,
            entity="contact",
            key=str(row.id),
            action="update",
            before=before,
            after=after,
        )
    return row


async def delete_contact(session: AsyncSession, contact_id: int, *, by: Author) -> None:
    row = await _contact_row(session, contact_id)
    before = contact_state(row)
    await session.delete(row)
    await session.flush()
    await bump_version(session)
    await record_change(
        session,
        by=by,
        entity="contact",
        key=str(contact_id),
        action="delete",
        before=before,
        after=None,
    )


async def create_provider(session: AsyncSession, data: ProviderCreate, *, by: Author) -> Provider:
    """Add a provider; 409 when the slug exists or a domain is another provider's."""
    if await session.get(Provider, data.slug) is not None:
        raise Conflict(
            f"provider {data.slug!r} exists",
            errors=[FieldError(field="slug", message=f"provider {data.slug!r} exists")],
        )
    await _check_domains(session, data)
    row = Provider.model_validate(data.model_dump())
    session.add(row)
    await session.flush()
    await bump_version(session)
    await record_change(
        session,
        by=by,
        entity="provider",
        key=row.slug,
        action="create",
        before=None,
        after=provider_state(row),
    )
    return row


async def update_provider(
    session: AsyncSession, slug: str, change: ProviderUpdate, *, by: Author
) -> Provider:
    """Change the fields set in ``change`` (the others keep their value); the result is
    validated as a whole."""
    row = await _provider_row(session, slug)
    before = provider_state(row)
    changed = change.model_dump(exclude_unset=True)
    merged = {**before, **changed, "slug": row.slug}
    if "entity_by_region" in changed and "entities" not in changed:
        merged["entities"] = []  # an older client's change: entities follow it
    data = validated(ProviderCreate, merged)
    await _check_domains(session, data)
    for key, value in data.model_dump().items():
        setattr(row, key, value)
    await session.flush()
    await bump_version(session)
    after = provider_state(row)
    if after != before:
        await record_change(
            session,
            by=by,
            entity="provider",
            key=row.slug,
            action="update",
            before=before,
            after=after,
        )
    return row


async def delete_provider(session: AsyncSession, slug: str, *, by: Author) -> None:
    row = await _provider_row(session, slug)
    before = provider_state(row)
    await session.delete(row)
    await session.flush()
    await bump_version(session)
    await record_change(
        session,
        by=by,
        entity="provider",
        key=slug,
        action="delete",
        before=before,
        after=None,
    )


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT (both have ``on_conflict_do_nothing``)."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def load_demo_if_empty(session: AsyncSession, *, now: datetime) -> DemoLoad:
    """Load the seed providers and the fictional demo contacts when the directory has neither
    a provider nor a contact; otherwise change nothing.

    Safe when several nodes start together: rows go in with ``ON CONFLICT DO NOTHING`` on their
    unique keys (provider slug; contact country and authority), so a second node adds nothing.
    """
    from contacts.seed import load_seed as load_contacts
    from providers.seed import load_seed as load_providers

    count = (await session.execute(select(func.count()).select_from(Provider))).scalar_one()
    count += (await session.execute(select(func.count()).select_from(Contact))).scalar_one()
    if count:
        return DemoLoad(providers=0, contacts=0)
    insert = insert_for(session)
    providers = [legacy_columns(p.model_dump()) for p in load_providers()]
    contacts = [c.model_dump() for c in load_contacts()]
    added_p = (
        await session.execute(insert(Provider).values(providers).on_conflict_do_nothing())
    ).rowcount
    added_c = (
        await session.execute(insert(Contact).values(contacts).on_conflict_do_nothing())
    ).rowcount
    if added_p or added_c:
        await bump_version(session)
        await record_change(
            session,
            by=Author(actor=SYSTEM, unit="", at=now),
            entity="directory",
            key="seed",
            action="load",
            before=None,
            after={"providers": max(added_p, 0), "contacts": max(added_c, 0)},
        )
    return DemoLoad(providers=max(added_p, 0), contacts=max(added_c, 0))


async def stale_entries(session: AsyncSession, today: date, max_age_days: int) -> list[StaleEntry]:
    """Every provider and point of contact never verified, or verified more than
    ``max_age_days`` before ``today``: providers by slug, then contacts by country and authority.
    For the weekly staleness report (read-only)."""
    out: list[StaleEntry] = []
    providers = await session.execute(
        select(Provider.slug, Provider.name, Provider.verified_on, Provider.source).order_by(
            Provider.slug
        )
    )
    for slug, name, verified_on, source in providers.all():
        # By the reading date, and by the date of the document read.
        if staleness(verified_on, source, today=today, max_age_days=max_age_days):
            out.append(StaleEntry(kind="provider", key=slug, name=name, verified_on=verified_on))
    contacts = await session.execute(
        select(Contact.id, Contact.country, Contact.authority, Contact.verified_on).order_by(
            Contact.country, Contact.authority
        )
    )
    for cid, country, authority, verified_on in contacts.all():
        if is_stale(verified_on, today, max_age_days):
            out.append(
                StaleEntry(
                    kind="contact",
                    key=str(cid),
                    name=f"{country} {authority}",
                    verified_on=verified_on,
                )
            )
    return out
