"""The EPOC-PR clock (Regulation (EU) 2023/1543, Art. 11) as a table, through the planner the
service uses (domain/deadlines.py), and walked day by day with the frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from preservation.domain import epoc_clock
from preservation.domain.clock import FrozenClock
from preservation.domain.deadlines import (
    EXPIRY,
    DeadlineInput,
    Extension,
    RequestEvents,
    check_can_extend,
    is_lapsed,
    plan_deadlines,
)
from preservation.domain.lifecycle import Status
from preservation.errors import Conflict
from preservation.settings import load_regimes

EU = load_regimes()["eu-epoc-pr"]
T = datetime(2026, 11, 20, 13, 3, 11, tzinfo=UTC)  # transmitted through the national system
R = T + timedelta(hours=2)  # received by the addressee
P = T + timedelta(days=1)  # the addressee's "data preserved" notice
D = timedelta(days=1)


def annex_vi(at: datetime) -> Extension:
    # An Annex VI is the issuing authority's own act: issued and effective at once.
    return Extension(requested_at=at, granted_at=at)


def plan(status: Status = Status.SENT, **events):  # type: ignore[no-untyped-def]
    return plan_deadlines(DeadlineInput(regime=EU, events=RequestEvents(status=status, **events)))


# (case, events, expected expiry (None: held), words the rule must say)
TABLE = [
    pytest.param(
        dict(status=Status.QUEUED),
        None,
        ["not transmitted yet", "Upon receipt of an EPOC-PR"],
        id="issued, not transmitted: no clock yet",
    ),
    pytest.param(
        dict(sent_at=T),
        T + 60 * D,
        ["from the transmission", "receipt is not recorded yet", "Art. 11(1), second sentence"],
        id="transmitted, receipt not recorded: from transmission (never later than the law)",
    ),
    pytest.param(
        dict(sent_at=T, received_at=R),
        R + 60 * D,
        ["from the addressee's receipt on 2026-11-20 15:03 UTC", "'Upon receipt of an EPOC-PR'"],
        id="receipt: 60 days from the addressee's receipt",
    ),
    pytest.param(
        dict(status=Status.PRESERVED, received_at=R, preserved_at=P),
        R + 60 * D,
        ["from the addressee's receipt"],
        id="receipt and data preserved: still from receipt",
    ),
    pytest.param(
        dict(status=Status.PRESERVED, preserved_at=P),
        P + 60 * D,
        ["'data preserved' notice on 2026-11-21 13:03 UTC", "receipt not recorded"],
        id="data preserved notice alone: from the notice",
    ),
    pytest.param(
        dict(sent_at=T, received_at=R, extensions=(annex_vi(R + 59 * D),)),
        R + 90 * D,
        ["+30 days by Annex VI", "inside the 60 days", "Art. 11(1), third sentence"],
        id="Annex VI inside the 60 days: +30",
    ),
    pytest.param(
        dict(sent_at=T, received_at=R, extensions=(annex_vi(R + 60 * D),)),
        R + 60 * D,
        ["not counted: issued after the 60 days ended", "During that 60-day period"],
        id="Annex VI when the 60 days have ended: not counted",
    ),
    pytest.param(
        dict(sent_at=T, received_at=R, extensions=(annex_vi(R + 10 * D), annex_vi(R + 80 * D))),
        R + 90 * D,
        ["extended once"],
        id="a second Annex VI: not counted",
    ),
    pytest.param(
        dict(status=Status.MLA_SENT, sent_at=T, received_at=R, mla_sent_at=R + 30 * D),
        None,
        ["Annex V issued on", "as long as necessary", "Art. 11(2)", "Art. 11(3)"],
        id="Annex V during the 60 days: held",
    ),
    pytest.param(
        dict(
            status=Status.MLA_SENT,
            sent_at=T,
            received_at=R,
            extensions=(annex_vi(R + 50 * D),),
            mla_sent_at=R + 85 * D,
        ),
        None,
        ["+30 days by Annex VI", "Annex V issued on", "during the period of preservation"],
        id="Annex V in the extended 30 days: held",
    ),
    pytest.param(
        dict(status=Status.MLA_SENT, sent_at=T, received_at=R, mla_sent_at=R + 61 * D),
        R + 60 * D,
        ["after the preservation ended", "no hold"],
        id="Annex V after the preservation ended: no hold",
    ),
]


@pytest.mark.parametrize(("events", "expires", "words"), TABLE)
def test_epoc_pr_clock_table(events, expires, words) -> None:  # type: ignore[no-untyped-def]
    p = plan(**events)
    assert p.expires_at == expires
    for word in words:
        assert word in p.expiry_rule, p.expiry_rule
    assert p.held_until_decision == ("as long as necessary" in p.expiry_rule)


def test_the_clock_walked_with_the_frozen_clock() -> None:
    """Day by day: a receipt, an Annex VI on day 59, the preservation lapses on day 90 unless
    Annex V comes first; the planner's reminders come due on the way."""
    clock = FrozenClock(R)
    before = plan(sent_at=T, received_at=R)
    assert before.expires_at == R + 60 * D
    clock.advance(timedelta(days=59))
    epoc_clock.check_annex_vi(epoc_events(T, R), clock.now())  # still inside: allowed
    after = plan(sent_at=T, received_at=R, extensions=(annex_vi(clock.now()),))
    assert after.expires_at == R + 90 * D
    clock.advance(timedelta(days=1))  # day 60: the old expiry passes, the new one stands
    assert is_lapsed(before, clock.now()) and not is_lapsed(after, clock.now())
    clock.advance(timedelta(days=30))  # day 90
    assert is_lapsed(after, clock.now())
    assert after.reminders[-1].kind == EXPIRY and after.reminders[-1].due_at == R + 90 * D


def epoc_events(t: datetime, r: datetime, **more):  # type: ignore[no-untyped-def]
    return epoc_clock.EpocEvents(transmitted_at=t, received_at=r, **more)


def test_annex_vi_only_inside_the_60_days_and_once() -> None:
    ev = epoc_events(T, R)
    epoc_clock.check_annex_vi(ev, R + 60 * D - timedelta(seconds=1))
    with pytest.raises(Conflict, match="only during the 60 days"):
        epoc_clock.check_annex_vi(ev, R + 60 * D)
    with pytest.raises(Conflict, match="already extended"):
        epoc_clock.check_annex_vi(epoc_events(T, R, annex_vi=(R + D,)), R + 2 * D)
    with pytest.raises(Conflict, match="not been transmitted"):
        epoc_clock.check_annex_vi(epoc_clock.EpocEvents(), R)
    with pytest.raises(Conflict, match="nothing to extend"):
        epoc_clock.check_annex_vi(epoc_events(T, R, annex_v_at=R + D), R + 2 * D)


def test_annex_v_only_during_the_period_of_preservation() -> None:
    epoc_clock.check_annex_v(epoc_events(T, R), R + 59 * D)
    with pytest.raises(Conflict, match="preservation ended"):
        epoc_clock.check_annex_v(epoc_events(T, R), R + 60 * D)
    extended = epoc_events(T, R, annex_vi=(R + 40 * D,))
    epoc_clock.check_annex_v(extended, R + 89 * D)
    with pytest.raises(Conflict, match="already issued"):
        epoc_clock.check_annex_v(epoc_events(T, R, annex_v_at=R + D), R + 2 * D)


def test_the_renewed_request_of_other_instruments_is_refused_for_an_epoc_pr() -> None:
    data = DeadlineInput(regime=EU, events=RequestEvents(status=Status.SENT, sent_at=T))
    with pytest.raises(Conflict, match="Annex VI"):
        check_can_extend(data, T + D)


def test_reference_implementation_defect_is_not_repeated() -> None:
    # The open mapping code sets "now + 60 days" when it converts the form, and again for Form 6:
    # converted on day 10 and extended on day 50 it would say day 110, not day 90.
    p = plan(sent_at=T, received_at=R, extensions=(annex_vi(R + 50 * D),))
    assert p.expires_at == R + 90 * D != (R + 50 * D) + 60 * D
