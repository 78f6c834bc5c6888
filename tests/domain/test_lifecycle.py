"""Request states: every (state, action) pair either leads where the table says or is refused."""

from __future__ import annotations

import itertools

import pytest

from preservation.domain.lifecycle import (
    SYSTEM_ACTIONS,
    TERMINAL,
    TRANSITIONS,
    Action,
    Status,
    allowed_actions,
    can,
    is_terminal,
    transition,
)
from preservation.errors import Conflict

S, A = Status, Action

# Written out independently of the module's table, so a change to either shows up here.
EXPECTED: dict[tuple[Status, Action], Status] = {
    (S.DRAFT, A.SUBMIT): S.QUEUED,
    (S.DRAFT, A.CLOSE): S.CLOSED,
    (S.QUEUED, A.DISPATCH): S.SENT,
    (S.QUEUED, A.ACKNOWLEDGE): S.PRESERVED,
    (S.QUEUED, A.CLOSE): S.CLOSED,
    (S.SENT, A.ACKNOWLEDGE): S.PRESERVED,
    (S.SENT, A.MLA): S.MLA_SENT,
    (S.SENT, A.CLOSE): S.CLOSED,
    (S.SENT, A.LAPSE): S.LAPSED,
    (S.PRESERVED, A.EXTEND): S.EXTENSION_REQUESTED,
    (S.PRESERVED, A.MLA): S.MLA_SENT,
    (S.PRESERVED, A.CLOSE): S.CLOSED,
    (S.PRESERVED, A.LAPSE): S.LAPSED,
    (S.EXTENSION_REQUESTED, A.ACKNOWLEDGE): S.PRESERVED,
    (S.EXTENSION_REQUESTED, A.MLA): S.MLA_SENT,
    (S.EXTENSION_REQUESTED, A.CLOSE): S.CLOSED,
    (S.EXTENSION_REQUESTED, A.LAPSE): S.LAPSED,
    (S.MLA_SENT, A.ACKNOWLEDGE): S.MLA_SENT,
    (S.MLA_SENT, A.EXTEND): S.MLA_SENT,
    (S.MLA_SENT, A.MLA_RECEIVED): S.MLA_SENT,
    (S.MLA_SENT, A.CLOSE): S.CLOSED,
    (S.MLA_SENT, A.LAPSE): S.LAPSED,
    # EPOC-PR (Regulation (EU) 2023/1543): validation by a judge or prosecutor, Annexes V and VI.
    (S.DRAFT, A.REFER): S.AWAITING_VALIDATION,
    (S.AWAITING_VALIDATION, A.VALIDATE): S.QUEUED,
    (S.AWAITING_VALIDATION, A.RETURN): S.DRAFT,
    (S.AWAITING_VALIDATION, A.CLOSE): S.CLOSED,
    (S.SENT, A.ANNEX_VI): S.SENT,
    (S.PRESERVED, A.ANNEX_VI): S.PRESERVED,
    (S.SENT, A.ANNEX_V): S.MLA_SENT,
    (S.PRESERVED, A.ANNEX_V): S.MLA_SENT,
}


def test_table_is_as_designed() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("status", "action"), list(itertools.product(Status, Action)))
def test_every_pair(status: Status, action: Action) -> None:
    target = EXPECTED.get((status, action))
    if target is not None:
        assert transition(status, action) is target
        assert transition(status.value, action.value) is target  # as stored in the database
        assert can(status, action)
        assert action in allowed_actions(status)
    else:
        with pytest.raises(Conflict) as info:
            transition(status, action)
        detail = info.value.detail
        assert info.value.status == 409
        assert f"cannot {action} a request in state {status}" in detail
        allowed = allowed_actions(status)
        for other in allowed:
            assert str(other) in detail.split("allowed in", 1)[1]
        if not allowed:
            assert "none (final state)" in detail
        assert not can(status, action)


def test_terminal_states_allow_nothing_and_everything_else_can_close() -> None:
    assert TERMINAL == {S.CLOSED, S.LAPSED}
    for status in Status:
        assert is_terminal(status) == (status in TERMINAL)
        if status in TERMINAL:
            assert allowed_actions(status) == []
        else:
            assert transition(status, A.CLOSE) is S.CLOSED
    # Nothing leads out of a terminal state, and every state can be reached (draft again when
    # a judge or prosecutor returns an EPOC-PR).
    assert not any(src in TERMINAL for src, _ in TRANSITIONS)
    assert {dst for dst in TRANSITIONS.values()} == set(Status)


def test_allowed_actions_order_and_system_actions() -> None:
    assert allowed_actions(S.SENT) == [
        A.ACKNOWLEDGE,
        A.MLA,
        A.ANNEX_VI,
        A.ANNEX_V,
        A.CLOSE,
        A.LAPSE,
    ]
    assert allowed_actions("draft") == [A.SUBMIT, A.REFER, A.CLOSE]
    assert allowed_actions(S.AWAITING_VALIDATION) == [A.VALIDATE, A.RETURN, A.CLOSE]
    assert SYSTEM_ACTIONS == {A.DISPATCH, A.LAPSE, A.REFER}


def test_only_a_judge_or_prosecutor_step_leaves_awaiting_validation() -> None:
    # Nothing is dispatched, acknowledged or extended before the order is issued.
    for action in (A.DISPATCH, A.ACKNOWLEDGE, A.EXTEND, A.MLA, A.ANNEX_V, A.ANNEX_VI, A.LAPSE):
        assert not can(S.AWAITING_VALIDATION, action)
    assert transition(S.AWAITING_VALIDATION, A.VALIDATE) is S.QUEUED


def test_unknown_names_are_value_errors() -> None:
    with pytest.raises(ValueError):
        transition("shipped", A.CLOSE)
    with pytest.raises(ValueError):
        transition(S.DRAFT, "publish")


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.CLOSED, A.SUBMIT)] = S.QUEUED  # type: ignore[index]
