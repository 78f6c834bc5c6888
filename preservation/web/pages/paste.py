"""The request form's paste box: the officer pastes log lines, a provider's return or a chat
export, the page lists the identifiers found (POST /api/v1/identifiers/extract's items) with the
line each came from, and the ticked ones become identifier rows of the form. Works without
script: "Find identifiers" and "Add the ticked identifiers" are submit buttons of the form."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from preservation.errors import InvalidInput
from preservation.web.api.identifiers import extract_items
from preservation.web.pages.forms import IdentifierRow

#: Rows shown at most (the API answers more; a page of ticks is what a person reads).
SHOWN = 200


def row_of(item: dict[str, Any]) -> dict[str, Any]:
    """The identifier row an item fills in: the instant with its offset when it was resolved
    (the request then needs no zone), else the time as written and the zone left to complete."""
    resolved = item["at_utc"] is not None
    zone = item["tz"] or ""
    return {
        "type": item["type"],
        "value": item["normalized"],
        "platform": item["platform"] or "",
        "port": "" if item["port"] is None else str(item["port"]),
        "at": (item["at_local"] if resolved else item["at"]) or "",
        # An IANA name is kept; a bare offset ("UTC+01:00") is already in at_local.
        "tz": zone if resolved and ("/" in zone or zone == "UTC") else "",
    }


async def read_paste(request: web.Request, ws: Any, data: Any) -> dict[str, Any]:
    """What the paste box shows after "Find identifiers"."""
    text = str(data.get("paste_text", ""))
    tz = str(data.get("paste_tz", "")).strip() or None
    out: dict[str, Any] = {"text": text, "tz": tz or "", "searched": True, "items": []}
    if not text.strip():
        out["error"] = "Paste some text first."
        return out
    try:
        items = await extract_items(request, unit_id=ws.principal.unit_id, text=text, tz=tz)
    except InvalidInput as exc:
        out["error"] = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.detail
        return out
    out["total"] = len(items)
    out["items"] = [
        {**item, "token": json.dumps(row_of(item), separators=(",", ":"))} for item in items[:SHOWN]
    ]
    return out


def picked_rows(tokens: list[str]) -> list[IdentifierRow]:
    """The rows of the ticked items (each checkbox carries its row as JSON)."""
    rows = []
    for token in tokens:
        try:
            row = json.loads(token)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        rows.append(
            IdentifierRow(
                type=str(row.get("type", ""))[:20],
                value=str(row.get("value", ""))[:1000],
                platform=str(row.get("platform", ""))[:100],
                port=str(row.get("port", ""))[:5],
                at=str(row.get("at", ""))[:64],
                tz=str(row.get("tz", ""))[:64],
            )
        )
    return rows
