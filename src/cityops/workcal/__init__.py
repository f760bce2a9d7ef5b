"""Working-time calendar: working days, working hours and deadline (SLA) arithmetic.

This package owns the pure rules for counting deadlines: which days are working days in
China (official holidays and make-up workdays from ``chinese_calendar``, plus overrides),
the working periods of a day, working vs natural time, and pause/resume of the clock. It is
pure computation and must not import SQL, web or any other I/O-bound cityops code; the case
service calls it with plain datetimes.
"""

from cityops.workcal.calendar import (
    DEFAULT_WORKING_HOURS,
    CalendarCoverageWarning,
    WorkCalendar,
    WorkingHours,
    add_natural,
    load_overrides,
)
from cityops.workcal.sla import (
    DeadlineKind,
    SlaStatus,
    compute_due,
    pause,
    remaining,
    resume,
    status,
)

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "CalendarCoverageWarning",
    "DeadlineKind",
    "SlaStatus",
    "WorkCalendar",
    "WorkingHours",
    "add_natural",
    "compute_due",
    "load_overrides",
    "pause",
    "remaining",
    "resume",
    "status",
]
