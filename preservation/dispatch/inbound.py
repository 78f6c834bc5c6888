"""Inbound mail: replies of providers and points of contact, handed to us by the operator's MTA.

Two doors, one use case (requests/messages.receive):
- `preservation mail receive` (cli/mail.py) reads one message on standard input, for an MTA's
  pipe (Postfix `pipe(8)`), and answers with an exit code the MTA understands (`receive_bytes`);
- an LMTP listener (RFC 2033, aiosmtpd's LMTP) that `serve` starts on inbound_host:inbound_port
  when inbound_port is set (Postfix `lmtp:` transport).

A message is taken in within one transaction and answered only after the commit: 250 (accepted:
attached, quarantined, or already stored), 451 when the database is unavailable (the MTA keeps it
and tries again), 550 when it is not an e-mail, 552 when it is larger than inbound_max_bytes.
LMTP answers once per recipient after DATA, as RFC 2033 requires (the message is stored once).
docs/operations.md shows the Postfix settings for both."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiosmtpd.lmtp import LMTP

from preservation.errors import Conflict, Unavailable
from preservation.requests import mailparse, messages
from preservation.runtime.context import Context, Runtime
from preservation.storage.db import Database

log = logging.getLogger(__name__)

#: sysexits.h: what an MTA's pipe understands.
EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75
#: Recipients accepted in one LMTP transaction (a reply goes to one or two addresses).
MAX_RECIPIENTS = 50


@dataclass(frozen=True, kw_only=True)
class Outcome:
    #: sysexits code (0, 65, 75)
    code: int
    #: attached | quarantined | duplicate | unreadable | unavailable
    state: str
    detail: str = ""
    received: messages.Received | None = None


async def receive_bytes(
    db: Database, *, ctx: Context, raw: bytes, recipients: Sequence[str] = ()
) -> Outcome:
    """Take in one message; never raises for a bad message or an unavailable database."""
    try:
        async with db.write() as session:
            received = await messages.receive(
                session, ctx=ctx, raw=raw, envelope_recipients=recipients
            )
    except mailparse.UnreadableMail as exc:
        return Outcome(code=EX_DATAERR, state="unreadable", detail=exc.detail)
    except (Unavailable, Conflict, OSError, ConnectionError) as exc:
        log.warning(
            "mail deferred: database unavailable",
            extra={"action": "mail.deferred", "error": type(exc).__name__},
        )
        return Outcome(code=EX_TEMPFAIL, state="unavailable", detail=str(exc))
    return Outcome(code=EX_OK, state=received.state, received=received)


class LmtpHandler:
    """aiosmtpd handler: every recipient is accepted; DATA is taken in once."""

    def __init__(self, db: Database, ctx: Context):
        self.db = db
        self.ctx = ctx

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            outcome = await receive_bytes(
                self.db, ctx=self.ctx, raw=raw, recipients=list(envelope.rcpt_tos)
            )
        except Exception:  # noqa: BLE001 - never lose a message to a bug: the MTA retries
            log.exception("mail intake failed", extra={"action": "mail.failed"})
            outcome = Outcome(code=EX_TEMPFAIL, state="error")
        if outcome.code == EX_OK:
            status = f"250 2.0.0 OK {outcome.state}"
        elif outcome.code == EX_DATAERR:
            status = "550 5.6.0 Not an Internet message"
        else:
            status = "451 4.3.0 Temporarily unable to take the message; try again later"
        # RFC 2033: one reply per accepted recipient, in order.
        return "\r\n".join([status] * max(len(envelope.rcpt_tos), 1))


def _lmtp_factory(handler: LmtpHandler, settings: Any) -> LMTP:
    return LMTP(
        handler,
        data_size_limit=settings.inbound_max_bytes,
        enable_SMTPUTF8=True,
        # A name given: aiosmtpd would otherwise look up this host's FQDN for every connection.
        hostname=settings.node,
        ident="preservation-dispatcher LMTP",
    )


async def start_listener(db: Database, *, ctx: Context) -> asyncio.Server:
    """The LMTP server on settings.inbound_host:inbound_port, on the running loop."""
    settings = ctx.settings
    handler = LmtpHandler(db, ctx)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _lmtp_factory(handler, settings),
        host=settings.inbound_host,
        port=settings.inbound_port,
    )
    log.info(
        "LMTP listener started",
        extra={
            "action": "mail.listen",
            "host": settings.inbound_host,
            "port": settings.inbound_port,
        },
    )
    return server


@asynccontextmanager
async def listening(runtime: Runtime) -> AsyncIterator[asyncio.Server | None]:
    """The LMTP listener for as long as the context lasts, when inbound_port is set."""
    settings = runtime.settings
    if not settings.inbound_port:
        yield None
        return
    ctx = Context(settings=settings, clock=runtime.clock, wake=runtime.scheduler.wake)
    server = await start_listener(runtime.db, ctx=ctx)
    try:
        yield server
    finally:
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=settings.shutdown_timeout_seconds)
        except TimeoutError:
            log.warning("LMTP connections still open at shutdown", extra={"action": "mail.stop"})
