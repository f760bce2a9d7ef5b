"""The case's deadline clock: applies the lifecycle's clock effects using working time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cityops.cases.enums import SlaState
from cityops.cases.lifecycle import CLOCK_RUNNING, Clock, Status
from cityops.cases.models import Case
from cityops.workcal import (
    DeadlineKind,
    WorkCalendar,
    WorkingHours,
    add_natural,
    compute_due,
    load_overrides,
    pause,
    remaining,
    resume,
    status,
)


@lru_cache(maxsize=8)
def work_calendar(
    working_hours: str,
    tz: str,
    overrides: Path | None,
    stored: frozenset[tuple[date, bool]] = frozenset(),
) -> WorkCalendar:
    """One calendar per configuration (building one is cheap; its day cache is not).

    ``overrides`` is the settings' file, ``stored`` the overrides kept in the database (they
    win over the file for the same day).
    """
    days = load_overrides(overrides) if overrides else {}
    days.update(dict(stored))
    return WorkCalendar(hours=WorkingHours.parse(working_hours), tz=tz, overrides=days or None)


def _kind(case: Case) -> DeadlineKind:
    return DeadlineKind(case.deadline_kind or DeadlineKind.WORKING)


def _add(cal: WorkCalendar, start: datetime, hours: float, kind: DeadlineKind) -> datetime:
    span = timedelta(hours=hours)
    return (
        cal.add_working(start, span) if kind is DeadlineKind.WORKING else add_natural(start, span)
    )


def apply_clock(
    case: Case,
    effect: Clock,
    *,
    cal: WorkCalendar,
    now: datetime,
    pause_on_extension_request: bool,
    extension_hours: float | None = None,
) -> None:
    """Move the case's deadline fields as the action's clock effect says."""
    _apply(case, effect, cal, now, pause_on_extension_request, extension_hours)
    # The calendar answers in local time; the case keeps UTC like every other instant.
    if case.due_at is not None:
        case.due_at = case.due_at.astimezone(UTC)


def _apply(
    case: Case,
    effect: Clock,
    cal: WorkCalendar,
    now: datetime,
    pause_on_extension_request: bool,
    extension_hours: float | None,
) -> None:
    kind = _kind(case)
    if effect is Clock.START:
        case.due_at = compute_due(cal, now, case.deadline_hours or 0.0, kind)
        case.dispatched_at = now
        case.paused_remaining_s = None
        case.handled_on_time = None
    elif effect is Clock.PAUSE or (effect is Clock.PAUSE_IF_RULE and pause_on_extension_request):
        if case.due_at is not None:
            case.paused_remaining_s = pause(cal, now, case.due_at, kind).total_seconds()
            case.due_at = None
    elif effect in (Clock.RESUME, Clock.EXTEND):
        if case.paused_remaining_s is not None:
            case.due_at = resume(cal, now, timedelta(seconds=case.paused_remaining_s), kind)
            case.paused_remaining_s = None
        if effect is Clock.EXTEND and extension_hours and case.due_at is not None:
            case.due_at = _add(cal, case.due_at, extension_hours, kind)
    elif effect is Clock.STOP:
        if case.paused_remaining_s is not None:
            # Handled while an extension request waited: on time if budget was left.
            case.handled_on_time = case.paused_remaining_s > 0
            case.due_at = resume(cal, now, timedelta(seconds=case.paused_remaining_s), kind)
            case.paused_remaining_s = None
        elif case.due_at is not None:
            case.handled_on_time = now <= case.due_at
        case.handled_at = now
    elif effect is Clock.CLEAR:
        case.due_at = None
        case.paused_remaining_s = None


def sla_state(
    case: Case, *, cal: WorkCalendar, now: datetime, due_soon_fraction: float
) -> tuple[SlaState, float | None]:
    """Where the case stands against its deadline, and the seconds left (negative: overdue)."""
    kind = _kind(case)
    if case.paused_remaining_s is not None and Status(case.status) not in {
        Status.CLOSED,
        Status.VOIDED,
    }:
        return SlaState.PAUSED, case.paused_remaining_s
    if case.due_at is None or Status(case.status) not in CLOCK_RUNNING:
        return SlaState.NONE, None
    left = remaining(cal, now, case.due_at, kind)
    total = timedelta(hours=case.deadline_hours or 0.0)
    state = status(left, total, due_soon_fraction)
    return SlaState(state.value), left.total_seconds()
