"""What a channel delivers: one outbox row's message, built by the dispatcher from the request and
its letter. A value; the channels only send it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class DeliveryError(Exception):
    """The channel could not deliver the message; the dispatcher retries it later."""

    def __init__(self, reason: str, *, permanent: bool = False, final: bool = False):
        super().__init__(reason)
        self.reason = reason
        #: A refusal that no retry can change (informational: the dispatcher still retries up to
        #: the limit, because a mail server's 5xx is sometimes a misconfiguration fixed in hours).
        self.permanent = permanent or final
        #: Nothing we send could ever get through (a message that cannot be built, a URL the
        #: service may not send to): the row fails at once and the unit is alerted, no retries.
        self.final = final


def domain_of(address: str) -> str:
    """The domain of an e-mail address ("localhost" when it has none)."""
    _, _, domain = address.rpartition("@")
    domain = domain.strip().strip(">").strip()
    return domain or "localhost"


def sender_address(settings: Any) -> str:
    """The operator's sender address (the envelope sender and the From address), without any
    display name that smtp_from may carry."""
    from email.utils import parseaddr

    return parseaddr(settings.smtp_from)[1] or settings.smtp_from.strip()


def message_domain(settings: Any) -> str:
    """The domain of our Message-IDs: settings.mail_domain, else the sender's domain."""
    return settings.mail_domain or domain_of(sender_address(settings))


def message_id_for(*, outbox_id: int, reference: str, domain: str) -> str:
    """Derived from the outbox row, so every retry of one row carries the same Message-ID and a
    recipient (or its mail server) recognises a repeat."""
    return f"<outbox-{outbox_id}.{reference}@{domain}>"


def idempotency_key_for(*, outbox_id: int, reference: str) -> str:
    return f"outbox-{outbox_id}.{reference}"


@dataclass(frozen=True, kw_only=True)
class OutgoingMessage:
    outbox_id: int
    request_id: int
    reference: str
    #: provider | poc | copy
    role: str
    #: email | webhook | portal
    channel: str
    to: str
    recipient_name: str = ""
    #: The display name of From (the unit's); the address is the operator's sender.
    from_name: str = ""
    #: Where replies go: the unit's own e-mail (empty: no Reply-To).
    reply_to: str = ""
    reply_to_name: str = ""
    subject: str
    #: The letter as plain text (the e-mail body).
    text: str
    #: The letter as PDF (the e-mail attachment); None when it could not be rendered.
    pdf: bytes | None = None
    pdf_filename: str = "letter.pdf"
    #: The letter as JSON (the webhook body's "letter").
    document: dict[str, Any] = field(default_factory=dict)
    message_id: str
    idempotency_key: str
    urgent: bool = False
    #: The attempt this is (1 for the first).
    attempt: int = 1
