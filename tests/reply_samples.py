"""Replies to a preservation request, one per kind of sender, written for the tests from what each
provider publishes about how it confirms (config/reply_patterns.toml, `basis`). None is a real
message: the names, numbers and addresses are invented (example domains where the sender's own
domain is not what is tested). Our request was sent at SENT and the reply arrives at ARRIVES."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

SENT = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
ARRIVES = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class Sample:
    name: str
    sender: str
    sender_name: str
    #: The subject without our "Re: ... PR-..." (added when the reply quotes it).
    subject: str
    body: str
    reference: str | None
    preserved_at: datetime | None


SAMPLES = [
    Sample(
        name="google",
        sender="lers-noreply@google.com",
        sender_name="Google LERS",
        subject="Preservation request received",
        body=(
            "Thank you for your request.\n\n"
            "Your preservation request has been received and processed.\n"
            "Request number: 31415926\n"
            "The account was preserved on November 18, 2026.\n\n"
            "Google Legal Investigations Support\n"
        ),
        reference="31415926",
        # A date alone: its first instant at UTC+14.
        preserved_at=datetime(2026, 11, 17, 10, 0, tzinfo=UTC),
    ),
    Sample(
        name="meta",
        sender="records@facebookmail.com",
        sender_name="Meta Law Enforcement Response Team",
        subject="Your records request",
        body=(
            "Hello,\n\nCase #: 7788990011\n"
            "Data associated with the account identified in your request has been preserved"
            " as of 2026-11-18 09:15 UTC.\n\nLaw Enforcement Response Team\n"
        ),
        reference="7788990011",
        preserved_at=datetime(2026, 11, 18, 9, 15, tzinfo=UTC),
    ),
    Sample(
        name="microsoft",
        sender="lns@microsoft.com",
        sender_name="Microsoft Law Enforcement National Security",
        subject="Preservation confirmation",
        body=(
            "Your request has been assigned ticket number: LNS-2026-004411.\n"
            "We have preserved the data described in your letter on 11/19/2026.\n"
        ),
        reference="LNS-2026-004411",
        preserved_at=datetime(2026, 11, 18, 10, 0, tzinfo=UTC),
    ),
    Sample(
        name="cloudflare",
        sender="lawenforcement@cloudflare.com",
        sender_name="Cloudflare Trust & Safety",
        subject="[Ticket #2931177] Preservation",
        body=(
            "We confirm that the requested records were preserved on 19 Nov 2026 at 14:30 UTC.\n"
            "Please quote the ticket number in any further correspondence.\n"
        ),
        reference="2931177",
        preserved_at=datetime(2026, 11, 19, 14, 30, tzinfo=UTC),
    ),
    Sample(
        name="github",
        sender="legal-support@github.com",
        sender_name="GitHub Legal Support",
        subject="Preservation request",
        body=(
            "Hi,\n\nWe have received your preservation request and preserved the account on"
            " 2026-11-18. Your ticket number is 3412298.\n\nThanks,\nGitHub Legal\n"
        ),
        reference="3412298",
        preserved_at=datetime(2026, 11, 17, 10, 0, tzinfo=UTC),
    ),
    Sample(
        name="de-24-7",
        sender="lagedienst@poc-de.example",
        sender_name="Nationale 24/7-Kontaktstelle (Beispiel)",
        subject="Ihr Sicherungsersuchen",
        body=(
            "Sehr geehrte Damen und Herren,\n\n"
            "Ihr Ersuchen ist eingegangen.\n"
            "Unser Aktenzeichen: SO 41-2026/1187\n"
            "Die Daten wurden am 19.11.2026 um 08:40 Uhr gesichert.\n\n"
            "Mit freundlichen Grüßen\nLagedienst\n"
        ),
        reference="SO 41-2026/1187",
        # 08:40 without a zone: read at UTC+14.
        preserved_at=datetime(2026, 11, 18, 18, 40, tzinfo=UTC),
    ),
    Sample(
        name="fr-24-7",
        sender="permanence@poc-fr.example",
        sender_name="Point de contact 24/7 (exemple)",
        subject="Demande de conservation",
        body=(
            "Madame, Monsieur,\n\nNotre référence : 2026/PC/0457\n"
            "Les données ont été conservées le 18/11/2026 à 16h05.\n\nCordialement\n"
        ),
        reference="2026/PC/0457",
        preserved_at=datetime(2026, 11, 18, 2, 5, tzinfo=UTC),
    ),
    Sample(
        name="es-24-7",
        sender="guardia@poc-es.example",
        sender_name="Punto de contacto 24/7 (ejemplo)",
        subject="Solicitud de conservación",
        body=(
            "Estimados colegas:\n\nNuestra referencia: CNP-2026-88120\n"
            "Los datos fueron conservados el 19/11/2026.\n\nAtentamente\n"
        ),
        reference="CNP-2026-88120",
        preserved_at=datetime(2026, 11, 18, 10, 0, tzinfo=UTC),
    ),
]


def reply(
    sample: Sample,
    *,
    to: str,
    in_reply_to: str = "",
    our_reference: str = "",
    message_id: str = "",
    quote: str = "",
) -> bytes:
    """The sample as the bytes an MTA hands over: a reply to our letter when `in_reply_to`."""
    mail = EmailMessage()
    mail["From"] = Address(sample.sender_name, addr_spec=sample.sender)
    mail["To"] = to
    subject = sample.subject
    if our_reference:
        subject = f"Re: Preservation request {our_reference} - {subject}"
    mail["Subject"] = subject
    mail["Date"] = format_datetime(ARRIVES)
    mail["Message-ID"] = message_id or f"<{sample.name}-reply-1@{sample.sender.split('@')[1]}>"
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    body = sample.body
    if quote:
        body += "\n" + "\n".join("> " + line for line in quote.splitlines()) + "\n"
    mail.set_content(body)
    return mail.as_bytes()
