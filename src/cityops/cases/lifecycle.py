"""The case lifecycle as a pure state machine: states, actions, roles, required fields.

No SQL and no web here. ``apply`` either returns the transition or raises before anything is
written; the case service performs the transition and appends exactly one event for it.
The table in docs/architecture.md is generated from ``RULES``
(``python -m cityops.cases.lifecycle``) and a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cityops.auth.roles import Role


class Status(StrEnum):
    REPORTED = "reported"  # 上报, awaiting verification or registration
    VERIFYING = "verifying"  # 核实 task with an inspector
    VERIFIED = "verified"  # confirmed on site, awaiting registration
    REGISTERED = "registered"  # 立案, awaiting dispatch
    DISPATCHED = "dispatched"  # 派遣, being handled by the department
    RETURNED = "returned"  # 回退, the department says it is not theirs
    EXTENSION_REQUESTED = "extension_requested"  # 延期申请 waiting for the shift lead
    SUSPENDED = "suspended"  # 挂账, clock stopped
    HANDLED = "handled"  # 处置完毕, awaiting check
    CHECKING = "checking"  # 核查 task with an inspector
    CHECK_FAILED = "check_failed"  # 核查未通过, awaiting rework
    CHECKED = "checked"  # 核查通过, awaiting close
    CLOSED = "closed"  # 结案
    REJECTED = "rejected"  # 不予立案
    VOIDED = "voided"  # 作废
    MERGED = "merged"  # 并案 into another case


class Action(StrEnum):
    REPORT = "report"
    ASSIGN_VERIFY = "assign_verify"
    VERIFY = "verify"
    REGISTER = "register"
    REJECT = "reject"
    DISPATCH = "dispatch"
    RETURN = "return"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REFUSE_EXTENSION = "refuse_extension"
    SUSPEND = "suspend"
    RESUME = "resume"
    HANDLE = "handle"
    ASSIGN_CHECK = "assign_check"
    CHECK = "check"
    REWORK = "rework"
    CLOSE = "close"
    VOID = "void"
    URGE = "urge"
    MERGE = "merge"
    REOPEN = "reopen"


class Clock(StrEnum):
    """What an action does to the handling deadline (处置时限)."""

    KEEP = "keep"  # no effect
    START = "start"  # a new deadline from now (dispatch, reopen)
    PAUSE = "pause"  # stop the clock, remember what is left (suspend)
    PAUSE_IF_RULE = "pause_if_rule"  # pause when the local rule says so (extension request)
    RESUME = "resume"  # restart from what was left
    EXTEND = "extend"  # resume and add the approved hours
    STOP = "stop"  # handled: decide "on time"; the deadline stays for a possible rework
    CLEAR = "clear"  # the deadline no longer applies (returned, voided)


TERMINAL = frozenset({Status.CLOSED, Status.REJECTED, Status.VOIDED, Status.MERGED})
OPEN = frozenset(Status) - TERMINAL
#: States in which the department's deadline clock runs.
CLOCK_RUNNING = frozenset({Status.DISPATCHED, Status.EXTENSION_REQUESTED, Status.CHECK_FAILED})


@dataclass(frozen=True)
class Rule:
    action: Action
    sources: frozenset[Status]
    roles: frozenset[Role]
    #: Target state; ``None`` leaves the state as it is (urge).
    target: Status | None
    required: tuple[str, ...] = ()
    #: For actions whose target depends on a verdict: field name and value -> target.
    outcomes: Mapping[str, Status] = field(default_factory=dict)
    outcome_field: str | None = None
    clock: Clock = Clock.KEEP
    label_zh: str = ""


def _r(
    action: Action,
    sources: Collection[Status],
    roles: Collection[Role],
    target: Status | None,
    *required: str,
    clock: Clock = Clock.KEEP,
    outcomes: Mapping[str, Status] | None = None,
    outcome_field: str | None = None,
    zh: str,
) -> Rule:
    return Rule(
        action=action,
        sources=frozenset(sources),
        roles=frozenset(roles),
        target=target,
        required=required,
        outcomes=dict(outcomes or {}),
        outcome_field=outcome_field,
        clock=clock,
        label_zh=zh,
    )


S, A, R = Status, Action, Role
_URGEABLE = OPEN - {S.REPORTED, S.VERIFYING, S.VERIFIED}

RULES: dict[Action, Rule] = {
    r.action: r
    for r in [
        _r(A.REPORT, (), (R.INSPECTOR, R.OPERATOR, R.SHIFT_LEAD, R.LEADER), S.REPORTED,
           "kind", "minor_code", "description", "lon", "lat", zh="上报"),
        _r(A.ASSIGN_VERIFY, (S.REPORTED,), (R.OPERATOR, R.SHIFT_LEAD), S.VERIFYING,
           "assignee_id", zh="派发核实"),
        _r(A.VERIFY, (S.REPORTED, S.VERIFYING), (R.INSPECTOR,), None, "verdict",
           outcome_field="verdict",
           outcomes={"confirmed": S.VERIFIED, "not_found": S.REPORTED}, zh="核实"),
        _r(A.REGISTER, (S.REPORTED, S.VERIFIED), (R.SHIFT_LEAD,), S.REGISTERED, zh="立案"),
        _r(A.REJECT, (S.REPORTED, S.VERIFYING, S.VERIFIED), (R.SHIFT_LEAD,), S.REJECTED,
           "reason", zh="不予立案"),
        _r(A.DISPATCH, (S.REGISTERED, S.RETURNED), (R.DISPATCHER, R.SHIFT_LEAD), S.DISPATCHED,
           "department_id", clock=Clock.START, zh="派遣"),
        _r(A.RETURN, (S.DISPATCHED,), (R.DEPARTMENT_HANDLER,), S.RETURNED, "reason",
           clock=Clock.CLEAR, zh="回退"),
        _r(A.REQUEST_EXTENSION, (S.DISPATCHED,), (R.DEPARTMENT_HANDLER,),
           S.EXTENSION_REQUESTED, "reason", "hours", clock=Clock.PAUSE_IF_RULE, zh="申请延期"),
        _r(A.APPROVE_EXTENSION, (S.EXTENSION_REQUESTED,), (R.SHIFT_LEAD,), S.DISPATCHED,
           clock=Clock.EXTEND, zh="批准延期"),
        _r(A.REFUSE_EXTENSION, (S.EXTENSION_REQUESTED,), (R.SHIFT_LEAD,), S.DISPATCHED,
           "reason", clock=Clock.RESUME, zh="驳回延期"),
        _r(A.SUSPEND, (S.DISPATCHED,), (R.SHIFT_LEAD,), S.SUSPENDED, "reason",
           clock=Clock.PAUSE, zh="挂账"),
        _r(A.RESUME, (S.SUSPENDED,), (R.SHIFT_LEAD, R.DISPATCHER), S.DISPATCHED,
           clock=Clock.RESUME, zh="恢复办理"),
        _r(A.HANDLE, (S.DISPATCHED, S.EXTENSION_REQUESTED), (R.DEPARTMENT_HANDLER,), S.HANDLED,
           "result", clock=Clock.STOP, zh="处置反馈"),
        _r(A.ASSIGN_CHECK, (S.HANDLED,), (R.OPERATOR, R.DISPATCHER, R.SHIFT_LEAD), S.CHECKING,
           "assignee_id", zh="派发核查"),
        _r(A.CHECK, (S.HANDLED, S.CHECKING), (R.INSPECTOR,), None, "verdict",
           outcome_field="verdict",
           outcomes={"pass": S.CHECKED, "fail": S.CHECK_FAILED}, zh="核查"),
        _r(A.REWORK, (S.CHECK_FAILED,), (R.DISPATCHER, R.SHIFT_LEAD), S.DISPATCHED,
           clock=Clock.KEEP, zh="返工"),
        _r(A.CLOSE, (S.CHECKED,), (R.SHIFT_LEAD,), S.CLOSED, zh="结案"),
        _r(A.VOID, OPEN, (R.SHIFT_LEAD, R.ADMIN), S.VOIDED, "reason", clock=Clock.CLEAR,
           zh="作废"),
        _r(A.URGE, _URGEABLE, (R.DISPATCHER, R.SHIFT_LEAD, R.LEADER), None, "note", zh="督办"),
        _r(A.MERGE, (S.REPORTED, S.VERIFYING, S.VERIFIED, S.REGISTERED),
           (R.OPERATOR, R.SHIFT_LEAD), S.MERGED, "target_case_id", zh="并案"),
        _r(A.REOPEN, (S.CLOSED,), (R.OPERATOR, R.SHIFT_LEAD), S.DISPATCHED, "reason",
           clock=Clock.START, zh="重新办理"),
    ]
}  # fmt: skip


class LifecycleError(Exception):
    """Base of every refusal; ``field`` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(LifecycleError):
    """The action is not possible from the case's current state."""


class RoleNotAllowed(LifecycleError):
    """None of the actor's roles may take this action."""


class MissingField(LifecycleError):
    """A field the action requires is absent, empty, or not one of its allowed values."""


@dataclass(frozen=True)
class Transition:
    action: Action
    source: Status | None
    target: Status
    role: Role
    clock: Clock


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def apply(
    status: Status | None,
    action: Action,
    roles: Collection[Role],
    payload: Mapping[str, Any],
) -> Transition:
    """Check one action against the rules and return the transition it makes, or raise."""
    rule = RULES[action]
    if action is Action.REPORT:
        if status is not None:
            raise InvalidTransition("a case is reported only once")
    elif status is None or status not in rule.sources:
        allowed = ", ".join(sorted(a.value for a in allowed_actions(status))) or "none"
        raise InvalidTransition(
            f"cannot {action.value} a case that is {status.value if status else 'new'} "
            f"(allowed: {allowed})",
            field="action",
        )
    # Roles are str enums: a plain role name matches too, and only the winner is converted.
    acting = [r for r in roles if r in rule.roles]
    if not acting:
        need = ", ".join(sorted(r.value for r in rule.roles))
        raise RoleNotAllowed(f"{action.value} needs one of the roles: {need}")
    for name in rule.required:
        if not _present(payload.get(name)):
            raise MissingField(f"{action.value} requires '{name}'", field=name)
    target = rule.target
    if rule.outcome_field is not None:
        verdict = payload.get(rule.outcome_field)
        if not isinstance(verdict, str) or verdict not in rule.outcomes:
            choices = ", ".join(rule.outcomes)
            raise MissingField(
                f"'{rule.outcome_field}' must be one of: {choices}", field=rule.outcome_field
            )
        target = rule.outcomes[verdict]
    if target is None:
        assert status is not None  # only REPORT has no source, and it has a target
        target = status
    return Transition(
        action=action, source=status, target=target, role=Role(acting[0]), clock=rule.clock
    )


def allowed_actions(status: Status | None, roles: Collection[Role] | None = None) -> list[Action]:
    """The actions possible from ``status`` (for the given roles, when given), in table order."""
    result = []
    for rule in RULES.values():
        possible = status is None if rule.action is Action.REPORT else status in rule.sources
        if possible and (roles is None or rule.roles.intersection(Role(r) for r in roles)):
            result.append(rule.action)
    return result


def markdown_table() -> str:
    """The state machine as a Markdown table (kept in docs/architecture.md)."""
    lines = [
        "| action | 中文 | from | to | roles | requires | clock |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in RULES.values():
        sources = (
            "(new)"
            if rule.action is Action.REPORT
            else ", ".join(s.value for s in Status if s in rule.sources)
        )
        if rule.outcomes:
            target = "; ".join(f"{k} → {v.value}" for k, v in rule.outcomes.items())
        else:
            target = rule.target.value if rule.target else "(unchanged)"
        roles = ", ".join(r.value for r in Role if r in rule.roles)
        required = ", ".join(rule.required) or "—"
        lines.append(
            f"| {rule.action.value} | {rule.label_zh} | {sources} | {target} | {roles} "
            f"| {required} | {rule.clock.value} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
