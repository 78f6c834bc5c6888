"""The clock of a European Preservation Order (EPOC-PR), Regulation (EU) 2023/1543, Art. 11.

Pure: it takes the instants the service knows and returns the expiry with each step of its
derivation; `domain/deadlines.py` uses it for the `eu-epoc-pr` instrument, and the Annex V and
Annex VI actions ask it whether they may be recorded now.

Art. 11 as read (fantasticsearch.net copy of CELEX 32023R1543, 2026-12-04; docs/legal.md):

  (1) "Upon receipt of an EPOC-PR, the addressee shall, without undue delay, preserve the data
      requested. The obligation to preserve the data shall cease after 60 days, unless the
      issuing authority confirms, using the form set out in Annex V, that a subsequent request for
      production has been issued. During that 60-day period, the issuing authority may, using the
      form set out in Annex VI, extend the duration of the obligation to preserve the data by an
      additional 30-day period, where necessary to allow for the issuing of a subsequent request
      for production."
  (2) "Where, during the period of preservation set out in paragraph 1, the issuing authority
      confirms that a subsequent request for production has been issued, the addressee shall
      preserve the data as long as necessary to produce the data once the subsequent request for
      production is received."
  (3) "Where the preservation is no longer necessary, the issuing authority shall inform the
      addressee without undue delay and the obligation to preserve ... shall cease."

The rules, each cited where it is applied:

- the 60 days run from the addressee's receipt (the national IT system's report of delivery);
  without one, from the addressee's "data preserved" notice (it had received the order by then)
  or from the transmission, whichever is earlier: receipt cannot precede transmission, so the
  transmission is the earliest instant it can be, and the deadline is never later than the law's;
- Annex VI adds 30 days to the end of the 60 days when it is issued strictly inside them ("During
  that 60-day period"); once only (one "additional 30-day period"); one issued later is not
  counted, and the action refuses it;
- Annex V, issued during the period of preservation (the 60 days, or the 90 with Annex VI), holds
  the data with no fixed end (Art. 11(2)); issued later, it holds nothing;
- a provider's own published period plays no part: the order binds the addressee by law.

Days are exact 24-hour days in UTC, as everywhere in domain/deadlines.py. The reference
implementation's open mapping code sets the expiry to "now + 60 days" when it converts Form 2 and
again for Form 6 (both marked TODO): that is why the service keeps this clock itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from preservation.errors import Conflict

REGULATION = "Regulation (EU) 2023/1543"
#: Where each rule comes from, as the expiry rule cites it.
CITE_PERIOD = f"{REGULATION}, Art. 11(1), second sentence"
CITE_RECEIPT = f"{REGULATION}, Art. 11(1), first sentence: 'Upon receipt of an EPOC-PR'"
CITE_EXTENSION = f"{REGULATION}, Art. 11(1), third sentence (form in Annex VI)"
CITE_HOLD = f"{REGULATION}, Art. 11(2) (confirmation in the form in Annex V)"
CITE_END = f"{REGULATION}, Art. 11(3)"
PERIOD_DAYS = 60
EXTENSION_DAYS = 30


def _fmt(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True, kw_only=True)
class EpocEvents:
    """What the clock needs of an EPOC-PR, all aware instants (UTC)."""

    #: When the national IT system transmitted the order (recorded by the unit).
    transmitted_at: datetime | None = None
    #: The addressee's receipt, as the national IT system reports it.
    received_at: datetime | None = None
    #: The addressee's "data preserved" notice.
    preserved_at: datetime | None = None
    #: When each Annex VI was issued, in order.
    annex_vi: Sequence[datetime] = ()
    #: When Annex V was issued (the subsequent request for production confirmed).
    annex_v_at: datetime | None = None
    #: Defaults from config/regimes.toml [eu-epoc-pr].
    period_days: int = PERIOD_DAYS
    extension_days: int = EXTENSION_DAYS


def events_of(events: Any, regime: Any) -> EpocEvents:
    """An EPOC-PR's request events (domain/deadlines.RequestEvents) in the terms of its clock:
    the transmission is `sent_at`, the "data preserved" notice `preserved_at`, each extension an
    Annex VI issued at its `requested_at` (the issuing authority's own act: nothing is granted),
    Annex V is `mla_sent_at`; the periods are the regime's (config/regimes.toml)."""
    return EpocEvents(
        transmitted_at=events.sent_at,
        received_at=getattr(events, "received_at", None),
        preserved_at=events.preserved_at,
        annex_vi=tuple(e.requested_at for e in events.extensions),
        annex_v_at=events.mla_sent_at,
        period_days=regime.period_days or PERIOD_DAYS,
        extension_days=regime.extension_days or EXTENSION_DAYS,
    )


@dataclass(frozen=True, kw_only=True)
class EpocExpiry:
    #: None before transmission, and when held under Art. 11(2).
    expires_at: datetime | None
    #: The end of the 60 days (None before transmission): Annex VI must be issued before it.
    period_end: datetime | None
    parts: tuple[str, ...]
    held: bool
    #: How many Annex VI extensions are still possible (0 or 1).
    extensions_left: int
    #: 1 when an Annex VI counted.
    extended: int


def start_of(ev: EpocEvents) -> tuple[datetime, str] | None:
    """The instant the 60 days run from, and how it was chosen; None before transmission."""
    if ev.received_at is not None:
        start = ev.received_at
        how = f"from the addressee's receipt on {_fmt(start)} ({CITE_RECEIPT})"
        if ev.preserved_at is not None and ev.preserved_at < start:
            # A notice cannot precede the receipt: the records disagree, the earlier counts.
            start = ev.preserved_at
            how = (
                f"from the addressee's 'data preserved' notice on {_fmt(start)}, which is earlier"
                f" than the receipt recorded ({_fmt(ev.received_at)}): the earlier counts"
            )
        return start, how
    known = [
        (t, what)
        for t, what in ((ev.transmitted_at, "transmission"), (ev.preserved_at, "notice"))
        if t is not None
    ]
    if not known:
        return None
    start, what = min(known, key=lambda k: k[0])
    if what == "transmission":
        how = (
            f"from the transmission through the national IT system on {_fmt(start)} (the"
            " addressee's receipt is not recorded yet: it cannot be earlier, so the 60 days are"
            " counted from there to be safe)"
        )
    else:
        how = (
            f"from the addressee's 'data preserved' notice on {_fmt(start)} (receipt not"
            " recorded: the addressee had received the order by then)"
        )
    return start, how


def epoc_expiry(ev: EpocEvents) -> EpocExpiry:
    """The expiry of an EPOC-PR and the rule that set it (see the module docstring)."""
    started = start_of(ev)
    if started is None:
        return EpocExpiry(
            expires_at=None,
            period_end=None,
            parts=(
                "eu-epoc-pr: not transmitted yet: the 60 days run from the addressee's receipt"
                f" ({CITE_RECEIPT})",
            ),
            held=False,
            extensions_left=1,
            extended=0,
        )
    start, how = started
    period_end = start + timedelta(days=ev.period_days)
    parts = [f"eu-epoc-pr: {ev.period_days} days {how} ({CITE_PERIOD}) -> {_fmt(period_end)}"]
    expiry = period_end
    extended = 0
    for issued in sorted(ev.annex_vi):
        if extended:
            parts.append(
                f"Annex VI issued on {_fmt(issued)} not counted: the 60 days are extended once,"
                f" by one additional 30-day period ({CITE_EXTENSION})"
            )
        elif issued < period_end:
            extended = 1
            expiry = period_end + timedelta(days=ev.extension_days)
            parts.append(
                f"+{ev.extension_days} days by Annex VI issued on {_fmt(issued)}, inside the 60"
                f" days ({CITE_EXTENSION}) -> {_fmt(expiry)}"
            )
        else:
            parts.append(
                f"Annex VI issued on {_fmt(issued)} not counted: issued after the 60 days ended"
                f" on {_fmt(period_end)} ('During that 60-day period', {CITE_EXTENSION})"
            )
    held = False
    if ev.annex_v_at is not None:
        if ev.annex_v_at < expiry:
            held = True
            parts.append(
                f"Annex V issued on {_fmt(ev.annex_v_at)}, during the period of preservation:"
                " the data are preserved as long as necessary to produce them once the subsequent"
                f" request for production is received ({CITE_HOLD}); no fixed expiry; the"
                f" issuing authority tells the addressee when preservation is no longer necessary"
                f" ({CITE_END})"
            )
        else:
            parts.append(
                f"Annex V issued on {_fmt(ev.annex_v_at)}, after the preservation ended on"
                f" {_fmt(expiry)}: no hold ({CITE_HOLD}: 'during the period of preservation')"
            )
    if not held:
        parts.append(f"expires {_fmt(expiry)}")
    return EpocExpiry(
        expires_at=None if held else expiry,
        period_end=period_end,
        parts=tuple(parts),
        held=held,
        extensions_left=0 if (held or extended) else 1,
        extended=extended,
    )


def check_annex_vi(ev: EpocEvents, issued_at: datetime) -> None:
    """Conflict unless an Annex VI issued at `issued_at` extends the order (Art. 11(1), third
    sentence): transmitted, not yet extended, not held, and strictly inside the 60 days."""
    ex = epoc_expiry(ev)
    if ex.period_end is None:
        raise Conflict(
            "the EPOC-PR has not been transmitted: the 60 days have not started, there is"
            " nothing to extend yet"
        )
    if ex.held:
        raise Conflict(
            f"Annex V was issued: the data are preserved as long as necessary ({CITE_HOLD});"
            " there is nothing to extend"
        )
    if ex.extended:
        raise Conflict(
            f"the EPOC-PR was already extended with Annex VI: one additional 30-day period"
            f" only ({CITE_EXTENSION})"
        )
    if issued_at >= ex.period_end:
        raise Conflict(
            f"Annex VI can be issued only during the 60 days, which ended on"
            f" {_fmt(ex.period_end)} ({CITE_EXTENSION}: 'During that 60-day period')"
        )


def check_annex_v(ev: EpocEvents, issued_at: datetime) -> None:
    """Conflict unless Annex V issued at `issued_at` falls during the period of preservation
    (Art. 11(2)): transmitted, and before the current expiry."""
    ex = epoc_expiry(ev)
    if ex.period_end is None:
        raise Conflict("the EPOC-PR has not been transmitted: nothing is preserved yet")
    if ex.held:
        raise Conflict("Annex V was already issued for this EPOC-PR")
    assert ex.expires_at is not None
    if issued_at >= ex.expires_at:
        raise Conflict(
            f"the preservation ended on {_fmt(ex.expires_at)}: Annex V confirms a subsequent"
            f" request for production only during the period of preservation ({CITE_HOLD})"
        )
