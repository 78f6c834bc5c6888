"""A history of preservation requests for bench_history.py, written with bulk Core inserts.

The unit "main" holds 70 % of the requests; nine other units share the rest. Requests arrive at
a steady RATE_PER_DAY (all units together), so a larger history is a longer one, as in a real
unit: the last ~100 days hold the open preservations (sent, preserved, extension requested, MLA
sent, some held until the MLA decision), older requests are closed or lapsed (and 2 % of all are
drafts never submitted). Each request has its identifiers (1-3), audit events (2-5), an outbox
row once submitted, and its reminder rows as the plan makes them: delivered in the past, pending
in the future, cancelled where the request closed early.

Rows are built in Python and inserted with executemany through SQLAlchemy Core (SQLite and
PostgreSQL alike), in chunks, with explicit ids in the order of creation (oldest first), into a freshly migrated
database: `build(url, total)`. Hashes and routes are plausible, not verifiable: `audit verify`
is not part of the benchmark."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from preservation.storage.models import (
    AuditEvent,
    OutboxMessage,
    PreservationRequest,
    Reminder,
    RequestIdentifier,
    Unit,
    User,
)

UNITS = 10
MAIN_SHARE = 0.7
RATE_PER_DAY = 40
OFFSETS = (30, 14, 7, 3, 1)
PROVIDERS = ("benchmail", "google", "meta", "microsoft", "telegram", "tiktok", "apple", "x")
CHUNK = 2000


def _defaults(model: Any) -> dict[str, Any]:
    """Every column's model default (new columns of other revisions included)."""
    out: dict[str, Any] = {}
    for column in model.__table__.columns:
        f = model.model_fields.get(column.name)
        if f is None or column.primary_key:
            continue
        value = f.get_default(call_default_factory=True)
        out[column.name] = value
    return out


def _hash(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _plan_rows(
    *,
    rid: int,
    unit_id: int,
    sent: datetime,
    expires: datetime | None,
    status: str,
    mla_sent: datetime | None,
    now: datetime,
    closed_at: datetime | None,
    preserved: bool,
) -> Iterator[dict[str, Any]]:
    """The reminder rows the plan would have made for such a request by `now`."""

    def row(kind: str, due: datetime, *, cancelled: bool = False) -> dict[str, Any]:
        done = due <= now and not cancelled
        return {
            "unit_id": unit_id,
            "request_id": rid,
            "kind": kind,
            "key": f"{rid}:{kind}:{due:%Y%m%dT%H%M%SZ}",
            "due_at": due,
            "status": "cancelled" if cancelled else ("delivered" if done else "pending"),
            "attempts": 1 if done else 0,
            "next_attempt_at": due,
            "late": False,
            "payload": None,
            "last_error": "",
            "created_at": sent,
            "delivered_at": due if done else None,
        }

    end = closed_at or now
    ack = sent + timedelta(hours=48)
    if not preserved or ack <= end:
        yield row("ack_missing", ack, cancelled=preserved and ack > end)
    if expires is not None:
        for n in OFFSETS:
            due = expires - timedelta(days=n)
            yield row(f"expiry_minus_{n}d", due, cancelled=closed_at is not None and due > end)
        yield row("expiry", expires, cancelled=closed_at is not None and expires > end)
        if status == "lapsed":
            yield {**row("alert_lapsed", expires), "key": f"{rid}:alert_lapsed"}
    if mla_sent is not None and expires is None:
        for k in (1, 2, 3):
            yield row("mla_followup", mla_sent + timedelta(days=30 * k))


def _request(i: int, *, now: datetime, rng: random.Random, units: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    """The facts of request i (0 is the newest): created i / RATE_PER_DAY days ago."""
    created = now - timedelta(days=i / RATE_PER_DAY, seconds=rng.randint(0, 3000))
    age = (now - created).days
    unit_id, user_id = units[0] if rng.random() < MAIN_SHARE else rng.choice(units[1:])
    provider = rng.choice(PROVIDERS)
    draw = rng.random()
    sent = created + timedelta(minutes=2)
    expires: datetime | None = sent + timedelta(days=90)
    mla_sent = None
    closed_at = None
    preserved = True
    outcome = ""
    held = False
    extensions: list[dict[str, str]] = []
    if draw < 0.02:
        status = "draft"
    elif age < 1 and draw < 0.04:
        status = "queued"
    elif age < 3 and draw < 0.3:
        status, preserved = "sent", False
    elif age < 88:
        status = (
            "preserved" if draw < 0.78 else "mla_sent" if draw < 0.92 else "extension_requested"
        )
        if status == "mla_sent":
            mla_sent = sent + timedelta(days=min(age, 20))
            if draw < 0.85:  # a regime that holds the data until the decision
                expires, held = None, True
    elif age < 175 and draw < 0.5:
        status = "preserved"
        expires = sent + timedelta(days=180)
        extensions = [
            {
                "requested_at": (sent + timedelta(days=80)).isoformat(),
                "granted_at": (sent + timedelta(days=82)).isoformat(),
            }
        ]
    elif draw < 0.8:
        status, outcome = "closed", rng.choice(("produced", "refused", "withdrawn", "not_found"))
        closed_at = sent + timedelta(days=rng.randint(20, 85))
    else:
        status = "lapsed"
    if status in ("draft", "queued"):
        sent = None  # type: ignore[assignment]
        expires = None
        preserved = False
    return {
        "created": created,
        "unit_id": unit_id,
        "user_id": user_id,
        "provider": provider,
        "status": status,
        "sent": sent,
        "expires": expires,
        "mla_sent": mla_sent,
        "closed_at": closed_at,
        "preserved": preserved,
        "outcome": outcome,
        "held": held,
        "extensions": extensions,
    }


async def _ensure_units(conn: AsyncConnection, now: datetime) -> list[tuple[int, int]]:
    units = []
    for n in range(UNITS):
        name = "main" if n == 0 else f"unit-{n + 1}"
        uid = (await conn.execute(select(Unit.id).where(Unit.name == name))).scalar()
        if uid is None:
            values = {**_defaults(Unit), "name": name, "created_at": now}
            values.update(
                authority=f"Cybercrime Unit {name}",
                email=f"cyber@{name}.police.example",
                phone="+35722000000",
                address="1 Example Street, Nicosia",
                timezone="Europe/Berlin",
                copy_to_poc=False,
            )
            if "country" in values:
                values["country"] = "CY"
            uid = (await conn.execute(insert(Unit).values(values).returning(Unit.id))).scalar()
        user = (
            await conn.execute(select(User.id).where(User.unit_id == uid, User.name == "officer"))
        ).scalar()
        if user is None:
            values = {
                **_defaults(User),
                "unit_id": uid,
                "name": "officer",
                "role": "officer",
                "created_at": now,
            }
            user = (await conn.execute(insert(User).values(values).returning(User.id))).scalar()
        units.append((uid, user))
    return units


async def build(url: str, total: int, *, now: datetime | None = None, seed: int = 15) -> int:
    """Write `total` requests (and their rows) into an empty, migrated database; returns how
    many requests it holds then."""
    now = now or datetime.now(UTC)
    engine = create_async_engine(url)
    R = PreservationRequest
    try:
        async with engine.begin() as conn:
            units = await _ensure_units(conn, now)
            have = (await conn.execute(select(func.count()).select_from(R))).scalar_one()
            base_id = (await conn.execute(select(func.max(R.id)))).scalar() or 0
            base = {
                "identifier": (await conn.execute(select(func.max(RequestIdentifier.id)))).scalar()
                or 0,
                "event": (await conn.execute(select(func.max(AuditEvent.id)))).scalar() or 0,
                "outbox": (await conn.execute(select(func.max(OutboxMessage.id)))).scalar() or 0,
                "reminder": (await conn.execute(select(func.max(Reminder.id)))).scalar() or 0,
            }
        if have:
            raise RuntimeError("build() writes into an empty database")
        rng = random.Random(seed)
        req_defaults = _defaults(R)
        buffers: dict[str, list[dict[str, Any]]] = {
            "request": [],
            "identifier": [],
            "event": [],
            "outbox": [],
            "reminder": [],
        }
        tables = {
            "request": R.__table__,
            "identifier": RequestIdentifier.__table__,
            "event": AuditEvent.__table__,
            "outbox": OutboxMessage.__table__,
            "reminder": Reminder.__table__,
        }

        async def flush(force: bool = False) -> None:
            # Requests first: the other rows refer to them.
            for name in ("request", "identifier", "event", "outbox", "reminder"):
                rows = buffers[name]
                if rows and (force or len(buffers["request"]) >= CHUNK):
                    async with engine.begin() as conn:
                        for start in range(0, len(rows), CHUNK):
                            await conn.execute(insert(tables[name]), rows[start : start + CHUNK])
                    rows.clear()

        for n in range(total - 1, -1, -1):
            rid = base_id + total - n
            r = _request(n, now=now, rng=rng, units=units)
            created, sent, status = r["created"], r["sent"], r["status"]
            buffers["request"].append(
                {
                    **req_defaults,
                    "id": rid,
                    "reference": f"PR-{created.year}-B{rid:07d}",
                    "unit_id": r["unit_id"],
                    "created_by": r["user_id"],
                    "status": status,
                    "case_reference": f"CASE-{rid // 3:06d}",
                    "offence": "Computer fraud",
                    "summary": "Phishing campaign; the account sent the lure e-mails.",
                    "relevance": "Subscriber data and logins identify the sender.",
                    "regime": "us-2703f",
                    "country": "US",
                    "provider": r["provider"],
                    "data_categories": ["subscriber", "traffic"],
                    "created_at": created,
                    "updated_at": r["closed_at"] or sent or created,
                    "submitted_at": sent,
                    "sent_at": sent,
                    "preserved_at": sent + timedelta(hours=20) if r["preserved"] else None,
                    "provider_reference": f"LE-{rid}" if r["preserved"] else "",
                    "mla_sent_at": r["mla_sent"],
                    "mla_reference": "MLA-1" if r["mla_sent"] else "",
                    "closed_at": r["closed_at"],
                    "outcome": r["outcome"],
                    "extensions": r["extensions"],
                    "expires_at": r["expires"],
                    "expiry_rule": "us-2703f: 90 days from preservation",
                    "held_until_decision": r["held"],
                    "route": {
                        "channel": "email",
                        "to": f"le@{r['provider']}.example",
                        "copy_to": [],
                        "why": "the provider's law-enforcement address",
                    },
                    "checklist": {"complete": True, "missing": [], "items": []},
                    "warnings": [],
                    "version": 3,
                }
            )
            for k in range(1 + rid % 3):
                base["identifier"] += 1
                value = f"198.51.{rid % 250}.{k + 1}" if k == 0 else f"user{rid}.{k}@mail.example"
                buffers["identifier"].append(
                    {
                        **_defaults(RequestIdentifier),
                        "id": base["identifier"],
                        "request_id": rid,
                        "position": k,
                        "type": "ipv4" if k == 0 else "email",
                        "value": value,
                        "normalized": value,
                        "port": 51234 if k == 0 else None,
                        "tz": "Europe/Berlin",
                        "at_utc": created - timedelta(days=1) if k == 0 else None,
                        "local": {},
                        "warnings": [],
                    }
                )
            actions = ["create"]
            if sent is not None:
                actions += ["submit", "dispatch"]
            if r["preserved"]:
                actions.append("acknowledge")
            if status == "closed":
                actions.append("close")
            elif status == "lapsed":
                actions.append("lapse")
            prev = "0" * 64
            for seq, action in enumerate(actions, start=1):
                base["event"] += 1
                digest = _hash(rid, seq, action, prev)
                buffers["event"].append(
                    {
                        "id": base["event"],
                        "request_id": rid,
                        "seq": seq,
                        "at": created + timedelta(minutes=seq),
                        "actor": "officer@main",
                        "action": action,
                        "detail": {"status": status},
                        "prev_hash": prev,
                        "hash": digest,
                    }
                )
                prev = digest
            if sent is not None:
                base["outbox"] += 1
                buffers["outbox"].append(
                    {
                        **_defaults(OutboxMessage),
                        "id": base["outbox"],
                        "request_id": rid,
                        "unit_id": r["unit_id"],
                        "role": "provider",
                        "channel": "email",
                        "to": f"le@{r['provider']}.example",
                        "recipient_name": r["provider"],
                        "status": "sent",
                        "attempts": 1,
                        "next_attempt_at": sent,
                        "created_at": created,
                        "sent_at": sent,
                    }
                )
                for row in _plan_rows(
                    rid=rid,
                    unit_id=r["unit_id"],
                    sent=sent,
                    expires=r["expires"],
                    status=status,
                    mla_sent=r["mla_sent"],
                    now=now,
                    closed_at=r["closed_at"],
                    preserved=r["preserved"],
                ):
                    base["reminder"] += 1
                    buffers["reminder"].append({"id": base["reminder"], **row})
            if len(buffers["request"]) >= CHUNK:
                await flush()
        await flush(force=True)
        async with engine.begin() as conn:
            # Requests created through the API later get references of their own series.
            if engine.dialect.name == "postgresql":
                for table in (
                    "preservation_request",
                    "request_identifier",
                    "audit_event",
                    "outbox",
                    "reminder",
                ):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" (SELECT max(id) FROM {table}))"
                        )
                    )
            else:
                await conn.execute(text("ANALYZE"))
        if engine.dialect.name == "postgresql":
            # As a database in service would be: vacuumed and analysed (else autovacuum works
            # through the fresh rows while the benchmark measures).
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE"))
        return total
    finally:
        await engine.dispose()
