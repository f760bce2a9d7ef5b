"""Properties of the pure state machine, and the docs table kept in step with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.auth.roles import Role
from cityops.cases import lifecycle
from cityops.cases.lifecycle import RULES, TERMINAL, Action, LifecycleError, Status

ALL_ROLES = frozenset(Role)
FULL_PAYLOAD = {
    "kind": "event", "minor_code": "0102", "description": "x", "lon": 116.3, "lat": 39.8,
    "assignee_id": 1, "reason": "r", "department_id": 1, "hours": 8, "result": "done",
    "note": "n", "target_case_id": 2,
}  # fmt: skip
VERDICTS = {Action.VERIFY: ["confirmed", "not_found"], Action.CHECK: ["pass", "fail"]}

verdicts = st.sampled_from(["confirmed", "not_found", "pass", "fail"])
steps = st.lists(
    st.tuples(
        st.sampled_from(list(Action)), verdicts, st.sets(st.sampled_from(list(Role)), min_size=1)
    ),
    max_size=40,
)


@given(steps)
@settings(max_examples=400, deadline=None)
def test_no_sequence_reaches_an_undefined_state(sequence):
    status = lifecycle.apply(None, Action.REPORT, ALL_ROLES, FULL_PAYLOAD).target
    accepted = 1
    for action, verdict, roles in sequence:
        before = status
        try:
            t = lifecycle.apply(status, action, roles, FULL_PAYLOAD | {"verdict": verdict})
        except LifecycleError:
            assert status == before  # a refusal changes nothing
            continue
        accepted += 1
        assert isinstance(t.target, Status)
        assert t.source == before
        assert t.role in roles and t.role in RULES[action].roles
        status = t.target
    assert status in set(Status)


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_states_accept_only_reopen_where_allowed(status):
    for action in Action:
        payload = FULL_PAYLOAD | {"verdict": VERDICTS.get(action, ["pass"])[0]}
        if action is Action.REOPEN and status is Status.CLOSED:
            assert lifecycle.apply(status, action, ALL_ROLES, payload).target is Status.DISPATCHED
            continue
        with pytest.raises(lifecycle.InvalidTransition):
            lifecycle.apply(status, action, ALL_ROLES, payload)


def test_every_state_is_reachable_and_every_open_state_can_end():
    reached = {Status.REPORTED}
    frontier = [Status.REPORTED]
    while frontier:
        state = frontier.pop()
        for action in lifecycle.allowed_actions(state):
            rule = RULES[action]
            for target in list(rule.outcomes.values()) or [rule.target or state]:
                if target not in reached:
                    reached.add(target)
                    frontier.append(target)
    assert reached == set(Status)
    for state in set(Status) - TERMINAL:
        assert Action.VOID in lifecycle.allowed_actions(state)


@pytest.mark.parametrize(
    ("action", "field"),
    [(Action.REJECT, "reason"), (Action.HANDLE, "result"), (Action.CHECK, "verdict"),
     (Action.DISPATCH, "department_id"), (Action.REQUEST_EXTENSION, "hours")],
)  # fmt: skip
def test_required_fields_are_named(action, field):
    source = next(iter(RULES[action].sources))
    payload = {k: v for k, v in FULL_PAYLOAD.items() if k != field}
    with pytest.raises(lifecycle.MissingField) as info:
        lifecycle.apply(source, action, ALL_ROLES, payload)
    assert info.value.field == field


def test_architecture_doc_holds_the_generated_table():
    doc = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
    assert lifecycle.markdown_table() in doc.read_text(encoding="utf-8"), (
        "regenerate the table: python -m cityops.cases.lifecycle"
    )
