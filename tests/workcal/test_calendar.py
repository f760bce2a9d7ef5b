"""Working days and working time, checked against chinese_calendar's official data.

Default hours are 08:30-12:00 (3.5 h) and 13:00-17:30 (4.5 h): 8 h a working day.
"""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.workcal import (
    DEFAULT_WORKING_HOURS,
    CalendarCoverageWarning,
    WorkCalendar,
    WorkingHours,
    add_natural,
    load_overrides,
)

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
CAL = WorkCalendar()
# Far beyond any chinese_calendar release; 2099-01-01 is a Thursday.
UNKNOWN_YEAR = 2099


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


# --- WorkingHours -------------------------------------------------------------------------


def test_default_hours_parse_and_round_trip() -> None:
    parsed = WorkingHours.parse("08:30-12:00,13:00-17:30")
    assert parsed == DEFAULT_WORKING_HOURS
    assert parsed.periods == ((time(8, 30), time(12)), (time(13), time(17, 30)))
    assert str(parsed) == "08:30-12:00,13:00-17:30"
    assert WorkingHours.parse(" 8:30 - 12:00 , 13:00-17:30 ") == parsed
    assert CAL.working_seconds_per_day == 8 * 3600


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("08:30-12:00,1300-17:30", "'1300-17:30'"),
        ("08:30-12:00,13:00", "'13:00'"),
        ("08:30-12:00,13:00-25:00", "'13:00-25:00'"),
        ("08:30-12:00,13:00-14:00-15:00", "'13:00-14:00-15:00'"),
        ("12:00-08:30", "12:00:00-08:30:00"),
        ("08:30-12:00,11:00-17:30", "11:00:00-17:30:00"),
        ("13:00-17:30,08:30-12:00", "08:30:00-12:00:00"),
        ("", "''"),
    ],
)
def test_bad_working_hours_name_the_part(text: str, names: str) -> None:
    with pytest.raises(ValueError, match="bad working") as info:
        WorkingHours.parse(text)
    assert names in str(info.value)


def test_working_hours_validated_when_built_directly() -> None:
    with pytest.raises(ValueError, match="at least one"):
        WorkingHours(())
    with pytest.raises(ValueError, match="start before"):
        WorkingHours(((time(9), time(9)),))


# --- which days are working days --------------------------------------------------------

# Each row is the State Council notice as shipped in chinese_calendar 1.11 (asserted below too).
OFFICIAL_DAYS = [
    # 2025 Spring Festival: 01-28 (Tue) .. 02-04 (Tue) off; Sun 01-26 and Sat 02-08 worked.
    (date(2025, 1, 26), True),
    (date(2025, 1, 27), True),
    (date(2025, 1, 28), False),
    (date(2025, 2, 4), False),
    (date(2025, 2, 5), True),
    (date(2025, 2, 8), True),
    # 2025 National Day + Mid-Autumn: 10-01 (Wed) .. 10-08 off; Sun 09-28 and Sat 10-11 worked.
    (date(2025, 9, 28), True),
    (date(2025, 10, 1), False),
    (date(2025, 10, 6), False),
    (date(2025, 10, 8), False),
    (date(2025, 10, 9), True),
    (date(2025, 10, 11), True),
    (date(2025, 10, 12), False),
    # 2026 New Year: 01-01 .. 01-03 off; Sun 01-04 worked.
    (date(2026, 1, 2), False),
    (date(2026, 1, 4), True),
    # 2026 Spring Festival: 02-15 (Sun) .. 02-23 (Mon) off; Sat 02-14 and Sat 02-28 worked.
    (date(2026, 2, 14), True),
    (date(2026, 2, 15), False),
    (date(2026, 2, 23), False),
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),
    # 2026 Mid-Autumn 09-25 (Fri) .. 09-27 off; National Day 10-01 (Thu) .. 10-07 off;
    # Sun 09-20 and Sat 10-10 worked.
    (date(2026, 9, 20), True),
    (date(2026, 9, 25), False),
    (date(2026, 10, 1), False),
    (date(2026, 10, 7), False),
    (date(2026, 10, 8), True),
    (date(2026, 10, 10), True),
    # Ordinary weeks.
    (date(2025, 3, 8), False),
    (date(2025, 3, 10), True),
]


@pytest.mark.parametrize(("day", "working"), OFFICIAL_DAYS)
def test_official_calendar(day: date, working: bool) -> None:
    assert chinese_calendar.is_workday(day) is working
    assert CAL.is_workday(day) is working


def test_make_up_days_are_weekends() -> None:
    for day, working in OFFICIAL_DAYS:
        if working and day in chinese_calendar.workdays:
            assert day.weekday() >= 5


def test_known_years_cover_2025_and_2026() -> None:
    assert {2025, 2026} <= CAL.known_years
    assert UNKNOWN_YEAR not in CAL.known_years
    assert CAL.library_years.start <= 2025 < 2026 < CAL.library_years.stop


def test_unknown_year_falls_back_to_monday_friday_with_one_warning() -> None:
    cal = WorkCalendar()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cal.is_workday(date(UNKNOWN_YEAR, 1, 2)) is True  # Friday
        assert cal.is_workday(date(UNKNOWN_YEAR, 1, 3)) is False  # Saturday
        assert cal.is_workday(date(UNKNOWN_YEAR, 1, 5)) is True  # Monday
        # 01-02 (Fri) 17:00 + 1 h: 0.5 h Friday, then Monday 08:30 + 0.5 h.
        assert cal.add_working(at(UNKNOWN_YEAR, 1, 2, 17), H) == at(UNKNOWN_YEAR, 1, 5, 9)
    coverage = [w for w in caught if issubclass(w.category, CalendarCoverageWarning)]
    assert len(coverage) == 1
    assert str(UNKNOWN_YEAR) in str(coverage[0].message)
    assert "overrides" in str(coverage[0].message)


def test_first_year_after_library_data_warns() -> None:
    next_year = WorkCalendar().library_years.stop
    with pytest.warns(CalendarCoverageWarning, match=str(next_year)):
        WorkCalendar().is_workday(date(next_year, 3, 1))


def test_overrides_win_over_library_and_fallback() -> None:
    cal = WorkCalendar(
        overrides={
            date(2026, 2, 14): False,  # library: make-up workday
            date(2026, 2, 16): True,  # library: Spring Festival
            date(UNKNOWN_YEAR, 1, 3): True,  # fallback: Saturday
            date(UNKNOWN_YEAR, 1, 5): False,  # fallback: Monday
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cal.is_workday(date(2026, 2, 14)) is False
        assert cal.is_workday(date(2026, 2, 16)) is True
        assert cal.is_workday(date(UNKNOWN_YEAR, 1, 3)) is True
        assert cal.is_workday(date(UNKNOWN_YEAR, 1, 5)) is False
        assert cal.is_workday(date(UNKNOWN_YEAR, 1, 6)) is True  # Tuesday, not overridden
    # A year with overrides is taken as covered (the notice only lists exceptions).
    assert not [w for w in caught if issubclass(w.category, CalendarCoverageWarning)]
    assert UNKNOWN_YEAR in cal.known_years
    # Fri 02-13 17:00 + 1 h: 0.5 h Friday; 02-14 is now a rest day, 02-15 a holiday,
    # 02-16 overridden to work: 08:30 + 0.5 h.
    assert cal.add_working(at(2026, 2, 13, 17), H) == at(2026, 2, 16, 9)


# --- add_working ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Inside the morning period.
        (at(2025, 3, 10, 9), 2, at(2025, 3, 10, 11)),
        # Across lunch: 11:00-12:00 is 1 h, then 13:00 + 1 h.
        (at(2025, 3, 10, 11), 2, at(2025, 3, 10, 14)),
        # Start inside lunch counts from 13:00.
        (at(2025, 3, 10, 12, 30), 1, at(2025, 3, 10, 14)),
        # Landing exactly on a period end returns that end, not the next start.
        (at(2025, 3, 10, 10), 2, at(2025, 3, 10, 12)),
        (at(2025, 3, 10, 13), 4.5, at(2025, 3, 10, 17, 30)),
        (at(2025, 3, 10, 8, 30), 8, at(2025, 3, 10, 17, 30)),
        # Starting exactly on boundaries.
        (at(2025, 3, 10, 12), 1, at(2025, 3, 10, 14)),
        (at(2025, 3, 10, 13), 0.5, at(2025, 3, 10, 13, 30)),
        (at(2025, 3, 10, 17, 30), 1, at(2025, 3, 11, 9, 30)),
        # Across midnight: 0.5 h Monday, then Tuesday 08:30 + 0.5 h.
        (at(2025, 3, 10, 17), 1, at(2025, 3, 11, 9)),
        # Evening and small hours count from the next morning.
        (at(2025, 3, 10, 20), 1, at(2025, 3, 11, 9, 30)),
        (at(2025, 3, 11, 3), 1, at(2025, 3, 11, 9, 30)),
        # Start on a Saturday: Monday 08:30 + 1 h.
        (at(2025, 3, 8, 10), 1, at(2025, 3, 10, 9, 30)),
        # Start on a National Day holiday (10-03): next workday is Thu 10-09.
        (at(2025, 10, 3, 10), 2, at(2025, 10, 9, 10, 30)),
        # 2025 Spring Festival: Mon 01-27 16:00-17:30 is 1.5 h; 01-28..02-04 off; Wed 02-05
        # morning 3.5 h (total 5 h) lands on 12:00, then 13:00 + 3 h = 16:00 for 8 h.
        (at(2025, 1, 27, 16), 5, at(2025, 2, 5, 12)),
        (at(2025, 1, 27, 16), 8, at(2025, 2, 5, 16)),
        # Sat 01-25 is a rest day, Sun 01-26 a make-up workday: 08:30 + 2 h.
        (at(2025, 1, 25, 10), 2, at(2025, 1, 26, 10, 30)),
        # 2025 National Day: Tue 09-30 17:00-17:30 is 0.5 h; 10-01..10-08 off; Thu 10-09 + 0.5 h.
        (at(2025, 9, 30, 17), 1, at(2025, 10, 9, 9)),
        # 2026 Spring Festival eve: Fri 02-13 17:00-17:30 is 0.5 h; Sat 02-14 is worked.
        (at(2026, 2, 13, 17), 1, at(2026, 2, 14, 9)),
        # Sat 02-14 16:00-17:30 is 1.5 h; 02-15..02-23 off; Tue 02-24 08:30 + 0.5 h.
        (at(2026, 2, 14, 16), 2, at(2026, 2, 24, 9)),
        # 2026 National Day: Wed 09-30 16:00-17:30 is 1.5 h; 10-01..10-07 off;
        # Thu 10-08 08:30 + 2.5 h = 11:00.
        (at(2026, 9, 30, 16), 4, at(2026, 10, 8, 11)),
        # 2026 Mid-Autumn: Thu 09-24 0.5 h; Fri 09-25..Sun 09-27 off; Mon 09-28 + 0.5 h.
        (at(2026, 9, 24, 17), 1, at(2026, 9, 28, 9)),
        # Six weeks of working time (30 days x 8 h) from Mon 2025-09-22 08:30. Working days:
        # 09-22..26 (5), Sun 09-28, 29, 30 (8), 10-09, 10, Sat 10-11 (11), 10-13..17 (16),
        # 10-20..24 (21), 10-27..31 (26), 11-03..06 (30): ends Thu 11-06 17:30.
        (at(2025, 9, 22, 8, 30), 240, at(2025, 11, 6, 17, 30)),
    ],
)
def test_add_working(start: datetime, hours: float, expected: datetime) -> None:
    assert CAL.add_working(start, timedelta(hours=hours)) == expected
    assert CAL.working_between(start, expected) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Back within the morning.
        (at(2025, 3, 10, 11), -2, at(2025, 3, 10, 9)),
        # Backwards exactly onto a period start returns that start (13:00, not 12:00).
        (at(2025, 3, 10, 14), -1, at(2025, 3, 10, 13)),
        # Mon 08:30-09:00 is 0.5 h, then Friday 03-07 17:30 - 0.5 h.
        (at(2025, 3, 10, 9), -1, at(2025, 3, 7, 17)),
        # Tue 2026-02-24 08:30-09:00 is 0.5 h; 02-15..02-23 off; Sat 02-14 (worked) 17:30 - 0.5 h.
        (at(2026, 2, 24, 9), -1, at(2026, 2, 14, 17)),
    ],
)
def test_add_working_backwards(start: datetime, hours: float, expected: datetime) -> None:
    assert CAL.add_working(start, timedelta(hours=hours)) == expected


def test_add_working_zero_and_result_zone() -> None:
    start_utc = datetime(2025, 3, 10, 1, tzinfo=UTC)  # 09:00 in Shanghai
    result = CAL.add_working(start_utc, H)
    assert result == at(2025, 3, 10, 10)
    assert result.tzinfo == SH
    # Zero duration is the start itself, even outside working hours.
    assert CAL.add_working(at(2025, 3, 8, 10), timedelta(0)) == at(2025, 3, 8, 10)
    assert CAL.add_working(start_utc, timedelta(0)).tzinfo == SH


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2025, 3, 10, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working(naive, H)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_between(naive, at(2025, 3, 10, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_between(at(2025, 3, 10, 10), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_natural(naive, H)


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkCalendar(tz="Asia/Beijing")


# --- working_between --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (at(2025, 3, 10, 9), at(2025, 3, 10, 11), 2),
        # 11:00-12:00 and 13:00-14:00.
        (at(2025, 3, 10, 11), at(2025, 3, 10, 14), 2),
        (at(2025, 3, 10, 12), at(2025, 3, 10, 13), 0),
        # Fri 17:00-17:30 and Mon 08:30-09:00.
        (at(2025, 3, 7, 17), at(2025, 3, 10, 9), 1),
        # 2025-09-26 .. 10-12 working days: Fri 26, Sun 28, 29, 30, 10-09, 10, Sat 11: 7 x 8 h.
        (at(2025, 9, 26), at(2025, 10, 13), 56),
        # 2026-02-09 .. 03-01: 02-09..13 (5), Sat 14, 24..27 (4), Sat 28: 11 x 8 h.
        (at(2026, 2, 9), at(2026, 3, 2), 88),
    ],
)
def test_working_between(start: datetime, end: datetime, hours: float) -> None:
    assert CAL.working_between(start, end) == timedelta(hours=hours)
    assert CAL.working_between(end, start) == -timedelta(hours=hours)


@pytest.mark.parametrize("year", [2025, 2026])
def test_working_between_whole_year(year: int) -> None:
    workdays = chinese_calendar.get_workdays(date(year, 1, 1), date(year, 12, 31))
    assert len(workdays) == 248  # both years; 2025 gained two statutory holidays
    assert CAL.working_between(at(year, 1, 1), at(year + 1, 1, 1)) == 248 * 8 * H


def test_custom_working_hours() -> None:
    single = WorkCalendar(hours=WorkingHours.parse("09:00-17:00"))
    assert single.working_seconds_per_day == 8 * 3600
    # Mon 16:00-17:00 is 1 h, Tue 09:00 + 1 h.
    assert single.add_working(at(2025, 3, 10, 16), 2 * H) == at(2025, 3, 11, 10)
    assert single.add_working(at(2025, 3, 10, 12, 30), H) == at(2025, 3, 10, 13, 30)

    # Southern summer hours with a long midday break.
    summer = WorkCalendar(hours=WorkingHours.parse("08:00-11:30,14:30-18:00"))
    assert summer.working_seconds_per_day == 7 * 3600
    # 11:00-11:30 is 0.5 h, 14:30 + 0.5 h.
    assert summer.add_working(at(2025, 3, 10, 11), H) == at(2025, 3, 10, 15)
    assert summer.working_between(at(2025, 3, 10), at(2025, 3, 11)) == 7 * H

    other_zone = WorkCalendar(tz="Asia/Urumqi")  # UTC+6: 08:30 there is 10:30 in Beijing
    assert other_zone.add_working(at(2025, 3, 10, 10, 30), H) == at(2025, 3, 10, 11, 30)
    assert other_zone.add_working(at(2025, 3, 10, 10, 30), H).tzinfo == ZoneInfo("Asia/Urumqi")


# --- add_natural ------------------------------------------------------------------------


def test_add_natural_ignores_holidays_and_nights() -> None:
    # Spring Festival 2026 changes nothing for natural hours.
    assert add_natural(at(2026, 2, 14, 17), 24 * H) == at(2026, 2, 15, 17)
    assert add_natural(at(2025, 9, 30, 23), 2 * H) == at(2025, 10, 1, 1)
    assert add_natural(at(2025, 9, 30, 23), 2 * H).tzinfo == SH


def test_add_natural_is_elapsed_time_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Clocks spring forward on 2025-03-30 at 02:00: 24 elapsed hours end at 13:00 local.
    start = datetime(2025, 3, 29, 12, tzinfo=berlin)
    assert add_natural(start, 24 * H) == datetime(2025, 3, 30, 13, tzinfo=berlin)


# --- load_overrides ---------------------------------------------------------------------


def test_load_overrides_csv(tmp_path: Path) -> None:
    path = tmp_path / "2027.csv"
    path.write_text(
        "\ufeffdate,kind,name\n"
        "2027-02-06,holiday,春节\n"
        "2027-02-20,workday,春节调休\n"
        "\n"
        "2027-10-01, Holiday ,国庆节\n",
        encoding="utf-8",
    )
    assert load_overrides(path) == {
        date(2027, 2, 6): False,
        date(2027, 2, 20): True,
        date(2027, 10, 1): False,
    }
    minimal = tmp_path / "minimal.csv"
    minimal.write_text("date,kind\n2027-01-01,holiday\n", encoding="utf-8")
    assert load_overrides(minimal) == {date(2027, 1, 1): False}


def test_load_overrides_yaml(tmp_path: Path) -> None:
    path = tmp_path / "2027.yaml"
    path.write_text(
        "- {date: 2027-02-06, kind: holiday, name: 春节}\n- date: '2027-02-20'\n  kind: workday\n",
        encoding="utf-8",
    )
    assert load_overrides(path) == {date(2027, 2, 6): False, date(2027, 2, 20): True}
    empty = tmp_path / "empty.yml"
    empty.write_text("", encoding="utf-8")
    assert load_overrides(empty) == {}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "date,kind\n2027-01-01,holiday\n2027-13-01,holiday\n", r"a\.csv:3: date"),
        ("b.csv", "date,kind\n2027-01-01,day off\n", r"b\.csv:2: kind 'day off'"),
        ("c.csv", "day,kind\n2027-01-01,holiday\n", r"c\.csv:1: header"),
        (
            "d.csv",
            "date,kind\n2027-01-01,holiday\n2027-01-02,holiday\n2027-01-01,workday\n",
            r"d\.csv:4: 2027-01-01 contradicts line 2",
        ),
        ("e.yaml", "- {date: 2027-01-01, kind: holiday}\n- {date: 2027-01-02}\n", r"e\.yaml:2"),
        (
            "f.yaml",
            "- {date: 2027-01-01, kind: holiday}\n- {date: x, kind: holiday}\n",
            r":2: date",
        ),
        ("g.yaml", "date: 2027-01-01\n", r"g\.yaml:1: expected a list"),
        ("h.yaml", "- {date: 2027-01-01, kind: [\n", r"h\.yaml:\d+: not valid YAML"),
        ("i.yaml", "- {date: 2027-01-01 10:00:00, kind: holiday}\n", r"i\.yaml:1: .*day only"),
        ("j.txt", "date,kind\n", r"\.csv, \.yaml or \.yml"),
    ],
)
def test_load_overrides_errors_name_the_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_overrides(path)


def test_load_overrides_rejects_gbk(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("date,kind,name\n2027-02-06,holiday,春节\n".encode("gbk"))
    with pytest.raises(ValueError, match="UTF-8"):
        load_overrides(path)


# --- properties -------------------------------------------------------------------------

# Inside the library's data, far enough from its edges that ±400 h stays inside it.
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 10, 31), timezones=st.just(SH)
)
durations = st.timedeltas(min_value=-400 * H, max_value=400 * H)


@given(instants, durations)
def test_add_working_then_working_between_round_trips(start: datetime, d: timedelta) -> None:
    assert CAL.working_between(start, CAL.add_working(start, d)) == d


@given(instants, instants, instants)
def test_working_between_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    assert CAL.working_between(a, c) == CAL.working_between(a, b) + CAL.working_between(b, c)


@given(instants, durations, durations)
def test_add_working_is_monotonic_in_duration(
    start: datetime, d1: timedelta, d2: timedelta
) -> None:
    lo, hi = sorted((d1, d2))
    assert CAL.add_working(start, lo) <= CAL.add_working(start, hi)


@given(instants, instants, durations)
def test_add_working_is_monotonic_in_start(s1: datetime, s2: datetime, d: timedelta) -> None:
    lo, hi = sorted((s1, s2))
    assert CAL.add_working(lo, d) <= CAL.add_working(hi, d)


@given(instants, instants)
def test_working_time_is_within_elapsed_time(a: datetime, b: datetime) -> None:
    lo, hi = sorted((a, b))
    assert timedelta(0) <= CAL.working_between(lo, hi) <= hi - lo


@settings(max_examples=40)
@given(
    st.datetimes(min_value=datetime(2026, 2, 10), max_value=datetime(2026, 3, 2)),
    st.integers(min_value=0, max_value=4 * 24 * 60),
)
def test_working_between_matches_minute_count(start: datetime, minutes: int) -> None:
    start = start.replace(second=0, microsecond=0)
    workday: dict[date, bool] = {}
    expected = 0
    for i in range(minutes):
        moment = start + timedelta(minutes=i)
        day = moment.date()
        if day not in workday:
            workday[day] = chinese_calendar.is_workday(day)
        in_period = any(s <= moment.time() < e for s, e in DEFAULT_WORKING_HOURS.periods)
        expected += in_period and workday[day]
    aware = start.replace(tzinfo=SH)
    got = CAL.working_between(aware, aware + timedelta(minutes=minutes))
    assert got == timedelta(minutes=expected)


def test_is_workday_of_an_instant_uses_the_local_day() -> None:
    # 2026-02-13 17:00 UTC is Sat 02-14 01:00 in Shanghai, a make-up workday.
    assert CAL.is_workday(datetime(2026, 2, 13, 17, tzinfo=UTC)) is True
    # 2026-02-14 17:00 UTC is Sun 02-15 01:00 in Shanghai, Spring Festival.
    assert CAL.is_workday(datetime(2026, 2, 14, 17, tzinfo=UTC)) is False
