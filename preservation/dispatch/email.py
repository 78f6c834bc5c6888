"""E-mail channel: the letter as the text body and as a PDF attachment, through aiosmtplib.

The Message-ID is derived from the outbox row (see message.message_id_for), so a retry after a
lost answer or a node that died mid-delivery sends the same Message-ID again and the recipient can
drop the repeat. Security follows settings.smtp_security: "none", "starttls" (required, not
opportunistic) or "tls" (implicit TLS, usually port 465)."""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from preservation.dispatch.message import DeliveryError, OutgoingMessage
from preservation.settings import Settings

log = logging.getLogger(__name__)


def subject_for(*, reference: str, urgent: bool, case_reference: str = "") -> str:
    """ "URGENT - Preservation request PR-2026-000123 (case CY-2026-0042)"."""
    subject = f"Preservation request {reference}"
    if case_reference:
        subject += f" (case {case_reference})"
    return f"URGENT - {subject}" if urgent else subject


def build_email(message: OutgoingMessage, *, settings: Settings, now: datetime) -> EmailMessage:
    """The MIME message of `message` (pure: no I/O)."""
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = (
        formataddr((message.recipient_name, message.to)) if message.recipient_name else message.to
    )
    mail["Subject"] = message.subject
    mail["Message-ID"] = message.message_id
    mail["Date"] = format_datetime(now)
    mail["X-Preservation-Reference"] = message.reference
    mail["X-Preservation-Idempotency-Key"] = message.idempotency_key
    # The automated sender must not trigger auto-replies (RFC 3834), but a person may answer.
    mail["Auto-Submitted"] = "auto-generated"
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
    mail = build_email(message, settings=settings, now=now)
    security = settings.smtp_security
    try:
        errors, _ = await aiosmtplib.send(
            mail,
            sender=settings.smtp_from,
            recipients=[message.to],
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
