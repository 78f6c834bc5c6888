"""E-mail channel: the letter as the text body and as a PDF attachment, through aiosmtplib.

The Message-ID is derived from the outbox row (see message.message_id_for), so a retry after a
lost answer or a node that died mid-delivery sends the same Message-ID again and the recipient can
drop the repeat. Security follows settings.smtp_security: "none", "starttls" (required, not
opportunistic) or "tls" (implicit TLS, usually port 465).

Headers: From is the operator's sender with the unit's name, Reply-To the unit's own address (a
provider that presses Reply reaches the unit, and through it this service: docs/operations.md),
and the Message-ID's domain is settings.mail_domain. The address headers are written by
dispatch/addresses.py (names with commas, non-ASCII and long names parse back exactly)."""

from __future__ import annotations

import logging
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from preservation.dispatch import addresses
from preservation.dispatch.message import DeliveryError, OutgoingMessage, sender_address
from preservation.settings import Settings

log = logging.getLogger(__name__)


def subject_for(
    *, reference: str, urgent: bool, case_reference: str = "", kind: str = "preservation"
) -> str:
    """ "URGENT - Preservation request PR-2026-000123 (case CY-2026-0042)"; an emergency:
    "EMERGENCY - danger to life - disclosure request PR-2026-000124"."""
    if kind == "emergency":
        subject = f"EMERGENCY - danger to life - disclosure request {reference}"
        return subject + (f" (case {case_reference})" if case_reference else "")
    subject = f"Preservation request {reference}"
    if case_reference:
        subject += f" (case {case_reference})"
    return f"URGENT - {subject}" if urgent else subject


#: SMTP line endings; values set with set_raw (the address headers) are written as they are.
MAIL_POLICY = policy.SMTP.clone(refold_source="none")


def build_email(message: OutgoingMessage, *, settings: Settings, now: datetime) -> EmailMessage:
    """The MIME message of `message` (pure: no I/O). DeliveryError(permanent) for an address
    that cannot be written in a header (no domain, a non-ASCII local part)."""
    # Address headers are written pre-folded (set_raw) and must be emitted as they are.
    mail = EmailMessage(policy=MAIL_POLICY)
    try:
        sender = addresses.mailbox(sender_address(settings), message.from_name)
        recipient = addresses.mailbox(message.to, message.recipient_name)
        reply_to = (
            addresses.mailbox(message.reply_to, message.reply_to_name) if message.reply_to else None
        )
    except ValueError as exc:
        raise DeliveryError(str(exc), permanent=True) from None
    mail.set_raw("From", addresses.header_value("From", [sender]))
    mail.set_raw("To", addresses.header_value("To", [recipient]))
    if reply_to is not None:
        mail.set_raw("Reply-To", addresses.header_value("Reply-To", [reply_to]))
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id
    mail["Date"] = format_datetime(now)
    mail["X-Preservation-Reference"] = message.reference
    mail["X-Preservation-Idempotency-Key"] = message.idempotency_key
    # No "Auto-Submitted": the letter is the officer's request, and the provider's automatic
    # acknowledgement (its ticket number) is a reply we want (RFC 3834 asks responders to stay
    # silent to auto-submitted mail). Nothing in this service answers mail, so no loop.
    if message.urgent:
        mail["Importance"] = "high"
        mail["X-Priority"] = "1"
        mail["Priority"] = "urgent"
    mail.set_content(message.text)
    if message.pdf is not None:
        mail.add_attachment(
            message.pdf, maintype="application", subtype="pdf", filename=message.pdf_filename
        )
    return mail


async def send_email(message: OutgoingMessage, *, settings: Settings, now: datetime) -> str:
    """Deliver to the SMTP server of the settings; returns the Message-ID. DeliveryError on any
    refusal, timeout or connection failure."""
    try:
        mail = build_email(message, settings=settings, now=now)
    except DeliveryError as exc:
        raise DeliveryError(exc.reason, final=True) from None
    except (ValueError, TypeError) as exc:
        # e.g. a line break in a header (a case reference stored before they were refused):
        # no retry can build it, so the row fails at once and the unit is alerted.
        raise DeliveryError(f"the mail cannot be built: {exc}", final=True) from None
    security = settings.smtp_security
    try:
        errors, _ = await aiosmtplib.send(
            mail.as_bytes(),
            sender=sender_address(settings),
            recipients=[addresses.mailbox(message.to).addr_spec],
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=security == "tls",
            start_tls=True if security == "starttls" else False,
            timeout=settings.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600
        ) from None
    except (
        aiosmtplib.SMTPConnectError,
        aiosmtplib.SMTPConnectTimeoutError,
        aiosmtplib.SMTPServerDisconnected,
        aiosmtplib.SMTPTimeoutError,
    ) as exc:
        raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from None
    except aiosmtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from None
    if errors:
        # The one recipient was refused without the whole transaction failing.
        response = next(iter(errors.values()))
        raise DeliveryError(
            f"SMTP {response.code}: {response.message}", permanent=500 <= response.code < 600
        )
    log.info(
        "mail sent",
        extra={"action": "dispatch.email_sent", "outbox_id": message.outbox_id},
    )
    return message.message_id
