"""Expiry and reminder instants of a preservation request, from its events, regime and provider.

Pure: no I/O and no clock. `plan_deadlines` turns a `DeadlineInput` into the full `DeadlinePlan`
(expiry, the human-readable rule that set it, and every reminder with a stable key); the caller
stores the plan and decides what is due with `due_reminders(plan, now, delivered)`.

How days are counted: a period of N days ends exactly N x 24 hours after the start instant, in UTC.
The texts count days ("90 days", "not less than sixty days") from an event we know to the second;
a UTC duration does not stretch or shrink when a unit's clocks change for daylight saving, so the
expiry instant is the same whoever computes it and wherever. Units see it in their own zone (the
letter and the pages convert it), where the wall-clock hour may differ by one from the start's when
a DST change falls in between: that is display, not a different deadline. `relativedelta(days=N)`
on a UTC instant is exactly that N x 24 h."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from preservation.domain import epoc_clock
from preservation.domain.lifecycle import TERMINAL, Status
from preservation.domain.regimes import HoldStarts, PeriodKind, Regime, StartEvent
from preservation.errors import Conflict, InvalidInput

#: Reminder kinds. Before-expiry reminders are "expiry_minus_<N>d", one per configured offset.
EXPIRY = "expiry"
ACK_MISSING = "ack_missing"
EXTENSION_LEAD = "extension_lead"
MLA_FOLLOWUP = "mla_followup"
#: An emergency disclosure request still unanswered some hours after it was submitted.
EMERGENCY_FOLLOWUP = "emergency_followup"


def expiry_minus(days: int) -> str:
    return f"expiry_minus_{days}d"


# --- inputs ----------------------------------------------------------------------------------


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(name, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(name, "must be timezone-aware (an instant), not a naive local time")
    return value.astimezone(UTC)


def _now(now: datetime) -> datetime:
    aware = _utc(now, "now")
    if aware is None:
        raise InvalidInput("now", "is required")
    return aware


def _check_days(value: int | None, name: str, *, positive: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise InvalidInput(name, f"must be a {'positive' if positive else 'non-negative'} integer")


@dataclass(frozen=True, kw_only=True)
class ProviderPolicy:
    """A provider's own preservation policy; None = the provider says nothing (the regime rules)."""

    slug: str
    preservation_days: int | None = None
    extension_days: int | None = None
    max_extensions: int | None = None
    #: The provider wants extension requests at least this many days before expiry (X: 7).
    extension_lead_days: int | None = None

    def __post_init__(self) -> None:
        _check_days(self.preservation_days, "provider.preservation_days", positive=True)
        _check_days(self.extension_days, "provider.extension_days")
        _check_days(self.max_extensions, "provider.max_extensions")
        _check_days(self.extension_lead_days, "provider.extension_lead_days")


@dataclass(frozen=True, kw_only=True)
class Extension:
    """One extension (renewed request): when it was asked, and when the provider confirmed it."""

    requested_at: datetime
    granted_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "requested_at", _utc(self.requested_at, "requested_at"))
        object.__setattr__(self, "granted_at", _utc(self.granted_at, "granted_at"))

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Extension:
        """From the stored form {"requested_at": ISO, "granted_at": ISO | null}."""

        def parse(name: str) -> datetime | None:
            raw = item.get(name)
            if raw is None or isinstance(raw, datetime):
                return raw
            try:
                return datetime.fromisoformat(raw)
            except (TypeError, ValueError):
                raise InvalidInput(name, f"not an ISO 8601 instant: {raw!r}") from None

        requested = parse("requested_at")
        if requested is None:
            raise InvalidInput("requested_at", "is required")
        return cls(requested_at=requested, granted_at=parse("granted_at"))


@dataclass(frozen=True, kw_only=True)
class RequestEvents:
    """The facts about one request that its deadlines depend on. Instants are stored in UTC."""

    status: Status
    sent_at: datetime | None = None
    #: The provider's date of preservation (from its acknowledgement), not when we recorded it.
    preserved_at: datetime | None = None
    extensions: tuple[Extension, ...] = ()
    mla_sent_at: datetime | None = None
    #: When the requested State confirmed receipt of the MLA request.
    mla_received_at: datetime | None = None
    closed_at: datetime | None = None
    #: How recorded dates given without a time were read (said in the expiry rule).
    notes: tuple[str, ...] = ()
    #: When the officer submitted it (an emergency's follow-ups count from then).
    submitted_at: datetime | None = None
    #: EPOC-PR: the addressee's receipt, as the national IT system reports it (the 60 days of
    #: Regulation (EU) 2023/1543, Art. 11(1) run from it: domain/epoc_clock.py).
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "notes", tuple(self.notes))
        for name in (
            "sent_at",
            "preserved_at",
            "mla_sent_at",
            "mla_received_at",
            "closed_at",
            "submitted_at",
        ):
            object.__setattr__(self, name, _utc(getattr(self, name), name))
        object.__setattr__(self, "extensions", tuple(self.extensions))
        object.__setattr__(self, "received_at", _utc(self.received_at, "received_at"))


@dataclass(frozen=True, kw_only=True)
class DeadlineSettings:
    reminder_offsets_days: tuple[int, ...] = (30, 14, 7, 3, 1)
    ack_timeout: timedelta = timedelta(hours=48)
    #: Under a regime that holds the data until decision: check on the MLA request every N days...
    mla_followup_days: int = 30
    #: ... this many times (the plan is finite; 12 x 30 days covers the usual 6-10 months of MLA).
    mla_followups: int = 12
    #: An emergency request unanswered this many hours after it was submitted is followed up
    #: (each one a reminder to the unit's supervisors and alert addresses).
    emergency_followup_hours: tuple[int, ...] = (1, 4)

    def __post_init__(self) -> None:
        offsets = tuple(self.reminder_offsets_days)
        for value in offsets:
            _check_days(value, "reminder_offsets_days", positive=True)
        object.__setattr__(self, "reminder_offsets_days", tuple(sorted(set(offsets), reverse=True)))
        if self.ack_timeout <= timedelta(0):
            raise InvalidInput("ack_timeout", "must be positive")
        _check_days(self.mla_followup_days, "mla_followup_days", positive=True)
        _check_days(self.mla_followups, "mla_followups")
        hours = tuple(self.emergency_followup_hours)
        for value in hours:
            _check_days(value, "emergency_followup_hours", positive=True)
        object.__setattr__(self, "emergency_followup_hours", tuple(sorted(set(hours))))

    @classmethod
    def from_settings(cls, settings: Any) -> DeadlineSettings:
        """From the application Settings (reminder_offsets_days, ack_timeout_hours,
        mla_followup_days)."""
        return cls(
            reminder_offsets_days=tuple(settings.reminder_offsets_days),
            ack_timeout=timedelta(hours=settings.ack_timeout_hours),
            mla_followup_days=settings.mla_followup_days,
            emergency_followup_hours=tuple(getattr(settings, "emergency_followup_hours", (1, 4))),
        )


@dataclass(frozen=True, kw_only=True)
class DeadlineInput:
    regime: Regime
    provider: ProviderPolicy | None = None
    events: RequestEvents
    settings: DeadlineSettings = field(default_factory=DeadlineSettings)
    #: The requested State (ISO code): its own law may limit a hold (Regime.state_limits).
    requested_country: str | None = None


# --- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlannedReminder:
    kind: str
    due_at: datetime
    #: Stable for the same kind and instant, whoever recomputes the plan and when: the
    #: idempotency key of the reminder row ("<kind>:<YYYYmmddTHHMMSSZ>").
    key: str


@dataclass(frozen=True, kw_only=True)
class DeadlinePlan:
    #: When the preservation ends; None before sending, and when held until the MLA decision.
    expires_at: datetime | None
    #: Which rules set the expiry and which one won, for the letter, the API and the pages.
    expiry_rule: str
    held_until_decision: bool
    reminders: tuple[PlannedReminder, ...]
    #: Extensions still available under the stricter of regime and provider.
    extensions_left: int = 0

    @property
    def next_reminder_at(self) -> datetime | None:
        return self.reminders[0].due_at if self.reminders else None


def _reminder(kind: str, due_at: datetime) -> PlannedReminder:
    return PlannedReminder(kind=kind, due_at=due_at, key=f"{kind}:{due_at:%Y%m%dT%H%M%SZ}")


def _fmt(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def _days(n: int) -> relativedelta:
    # On a UTC instant this is exactly n x 24 hours (see the module docstring).
    return relativedelta(days=n)


# --- computation -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Expiry:
    expires_at: datetime | None  # before any MLA hold
    parts: tuple[str, ...]
    held: bool
    max_extensions: int
    extension_days: int
    used: int
    pending: Extension | None


def _start(events: RequestEvents, starts_from: StartEvent) -> tuple[datetime, str]:
    sent, preserved = events.sent_at, events.preserved_at
    if starts_from is StartEvent.PRESERVED:
        if preserved is not None:
            return preserved, f"from preservation on {_fmt(preserved)}"
        assert sent is not None
        return sent, (
            f"from sending on {_fmt(sent)} (preservation not confirmed yet: counted from"
            " sending, the earlier instant)"
        )
    if sent is not None:
        return sent, f"from sending on {_fmt(sent)}"
    assert preserved is not None
    return preserved, f"from preservation on {_fmt(preserved)} (sending time not recorded)"


_KIND_WORDS = {
    PeriodKind.MINIMUM: "at least ",
    PeriodKind.FIXED: "",
    PeriodKind.MAXIMUM: "at most ",
}


#: The instrument whose clock is domain/epoc_clock.py (config/regimes.toml key).
EPOC_PR = "eu-epoc-pr"


def _expiry(inp: DeadlineInput) -> _Expiry:
    regime, provider, ev = inp.regime, inp.provider, inp.events
    if regime.key == EPOC_PR:
        # The order binds the addressee by law: a provider's own period plays no part.
        epoc = epoc_clock.epoc_expiry(epoc_clock.events_of(ev, regime))
        return _Expiry(
            expires_at=epoc.expires_at,
            parts=(*ev.notes, *epoc.parts),
            held=epoc.held,
            max_extensions=1,
            extension_days=regime.extension_days,
            used=epoc.extended,
            pending=None,
        )

    max_ext, ext_days = regime.max_extensions, regime.extension_days
    own_policy = regime.period_from_provider
    if own_policy:
        # The provider's published policy is the rule: its period and its extensions.
        max_ext = (provider.max_extensions if provider else None) or 0
        ext_days = (provider.extension_days if provider else None) or 0
    elif provider is not None:
        if provider.max_extensions is not None:
            max_ext = min(max_ext, provider.max_extensions)
        if provider.extension_days is not None:
            ext_days = min(ext_days, provider.extension_days)
    if ext_days == 0:
        max_ext = 0

    if ev.sent_at is None and ev.preserved_at is None:
        return _Expiry(
            expires_at=None,
            parts=("not sent yet: the expiry is computed when the request is sent",),
            held=False,
            max_extensions=max_ext,
            extension_days=ext_days,
            used=0,
            pending=None,
        )

    start, how = _start(ev, regime.starts_from)
    parts = list(ev.notes)
    if own_policy and provider is not None and provider.preservation_days is not None:
        expiry = start + _days(provider.preservation_days)
        parts.append(
            f"{regime.key}: {provider.preservation_days} days {how} (provider {provider.slug}'s"
            f" published period) -> {_fmt(expiry)}"
        )
    elif own_policy:
        expiry = start + _days(regime.period_days)
        parts.append(
            f"{regime.key}: the provider publishes no period: {regime.period_days} days {how}"
            f" are tracked to be safe (the shortest period of the instruments on file; confirm"
            f" the provider's) -> {_fmt(expiry)}"
        )
    else:
        expiry = start + _days(regime.period_days)
        parts.append(
            f"{regime.key}: {_KIND_WORDS[regime.period_kind]}{regime.period_days} days {how}"
            f" ({regime.citation}) -> {_fmt(expiry)}"
        )
    if not own_policy and provider is not None and provider.preservation_days is not None:
        p_start, p_how = _start(ev, StartEvent.PRESERVED)
        p_expiry = p_start + _days(provider.preservation_days)
        parts.append(
            f"provider {provider.slug}: {provider.preservation_days} days {p_how}"
            f" -> {_fmt(p_expiry)}"
        )
        if p_expiry < expiry:
            expiry = p_expiry
            parts.append(f"the earlier applies: provider {provider.slug}")
        elif p_expiry > expiry:
            parts.append(f"the earlier applies: {regime.key}")
        else:
            parts.append("both give the same expiry")

    used, pending = 0, None
    for ext in sorted(ev.extensions, key=lambda e: e.requested_at):
        if ext.granted_at is None:
            pending = ext
            parts.append(
                f"extension requested on {_fmt(ext.requested_at)}, not confirmed yet:"
                " expiry unchanged"
            )
        elif used >= max_ext:
            parts.append(
                f"extension granted on {_fmt(ext.granted_at)} not counted: at most"
                f" {max_ext} allowed" + (f" ({regime.extension_citation})" if max_ext else "")
            )
        elif ext.requested_at > expiry:
            parts.append(
                f"extension requested on {_fmt(ext.requested_at)} not counted: asked after"
                " the expiry"
            )
        else:
            expiry = expiry + _days(ext_days)
            used += 1
            parts.append(
                f"+{ext_days} days by extension {used} of {max_ext} granted on"
                f" {_fmt(ext.granted_at)} ({regime.extension_citation}) -> {_fmt(expiry)}"
            )

    held = False
    practical: datetime | None = None
    on_receipt = regime.hold_starts is HoldStarts.MLA_RECEIVED
    if ev.mla_sent_at is not None:
        mla = _fmt(ev.mla_sent_at)
        holds_from = ev.mla_received_at if on_receipt else ev.mla_sent_at
        if not regime.holds_until_decision:
            cite = f" ({regime.mla_citation})" if regime.mla_citation else ""
            parts.append(f"MLA request sent on {mla}: the clock keeps running{cite}")
        elif holds_from is None:
            parts.append(
                f"MLA request sent on {mla}: the hold starts when the requested State confirms"
                f" its receipt ({regime.mla_citation}); until then the expiry stands"
            )
        elif holds_from <= expiry:
            held = True
            what = "received" if on_receipt else "sent"
            parts.append(
                f"MLA request {what} on {_fmt(holds_from)}: preserved pending the decision on"
                f" it ({regime.mla_citation})"
            )
            limit = regime.state_limits.get(inp.requested_country or "")
            if limit is not None:
                p_start, p_how = _start(ev, StartEvent.PRESERVED)
                practical = p_start + _days(limit.days)
                parts.append(
                    f"but {inp.requested_country}'s own law limits the preservation"
                    f" ({limit.citation}): practical end {_fmt(practical)}, {limit.days} days"
                    f" {p_how}; confirm the hold with the point of contact"
                )
            else:
                parts.append("no fixed expiry")
        else:
            what = "received" if on_receipt else "sent"
            parts.append(f"MLA request {what} on {_fmt(holds_from)}, after the expiry: no hold")

    if not held:
        parts.append(f"expires {_fmt(expiry)}")
    return _Expiry(
        expires_at=practical if held else expiry,
        parts=tuple(parts),
        held=held,
        max_extensions=max_ext,
        extension_days=ext_days,
        used=used,
        pending=pending,
    )


def plan_deadlines(inp: DeadlineInput) -> DeadlinePlan:
    """The full plan of a request: expiry, the rule that set it, and every reminder.

    The expiry runs from the regime's start event (from sending while a preservation-based
    regime has no confirmation yet); the earlier of the regime's and the provider's expiry wins;
    each granted extension adds the (stricter) extension period to the current expiry, up to the
    (stricter) maximum; a requested but unconfirmed extension changes nothing. Once the MLA
    request is sent under a regime that holds the data until decision, there is no expiry and the
    expiry reminders give way to MLA follow-ups. Closed and lapsed requests get no reminders.

    Reminders are the whole plan, past ones included (except those that would fall before the
    request was sent): the caller keeps the keys it has delivered and asks `due_reminders`."""
    if inp.regime.emergency:
        from preservation.domain.emergency import plan_emergency

        return plan_emergency(inp)
    ev, st, regime, provider = inp.events, inp.settings, inp.regime, inp.provider
    ex = _expiry(inp)
    parts = list(ex.parts)
    extensions_left = max(0, ex.max_extensions - ex.used) if not ex.held else 0

    terminal = ev.status in TERMINAL
    if terminal:
        when = ev.closed_at if ev.status is Status.CLOSED and ev.closed_at else None
        parts.append(f"{ev.status}{f' on {_fmt(when)}' if when else ''}: no reminders")

    reminders: dict[str, PlannedReminder] = {}

    def add(kind: str, due: datetime) -> None:
        r = _reminder(kind, due)
        reminders[r.key] = r

    if not terminal and (ex.expires_at is not None or ex.held):
        earliest = min(t for t in (ev.sent_at, ev.preserved_at) if t is not None)
        if ev.sent_at is not None and ev.preserved_at is None:
            add(ACK_MISSING, ev.sent_at + st.ack_timeout)
        if ex.held:
            assert ev.mla_sent_at is not None
            for k in range(1, st.mla_followups + 1):
                add(MLA_FOLLOWUP, ev.mla_sent_at + _days(k * st.mla_followup_days))
        if ex.held and ex.expires_at is not None:
            # A practical end under the requested State's own law: remind before it as well.
            for n in st.reminder_offsets_days:
                due = ex.expires_at - _days(n)
                if due >= earliest:
                    add(expiry_minus(n), due)
            add(EXPIRY, ex.expires_at)
        elif not ex.held:
            expiry = ex.expires_at
            for n in st.reminder_offsets_days:
                due = expiry - _days(n)
                if due >= earliest:
                    add(expiry_minus(n), due)
            add(EXPIRY, expiry)
            lead = max(regime.extension_lead_days, (provider and provider.extension_lead_days) or 0)
            if lead > 0 and extensions_left > 0 and ex.pending is None:
                due = expiry - _days(lead)
                if due >= earliest:
                    add(EXTENSION_LEAD, due)

    return DeadlinePlan(
        expires_at=ex.expires_at,
        expiry_rule="; ".join(parts),
        held_until_decision=ex.held,
        reminders=tuple(sorted(reminders.values(), key=lambda r: (r.due_at, r.kind))),
        extensions_left=extensions_left,
    )


def check_can_extend(inp: DeadlineInput, now: datetime) -> tuple[str, ...]:
    """Conflict if an extension cannot be asked now; otherwise warnings (possibly none).

    Refused: the regime or provider allows none, all are used, one is still unconfirmed, the data
    are held until the MLA decision (nothing to extend), or the preservation has expired."""
    now = _now(now)
    regime = inp.regime
    if regime.key == EPOC_PR:
        raise Conflict(
            "an EPOC-PR is extended by the issuing authority itself with the form in Annex VI"
            f" ({epoc_clock.CITE_EXTENSION}): POST /api/v1/requests/{{id}}/annex-vi"
        )
    ex = _expiry(inp)
    if ex.held:
        raise Conflict(
            "the data are preserved until the decision on the MLA request"
            f" ({regime.mla_citation}): there is nothing to extend"
        )
    if ex.expires_at is None:
        raise Conflict("the request has not been sent: there is nothing to extend yet")
    if ex.max_extensions == 0:
        raise Conflict(
            f"{regime.key} provides no extension ({regime.citation});"
            " send a new preservation request before expiry instead"
        )
    if ex.pending is not None:
        raise Conflict(
            f"the extension requested on {_fmt(ex.pending.requested_at)} is not confirmed yet"
        )
    if ex.used >= ex.max_extensions:
        raise Conflict(
            f"the {ex.max_extensions} extension(s) allowed have been used"
            f" ({regime.extension_citation})"
        )
    if now >= ex.expires_at:
        raise Conflict(f"the preservation expired on {_fmt(ex.expires_at)}")
    if regime.extension_lead_days and now > ex.expires_at - _days(regime.extension_lead_days):
        raise Conflict(
            f"{regime.key} requires extension requests at least {regime.extension_lead_days}"
            f" days before expiry ({_fmt(ex.expires_at)})"
        )
    warnings: list[str] = []
    provider = inp.provider
    if provider is not None and provider.extension_lead_days:
        if now > ex.expires_at - _days(provider.extension_lead_days):
            warnings.append(
                f"provider {provider.slug} asks for extension requests at least"
                f" {provider.extension_lead_days} days before expiry ({_fmt(ex.expires_at)})"
            )
    return tuple(warnings)


def is_lapsed(plan: DeadlinePlan, now: datetime) -> bool:
    """True when the plan has an expiry and `now` has reached it."""
    now = _now(now)
    return plan.expires_at is not None and now >= plan.expires_at


def due_reminders(
    plan: DeadlinePlan, now: datetime, already_sent_keys: Iterable[str] = ()
) -> tuple[PlannedReminder, ...]:
    """The reminders of `plan` due at `now` whose keys are not among those already sent."""
    now = _now(now)
    sent = set(already_sent_keys)
    return tuple(r for r in plan.reminders if r.due_at <= now and r.key not in sent)
