"""Data scope: which cases an actor may see and act on, as SQL and as a check on one case.

Both forms follow one rule so a list never shows a case the detail would refuse:
  * every actor sees only their own district;
  * command-centre roles with no area or department scope see the whole district;
  * otherwise an actor sees cases in their areas (street, community or grid codes), cases of
    their department, and cases they reported or hold a task on.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_

from cityops.auth.actor import Actor
from cityops.auth.roles import Role
from cityops.cases.models import Case

#: Roles that see the whole district unless their account narrows them to areas.
DISTRICT_WIDE_ROLES = frozenset(
    {Role.ADMIN, Role.OPERATOR, Role.SHIFT_LEAD, Role.DISPATCHER, Role.LEADER, Role.AUDITOR}
)

#: Length of a region code → the case column holding codes of that level.
_LEVEL_COLUMN = {9: "street_code", 12: "community_code", 15: "grid_code"}


def is_district_wide(actor: Actor) -> bool:
    return (
        not actor.scope_areas
        and actor.scope_department_id is None
        and bool(actor.roles & DISTRICT_WIDE_ROLES)
    )


def _area_matches(code: str, case: Case) -> bool:
    if len(code) == 6:
        return case.district_code == code
    column = _LEVEL_COLUMN.get(len(code))
    return column is not None and getattr(case, column) == code


def can_see(case: Case, actor: Actor) -> bool:
    """Whether ``actor`` may see (and so try to act on) ``case``."""
    if case.district_code != actor.district_code:
        return False
    if is_district_wide(actor):
        return True
    if actor.id and actor.id in (case.reported_by_id, case.assignee_id):
        return True
    if actor.scope_department_id is not None and case.department_id == actor.scope_department_id:
        return True
    return any(_area_matches(code, case) for code in actor.scope_areas)


def visible(actor: Actor) -> ColumnElement[bool]:
    """The SQL condition equivalent to ``can_see`` for every row."""
    in_district = Case.district_code == actor.district_code
    if is_district_wide(actor):
        return in_district
    alternatives: list[ColumnElement[bool]] = []
    if actor.id:
        alternatives += [Case.reported_by_id == actor.id, Case.assignee_id == actor.id]
    if actor.scope_department_id is not None:
        alternatives.append(Case.department_id == actor.scope_department_id)
    by_level: dict[int, list[str]] = {}
    for code in actor.scope_areas:
        by_level.setdefault(len(code), []).append(code)
    for length, codes in by_level.items():
        if length == 6:
            alternatives.append(Case.district_code.in_(codes))
        elif length in _LEVEL_COLUMN:
            alternatives.append(getattr(Case, _LEVEL_COLUMN[length]).in_(codes))
    return in_district & (or_(*alternatives) if alternatives else false())
