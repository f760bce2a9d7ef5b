"""Deadlines (处置时限) on a work calendar: due times, time left, status, suspension."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from cityops.workcal.calendar import WorkCalendar, add_natural

_ZERO = timedelta(0)


class DeadlineKind(StrEnum):
    """Whether a deadline counts working time or elapsed (natural) time."""

    WORKING = "working"
    NATURAL = "natural"


class SlaStatus(StrEnum):
    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


def _advance(cal: WorkCalendar, start: datetime, amount: timedelta, kind: DeadlineKind) -> datetime:
    if kind is DeadlineKind.WORKING:
        return cal.add_working(start, amount)
    return add_natural(start, amount).astimezone(cal.zone)


def compute_due(cal: WorkCalendar, start: datetime, hours: float, kind: DeadlineKind) -> datetime:
    """The due time of a deadline of ``hours`` (working or natural) starting at ``start``."""
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"deadline hours must be a finite number >= 0, got {hours!r}")
    return _advance(cal, start, timedelta(hours=hours), DeadlineKind(kind))


def remaining(cal: WorkCalendar, now: datetime, due: datetime, kind: DeadlineKind) -> timedelta:
    """Time left until ``due``; negative once overdue. Working deadlines count working time."""
    if DeadlineKind(kind) is DeadlineKind.WORKING:
        return cal.working_between(now, due)
    for value, name in ((now, "now"), (due, "due")):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")
    # Subtracting aware datetimes that share a tzinfo is wall-clock arithmetic; UTC is exact.
    return due.astimezone(UTC) - now.astimezone(UTC)


def status(remaining: timedelta, total: timedelta, due_soon_fraction: float = 0.2) -> SlaStatus:
    """Overdue when nothing is left (``remaining <= 0``); due soon under the fraction of ``total``.

    ``remaining <= 0`` means "from the due instant on": a working deadline stays at zero
    remaining over the nights and holidays after it, and those are overdue too.
    """
    if not 0 <= due_soon_fraction <= 1:
        raise ValueError(f"due_soon_fraction must be within [0, 1], got {due_soon_fraction!r}")
    if remaining <= _ZERO:
        return SlaStatus.OVERDUE
    if remaining < total * due_soon_fraction:
        return SlaStatus.DUE_SOON
    return SlaStatus.ON_TIME


def pause(cal: WorkCalendar, now: datetime, due: datetime, kind: DeadlineKind) -> timedelta:
    """The budget to store when a case is suspended (negative if it was already overdue)."""
    return remaining(cal, now, due, kind)


def resume(cal: WorkCalendar, now: datetime, remaining: timedelta, kind: DeadlineKind) -> datetime:
    """The new due time when a suspended case resumes at ``now`` with its stored budget.

    A negative budget puts the due time before ``now`` by that much, so the case is exactly as
    overdue as when it was suspended.
    """
    return _advance(cal, now, remaining, DeadlineKind(kind))
