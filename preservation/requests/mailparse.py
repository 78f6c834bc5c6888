"""Reading an inbound message (RFC 5322) for requests/messages.py: the parse that tells an
e-mail from anything else, its headers and addresses, its text (the plain part, or the HTML part
as text), its attachments as a list, and the Message-IDs a delivery report returns. Pure: no
database, no clock."""

from __future__ import annotations

import html
import logging
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from preservation.errors import InvalidInput

log = logging.getLogger(__name__)

MSG_IDS = re.compile(r"<([^<>\s]{1,900})>")
MAX_ATTACHMENTS = 100


class UnreadableMail(InvalidInput):
    """The input is not an Internet message (RFC 5322): the MTA should return it."""


def clean(text: str, limit: int | None = None) -> str:
    """Text a database can hold (no NUL), cut at `limit` characters."""
    text = text.replace("\x00", "")
    return text if limit is None else text[:limit]


def parse(raw: bytes, *, max_bytes: int) -> EmailMessage:
    """The message in `raw`; UnreadableMail when it is empty, too large, or has no header."""
    if not raw.strip():
        raise UnreadableMail("message", "is empty")
    if len(raw) > max_bytes:
        raise UnreadableMail("message", f"is larger than {max_bytes} bytes")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not message.keys() or message.get("From") is None and message.get("Message-ID") is None:
        raise UnreadableMail("message", "has no From or Message-ID header: not an e-mail")
    return message  # type: ignore[return-value]


def header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a malformed header reads as absent, never as a crash
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def addresses(message: Message, *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        try:
            values += [str(v) for v in message.get_all(name, [])]
        except Exception:  # noqa: BLE001 - see _header
            continue
    return [addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3", "table"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    reader = _Text()
    try:
        reader.feed(markup)
        reader.close()
    except Exception:  # noqa: BLE001 - broken markup: keep what was read
        log.debug("unreadable HTML in a reply", extra={"action": "mail.html_unreadable"})
    text = html.unescape("".join(reader.parts))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - unknown charset or broken encoding: decode leniently
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return content if isinstance(content, str) else ""


def body_text(message: EmailMessage) -> str:
    """The message's text: its plain part, else its HTML part as text."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001
        part = None
    if part is None:
        return ""
    text = _content(part)
    if part.get_content_type() == "text/html":
        text = html_text(text)
    return text.replace("\r\n", "\n")


def attachments_of(message: EmailMessage) -> list[dict[str, Any]]:
    """Name, type and size of each part that is not the message's text."""
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001
        body = None
    out: list[dict[str, Any]] = []
    for part in message.walk():
        if part.is_multipart() or part is body:
            continue
        if part is message and body is None and part.get_content_maintype() == "text":
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001
            payload = None
        out.append(
            {
                "filename": clean(part.get_filename() or "", 300),
                "content_type": part.get_content_type(),
                "size": len(payload) if isinstance(payload, bytes) else 0,
            }
        )
        if len(out) >= MAX_ATTACHMENTS:
            break
    return out


def reported_ids(message: EmailMessage) -> list[str]:
    """Message-IDs of our mail returned in a delivery report (multipart/report)."""
    if message.get_content_type() != "multipart/report":
        return []
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                found += MSG_IDS.findall(header(inner, "Message-ID"))
        elif kind == "text/rfc822-headers":
            headers = BytesParser(policy=policy.default).parsebytes(
                _content(part).encode("utf-8", "replace"), headersonly=True
            )
            found += MSG_IDS.findall(header(headers, "Message-ID"))
    return found


def sent_at(message: EmailMessage) -> datetime | None:
    raw = header(message, "Date")
    if not raw:
        return None
    try:
        at = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
