"""The deadlines of an emergency disclosure request (issue 20), pure: no preservation period and
no expiry, follow-ups in hours after submission until the provider's answer is recorded.

`deadlines.plan_deadlines` hands an emergency instrument's request to `plan_emergency`; the
follow-ups are reminders of kind `deadlines.EMERGENCY_FOLLOWUP`, delivered like any other."""

from __future__ import annotations

from datetime import timedelta

from preservation.domain.deadlines import (
    EMERGENCY_FOLLOWUP,
    DeadlineInput,
    DeadlinePlan,
    _fmt,
    _reminder,
)
from preservation.domain.lifecycle import Status

#: The states in which an emergency request still waits for the provider's answer (recorded
#: with `acknowledge`, or the request closed).
UNANSWERED = frozenset({Status.QUEUED, Status.SENT})


def plan_emergency(inp: DeadlineInput) -> DeadlinePlan:
    """The plan of an emergency disclosure request: no preservation period and no expiry; a
    follow-up `emergency_followup_hours` after submission (sending when the submission is not
    known) while no answer is recorded. Answered (acknowledged) or closed: no reminders."""
    ev, hours = inp.events, inp.settings.emergency_followup_hours
    start = ev.submitted_at or ev.sent_at
    label = ", ".join(f"{h} h" for h in hours)
    rule = f"{inp.regime.key}: an emergency disclosure request: no preservation period"
    if start is None:
        return DeadlinePlan(
            expires_at=None,
            expiry_rule=f"{rule}; follow-ups ({label}) count from its submission",
            held_until_decision=False,
            reminders=(),
        )
    if ev.status not in UNANSWERED:
        return DeadlinePlan(
            expires_at=None,
            expiry_rule=f"{rule}; {ev.status}: no follow-up",
            held_until_decision=False,
            reminders=(),
        )
    reminders = tuple(_reminder(EMERGENCY_FOLLOWUP, start + timedelta(hours=h)) for h in hours)
    return DeadlinePlan(
        expires_at=None,
        expiry_rule=(
            f"{rule}; submitted {_fmt(start)}: follow-ups {label} after it until the answer is"
            " recorded, each to the unit's supervisors and alert addresses"
        ),
        held_until_decision=False,
        reminders=reminders,
    )
