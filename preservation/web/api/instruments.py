"""The legal instruments a letter can rest on (config/regimes.toml, with config/parties.toml)."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import BaseModel

from preservation.settings import load_treaties
from preservation.web.api.requests import context_of
from preservation.web.endpoints import Api, Call
from preservation.web.keys import SETTINGS

api = Api()


class InstrumentItem(BaseModel):
    key: str
    title: str
    #: The provision a letter under it cites as its legal basis.
    citation: str
    #: Who receives a request under it: poc | provider | eu-system | any.
    channel: str
    in_force: bool
    #: The date the list of Parties on file is current to (treaties only).
    parties_as_of: date | None
    #: True when that list is known to be complete (otherwise a State named nowhere is "not
    #: known", never assumed to be a Party).
    parties_complete: bool | None
    #: Only units of these States may use it (empty: any).
    requesting_countries: list[str]
    #: A template the operator copies and adapts before use.
    template: bool
    sources: list[str]


class InstrumentList(BaseModel):
    items: list[InstrumentItem]


@api.route(
    "GET",
    "/api/v1/instruments",
    summary="List the legal instruments, their citations and channels",
    tag="requests",
    response=InstrumentList,
    errors=(401,),
)
async def instruments(call: Call) -> web.Response:
    settings = call.request.app[SETTINGS]
    regimes = context_of(call.request).regimes
    treaties = load_treaties(settings.parties_path)
    items = []
    for key, r in regimes.items():
        treaty = treaties.get(r.parties) if r.parties else None
        items.append(
            InstrumentItem(
                key=key,
                title=r.name,
                citation=r.basis,
                channel=r.channel.value,
                in_force=r.in_force,
                parties_as_of=treaty.as_of if treaty else None,
                parties_complete=treaty.complete if treaty else None,
                requesting_countries=list(r.requesting_countries),
                template=r.template,
                sources=list(r.sources),
            )
        )
    return web.json_response(InstrumentList(items=items).model_dump(mode="json"))
