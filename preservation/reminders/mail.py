"""Reminder e-mail: the message bytes, its stable Message-ID and idempotency key, and one SMTP
connection per delivery lane.

The Message-ID and X-Preservation-Idempotency-Key derive from the reminder row's (unit, key), so
a reminder delivered twice (a node died after sending, before completing) carries the same
identifiers and the recipient's mail system or rules can drop the repeat."""

from __future__ import annotations

import quopri
import re
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from preservation.dispatch import addresses
from preservation.dispatch.message import DeliveryError, message_domain, sender_address
from preservation.domain import deadlines as dl

_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def message_id(*, unit_id: int, key: str, domain: str) -> str:
    """Derived from the row's (unit, key), so a repeat carries the same Message-ID."""
    return f"<reminder-{unit_id}.{_KEY_CHARS.sub('.', key)}@{domain}>"


def idempotency_key(*, unit_id: int, key: str) -> str:
    return f"reminder:{unit_id}:{key}"


def ascii_address(address: str) -> str:
    """An internationalised domain in its ASCII (IDNA) form, so the address fits headers and
    the envelope without SMTPUTF8; a non-ASCII local part is left for the server to refuse."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def _header(value: str) -> str:
    """A header value: as is when ASCII, else RFC 2047 encoded-words (UTF-8)."""
    if value.isascii():
        return " ".join(value.split())
    return Header(value, "utf-8").encode().replace("\n", "\r\n")


#: The display name of the reminders' From (the address is the operator's sender).
FROM_NAME = "Preservation dispatcher"


def _address_header(name: str, values: Sequence[str], *, display_name: str = "") -> str:
    """An address header, folded (dispatch/addresses.py). An address that cannot be written in
    a header is left out of it (the envelope still carries it: its server accepts or refuses)."""
    mailboxes = []
    for value in values:
        try:
            mailboxes.append(addresses.mailbox(value, display_name))
        except ValueError:
            continue
    if not mailboxes:
        return "undisclosed-recipients:;"
    return addresses.header_value(name, mailboxes)


def build_message(
    *,
    unit_id: int,
    key: str,
    kind: str,
    subject: str,
    text: str,
    reference: str | None,
    recipients: Sequence[str],
    settings: Any,
    now: datetime,
) -> bytes:
    """The message of one job as bytes, ready for DATA (pure). Written directly rather than
    through the email package's generator, whose header folding cost several milliseconds a
    message: at thousands of reminders a minute that is the node's CPU. Every header is ASCII
    (non-ASCII text in RFC 2047 words) and far below the 998-octet line limit; the body is
    7bit when ASCII with short lines, else quoted-printable UTF-8."""
    headers = [
        ("From", _address_header("From", [sender_address(settings)], display_name=FROM_NAME)),
        ("To", _address_header("To", recipients)),
        ("Subject", _header(subject)),
        ("Date", format_datetime(now)),
        (
            "Message-ID",
            message_id(unit_id=unit_id, key=key, domain=message_domain(settings)),
        ),
        ("X-Preservation-Idempotency-Key", idempotency_key(unit_id=unit_id, key=key)),
        ("X-Preservation-Reminder", kind),
    ]
    if reference:
        headers.append(("X-Preservation-Reference", _header(reference)))
    headers.append(("Auto-Submitted", "auto-generated"))
    if kind.startswith("alert_") or kind == dl.EXPIRY:
        headers += [("Importance", "high"), ("X-Priority", "1")]
    text_body = text.replace("\r\n", "\n")
    headers.append(("MIME-Version", "1.0"))
    if text_body.isascii() and all(len(line) <= 900 for line in text_body.split("\n")):
        headers += [
            ("Content-Type", 'text/plain; charset="us-ascii"'),
            ("Content-Transfer-Encoding", "7bit"),
        ]
        body = text_body.encode("ascii")
    else:
        headers += [
            ("Content-Type", 'text/plain; charset="utf-8"'),
            ("Content-Transfer-Encoding", "quoted-printable"),
        ]
        body = quopri.encodestring(text_body.encode("utf-8"))
    head = "\r\n".join(f"{name}: {value}" for name, value in headers).encode("utf-8")
    return head + b"\r\n\r\n" + body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Mailer:
    """One SMTP connection for a batch; reconnects once when the server drops it. When the
    server cannot be reached, the rest of the lane fails at once instead of waiting for the
    connect timeout once per message (which could outlast the lease)."""

    def __init__(self, settings: Any):
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None
        self._unreachable = ""

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_security == "tls",
            start_tls=True if s.smtp_security == "starttls" else False,
            timeout=s.smtp_timeout_seconds,
        )
        await smtp.connect()
        if s.smtp_username:
            await smtp.login(s.smtp_username, s.smtp_password)
        self._smtp = smtp
        return smtp

    async def send(self, mail: bytes, recipients: Sequence[str]) -> None:
        if self._unreachable:
            raise DeliveryError(self._unreachable)
        for attempt in (1, 2):
            try:
                smtp = self._smtp
                if smtp is None:
                    try:
                        smtp = await self._connect()
                    except (aiosmtplib.SMTPConnectError, OSError, TimeoutError) as exc:
                        self._unreachable = f"SMTP server unreachable: {type(exc).__name__}: {exc}"
                        raise DeliveryError(self._unreachable) from None
                errors, _ = await smtp.sendmail(
                    sender_address(self.settings), list(recipients), mail
                )
            except aiosmtplib.SMTPServerDisconnected as exc:
                self._smtp = None
                if attempt == 2:
                    raise DeliveryError(f"SMTP server disconnected: {exc}") from None
                continue
            except aiosmtplib.SMTPResponseException as exc:
                await self._reset()
                raise DeliveryError(
                    f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600
                ) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await self.close()
                raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None
            if errors:
                refused = ", ".join(f"{addr} ({r.code})" for addr, r in errors.items())
                raise DeliveryError(f"SMTP refused some recipients: {refused}")
            return

    async def _reset(self) -> None:
        if self._smtp is not None:
            try:
                await self._smtp.rset()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                await self.close()

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smtp.close()
