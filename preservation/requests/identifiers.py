"""A request's identifiers: parsed from the input (times resolved in their zones), and their
rows and stored values.

The use cases of a request live beside this module: create, submit, change, view, listing,
assessment, checklist, actions.

Each use case is one transaction. The `*_in_session` functions do the work inside a transaction
the caller owns (the idempotency layer wraps them to store its record in the same transaction);
the plain functions open it, and wake the scheduler after a commit that queued messages.

Unit isolation: every read goes through `load_request`, which looks a request up by id AND the
caller's unit; another unit's request is NotFound, never Forbidden (its existence is not told)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from preservation.errors import FieldError, InvalidInput
from preservation.requests.schemas import (
    IdentifierIn,
)
from preservation.runtime.context import Context
from preservation.storage.models import (
    RequestIdentifier,
)


def local_public(instant: Any) -> dict[str, Any]:
    return dict(instant.as_public())


def parse_identifiers(
    items: Sequence[IdentifierIn],
    *,
    ctx: Context,
    now: datetime,
    field: str = "identifiers",
    region: str | None = None,
) -> list[Any]:
    """Check every identifier; one InvalidInput naming every invalid field of every identifier.
    `region` (the unit's country) reads national phone numbers as that country's."""
    if len(items) > ctx.settings.max_identifiers:
        raise InvalidInput(field, f"at most {ctx.settings.max_identifiers} identifiers per request")
    # Imported here: the identifiers module is a pure leaf, loaded on first use.
    from preservation.domain.identifier_input import check_identifier

    parsed: list[Any] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        try:
            parsed.append(check_identifier(item.raw(), index=index, now=now, region=region))
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors=errors)
    return parsed


def identifier_values(request_id: int | None, parsed: Sequence[Any]) -> list[dict[str, Any]]:
    """Column values of the identifier rows of a request (for a plain INSERT)."""
    rows = []
    for position, p in enumerate(parsed):
        instants = {"at": p.at, "from": p.from_, "to": p.to}
        rows.append(
            {
                "request_id": request_id,
                "position": position,
                "type": str(p.type),
                "value": p.value,
                "normalized": p.normalized,
                "platform": p.platform,
                "port": p.port,
                "tz": p.tz,
                "at_utc": p.at.utc if p.at else None,
                "from_utc": p.from_.utc if p.from_ else None,
                "to_utc": p.to.utc if p.to else None,
                "local": {k: local_public(v) for k, v in instants.items() if v is not None},
                # Notes (e.g. "https:// was added") are kept with the warnings: the officer
                # should see how the value was completed before the provider does.
                "warnings": [*p.warnings, *p.notes],
            }
        )
    return rows


def identifier_rows(request_id: int, parsed: Sequence[Any]) -> list[RequestIdentifier]:
    return [RequestIdentifier(**values) for values in identifier_values(request_id, parsed)]
