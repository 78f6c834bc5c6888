"""Every kind of mail we send, received by a real SMTP server (aiosmtpd) and read back with the
standard parser (email.policy.default): no defects anywhere, each recipient one mailbox with its
exact name (commas, other scripts, long names), From the operator's sender with the unit's name,
Reply-To the unit, Message-IDs in PRESERVATION_MAIL_DOMAIN."""

from __future__ import annotations

import email
import email.header
import email.policy
import threading
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from preservation.dispatch import addresses
from preservation.dispatch.dispatcher import Dispatcher
from preservation.reminders import delivery as reminder_delivery
from preservation.runtime.context import Context
from preservation.storage.models import Unit
from tests.dispatch_support import make_request, regimes_for
from tests.e2e.helpers import free_port

MAIL_DOMAIN = "mail.police.example"
COMMA = "National Crime Agency, National Cyber Crime Unit"
LONG_ASCII = (
    "National Crime Agency, National Cyber Crime Unit (NCCU) - 24/7 Point of Contact under"
    ' Article 35 of the Budapest Convention, "Out of hours", United Kingdom'
)
ACCENTED = "Landeskriminalamt Baden-Württemberg, Cybercrime (Abteilung 5) — Bereitschaftsdienst"
CYRILLIC = "Национальное центральное бюро Интерпола МВД России, отдел К"
CJK = "国家互联网应急中心网络安全应急技术国家协调中心"
NAMES = [COMMA, LONG_ASCII, ACCENTED, CYRILLIC, CJK, 'Quote "Q" \\ back', "Plain Name"]


def defects_of(message: EmailMessage) -> list[str]:
    """Every defect the parser found: in the message, each part, and each header."""
    found: list[str] = []
    for part in message.walk():
        found += [f"{type(d).__name__}" for d in part.defects]
        for name, value in part.items():
            found += [f"{name}: {type(d).__name__}: {d}" for d in getattr(value, "defects", ())]
    return found


def rfc2047_name(raw_header: str) -> str:
    """The display name as a reader that follows RFC 2047 shows it (adjacent encoded-words are
    joined without the white space between them; Python's address parser keeps it)."""
    value = raw_header.split(":", 1)[1].replace("\r\n", "")
    phrase = value.rsplit("<", 1)[0].strip() if "<" in value else ""
    decoded = str(email.header.make_header(email.header.decode_header(phrase)))
    if decoded.startswith('"') and decoded.endswith('"'):
        decoded = decoded[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return decoded


def raw_header(raw: bytes, name: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines = head.split("\r\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower() + ":"):
            block = [line]
            for cont in lines[i + 1 :]:
                if not cont[:1].isspace():
                    break
                block.append(cont)
            return "\r\n".join(block)
    raise AssertionError(f"no {name} header")


# --- the header writer, alone ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_name_is_one_mailbox_read_back_exactly(name: str) -> None:
    value = addresses.header_value(
        "To",
        [
            addresses.mailbox("247@nca.example", name),
            addresses.mailbox("copy@Bücher.example", "Second, Person"),
        ],
    )
    raw = f"To: {value}\r\nSubject: x\r\n\r\nbody\r\n".encode("ascii")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert defects_of(parsed) == []  # type: ignore[arg-type]
    first, second = parsed["To"].addresses
    assert first.addr_spec == "247@nca.example"
    assert (second.display_name, second.addr_spec) == (
        "Second, Person",
        "copy@xn--bcher-kva.example",
    )
    assert all(len(line) <= 78 for line in raw.decode().split("\r\n"))
    # What a mail client shows: exactly the name.
    assert rfc2047_name(_first(raw)) == name
    if name not in (CYRILLIC, CJK):
        # Python's own parser too (it adds a space between encoded-words of a long name in
        # another script, which clients following RFC 2047 do not).
        assert first.display_name == name
    elif name == CYRILLIC:
        assert " ".join(first.display_name.split()) == name


def _first(raw: bytes) -> str:
    """The To header cut after its first mailbox."""
    header = raw_header(raw, "To")
    return header[: header.index(">") + 1]


def test_control_characters_cannot_start_a_header() -> None:
    value = addresses.header_value(
        "To", [addresses.mailbox("a@b.example", "Name\r\nBcc: evil@x.example")]
    )
    assert "\n" not in value.replace("\r\n ", "")
    parsed = email.message_from_bytes(f"To: {value}\r\n\r\n".encode(), policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["a@b.example"]


def test_addresses_that_no_header_can_carry_are_refused() -> None:
    for bad in ("no-domain", "jösé@b.example", "@b.example"):
        with pytest.raises(ValueError):
            addresses.mailbox(bad)


# --- letters and reminders through a real SMTP server -------------------------------------------


class RawSink:
    """aiosmtpd handler keeping the raw bytes and the envelope of each message."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes, str, list[str]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(
                (
                    envelope.original_content or envelope.content,
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                )
            )
        return "250 OK"


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    sink = RawSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


def tuned(settings, port: int):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_from": "Ops <dispatch@ops.police.example>",
            "smtp_timeout_seconds": 5,
            "mail_domain": MAIL_DOMAIN,
        }
    )


async def test_letters_parse_without_defects_with_reply_to_the_unit(
    db, settings, clock, smtp
) -> None:  # type: ignore[no-untyped-def]
    recipients = tuple(
        ("copy" if i else "provider", "email", f"r{i}@recipient{i}.example", name)
        for i, name in enumerate(NAMES)
    )
    made = await make_request(db, now=clock.now(), recipients=recipients)
    async with db.write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.id == made.unit_id)
            .values(
                authority="Cybercrime-Einheit Baden-Württemberg, LKA", email="cyber@lka.example"
            )
        )
    dispatcher = Dispatcher(
        db=db, settings=tuned(settings, smtp.port), clock=clock, regimes=regimes_for(settings)
    )
    assert await dispatcher.sweep() == len(NAMES)
    assert len(smtp.messages) == len(NAMES)

    seen = {}
    for raw, mail_from, rcpt in smtp.messages:
        assert mail_from == "dispatch@ops.police.example"
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert defects_of(parsed) == []  # type: ignore[arg-type]
        (to,) = parsed["To"].addresses
        assert [to.addr_spec] == rcpt
        (sender,) = parsed["From"].addresses
        assert sender.addr_spec == "dispatch@ops.police.example"
        assert sender.display_name == "Cybercrime-Einheit Baden-Württemberg, LKA"
        (reply_to,) = parsed["Reply-To"].addresses
        assert (reply_to.display_name, reply_to.addr_spec) == (
            "Cybercrime-Einheit Baden-Württemberg, LKA",
            "cyber@lka.example",
        )
        assert parsed["Message-ID"].endswith(f"@{MAIL_DOMAIN}>")
        assert parsed["Auto-Submitted"] is None  # the provider's automatic receipt is wanted
        assert len(list(parsed.iter_attachments())) == 1
        seen[to.addr_spec] = rfc2047_name(_first(raw))
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert seen == {f"r{i}@recipient{i}.example": name for i, name in enumerate(NAMES)}


async def test_reminder_mails_parse_without_defects(db, settings, clock, smtp) -> None:  # type: ignore[no-untyped-def]
    """A planned reminder, an alert and a digest: the unit's own mail (From the dispatcher)."""
    from preservation.requests import reminder_plan

    made = await make_request(db, now=clock.now(), status="sent", sent_at=clock.now())
    async with db.write() as s:
        await s.execute(
            update(Unit)
            .where(Unit.id == made.unit_id)
            .values(alert_emails=["duty@police.example", "chef@Bücher.example"])
        )
    ctx = Context(settings=tuned(settings, smtp.port), clock=clock, regimes=regimes_for(settings))
    async with db.write() as s:
        from preservation.storage.models import PreservationRequest

        req = await s.get(PreservationRequest, made.request_id)
        req.sent_at = clock.now()
        await reminder_plan.replan(s, req, ctx=ctx)
    clock.advance(timedelta(days=3))
    while await reminder_delivery.deliver_due(db, ctx=ctx):
        pass
    assert smtp.messages, "the acknowledgement reminder was due"
    kinds = set()
    for raw, mail_from, _rcpt in smtp.messages:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert defects_of(parsed) == []  # type: ignore[arg-type]
        assert mail_from == "dispatch@ops.police.example"
        assert parsed["From"].addresses[0].addr_spec == "dispatch@ops.police.example"
        assert parsed["Message-ID"].endswith(f"@{MAIL_DOMAIN}>")
        assert {a.addr_spec for a in parsed["To"].addresses} == {
            "duty@police.example",
            "chef@xn--bcher-kva.example",
        }
        kinds.add(str(parsed["X-Preservation-Reminder"]))
    assert "ack_missing" in kinds


async def test_every_kind_of_reminder_mail_parses_without_defects(settings, smtp) -> None:  # type: ignore[no-untyped-def]
    """Each kind the reminder sweep sends (planned reminders, alerts, the digest, the staleness
    report), with text in other scripts and many recipients, through the sweep's own mailer."""
    from datetime import UTC, datetime

    from preservation.domain import deadlines as dl
    from preservation.reminders import mail as reminder_mail
    from preservation.reminders import text

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    facts = text.RequestFacts(
        id=7,
        reference="PR-2026-000007",
        case_reference="Дело № 12/2026 — «Ölfeld», très urgent",
        status="sent",
        regime="budapest-art29",
        expires_at=now,
        sent_at=now,
        silent=("National Crime Agency, National Cyber Crime Unit <247@nca.example> (poc, email)",),
    )
    composed = [
        (
            "expiry_minus_7d",
            text.compose_request_reminder(
                kind="expiry_minus_7d",
                key="7:a",
                due_at=now,
                request=facts,
                unit_zone="Europe/Berlin",
                now=now,
            ),
        ),
        (
            dl.EXPIRY,
            text.compose_request_reminder(
                kind=dl.EXPIRY,
                key="7:b",
                due_at=now,
                request=facts,
                unit_zone="Asia/Tokyo",
                now=now,
            ),
        ),
        (
            dl.ACK_MISSING,
            text.compose_request_reminder(
                kind=dl.ACK_MISSING, key="7:c", due_at=now, request=facts, unit_zone="UTC", now=now
            ),
        ),
        (
            "alert_lapsed",
            text.compose_request_reminder(
                kind="alert_lapsed", key="7:d", due_at=now, request=facts, unit_zone="UTC", now=now
            ),
        ),
        (
            "alert_delivery_failed",
            text.compose_generic(
                kind="alert_delivery_failed",
                key="alert:1",
                due_at=now,
                unit_zone="UTC",
                now=now,
                payload={
                    "subject": "ALERT: Zustellung an «Ölfeld GmbH» fehlgeschlagen",
                    "text": "x" * 2000,
                    "request_id": 7,
                },
            ),
        ),
        (
            "digest",
            text.compose_digest(
                key="digest:1",
                unit_name="Кибер-отдел",
                unit_zone="Europe/Moscow",
                due_at=now,
                now=now,
                expiring=[
                    text.DigestLine(
                        reference="PR-2026-000007", request_id=7, status="sent", expires_at=now
                    )
                ],
                unacknowledged=[],
            ),
        ),
        (
            "staleness_report",
            text.compose_staleness(
                key="stale:1",
                due_at=now,
                now=now,
                unit_zone="UTC",
                staleness_days=180,
                entries=[
                    text.StaleEntry(what="provider", name="Ölfeld GmbH (oelfeld)", verified_on=None)
                ],
            ),
        ),
    ]
    recipients = [f"duty{i}@police.example" for i in range(30)] + ["chef@xn--bcher-kva.example"]
    tuned_settings = tuned(settings, smtp.port)
    mailer = reminder_mail.Mailer(tuned_settings)
    try:
        for kind, c in composed:
            raw = reminder_mail.build_message(
                unit_id=1,
                key=f"k:{kind}",
                kind=kind,
                subject=c.subject,
                text=c.text,
                reference="PR-2026-000007",
                recipients=recipients,
                settings=tuned_settings,
                now=now,
            )
            await mailer.send(raw, recipients)
    finally:
        await mailer.close()
    assert len(smtp.messages) == len(composed)
    for (kind, c), (raw, _, rcpt) in zip(composed, smtp.messages, strict=True):
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert defects_of(parsed) == [], kind  # type: ignore[arg-type]
        assert str(parsed["X-Preservation-Reminder"]) == kind
        assert str(parsed["Subject"]) == c.subject
        assert [a.addr_spec for a in parsed["To"].addresses] == recipients == rcpt
        assert parsed["Message-ID"].endswith(f"@{MAIL_DOMAIN}>")
        assert parsed.get_content().replace("\r\n", "\n").rstrip("\n") == c.text.rstrip("\n")
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
