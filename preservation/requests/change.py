"""Changing a draft (PATCH): only the editable fields, re-assessed in the same transaction."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from preservation.access.auth import Principal
from preservation.domain.lifecycle import Status
from preservation.errors import Conflict, InvalidInput
from preservation.requests import audit
from preservation.requests.addressee import addressee_of
from preservation.requests.assessment import (
    assess,
    check_lang,
    check_provider,
    identifier_warnings,
    provider_index,
    resolve_regime,
)
from preservation.requests.identifiers import identifier_rows, parse_identifiers
from preservation.requests.schemas import (
    RequestPatch,
    RequestPublic,
)
from preservation.requests.view import load_identifiers, load_request, load_unit, to_public
from preservation.runtime.context import Context
from preservation.storage.db import Database
from preservation.storage.models import (
    RequestIdentifier,
)

#: Request fields that PATCH may set (the rest are set by transitions only).
EDITABLE = (
    "case_reference",
    "offence",
    "summary",
    "relevance",
    "necessity",
    "regime",
    "country",
    "provider",
    "data_categories",
    "urgent",
    "urgency_reason",
    "confidential",
    "mla_to_follow",
    "lang",
)


# --- checks ------------------------------------------------------------------------------------


async def patch_in_session(
    session: AsyncSession,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    change: RequestPatch,
) -> RequestPublic:
    now = ctx.clock.now()
    req = await load_request(session, principal=principal, request_id=request_id)
    if req.status != Status.DRAFT:
        raise Conflict(f"request {req.reference} is {req.status}: only drafts can be changed")
    given = change.model_dump(exclude_unset=True)
    if "lang" in given and given["lang"] is None:
        raise InvalidInput("lang", "may not be null")
    for name in ("urgent", "confidential", "mla_to_follow", "data_categories", "identifiers"):
        if name in given and given[name] is None:
            raise InvalidInput(name, "may not be null")
    if given.get("regime") is not None:
        resolve_regime(ctx, given["regime"])
    if "lang" in given:
        check_lang(given["lang"])
    provider = None
    if given.get("provider") is not None:
        provider = await check_provider(session, given["provider"])
    facts = None
    if "emergency" in given:
        # Replaced whole, and checked as on creation (422 naming each missing fact).
        from preservation.requests.emergency import check_facts

        facts = check_facts(getattr(req, "kind", "preservation"), change.emergency)
    unit = await load_unit(session, req.unit_id)
    parsed = None
    if "identifiers" in given:
        parsed = parse_identifiers(
            change.identifiers or [], ctx=ctx, now=now, region=unit.country or None
        )

    changed: list[str] = []
    if "regime" in given:
        # null hands the choice back to the service (from the route and the unit's State).
        asked = given["regime"] is not None
        if asked != req.regime_asked:
            req.regime_asked = asked
            changed.append("regime_asked")
        if not asked:
            given.pop("regime")
    for name in EDITABLE:
        if name not in given:
            continue
        value = given[name]
        if isinstance(value, str) and name not in ("country", "provider"):
            value = value.strip()
        if name in (
            "case_reference",
            "offence",
            "summary",
            "relevance",
            "necessity",
            "urgency_reason",
        ):
            value = value or ""
        if getattr(req, name) != value:
            setattr(req, name, value)
            changed.append(name)
    if facts is not None and facts != req.emergency:
        req.emergency = facts
        changed.append("emergency")
    assert req.id is not None
    if parsed is not None:
        await session.execute(
            delete(RequestIdentifier).where(RequestIdentifier.request_id == req.id)
        )
        rows = identifier_rows(req.id, parsed)
        session.add_all(rows)
        changed.append("identifiers")
    else:
        rows = await load_identifiers(session, req.id)
    named: tuple[str, ...] = ()
    if not req.provider and not req.country and rows:
        # Neither a provider nor a State named: the identifiers' own, as on creation
        # (requests/addressee.py).
        inferred = addressee_of(await provider_index(session, ctx), rows)
        named = inferred.warnings
        for name in ("provider", "country"):
            value = getattr(inferred, name)
            if value is not None:
                setattr(req, name, value)
                changed.append(name)
    await assess(
        session,
        req,
        parsed_warnings=[*named, *identifier_warnings(rows)],
        identifiers=len(rows),
        unit=unit,
        ctx=ctx,
    )
    req.updated_at = now
    req.version += 1
    await audit.record(
        session,
        request_id=req.id,
        actor=principal.actor,
        action="update",
        now=now,
        detail={"fields": changed},
    )
    await session.flush()
    del provider  # kept until here on purpose (see check_provider)
    return await to_public(session, req, unit_name=unit.name, identifiers=rows, regimes=ctx.regimes)


async def patch_request(
    db: Database,
    *,
    ctx: Context,
    principal: Principal,
    request_id: int | str,
    change: RequestPatch,
) -> RequestPublic:
    """PATCH /api/v1/requests/{id}: drafts only (409 naming the state otherwise)."""
    async with db.write() as session:
        return await patch_in_session(
            session, ctx=ctx, principal=principal, request_id=request_id, change=change
        )
