"""What an accepted action changes on a case besides its state and clock.

One function for both writers: ``service`` applies it to a ``Case`` row, ``bulk`` to an
in-memory ``CaseState``. Each writer looks up and checks what the action names (the class rule
for a registration, the department for a dispatch, the inspector for an assignment) in its own
way — the database or a batch's cache — before anything changes, then calls ``apply``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cityops.auth.models import OrgUnit
from cityops.cases.lifecycle import Action
from cityops.catalog.service import ClassRule


def snapshot_class(case: Any, rule: ClassRule) -> None:
    """Copy the class and its deadline rule onto the case, so later catalogue changes never
    move an existing case's deadline."""
    case.kind = rule.kind
    case.major_code = rule.major_code
    case.minor_code = rule.minor_code
    case.class_name = rule.minor_name
    case.catalog_version = rule.catalog_version
    case.deadline_kind = rule.deadline_kind
    case.deadline_hours = rule.deadline_hours


def apply(
    case: Any,
    action: Action,
    values: dict[str, Any],
    now: datetime,
    *,
    rule: ClassRule | None = None,
    unit: OrgUnit | None = None,
) -> tuple[dict[str, Any], float | None]:
    """Change the case for ``action`` (inputs already checked); return the extra event payload
    and the approved extension in hours, if any. ``rule`` is needed to register, ``unit`` to
    dispatch; merging is the service's (it moves reporters between rows)."""
    extra: dict[str, Any] = {}
    extension_hours: float | None = None
    if action in (Action.ASSIGN_VERIFY, Action.ASSIGN_CHECK):
        case.assignee_id = values["assignee_id"]
    elif action in (Action.VERIFY, Action.CHECK):
        if action is Action.VERIFY:
            case.verify_result = values["verdict"]
        case.assignee_id = None
    elif action is Action.REGISTER:
        assert rule is not None, "registering needs the class rule"
        case.urgency = values.get("urgency", case.urgency)
        snapshot_class(case, rule)
        case.registered_at = now
        extra |= {
            "catalog_version": case.catalog_version,
            "deadline_hours": case.deadline_hours,
            "deadline_kind": case.deadline_kind,
        }
    elif action is Action.DISPATCH:
        assert unit is not None, "dispatching needs the department"
        case.department_id = unit.id
        extra["department_name"] = unit.name
    elif action is Action.RETURN:
        extra["from_department_id"] = case.department_id
        case.department_id = None
        case.return_count += 1
    elif action is Action.REQUEST_EXTENSION:
        case.pending_extension_hours = values["hours"]
    elif action is Action.APPROVE_EXTENSION:
        extension_hours = values.get("hours", case.pending_extension_hours)
        case.pending_extension_hours = None
        case.extension_count += 1
        extra["hours"] = extension_hours
    elif action is Action.REFUSE_EXTENSION:
        case.pending_extension_hours = None
    elif action is Action.REWORK:
        case.rework_count += 1
        case.handled_on_time = None
    elif action is Action.CLOSE:
        case.closed_at = now
    elif action is Action.URGE:
        case.urge_count += 1
    elif action is Action.REOPEN:
        case.closed_at = None
        case.handled_at = None
    return extra, extension_hours


def after_clock(case: Any, action: Action, extra: dict[str, Any]) -> None:
    """Record on a handle event whether it was on time (the clock has just decided)."""
    if action is Action.HANDLE:
        extra["on_time"] = case.handled_on_time
