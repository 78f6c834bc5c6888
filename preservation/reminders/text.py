"""The words of reminders, alerts, digests and the staleness report (pure: no I/O, no clock).

Every instant is written in the unit's own zone and in UTC ("2026-12-01 09:00 CET (UTC+01:00),
2026-12-01 08:00 UTC"); each message says what expires when, what to do, the request's reference
and where to find it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from preservation.domain import deadlines as dl

#: A reminder delivered more than this after its due instant is flagged late.
LATE_AFTER = timedelta(minutes=5)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(at: datetime | None, tz: str | None) -> str:
    """ "2026-12-01 09:00 CET (UTC+01:00), 2026-12-01 08:00 UTC"."""
    if at is None:
        return "(no fixed date)"
    local = at.astimezone(zone(tz))
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"
    utc = at.astimezone(ZoneInfo("UTC"))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} (UTC{offset}), {utc:%Y-%m-%d %H:%M} UTC"


def iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


def links(request_id: int, base: str = "") -> str:
    """The request's page and API resource (absolute when `base`, the service's public URL, is
    given: a mail is read outside the service)."""
    return f"Open: {base}/requests/{request_id}   (API: {base}/api/v1/requests/{request_id})"


def public_base(settings: Any) -> str:
    """The service's address for links in mails: `public_url`, else the address it listens on."""
    configured = str(getattr(settings, "public_url", "") or "").rstrip("/")
    if configured:
        return configured
    return f"http://{getattr(settings, 'host', '127.0.0.1')}:{getattr(settings, 'port', 8080)}"


@dataclass(frozen=True, kw_only=True)
class DocumentLink:
    """A document drafted from the record (requests/documents.py), as a mail links it."""

    kind: str
    title: str
    #: Absolute URL of the document (add ?format=docx|pdf|text|html).
    href: str
    #: An extension request: the last instant it can go out.
    due_by: datetime | None = None


def document_links(items: Sequence[Any]) -> tuple[DocumentLink, ...]:
    """requests/documents.DocumentPublic items as the mails link them."""
    return tuple(
        DocumentLink(kind=d.kind, title=d.title, href=d.href, due_by=d.due_by) for d in items
    )


@dataclass(frozen=True, kw_only=True)
class RequestFacts:
    """What a reminder says about its request (read at delivery time, so it is current)."""

    id: int
    reference: str
    case_reference: str = ""
    status: str
    regime: str
    regime_citation: str = ""
    mla_citation: str = ""
    holds_until_decision: bool = False
    provider: str | None = None
    expires_at: datetime | None = None
    expiry_rule: str = ""
    sent_at: datetime | None = None
    mla_sent_at: datetime | None = None
    #: "preservation" or "emergency" (an emergency disclosure request).
    kind: str = "preservation"
    submitted_at: datetime | None = None
    #: An emergency's numbers to call now ("Name: +number"), first first, and the officer's line.
    call: tuple[str, ...] = ()
    callback_phone: str = ""
    #: The hours after submission at which an emergency is followed up (the last escalates).
    followup_hours: tuple[int, ...] = ()
    extensions_left: int = 0
    #: Recipients no reply has come from ("Name <address> (provider, email)"), and those that
    #: answered (requests/messages.py: replies_by_recipient).
    silent: tuple[str, ...] = ()
    answered: tuple[str, ...] = ()
    #: The service's public address (absolute links), and the documents drafted from the record.
    base_url: str = ""
    documents: tuple[DocumentLink, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DigestLine:
    reference: str
    request_id: int
    status: str
    expires_at: datetime | None
    sent_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class StaleEntry:
    what: str  # "provider" | "contact"
    name: str
    verified_on: str | None


@dataclass(frozen=True, kw_only=True)
class Composed:
    subject: str
    text: str
    #: The webhook body (JSON-serialisable); the same facts as the text.
    data: dict[str, Any] = field(default_factory=dict)


def _what_to_do(r: RequestFacts) -> str:
    if r.holds_until_decision:
        return (
            "What to do: send the formal MLA request before then and record it"
            f" (POST /api/v1/requests/{r.id}/mla). Once it is received the data stay preserved"
            f" until it is decided ({r.mla_citation or r.regime})."
        )
    if r.extensions_left > 0:
        return (
            "What to do: send the formal MLA request, or ask the provider for an extension"
            f" ({r.extensions_left} left), before then, and record it"
            f" (POST /api/v1/requests/{r.id}/mla or /extend). Under {r.regime} the clock keeps"
            " running after the MLA request is sent: an extension may still be needed."
        )
    return (
        "What to do: send the formal MLA request before then and record it"
        f" (POST /api/v1/requests/{r.id}/mla). No extension is available: if the formal request"
        " cannot arrive in time, send a new preservation request before the expiry."
    )


def _head(r: RequestFacts) -> str:
    case = f" (case {r.case_reference})" if r.case_reference else ""
    provider = f", provider {r.provider}" if r.provider else ""
    what = "Emergency disclosure request" if r.kind == "emergency" else "Preservation request"
    return f"{what} {r.reference}{case}{provider}, regime {r.regime}, status {r.status}."


def _late_note(due_at: datetime, delivered_at: datetime, tz: str) -> list[str]:
    if delivered_at - due_at <= LATE_AFTER:
        return []
    return [
        "",
        f"LATE: this reminder was due {when(due_at, tz)} and is delivered"
        f" {when(delivered_at, tz)} (the service was down or could not deliver).",
    ]


def compose_request_reminder(
    *,
    kind: str,
    key: str,
    due_at: datetime,
    request: RequestFacts,
    unit_zone: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> Composed:
    """A planned reminder (expiry_minus_<N>d, expiry, extension_lead, ack_missing, mla_followup)
    or a lapse alert about one request."""
    r, tz = request, unit_zone
    lines = [_head(r), ""]
    expires = when(r.expires_at, tz)
    if kind.startswith("expiry_minus_"):
        days = kind.removeprefix("expiry_minus_").removesuffix("d")
        subject = f"[{r.reference}] preservation expires in {days} day(s): {expires}"
        lines += [f"The preservation expires in {days} day(s), on {expires}.", _what_to_do(r)]
    elif kind == dl.EXPIRY:
        subject = f"[{r.reference}] preservation EXPIRES NOW: {expires}"
        lines += [
            f"The preservation expires now, on {expires}.",
            "Unless an MLA request or an extension has been sent and is not yet recorded, the"
            " provider may delete the data from now on. Record what was sent at once, or call the"
            " provider and send a new preservation request.",
        ]
    elif kind == dl.EXTENSION_LEAD:
        subject = f"[{r.reference}] ask for the extension now: expiry {expires}"
        lines += [
            f"The preservation expires on {expires}.",
            "The provider wants extension requests well before expiry: send the extension"
            f" request now and record it (POST /api/v1/requests/{r.id}/extend).",
        ]
    elif kind == dl.ACK_MISSING:
        subject = f"[{r.reference}] no acknowledgement since sending"
        if r.silent:
            subject += f": no reply from {r.silent[0].split(' <')[0]}"
        lines += [
            f"The request was sent {when(r.sent_at, tz)} and no acknowledgement is recorded.",
        ]
        if r.silent:
            lines.append("No reply has come from: " + "; ".join(r.silent) + ".")
        if r.answered:
            lines.append(
                "A reply came from: " + "; ".join(r.answered) + ". Read it on the request's"
                " record: what it proposes (the provider's reference, the preservation date) is"
                " recorded with one click, as the acknowledgement."
            )
        lines.append(
            "What to do: check with the provider or the requested country's 24/7 point of contact"
            f" and record the acknowledgement (POST /api/v1/requests/{r.id}/acknowledge)."
        )
        if r.expires_at is not None:
            lines.append(f"Counted from sending, the preservation expires on {expires}.")
    elif kind == dl.EMERGENCY_FOLLOWUP:
        subject, more = _emergency_followup(r, due_at=due_at, tz=tz)
        lines += more
    elif kind == dl.MLA_FOLLOWUP:
        subject = f"[{r.reference}] MLA request pending: check its progress"
        lines += [
            f"The MLA request was sent {when(r.mla_sent_at, tz)}; the data are preserved pending"
            f" the decision on it ({r.mla_citation or r.regime}).",
            "What to do: check the progress of the MLA request; close the request when it is"
            f" decided (POST /api/v1/requests/{r.id}/close).",
        ]
    elif kind == "alert_lapsed":
        lapsed_at = (payload or {}).get("expires_at")
        at = datetime.fromisoformat(lapsed_at) if lapsed_at else r.expires_at
        subject = f"ALERT [{r.reference}] preservation LAPSED on {when(at, tz)}"
        lines += [
            f"The preservation expired on {when(at, tz)} without an MLA request or an extension"
            " recorded. The request is now lapsed: the provider may delete the data.",
            "What to do: if the formal request or an extension was in fact sent in time, tell the"
            " provider's law-enforcement contact at once; otherwise send a new preservation"
            " request now.",
        ]
    else:
        subject = f"[{r.reference}] {kind}"
        lines += [str((payload or {}).get("text") or f"Reminder {kind} due {when(due_at, tz)}.")]
    if r.expiry_rule:
        lines += ["", f"Rule: {r.expiry_rule}"]
    lines += _documents_lines(r, kind=kind, due_at=due_at, tz=tz)
    lines += _late_note(due_at, now, tz)
    lines += ["", links(r.id, r.base_url), f"Reminder {kind}, due {when(due_at, tz)}; key {key}."]
    data = {
        "type": "alert" if kind.startswith("alert_") else "reminder",
        "kind": kind,
        "key": key,
        "due_at": iso(due_at),
        "late": now - due_at > LATE_AFTER,
        "request": {
            "id": r.id,
            "reference": r.reference,
            "status": r.status,
            "expires_at": iso(r.expires_at),
            "expiry_rule": r.expiry_rule,
            "path": f"/requests/{r.id}",
            "url": f"{r.base_url}/requests/{r.id}",
        },
        "documents": [
            {
                "kind": d.kind,
                "title": d.title,
                "href": d.href,
                "due_by": iso(d.due_by),
            }
            for d in r.documents
            if d.kind != EXTENSION_REQUEST or _offers_extension(kind, d, due_at, r.expires_at)
        ],
        "subject": subject,
        "text": "\n".join(lines),
    }
    return Composed(subject=subject, text="\n".join(lines), data=data)


EXTENSION_REQUEST = "extension_request"


def _offers_extension(
    kind: str, doc: DocumentLink, due_at: datetime, expires: datetime | None
) -> bool:
    """A reminder before the expiry offers the extension request when it falls due by the last
    day for it and before the expiry (domain/extension.py, `offered_by`)."""
    before_expiry = kind.startswith("expiry_minus_") or kind in (dl.EXTENSION_LEAD, dl.ACK_MISSING)
    in_time = doc.due_by is not None and due_at <= doc.due_by
    return before_expiry and in_time and (expires is None or due_at < expires)


def _documents_lines(r: RequestFacts, *, kind: str, due_at: datetime, tz: str) -> list[str]:
    """The documents drafted from the record, with absolute links; the extension request first
    when this reminder offers it."""
    if not r.documents:
        return []
    out: list[str] = []
    for doc in r.documents:
        if doc.kind == EXTENSION_REQUEST and _offers_extension(kind, doc, due_at, r.expires_at):
            out += [
                "",
                f"{doc.title}: drafted from the record, send it before {when(doc.due_by, tz)}:",
                f"  {doc.href}?format=docx  (also ?format=pdf, text, html)",
            ]
    shown = [d for d in r.documents if d.kind != EXTENSION_REQUEST]
    if shown:
        out += ["", "Documents drafted from the record (Word; also ?format=pdf, text, html):"]
        out += [f"- {d.title}: {d.href}?format=docx" for d in shown]
    return out


def _emergency_followup(r: RequestFacts, *, due_at: datetime, tz: str) -> tuple[str, list[str]]:
    """An emergency disclosure request still unanswered: who to call now; the last follow-up
    (settings.emergency_followup_hours) is the escalation to the supervisors."""
    start = r.submitted_at or r.sent_at or due_at
    hours = max(0, round((due_at - start).total_seconds() / 3600))
    last = bool(r.followup_hours) and hours >= max(r.followup_hours)
    call = f": CALL {r.call[0]}" if r.call else ""
    head = "ESCALATION EMERGENCY" if last else "EMERGENCY"
    subject = f"{head} [{r.reference}] no answer after {hours} h{call}"
    lines = [
        f"The emergency disclosure request was submitted {when(start, tz)}: no answer is recorded"
        f" {hours} hour(s) later.",
        ("Call now: " + "; ".join(r.call) + ".")
        if r.call
        else "No telephone number is on file for the recipient: reach it by other means now.",
    ]
    if r.callback_phone:
        lines.append(f"The officer who declared it is on {r.callback_phone}.")
    if last:
        lines.append(
            "ESCALATION: this is the last follow-up. A supervisor takes the request over now:"
            " call the recipient, and the requested State's 24/7 point of contact."
        )
    lines.append(
        "What to do: record the answer once it comes (POST /api/v1/requests/"
        f"{r.id}/acknowledge), or close the request; the follow-ups stop then."
    )
    return subject, lines


def compose_generic(
    *, kind: str, key: str, due_at: datetime, unit_zone: str, now: datetime, payload: dict | None
) -> Composed:
    """Alerts written by other parts of the service (e.g. alert_delivery_failed): their payload
    carries "subject" and "text" (and, optionally, "reference" and "request_id")."""
    p = payload or {}
    subject = str(p.get("subject") or f"Preservation dispatcher: {kind}")
    lines = [str(p.get("text") or p.get("detail") or f"{kind} due {when(due_at, unit_zone)}.")]
    if p.get("request_id"):
        lines += ["", links(int(p["request_id"]), str(p.get("base_url") or ""))]
    lines += _late_note(due_at, now, unit_zone)
    text = "\n".join(lines)
    data = {
        "type": "alert" if kind.startswith("alert_") else "reminder",
        "kind": kind,
        "key": key,
        "due_at": iso(due_at),
        "late": now - due_at > LATE_AFTER,
        "subject": subject,
        "text": text,
        "payload": p,
    }
    return Composed(subject=subject, text=text, data=data)


def compose_digest(
    *,
    key: str,
    unit_name: str,
    unit_zone: str,
    due_at: datetime,
    now: datetime,
    expiring: Sequence[DigestLine],
    unacknowledged: Sequence[DigestLine],
    days: int = 14,
) -> Composed:
    tz = unit_zone
    local_day = due_at.astimezone(zone(tz)).date().isoformat()
    subject = (
        f"Preservation digest {local_day} ({unit_name}): {len(expiring)} expiring within"
        f" {days} days, {len(unacknowledged)} without acknowledgement"
    )
    lines = [f"Daily digest of {unit_name}, {when(now, tz)}.", ""]
    lines.append(f"Expiring within {days} days ({len(expiring)}):")
    for d in expiring:
        lines.append(f"  {d.reference}  expires {when(d.expires_at, tz)}  [{d.status}]")
        lines.append(f"      /requests/{d.request_id}")
    if not expiring:
        lines.append("  none")
    lines += ["", f"Sent without acknowledgement ({len(unacknowledged)}):"]
    for d in unacknowledged:
        lines.append(f"  {d.reference}  sent {when(d.sent_at, tz)}  [{d.status}]")
        lines.append(f"      /requests/{d.request_id}")
    if not unacknowledged:
        lines.append("  none")
    lines += [
        "",
        "What to do: send the MLA request or an extension before each expiry and record it;"
        " chase the missing acknowledgements. All deadlines: GET /api/v1/deadlines?within=P14D"
        " or /api/v1/deadlines.ics.",
    ]
    lines += _late_note(due_at, now, tz)
    text = "\n".join(lines)

    def item(d: DigestLine) -> dict[str, Any]:
        return {
            "request_id": d.request_id,
            "reference": d.reference,
            "status": d.status,
            "expires_at": iso(d.expires_at),
            "sent_at": iso(d.sent_at),
        }

    data = {
        "type": "digest",
        "kind": "digest",
        "key": key,
        "due_at": iso(due_at),
        "late": now - due_at > LATE_AFTER,
        "expiring": [item(d) for d in expiring],
        "unacknowledged": [item(d) for d in unacknowledged],
        "subject": subject,
        "text": text,
    }
    return Composed(subject=subject, text=text, data=data)


def compose_staleness(
    *,
    key: str,
    due_at: datetime,
    now: datetime,
    unit_zone: str,
    staleness_days: int,
    entries: Sequence[StaleEntry],
) -> Composed:
    subject = (
        f"Directory staleness report: {len(entries)} entries not verified in {staleness_days} days"
    )
    lines = [
        f"Directory entries never verified or verified more than {staleness_days} days ago"
        f" ({len(entries)}), as of {when(now, unit_zone)}:",
        "",
    ]
    for e in entries:
        lines.append(f"  {e.what:<8} {e.name}  verified {e.verified_on or 'never'}")
    lines += [
        "",
        "What to do: check each entry against its source and update verified_on"
        " (PUT /api/v1/providers/{slug}, PUT /api/v1/contacts/{id}).",
    ]
    lines += _late_note(due_at, now, unit_zone)
    text = "\n".join(lines)
    data = {
        "type": "report",
        "kind": "staleness_report",
        "key": key,
        "due_at": iso(due_at),
        "entries": [
            {"what": e.what, "name": e.name, "verified_on": e.verified_on} for e in entries
        ],
        "subject": subject,
        "text": text,
    }
    return Composed(subject=subject, text=text, data=data)
