"""Identifiers from pasted text: POST /api/v1/identifiers/extract reads log lines, a provider's
return or a chat export and answers what it found, line by line, for the officer to tick
(domain/extract.py). Nothing is stored."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from preservation.access.auth import REQUEST_ROLES
from preservation.access.units import get_unit
from preservation.domain.extract import MAX_TEXT, extract
from preservation.web.api.directory import DIRECTORY
from preservation.web.endpoints import Api, Call
from preservation.web.keys import CLOCK, DB

api = Api()


class ExtractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The pasted text: log lines, a provider's return (CSV), a chat export.
    text: str = Field(max_length=MAX_TEXT)
    #: The IANA zone of the times the text gives without an offset. Left out, such times are
    #: not resolved: their items say `needs: ["tz"]` (the zone is asked, never guessed).
    tz: str | None = Field(None, min_length=1, max_length=64)


class ExtractedItem(BaseModel):
    #: An identifier type of a request (ipv4, ipv6, email, url, domain, phone, account, crypto).
    type: str
    #: As it stands in the text.
    value: str
    #: As a request stores it.
    normalized: str
    #: An account's platform; a crypto address's chain (also under `chain`).
    platform: str | None
    chain: str | None
    port: int | None
    #: The timestamp of the line, as written.
    at: str | None
    #: The same instant as local time with its offset (ISO 8601), when resolved.
    at_local: str | None
    #: The zone it was read in: the IANA zone given, or the offset the text states.
    tz: str | None
    at_utc: str | None
    #: The line the identifier came from (1-based) and its text.
    line: int
    line_text: str
    #: What the text does not say and the officer must: tz, day_first, dst, year, platform, at.
    needs: list[str]
    warnings: list[str]


class ExtractOut(BaseModel):
    items: list[ExtractedItem]


async def extract_items(request: web.Request, *, unit_id: int, text: str, tz: str | None) -> Any:
    """The items for `text` (shared with the request form's paste box): national phone numbers
    read in the unit's country, platform names from the directory."""
    app = request.app
    async with app[DB].read() as session:
        unit = await get_unit(session, unit_id)
    region = getattr(unit, "country", None)
    platforms: set[str] = set()
    cache = app.get(DIRECTORY)
    if cache is not None:
        snap = await cache.current(app[DB].read)
        for provider in snap.provider_by_slug.values():
            platforms.update(provider.platforms or ())
    now = app[CLOCK].now()
    # Regular expressions over up to MAX_TEXT characters: off the event loop.
    found = await asyncio.to_thread(
        extract, text, tz=tz, now=now, region=region, platforms=platforms
    )
    return [item.as_public() for item in found]


@api.route(
    "POST",
    "/api/v1/identifiers/extract",
    summary="Find identifiers and their instants in pasted text",
    tag="requests",
    body=ExtractIn,
    response=ExtractOut,
    roles={str(r) for r in REQUEST_ROLES},
    errors=(400, 401, 403, 422),
)
async def extract_identifiers(call: Call) -> ExtractOut:
    items = await extract_items(
        call.request, unit_id=call.principal.unit_id, text=call.body.text, tz=call.body.tz
    )
    return ExtractOut(items=[ExtractedItem(**i) for i in items])
