"""Deadlines on the default calendar (08:30-12:00, 13:00-17:30; 8 h a working day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.workcal import (
    DeadlineKind,
    SlaStatus,
    WorkCalendar,
    compute_due,
    pause,
    remaining,
    resume,
    status,
)

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
CAL = WorkCalendar()
W, N = DeadlineKind.WORKING, DeadlineKind.NATURAL


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def test_enum_values() -> None:
    assert [k.value for k in DeadlineKind] == ["working", "natural"]
    assert [s.value for s in SlaStatus] == ["on_time", "due_soon", "overdue"]


def test_compute_due_working_across_spring_festival_2025() -> None:
    # Mon 01-27 16:00-17:30 is 1.5 h; 01-28..02-04 off; Wed 02-05 08:30-12:00 3.5 h (5 h),
    # 13:00 + 3 h = 16:00.
    assert compute_due(CAL, at(2025, 1, 27, 16), 8, W) == at(2025, 2, 5, 16)
    # As stored in the database.
    assert compute_due(CAL, at(2025, 1, 27, 16), 8, DeadlineKind("working")) == at(2025, 2, 5, 16)


def test_compute_due_natural_is_unchanged_by_holidays() -> None:
    assert not chinese_calendar.is_workday(at(2025, 1, 28).date())
    # An urgent class (missing manhole cover): 2 natural hours, holiday or not.
    assert compute_due(CAL, at(2025, 1, 28, 10), 2, N) == at(2025, 1, 28, 12)
    # 48 natural hours from the eve of National Day end inside the holiday.
    assert compute_due(CAL, at(2025, 9, 30, 17), 48, N) == at(2025, 10, 2, 17)
    # The result is in the calendar's zone whatever the input zone.
    due = compute_due(CAL, datetime(2025, 9, 30, 9, tzinfo=UTC), 1.5, N)
    assert due == at(2025, 9, 30, 18, 30)
    assert due.tzinfo == SH


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf")])
def test_compute_due_rejects_bad_hours(hours: float) -> None:
    with pytest.raises(ValueError, match="deadline hours"):
        compute_due(CAL, at(2025, 3, 10, 9), hours, W)


def test_remaining_working_counts_only_working_time() -> None:
    due = at(2025, 3, 7, 17, 30)  # Friday, end of day
    # Fri 15:00 -> 17:30: 2.5 h left.
    assert remaining(CAL, at(2025, 3, 7, 15), due, W) == 2.5 * H
    # All weekend nothing more is lost, but nothing is left either: overdue.
    assert remaining(CAL, at(2025, 3, 8, 10), due, W) == timedelta(0)
    assert status(remaining(CAL, at(2025, 3, 8, 10), due, W), 8 * H) is SlaStatus.OVERDUE
    # Mon 09:00: 0.5 working hours late.
    assert remaining(CAL, at(2025, 3, 10, 9), due, W) == -0.5 * H


def test_remaining_natural() -> None:
    due = at(2025, 10, 1, 12)
    assert remaining(CAL, at(2025, 10, 1, 10), due, N) == 2 * H
    assert remaining(CAL, at(2025, 10, 1, 13), due, N) == -H
    with pytest.raises(ValueError, match="timezone-aware"):
        remaining(CAL, datetime(2025, 10, 1, 10), due, N)
    with pytest.raises(ValueError, match="timezone-aware"):
        remaining(CAL, at(2025, 10, 1, 10), datetime(2025, 10, 1, 12), W)


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (8 * H, SlaStatus.ON_TIME),
        (2 * H, SlaStatus.ON_TIME),
        (1.6 * H, SlaStatus.ON_TIME),  # exactly 20 % of 8 h is not yet "due soon"
        (1.5 * H, SlaStatus.DUE_SOON),
        (timedelta(microseconds=1), SlaStatus.DUE_SOON),
        (timedelta(0), SlaStatus.OVERDUE),  # the due instant itself
        (-H, SlaStatus.OVERDUE),
    ],
)
def test_status_thresholds(left: timedelta, expected: SlaStatus) -> None:
    assert status(left, 8 * H) is expected


def test_status_custom_fraction() -> None:
    assert status(3 * H, 8 * H, due_soon_fraction=0.5) is SlaStatus.DUE_SOON
    assert status(3 * H, 8 * H, due_soon_fraction=0) is SlaStatus.ON_TIME
    with pytest.raises(ValueError, match="due_soon_fraction"):
        status(3 * H, 8 * H, due_soon_fraction=1.5)


def test_pause_resume_across_spring_festival_2026() -> None:
    # Dispatched Thu 02-12 09:00 with 16 working hours: Thu 7.5 h, Fri 8 h (15.5 h),
    # Sat 02-14 is a make-up workday: 08:30 + 0.5 h.
    due = compute_due(CAL, at(2026, 2, 12, 9), 16, W)
    assert chinese_calendar.is_workday(at(2026, 2, 14).date())
    assert due == at(2026, 2, 14, 9)
    # Suspended Fri 02-13 10:00: Fri 2 h + 4.5 h, Sat 0.5 h = 7 h of budget left.
    budget = pause(CAL, at(2026, 2, 13, 10), due, W)
    assert budget == 7 * H
    # Resumed Tue 02-24 09:00, the first working day after 02-15..02-23: 09:00-12:00 is 3 h,
    # 13:00 + 4 h = 17:00. The suspension, the make-up Saturday and the holiday do not count.
    new_due = resume(CAL, at(2026, 2, 24, 9), budget, W)
    assert new_due == at(2026, 2, 24, 17)
    assert remaining(CAL, at(2026, 2, 24, 9), new_due, W) == budget


def test_resume_during_a_holiday_counts_from_the_next_working_period() -> None:
    # 7 h budget resumed on 2026-02-20 (holiday): Tue 02-24 08:30 + 7 h = 16:30.
    assert resume(CAL, at(2026, 2, 20, 15), 7 * H, W) == at(2026, 2, 24, 16, 30)


def test_pause_resume_keeps_an_overdue_case_exactly_as_late() -> None:
    due = at(2025, 9, 30, 10)
    # Suspended Tue 09-30 15:00, already late by 10:00-12:00 and 13:00-15:00: 4 h.
    budget = pause(CAL, at(2025, 9, 30, 15), due, W)
    assert budget == -4 * H
    # Resumed Thu 10-09 09:00 after the holiday: back 0.5 h to 08:30, then 3.5 h back from
    # Tue 09-30 17:30 to 14:00.
    new_due = resume(CAL, at(2025, 10, 9, 9), budget, W)
    assert new_due == at(2025, 9, 30, 14)
    assert remaining(CAL, at(2025, 10, 9, 9), new_due, W) == -4 * H
    assert status(-4 * H, 8 * H) is SlaStatus.OVERDUE


def test_pause_resume_natural() -> None:
    due = compute_due(CAL, at(2025, 10, 1, 10), 2, N)
    budget = pause(CAL, at(2025, 10, 1, 11), due, N)
    assert budget == H
    assert resume(CAL, at(2025, 10, 3, 20), budget, N) == at(2025, 10, 3, 21)


def test_worked_example_from_the_docs() -> None:
    # docs/working-time.md: exposed garbage, 1 working day (8 h), dispatched Fri 2026-02-13
    # 15:00. Fri 15:00-17:30 is 2.5 h; Sat 02-14 is a make-up day: 08:30-12:00 3.5 h (6 h),
    # 13:00 + 2 h = 15:00.
    due = compute_due(CAL, at(2026, 2, 13, 15), 8, W)
    assert due == at(2026, 2, 14, 15)
    # Sat 13:30: 1.5 h left of 8 h, under 20 %: due soon.
    left = remaining(CAL, at(2026, 2, 14, 13, 30), due, W)
    assert left == 1.5 * H
    assert status(left, 8 * H) is SlaStatus.DUE_SOON
    # Not done by Tue 02-24 10:00: overdue by 4 working hours
    # (Sat 15:00-17:30 is 2.5 h, 02-15..02-23 off, Tue 08:30-10:00 1.5 h).
    assert remaining(CAL, at(2026, 2, 24, 10), due, W) == -4 * H


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 9, 30)),
    st.integers(min_value=1, max_value=40),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    st.sampled_from(list(DeadlineKind)),
)
def test_suspension_time_never_counts(
    start: datetime, hours: int, until_pause: timedelta, suspended: timedelta, kind: DeadlineKind
) -> None:
    start = start.replace(tzinfo=SH)
    due = compute_due(CAL, start, hours, kind)
    paused_at = start + until_pause
    budget = pause(CAL, paused_at, due, kind)
    resumed_at = paused_at + suspended
    new_due = resume(CAL, resumed_at, budget, kind)
    assert remaining(CAL, resumed_at, new_due, kind) == budget
