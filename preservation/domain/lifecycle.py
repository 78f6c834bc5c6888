"""Request states and the actions that move a request between them: one table, no I/O.

Whether an action is allowed depends here on the state alone. What depends on the regime (is an
extension still available? does the MLA request stop the clock?) is decided by domain/deadlines.py; the
service asks both."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from preservation.errors import Conflict


class Status(StrEnum):
    #: Being written; nothing has been sent. Editable (PATCH), can be withdrawn.
    DRAFT = "draft"
    #: An officer's European Preservation Order (EPOC-PR), submitted: it waits for a judge or
    #: prosecutor of the unit to issue or validate it (Regulation (EU) 2023/1543, Art. 3(2):
    #: "issued or validated by a judicial authority"). Nothing is sent or transmitted.
    AWAITING_VALIDATION = "awaiting_validation"
    #: Submitted and committed; the outbox rows wait for the dispatcher.
    QUEUED = "queued"
    #: Delivered to the provider and/or point of contact; no acknowledgement yet.
    SENT = "sent"
    #: The provider (or requested Party) confirmed the preservation; the expiry clock runs.
    PRESERVED = "preserved"
    #: An extension was asked for and is not confirmed yet; the old expiry still applies.
    EXTENSION_REQUESTED = "extension_requested"
    #: The formal request (MLA, production order) was sent; under some regimes the data are
    #: then kept until it is decided, under others the clock keeps running.
    MLA_SENT = "mla_sent"
    #: Finished by the unit: produced, refused, withdrawn or not found (terminal).
    CLOSED = "closed"
    #: The preservation expired before the formal request or an extension (terminal).
    LAPSED = "lapsed"


class Action(StrEnum):
    #: An officer submits a draft for sending.
    SUBMIT = "submit"
    #: The service sends an officer's EPOC-PR to validation on submit (the API action is
    #: `submit`; the instrument decides): not an API action.
    REFER = "refer"
    #: A judge or prosecutor issues or validates the EPOC-PR (requests/epoc.py).
    VALIDATE = "validate"
    #: The judge or prosecutor sends the EPOC-PR back to the officer as a draft (nothing issued).
    RETURN = "return"
    #: The dispatcher has delivered the request (queued -> sent); not an API action.
    DISPATCH = "dispatch"
    #: The provider confirms: the preservation, a granted extension, or receipt of the MLA request.
    ACKNOWLEDGE = "acknowledge"
    #: An extension (renewed request) is sent.
    EXTEND = "extend"
    #: The formal MLA / production request is recorded as sent.
    MLA = "mla"
    #: The requested State confirms receipt of the MLA request (Budapest Art. 29(7): the hold
    #: pending the decision starts then).
    MLA_RECEIVED = "mla-received"
    #: The issuing authority extends an EPOC-PR by 30 days with the form in Annex VI, during
    #: the 60 days (Regulation (EU) 2023/1543, Art. 11(1), third sentence).
    ANNEX_VI = "annex-vi"
    #: The issuing authority confirms with the form in Annex V that the subsequent request for
    #: production was issued: the data are kept as long as necessary (Art. 11(1)-(2)).
    ANNEX_V = "annex-v"
    #: The unit closes the request with an outcome (a draft closed is withdrawn).
    CLOSE = "close"
    #: The scheduler records that the preservation expired; not an API action.
    LAPSE = "lapse"


S, A = Status, Action

#: The only place that says which action moves which state where.
TRANSITIONS: Mapping[tuple[Status, Action], Status] = MappingProxyType(
    {
        (S.DRAFT, A.SUBMIT): S.QUEUED,
        # EPOC-PR: the officer's submit sends it to the judge or prosecutor, whose validation
        # issues it (queued: a hand-off to the national IT system, requests/epoc.py).
        (S.DRAFT, A.REFER): S.AWAITING_VALIDATION,
        (S.AWAITING_VALIDATION, A.VALIDATE): S.QUEUED,
        (S.AWAITING_VALIDATION, A.RETURN): S.DRAFT,
        (S.AWAITING_VALIDATION, A.CLOSE): S.CLOSED,
        (S.QUEUED, A.DISPATCH): S.SENT,
        # The provider may confirm before the dispatcher has recorded delivery (a portal hand-off
        # done by hand, or the provider answering the copy first): the confirmation is the
        # stronger fact, so it is accepted.
        (S.QUEUED, A.ACKNOWLEDGE): S.PRESERVED,
        (S.SENT, A.ACKNOWLEDGE): S.PRESERVED,
        (S.PRESERVED, A.EXTEND): S.EXTENSION_REQUESTED,
        (S.EXTENSION_REQUESTED, A.ACKNOWLEDGE): S.PRESERVED,
        (S.SENT, A.MLA): S.MLA_SENT,
        (S.PRESERVED, A.MLA): S.MLA_SENT,
        # A pending extension stays in the request's extension list and can still be granted.
        (S.EXTENSION_REQUESTED, A.MLA): S.MLA_SENT,
        # After the MLA request the state stays mla_sent: an acknowledgement confirms receipt of
        # the MLA request or grants a pending extension; an extension is still needed where the
        # clock keeps running (18 U.S.C. 2703(f): the MLA takes months, the 90 days do not wait).
        # deadlines.check_can_extend refuses it where the regime holds the data until decision.
        (S.MLA_SENT, A.ACKNOWLEDGE): S.MLA_SENT,
        (S.MLA_SENT, A.MLA_RECEIVED): S.MLA_SENT,
        (S.MLA_SENT, A.EXTEND): S.MLA_SENT,
        # EPOC-PR: Annex VI extends while the order is preserved or awaited (the 60-day check is
        # deadlines'); Annex V, during the period of preservation, holds the data (Art. 11(2)).
        (S.SENT, A.ANNEX_VI): S.SENT,
        (S.PRESERVED, A.ANNEX_VI): S.PRESERVED,
        (S.SENT, A.ANNEX_V): S.MLA_SENT,
        (S.PRESERVED, A.ANNEX_V): S.MLA_SENT,
        (S.DRAFT, A.CLOSE): S.CLOSED,
        (S.QUEUED, A.CLOSE): S.CLOSED,
        (S.SENT, A.CLOSE): S.CLOSED,
        (S.PRESERVED, A.CLOSE): S.CLOSED,
        (S.EXTENSION_REQUESTED, A.CLOSE): S.CLOSED,
        (S.MLA_SENT, A.CLOSE): S.CLOSED,
        # Lapse needs an expiry, which needs sending. From mla_sent only where the regime does
        # not hold the data until decision: deadlines gives no expiry otherwise, so the scheduler
        # never asks.
        (S.SENT, A.LAPSE): S.LAPSED,
        (S.PRESERVED, A.LAPSE): S.LAPSED,
        (S.EXTENSION_REQUESTED, A.LAPSE): S.LAPSED,
        (S.MLA_SENT, A.LAPSE): S.LAPSED,
    }
)

#: States no action leaves.
TERMINAL: frozenset[Status] = frozenset({S.CLOSED, S.LAPSED})

#: Actions only the system takes (dispatcher, scheduler, the submit of an EPOC-PR); the API never
#: offers them.
SYSTEM_ACTIONS: frozenset[Action] = frozenset({A.DISPATCH, A.LAPSE, A.REFER})

#: Actions that exist for the EPOC-PR alone (requests/view.py offers them for eu-epoc-pr only).
EPOC_ACTIONS: frozenset[Action] = frozenset({A.VALIDATE, A.RETURN, A.ANNEX_VI, A.ANNEX_V})

del S, A


def allowed_actions(status: Status | str) -> list[Action]:
    """The actions allowed in `status`, in the order of the Action enum."""
    status = Status(status)
    return [action for action in Action if (status, action) in TRANSITIONS]


def can(status: Status | str, action: Action | str) -> bool:
    return (Status(status), Action(action)) in TRANSITIONS


def transition(current: Status | str, action: Action | str) -> Status:
    """The state `action` leads to from `current`, or Conflict naming the state and what it allows."""
    current, action = Status(current), Action(action)
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        allowed = ", ".join(allowed_actions(current)) or "none (final state)"
        raise Conflict(
            f"cannot {action} a request in state {current}; allowed in {current}: {allowed}"
        ) from None


def is_terminal(status: Status | str) -> bool:
    return Status(status) in TERMINAL
