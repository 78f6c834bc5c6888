"""Emergency disclosure, the pure parts: the instrument of each channel (domain/instruments.py
`for_emergency`) and the follow-ups in hours (domain/deadlines.py `plan_emergency`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from preservation.domain import instruments as inst
from preservation.domain.deadlines import (
    EMERGENCY_FOLLOWUP,
    DeadlineInput,
    DeadlineSettings,
    RequestEvents,
    due_reminders,
    is_lapsed,
    plan_deadlines,
)
from preservation.domain.instruments import ProviderFacts, Treaty
from preservation.domain.lifecycle import Status
from preservation.errors import InvalidInput
from preservation.settings import Settings, load_regimes, load_treaties

REGIMES = load_regimes()
TREATIES = load_treaties()
SUBMITTED = datetime(2026, 12, 5, 2, 10, tzinfo=UTC)
META = ProviderFacts(name="Meta", country="US", policy_source="https://about.meta.com/le")
OKX = ProviderFacts(name="OKX", country="SC", policy_source="https://okx.com/le")


def choose(
    provider: ProviderFacts | None,
    *,
    to_provider: bool,
    unit: str = "DE",
    country: str = "US",
    regimes=REGIMES,
    treaties=TREATIES,
):  # type: ignore[no-untyped-def]
    return inst.for_emergency(
        unit_country=unit,
        provider=provider,
        to_provider=to_provider,
        requested_country=country,
        regimes=regimes,
        treaties=treaties,
    )


@pytest.mark.parametrize(
    ("provider", "to_provider", "unit", "key", "cites"),
    [
        # A US provider's emergency channel: § 2702(b)(8) (contents) and (c)(4) (records),
        # whatever the requesting unit's State.
        (META, True, "DE", "us-2702-emergency", "2702(b)(8)"),
        (META, True, "US", "us-2702-emergency", "2702(c)(4)"),
        # Elsewhere, the provider's own emergency policy, with its source.
        (OKX, True, "DE", "provider-emergency", "https://okx.com/le"),
        # The point of contact: police co-operation while CETS 224 Art. 9 is not in force.
        (META, False, "DE", "poc-emergency", "police co-operation"),
        (None, False, "JP", "poc-emergency", "police co-operation"),
    ],
)
def test_the_instrument_follows_the_emergency_channel(
    provider, to_provider, unit, key, cites
) -> None:  # type: ignore[no-untyped-def]
    chosen = choose(provider, to_provider=to_provider, unit=unit)
    assert chosen.key == key
    assert cites in chosen.citation
    assert REGIMES[key].emergency


def test_cets224_art9_only_when_in_force_and_both_states_are_parties() -> None:
    not_yet = choose(None, to_provider=False, unit="JP", country="RS")
    assert not_yet.key == "poc-emergency" and "not in force" in not_yet.why
    in_force = {**REGIMES, "cets224-art9": replace(REGIMES["cets224-art9"], in_force=True)}
    treaties = {
        **TREATIES,
        "cets224": Treaty(
            key="cets224",
            name="Second Additional Protocol",
            complete=False,
            as_of=None,
            parties={"JP": "Japan", "RS": "Serbia"},
        ),
    }
    both = choose(
        None, to_provider=False, unit="JP", country="RS", regimes=in_force, treaties=treaties
    )
    assert both.key == "cets224-art9" and "Art. 9" in both.citation
    one = choose(
        None, to_provider=False, unit="DE", country="RS", regimes=in_force, treaties=treaties
    )
    assert one.key == "poc-emergency" and "DE" in one.why


def test_an_emergency_instrument_asked_for_must_fit() -> None:
    chosen = choose(META, to_provider=True)
    inst.check_emergency_requested("us-2702-emergency", chosen=chosen, regimes=REGIMES)
    for key, reason in (
        ("provider-emergency", "does not fit"),
        ("budapest-art29", "not an emergency instrument"),
        ("nonsense", "unknown instrument"),
        ("cets224-art9", "not in force"),
    ):
        with pytest.raises(InvalidInput) as info:
            inst.check_emergency_requested(key, chosen=chosen, regimes=REGIMES)
        assert info.value.field == "regime" and reason in str(info.value), key


def test_a_preservation_request_cannot_rest_on_an_emergency_instrument() -> None:
    with pytest.raises(InvalidInput, match="emergency disclosure requests") as info:
        inst.check_requested(
            "us-2702-emergency",
            regimes=REGIMES,
            unit_country="US",
            direct=True,
            provider=META,
            requested_country="US",
            treaties=TREATIES,
        )
    assert info.value.field == "regime"


def plan(status: Status = Status.SENT, settings: DeadlineSettings | None = None, **events):  # type: ignore[no-untyped-def]
    return plan_deadlines(
        DeadlineInput(
            regime=REGIMES["us-2702-emergency"],
            events=RequestEvents(status=status, **{"submitted_at": SUBMITTED, **events}),
            settings=settings or DeadlineSettings(),
        )
    )


def test_follow_ups_fall_due_in_hours_after_submission() -> None:
    p = plan(sent_at=SUBMITTED + timedelta(minutes=2))
    assert p.expires_at is None and not p.held_until_decision
    assert [(r.kind, r.due_at) for r in p.reminders] == [
        (EMERGENCY_FOLLOWUP, SUBMITTED + timedelta(hours=1)),
        (EMERGENCY_FOLLOWUP, SUBMITTED + timedelta(hours=4)),
    ]
    assert "no preservation period" in p.expiry_rule
    assert due_reminders(p, SUBMITTED + timedelta(minutes=59)) == ()
    assert len(due_reminders(p, SUBMITTED + timedelta(hours=1))) == 1
    assert len(due_reminders(p, SUBMITTED + timedelta(hours=4))) == 2
    # Nothing lapses: there is no preservation to run out.
    assert not is_lapsed(p, SUBMITTED + timedelta(days=400))


def test_queued_counts_from_submission_and_an_answer_stops_them() -> None:
    assert len(plan(Status.QUEUED).reminders) == 2
    for answered in (Status.PRESERVED, Status.CLOSED):
        p = plan(answered, preserved_at=SUBMITTED + timedelta(minutes=30))
        assert p.reminders == () and p.expires_at is None
    assert plan(Status.DRAFT, submitted_at=None).reminders == ()


def test_the_hours_are_a_setting() -> None:
    p = plan(settings=DeadlineSettings.from_settings(Settings(emergency_followup_hours=(6, 2))))
    assert [r.due_at - SUBMITTED for r in p.reminders] == [timedelta(hours=2), timedelta(hours=6)]
    with pytest.raises(InvalidInput, match="emergency_followup_hours"):
        DeadlineSettings(emergency_followup_hours=(1, 0))
    with pytest.raises(ValueError, match="positive number of hours"):
        Settings(emergency_followup_hours=())
