"""Expiry and reminder arithmetic, per regime, with provider policies, extensions, MLA and DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from preservation.domain.clock import FrozenClock
from preservation.domain.deadlines import (
    ACK_MISSING,
    EXPIRY,
    EXTENSION_LEAD,
    MLA_FOLLOWUP,
    DeadlineInput,
    DeadlinePlan,
    DeadlineSettings,
    Extension,
    ProviderPolicy,
    RequestEvents,
    check_can_extend,
    due_reminders,
    expiry_minus,
    is_lapsed,
    plan_deadlines,
)
from preservation.domain.lifecycle import Status
from preservation.errors import Conflict, InvalidInput
from preservation.settings import Settings, load_regimes

REGIMES = load_regimes()
BUDAPEST, US, EU, DOMESTIC = (
    REGIMES["budapest-art29"],
    REGIMES["us-2703f"],
    REGIMES["eu-epoc-pr"],
    REGIMES["domestic"],
)
SENT = datetime(2026, 11, 20, 13, 3, 11, tzinfo=UTC)
PRESERVED = datetime(2026, 11, 21, 9, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# The day-by-day walks tick half an hour before the instants reminders are derived from, so that a
# reminder picked even slightly early is caught.
OFF_TICK = timedelta(minutes=30)
BERLIN = ZoneInfo("Europe/Berlin")


def inp(regime=US, provider=None, settings=None, **events) -> DeadlineInput:  # type: ignore[no-untyped-def]
    events.setdefault("status", Status.PRESERVED if events.get("preserved_at") else Status.SENT)
    return DeadlineInput(
        regime=regime,
        provider=provider,
        events=RequestEvents(**events),
        settings=settings or DeadlineSettings(),
    )


def kinds(plan: DeadlinePlan) -> list[str]:
    return [r.kind for r in plan.reminders]


def due(plan: DeadlinePlan, kind: str) -> datetime:
    (reminder,) = [r for r in plan.reminders if r.kind == kind]
    return reminder.due_at


# --- each regime -------------------------------------------------------------------------------


def test_budapest_runs_from_preservation() -> None:
    plan = plan_deadlines(inp(BUDAPEST, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at == PRESERVED + 60 * DAY == datetime(2027, 1, 20, 9, 0, tzinfo=UTC)
    assert plan.expiry_rule.startswith(
        "budapest-art29: at least 60 days from preservation on 2026-11-21 09:00 UTC"
        " (Convention on Cybercrime (ETS No. 185), Art. 29(7)) -> 2027-01-20 09:00 UTC"
    )
    assert plan.expiry_rule.endswith("expires 2027-01-20 09:00 UTC")
    assert not plan.held_until_decision
    assert plan.extensions_left == 0
    assert kinds(plan) == [expiry_minus(n) for n in (30, 14, 7, 3, 1)] + [EXPIRY]
    assert due(plan, expiry_minus(30)) == plan.expires_at - 30 * DAY
    assert plan.next_reminder_at == plan.expires_at - 30 * DAY


def test_preservation_regime_counts_from_sending_until_confirmed() -> None:
    plan = plan_deadlines(inp(BUDAPEST, sent_at=SENT))
    assert plan.expires_at == SENT + 60 * DAY
    assert (
        "from sending on 2026-11-20 13:03 UTC (preservation not confirmed yet" in plan.expiry_rule
    )
    assert due(plan, ACK_MISSING) == SENT + timedelta(hours=48)
    assert plan.reminders[0].kind == ACK_MISSING


def test_us_2703f_ninety_days_from_preservation() -> None:
    plan = plan_deadlines(inp(US, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at == PRESERVED + 90 * DAY
    assert (
        "us-2703f: 90 days from preservation on 2026-11-21 09:00 UTC (18 U.S.C. § 2703(f)(2))"
        in (plan.expiry_rule)
    )
    assert plan.extensions_left == 1
    assert ACK_MISSING not in kinds(plan)


def test_epoc_pr_runs_from_transmission_until_receipt_is_recorded() -> None:
    # The clock of an EPOC-PR is tested as a table in tests/domain/test_epoc_clock.py.
    plan = plan_deadlines(inp(EU, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at == SENT + 60 * DAY
    assert (
        "eu-epoc-pr: 60 days from the transmission through the national IT system on"
        " 2026-11-20 13:03 UTC"
    ) in plan.expiry_rule
    assert "Regulation (EU) 2023/1543, Art. 11(1)" in plan.expiry_rule


def test_domestic_template_is_at_most_ninety_days() -> None:
    plan = plan_deadlines(inp(DOMESTIC, sent_at=SENT))
    assert plan.expires_at == SENT + 90 * DAY
    assert "domestic: at most 90 days from sending" in plan.expiry_rule


def test_acknowledged_before_dispatch_recorded() -> None:
    # queued -> acknowledge -> preserved: no sent_at; a "sent" regime counts from preservation.
    plan = plan_deadlines(inp(EU, status=Status.PRESERVED, preserved_at=PRESERVED))
    assert plan.expires_at == PRESERVED + 60 * DAY
    assert "'data preserved' notice on 2026-11-21 09:00 UTC (receipt not" in plan.expiry_rule
    assert ACK_MISSING not in kinds(plan)


# --- provider policies -------------------------------------------------------------------------


def test_shorter_provider_wins() -> None:
    acme = ProviderPolicy(slug="acme", preservation_days=20)
    plan = plan_deadlines(inp(US, acme, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at == PRESERVED + 20 * DAY
    assert "provider acme: 20 days from preservation on 2026-11-21 09:00 UTC" in plan.expiry_rule
    assert "the earlier applies: provider acme" in plan.expiry_rule
    # 30 days before expiry would fall before the request was sent.
    assert kinds(plan)[0] == expiry_minus(14)


def test_longer_provider_does_not_win() -> None:
    google = ProviderPolicy(slug="google", preservation_days=120)
    plan = plan_deadlines(inp(US, google, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at == PRESERVED + 90 * DAY
    assert "the earlier applies: us-2703f" in plan.expiry_rule


def test_equal_provider_says_so() -> None:
    meta = ProviderPolicy(slug="meta", preservation_days=90)
    plan = plan_deadlines(inp(US, meta, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at == PRESERVED + 90 * DAY
    assert "both give the same expiry" in plan.expiry_rule


def test_a_provider_period_plays_no_part_in_an_epoc_pr() -> None:
    # The order binds the addressee by law (Art. 11(1)): the provider's own, shorter period does
    # not shorten it.
    snap = ProviderPolicy(slug="snap", preservation_days=20)
    plan = plan_deadlines(inp(EU, snap, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at == SENT + 60 * DAY
    assert "provider snap" not in plan.expiry_rule


def test_provider_without_period_changes_nothing() -> None:
    plain = plan_deadlines(inp(US, sent_at=SENT, preserved_at=PRESERVED))
    silent = plan_deadlines(inp(US, ProviderPolicy(slug="x"), sent_at=SENT, preserved_at=PRESERVED))
    assert silent == plain


# --- extensions --------------------------------------------------------------------------------


def test_granted_extension_adds_from_current_expiry() -> None:
    ext = Extension(requested_at=PRESERVED + 80 * DAY, granted_at=PRESERVED + 81 * DAY)
    plan = plan_deadlines(inp(US, sent_at=SENT, preserved_at=PRESERVED, extensions=(ext,)))
    assert plan.expires_at == PRESERVED + 180 * DAY
    assert "+90 days by extension 1 of 1 granted on" in plan.expiry_rule
    assert plan.extensions_left == 0
    assert due(plan, EXPIRY) == PRESERVED + 180 * DAY


def test_pending_extension_keeps_old_expiry() -> None:
    ext = Extension(requested_at=PRESERVED + 80 * DAY)
    plan = plan_deadlines(
        inp(
            US,
            status=Status.EXTENSION_REQUESTED,
            sent_at=SENT,
            preserved_at=PRESERVED,
            extensions=(ext,),
        )
    )
    assert plan.expires_at == PRESERVED + 90 * DAY
    assert "not confirmed yet: expiry unchanged" in plan.expiry_rule
    with pytest.raises(Conflict, match="not confirmed yet"):
        check_can_extend(
            inp(US, sent_at=SENT, preserved_at=PRESERVED, extensions=(ext,)), PRESERVED + 81 * DAY
        )


def test_extension_over_the_maximum_is_not_counted_and_refused() -> None:
    first = Extension(requested_at=PRESERVED + 80 * DAY, granted_at=PRESERVED + 80 * DAY)
    second = Extension(requested_at=PRESERVED + 170 * DAY, granted_at=PRESERVED + 171 * DAY)
    data = inp(US, sent_at=SENT, preserved_at=PRESERVED, extensions=(second, first))
    plan = plan_deadlines(data)
    # A stored plan is always computable: the excess extension is ignored and the rule says why.
    assert plan.expires_at == PRESERVED + 180 * DAY
    assert "not counted: at most 1 allowed (18 U.S.C. § 2703(f)(2)" in plan.expiry_rule
    with pytest.raises(Conflict, match="extension\\(s\\) allowed have been used"):
        check_can_extend(
            replace(data, events=replace(data.events, extensions=(first,))), PRESERVED + 100 * DAY
        )


def test_extension_asked_after_expiry_is_not_counted() -> None:
    late = Extension(requested_at=PRESERVED + 91 * DAY, granted_at=PRESERVED + 92 * DAY)
    plan = plan_deadlines(inp(US, sent_at=SENT, preserved_at=PRESERVED, extensions=(late,)))
    assert plan.expires_at == PRESERVED + 90 * DAY
    assert "asked after the expiry" in plan.expiry_rule


def test_epoc_pr_extension_is_thirty_days() -> None:
    ext = Extension(requested_at=SENT + 50 * DAY, granted_at=SENT + 51 * DAY)
    plan = plan_deadlines(inp(EU, sent_at=SENT, preserved_at=PRESERVED, extensions=(ext,)))
    assert plan.expires_at == SENT + 90 * DAY


def test_provider_can_make_extensions_stricter() -> None:
    ext = Extension(requested_at=PRESERVED + 80 * DAY, granted_at=PRESERVED + 80 * DAY)
    shorter = ProviderPolicy(slug="p", extension_days=60)
    plan = plan_deadlines(inp(US, shorter, sent_at=SENT, preserved_at=PRESERVED, extensions=(ext,)))
    assert plan.expires_at == PRESERVED + 150 * DAY
    none = ProviderPolicy(slug="q", max_extensions=0)
    data = inp(US, none, sent_at=SENT, preserved_at=PRESERVED)
    assert plan_deadlines(data).extensions_left == 0
    with pytest.raises(Conflict, match="provides no extension"):
        check_can_extend(data, PRESERVED + DAY)


def test_check_can_extend() -> None:
    data = inp(US, sent_at=SENT, preserved_at=PRESERVED)
    assert check_can_extend(data, PRESERVED + 10 * DAY) == ()
    with pytest.raises(Conflict, match="expired on 2027-02-19 09:00 UTC"):
        check_can_extend(data, PRESERVED + 90 * DAY)
    with pytest.raises(Conflict, match="budapest-art29 provides no extension"):
        check_can_extend(inp(BUDAPEST, sent_at=SENT, preserved_at=PRESERVED), PRESERVED)
    with pytest.raises(Conflict, match="not been sent"):
        check_can_extend(inp(US, status=Status.DRAFT), SENT)
    held = inp(
        BUDAPEST,
        status=Status.MLA_SENT,
        sent_at=SENT,
        preserved_at=PRESERVED,
        mla_sent_at=PRESERVED + DAY,
        mla_received_at=PRESERVED + DAY,
    )
    with pytest.raises(Conflict, match="until the decision"):
        check_can_extend(held, PRESERVED + 2 * DAY)
    x = ProviderPolicy(slug="x", extension_lead_days=7)
    late = inp(US, x, sent_at=SENT, preserved_at=PRESERVED)
    assert check_can_extend(late, PRESERVED + 80 * DAY) == ()
    (warning,) = check_can_extend(late, PRESERVED + 85 * DAY)
    assert "provider x asks for extension requests at least 7 days before expiry" in warning


def test_regime_lead_time_is_enforced() -> None:
    strict = replace(US, key="strict", extension_lead_days=10)
    data = inp(strict, sent_at=SENT, preserved_at=PRESERVED)
    assert check_can_extend(data, PRESERVED + 79 * DAY) == ()
    with pytest.raises(Conflict, match="at least 10 days before expiry"):
        check_can_extend(data, PRESERVED + 81 * DAY)


def test_extension_lead_reminder() -> None:
    x = ProviderPolicy(slug="x", extension_lead_days=7)
    plan = plan_deadlines(inp(US, x, sent_at=SENT, preserved_at=PRESERVED))
    assert due(plan, EXTENSION_LEAD) == PRESERVED + 83 * DAY
    # None once the extension is used, while one is pending, or where none is possible.
    used = Extension(requested_at=PRESERVED + 70 * DAY, granted_at=PRESERVED + 70 * DAY)
    pending = Extension(requested_at=PRESERVED + 70 * DAY)
    for exts in ((used,), (pending,)):
        assert EXTENSION_LEAD not in kinds(
            plan_deadlines(inp(US, x, sent_at=SENT, preserved_at=PRESERVED, extensions=exts))
        )
    assert EXTENSION_LEAD not in kinds(
        plan_deadlines(inp(BUDAPEST, x, sent_at=SENT, preserved_at=PRESERVED))
    )


# --- MLA ---------------------------------------------------------------------------------------


def test_mla_under_budapest_holds_until_decision() -> None:
    mla = PRESERVED + 40 * DAY
    plan = plan_deadlines(
        inp(
            BUDAPEST,
            status=Status.MLA_SENT,
            sent_at=SENT,
            preserved_at=PRESERVED,
            mla_sent_at=mla,
            mla_received_at=mla,
        )
    )
    assert plan.held_until_decision
    assert plan.expires_at is None
    assert (
        "preserved pending the decision on it (Convention on Cybercrime (ETS No. 185), Art. 29(7), second sentence)"
        in (plan.expiry_rule)
    )
    assert "no fixed expiry" in plan.expiry_rule and "expires " not in plan.expiry_rule
    assert set(kinds(plan)) == {MLA_FOLLOWUP}
    assert [r.due_at for r in plan.reminders] == [mla + k * 30 * DAY for k in range(1, 13)]
    assert len({r.key for r in plan.reminders}) == 12
    assert not is_lapsed(plan, mla + 10_000 * DAY)


def test_mla_under_2703f_does_not_stop_the_clock() -> None:
    mla = PRESERVED + 40 * DAY
    before = plan_deadlines(inp(US, sent_at=SENT, preserved_at=PRESERVED))
    plan = plan_deadlines(
        inp(US, status=Status.MLA_SENT, sent_at=SENT, preserved_at=PRESERVED, mla_sent_at=mla)
    )
    assert not plan.held_until_decision
    assert plan.expires_at == before.expires_at == PRESERVED + 90 * DAY
    assert plan.reminders == before.reminders
    assert "the clock keeps running (18 U.S.C. § 2703(f)(1)" in plan.expiry_rule
    assert plan.extensions_left == 1
    assert (
        check_can_extend(
            inp(US, status=Status.MLA_SENT, sent_at=SENT, preserved_at=PRESERVED, mla_sent_at=mla),
            PRESERVED + 60 * DAY,
        )
        == ()
    )


def test_mla_under_epoc_pr_holds() -> None:
    plan = plan_deadlines(
        inp(
            EU,
            status=Status.MLA_SENT,
            sent_at=SENT,
            preserved_at=PRESERVED,
            mla_sent_at=SENT + 59 * DAY,
        )
    )
    assert plan.held_until_decision and plan.expires_at is None
    assert "Regulation (EU) 2023/1543, Art. 11(2)" in plan.expiry_rule


def test_budapest_mla_sent_but_not_received_keeps_the_expiry() -> None:
    """Art. 29(7): the data continue to be preserved "following the receipt" of the MLA request:
    sending it changes nothing until the requested State confirms its receipt."""
    sent = inp(
        BUDAPEST,
        status=Status.MLA_SENT,
        sent_at=SENT,
        preserved_at=PRESERVED,
        mla_sent_at=PRESERVED + 40 * DAY,
    )
    plan = plan_deadlines(sent)
    assert not plan.held_until_decision
    assert plan.expires_at == PRESERVED + 60 * DAY
    assert EXPIRY in kinds(plan) and MLA_FOLLOWUP not in kinds(plan)
    assert "hold starts when the requested State confirms its receipt" in plan.expiry_rule


def test_budapest_hold_in_the_us_has_a_practical_end() -> None:
    held = DeadlineInput(
        regime=BUDAPEST,
        events=RequestEvents(
            status=Status.MLA_SENT,
            sent_at=SENT,
            preserved_at=PRESERVED,
            mla_sent_at=PRESERVED + 40 * DAY,
            mla_received_at=PRESERVED + 45 * DAY,
        ),
        requested_country="US",
    )
    plan = plan_deadlines(held)
    assert plan.held_until_decision
    assert plan.expires_at == PRESERVED + 180 * DAY  # 18 U.S.C. § 2703(f)(2): 90 + 90 days
    assert "practical end" in plan.expiry_rule and "2703(f)(2)" in plan.expiry_rule
    assert {MLA_FOLLOWUP, EXPIRY} <= set(kinds(plan))
    # Elsewhere no limit is on file: held without a fixed end.
    plan = plan_deadlines(
        DeadlineInput(regime=BUDAPEST, events=held.events, requested_country="DE")
    )
    assert plan.held_until_decision and plan.expires_at is None


def test_mla_after_expiry_does_not_hold() -> None:
    plan = plan_deadlines(
        inp(
            BUDAPEST,
            status=Status.MLA_SENT,
            sent_at=SENT,
            preserved_at=PRESERVED,
            mla_sent_at=PRESERVED + 61 * DAY,
            mla_received_at=PRESERVED + 61 * DAY,
        )
    )
    assert not plan.held_until_decision
    assert plan.expires_at == PRESERVED + 60 * DAY
    assert "after the expiry: no hold" in plan.expiry_rule


def test_mla_without_acknowledgement_still_chases_it() -> None:
    plan = plan_deadlines(
        inp(
            BUDAPEST,
            status=Status.MLA_SENT,
            sent_at=SENT,
            mla_sent_at=SENT + 5 * DAY,
            mla_received_at=SENT + 6 * DAY,
        )
    )
    assert plan.held_until_decision
    assert kinds(plan)[0] == ACK_MISSING and set(kinds(plan)) == {ACK_MISSING, MLA_FOLLOWUP}


# --- states without reminders ------------------------------------------------------------------


def test_draft_and_queued_have_no_expiry() -> None:
    for status in (Status.DRAFT, Status.QUEUED):
        plan = plan_deadlines(inp(US, status=status))
        assert plan.expires_at is None and plan.reminders == ()
        assert plan.expiry_rule.startswith("not sent yet")
        assert plan.next_reminder_at is None


@pytest.mark.parametrize("status", [Status.CLOSED, Status.LAPSED])
def test_closed_and_lapsed_have_no_reminders(status: Status) -> None:
    closed_at = PRESERVED + 10 * DAY if status is Status.CLOSED else None
    plan = plan_deadlines(
        inp(US, status=status, sent_at=SENT, preserved_at=PRESERVED, closed_at=closed_at)
    )
    assert plan.reminders == ()
    assert plan.expires_at == PRESERVED + 90 * DAY
    if status is Status.CLOSED:
        assert "closed on 2026-12-01 09:00 UTC: no reminders" in plan.expiry_rule
    else:
        assert "lapsed: no reminders" in plan.expiry_rule


def test_offsets_before_sending_are_skipped() -> None:
    settings = DeadlineSettings(reminder_offsets_days=(90, 59, 30, 1))
    plan = plan_deadlines(inp(EU, settings=settings, sent_at=SENT, preserved_at=PRESERVED))
    assert kinds(plan) == [expiry_minus(59), expiry_minus(30), expiry_minus(1), EXPIRY]


# --- time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local_start", "start_hour", "expiry_hour"),
    [
        # Spring forward on 2026-03-29: 10:00 CET is 09:00 UTC; 60 x 24 h later is 11:00 CEST.
        (datetime(2026, 3, 20, 10, 0, tzinfo=BERLIN), 10, 11),
        # Fall back on 2026-10-25: 12:00 CEST is 10:00 UTC; 60 x 24 h later is 11:00 CET.
        (datetime(2026, 10, 1, 12, 0, tzinfo=BERLIN), 12, 11),
    ],
)
def test_dst_between_start_and_expiry(
    local_start: datetime, start_hour: int, expiry_hour: int
) -> None:
    plan = plan_deadlines(inp(BUDAPEST, sent_at=local_start - DAY, preserved_at=local_start))
    assert plan.expires_at is not None and plan.expires_at.tzinfo is UTC
    # The expiry is exactly 60 x 24 hours after the start instant...
    assert plan.expires_at - local_start == timedelta(hours=60 * 24)
    assert plan.expires_at.hour == local_start.astimezone(UTC).hour
    # ... which a Berlin unit sees at a wall-clock hour one off the start's.
    assert local_start.hour == start_hour
    assert plan.expires_at.astimezone(BERLIN).hour == expiry_hour
    # Reminders are exact UTC offsets too, and the rule speaks UTC.
    assert due(plan, expiry_minus(30)) == plan.expires_at - timedelta(hours=30 * 24)
    start_utc = local_start.astimezone(UTC)
    assert f"from preservation on {start_utc:%Y-%m-%d %H:%M} UTC" in plan.expiry_rule
    assert f"-> {plan.expires_at:%Y-%m-%d %H:%M} UTC" in plan.expiry_rule


def test_keys_are_stable_across_recomputation_and_zones() -> None:
    a = plan_deadlines(inp(US, sent_at=SENT, preserved_at=PRESERVED))
    b = plan_deadlines(
        inp(
            US,
            sent_at=SENT.astimezone(BERLIN),
            preserved_at=PRESERVED.astimezone(ZoneInfo("America/New_York")),
        )
    )
    assert a == b
    assert [r.key for r in a.reminders] == [r.key for r in b.reminders]
    expiry = PRESERVED + 90 * DAY
    assert f"{EXPIRY}:{expiry:%Y%m%dT%H%M%SZ}" == "expiry:20270219T090000Z"
    assert a.reminders[-1].key == "expiry:20270219T090000Z"
    assert all(r.key == f"{r.kind}:{r.due_at:%Y%m%dT%H%M%SZ}" for r in a.reminders)
    assert len({r.key for r in a.reminders}) == len(a.reminders)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        RequestEvents(status=Status.SENT, sent_at=datetime(2026, 11, 20, 13, 0))
    assert info.value.field == "sent_at"
    with pytest.raises(InvalidInput):
        is_lapsed(plan_deadlines(inp(US, sent_at=SENT)), datetime(2026, 11, 20))
    with pytest.raises(InvalidInput) as info:
        Extension(requested_at=datetime(2026, 11, 20))
    assert info.value.field == "requested_at"


def test_bad_policy_and_settings_are_refused() -> None:
    with pytest.raises(InvalidInput, match="provider.preservation_days"):
        ProviderPolicy(slug="p", preservation_days=0)
    with pytest.raises(InvalidInput, match="provider.extension_lead_days"):
        ProviderPolicy(slug="p", extension_lead_days=-1)
    with pytest.raises(InvalidInput, match="reminder_offsets_days"):
        DeadlineSettings(reminder_offsets_days=(7, 0))
    with pytest.raises(InvalidInput, match="ack_timeout"):
        DeadlineSettings(ack_timeout=timedelta(0))


def test_settings_from_application_settings() -> None:
    s = DeadlineSettings.from_settings(
        Settings(reminder_offsets_days=(3, 30), ack_timeout_hours=12)
    )
    assert s.reminder_offsets_days == (30, 3)
    assert s.ack_timeout == timedelta(hours=12)
    assert s.mla_followup_days == 30


def test_extension_from_json() -> None:
    ext = Extension.from_json({"requested_at": "2026-12-01T10:00:00+01:00", "granted_at": None})
    assert ext.requested_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC) and ext.granted_at is None
    with pytest.raises(InvalidInput, match="granted_at"):
        Extension.from_json({"requested_at": "2026-12-01T10:00:00Z", "granted_at": "soon"})
    with pytest.raises(InvalidInput, match="requested_at"):
        Extension.from_json({})


def test_is_lapsed_and_due_reminders() -> None:
    plan = plan_deadlines(inp(US, sent_at=SENT, preserved_at=PRESERVED))
    assert plan.expires_at is not None
    assert not is_lapsed(plan, plan.expires_at - timedelta(seconds=1))
    assert is_lapsed(plan, plan.expires_at)
    at = plan.expires_at - 7 * DAY
    got = due_reminders(plan, at)
    assert [r.kind for r in got] == [expiry_minus(30), expiry_minus(14), expiry_minus(7)]
    assert due_reminders(plan, at, {r.key for r in got}) == ()
    assert due_reminders(plan, SENT) == ()
    first = plan.reminders[0]
    assert due_reminders(plan, first.due_at - timedelta(microseconds=1)) == ()
    assert due_reminders(plan, first.due_at) == (first,)


# --- a frozen clock moved day by day -----------------------------------------------------------


def _walk(clock: FrozenClock, until: datetime, events_at) -> dict[str, list[datetime]]:  # type: ignore[no-untyped-def]
    """Move the clock a day at a time; each day recompute the plan from the events known then,
    deliver what is due and not yet delivered, and record when each key was picked."""
    picked: dict[str, list[datetime]] = {}
    delivered: set[str] = set()
    due_of: dict[str, datetime] = {}
    while clock.now() <= until:
        now = clock.now()
        plan = plan_deadlines(events_at(now))
        for reminder in due_reminders(plan, now, delivered):
            assert reminder.due_at <= now, f"{reminder.key} picked before it was due"
            picked.setdefault(reminder.key, []).append(now)
            due_of[reminder.key] = reminder.due_at
            delivered.add(reminder.key)
        clock.advance(days=1)
    for key, times in picked.items():
        assert len(times) == 1, f"{key} picked {len(times)} times"
        # Picked on the first tick at or after it fell due.
        assert times[0] - due_of[key] < DAY
    return picked


def test_day_by_day_same_events_each_reminder_once() -> None:
    x = ProviderPolicy(slug="x", extension_lead_days=7)
    data = inp(US, x, sent_at=SENT)  # never acknowledged: ack_missing, estimated expiry
    clock = FrozenClock(SENT - OFF_TICK)
    plan = plan_deadlines(data)
    assert plan.expires_at is not None
    picked = _walk(clock, plan.expires_at + 2 * DAY, lambda now: data)
    assert set(picked) == {r.key for r in plan.reminders}
    assert {k.split(":")[0] for k in picked} == {
        ACK_MISSING,
        EXTENSION_LEAD,
        EXPIRY,
        *(expiry_minus(n) for n in (30, 14, 7, 3, 1)),
    }


def test_day_by_day_with_events_arriving() -> None:
    """Acknowledged on day 1 (the estimated expiry moves), extended on day 70, MLA on day 120:
    nothing is delivered twice, nothing early, and what is planned and due is delivered."""
    preserved = SENT + DAY - timedelta(hours=2)
    ext = Extension(requested_at=SENT + 70 * DAY, granted_at=SENT + 72 * DAY)
    mla = SENT + 120 * DAY

    def events_at(now: datetime) -> DeadlineInput:
        known: dict = {"sent_at": SENT}
        status = Status.SENT
        if now >= SENT + DAY:
            known["preserved_at"], status = preserved, Status.PRESERVED
        if now >= ext.requested_at:
            granted = ext if now >= ext.granted_at else Extension(requested_at=ext.requested_at)
            known["extensions"] = (granted,)
            status = Status.PRESERVED if granted.granted_at else Status.EXTENSION_REQUESTED
        if now >= mla:
            known["mla_sent_at"], status = mla, Status.MLA_SENT
        return inp(US, status=status, **known)

    final = plan_deadlines(events_at(SENT + 400 * DAY))
    assert final.expires_at == preserved + 180 * DAY
    picked = _walk(FrozenClock(SENT - OFF_TICK), final.expires_at + DAY, events_at)
    # Every reminder of the final plan was delivered once; the ack arrived before ack_missing fell
    # due, so it never went out.
    assert {r.key for r in final.reminders} <= set(picked)
    assert not any(k.startswith(ACK_MISSING) for k in picked)
    # Reminders of the first, 90-day expiry that fell due before the extension went out too.
    first_expiry = preserved + 90 * DAY
    assert f"{expiry_minus(30)}:{first_expiry - 30 * DAY:%Y%m%dT%H%M%SZ}" in picked


def test_day_by_day_budapest_hold() -> None:
    mla = SENT + 30 * DAY

    def events_at(now: datetime) -> DeadlineInput:
        if now >= mla:
            return inp(
                BUDAPEST,
                status=Status.MLA_SENT,
                sent_at=SENT,
                preserved_at=SENT,
                mla_sent_at=mla,
                mla_received_at=mla,
            )
        return inp(BUDAPEST, sent_at=SENT, preserved_at=SENT)

    picked = _walk(FrozenClock(SENT - OFF_TICK), SENT + 500 * DAY, events_at)
    kinds_picked = [k.split(":")[0] for k in picked]
    # 30 days before expiry is the MLA day itself: held by then, so it never goes out; after the
    # MLA only follow-ups.
    assert kinds_picked.count(MLA_FOLLOWUP) == 12
    assert not {EXPIRY, expiry_minus(30), expiry_minus(14)} & set(kinds_picked)
