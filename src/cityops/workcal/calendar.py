"""Working days and working hours in China: holidays, make-up workdays (调休), overrides."""

from __future__ import annotations

import csv
import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import yaml

logger = logging.getLogger(__name__)

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_KINDS = {"workday": True, "holiday": False}


class CalendarCoverageWarning(UserWarning):
    """A year outside the holiday data was counted Monday to Friday."""


def _parse_time(text: str) -> time:
    match = _TIME_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a time (expected HH:MM)")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    try:
        return time(hour, minute, second)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a time of day") from None


def _offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


@dataclass(frozen=True)
class WorkingHours:
    """The working periods of one working day, in local wall-clock time."""

    periods: tuple[tuple[time, time], ...]

    def __post_init__(self) -> None:
        periods = tuple((start, end) for start, end in self.periods)
        if not periods:
            raise ValueError("working hours need at least one period")
        previous_end: time | None = None
        for start, end in periods:
            label = f"{start.isoformat()}-{end.isoformat()}"
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError(f"working period {label} must use local times without a zone")
            if not start < end:
                raise ValueError(f"working period {label} must start before it ends")
            if previous_end is not None and start < previous_end:
                raise ValueError(
                    f"working period {label} overlaps or precedes the one ending at "
                    f"{previous_end.isoformat()}; list periods in order without overlap"
                )
            previous_end = end
        object.__setattr__(self, "periods", periods)

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Parse ``"08:30-12:00,13:00-17:30"`` (the ``CITYOPS_WORKING_HOURS`` format)."""
        periods: list[tuple[time, time]] = []
        for part in text.split(","):
            bounds = part.split("-")
            if len(bounds) != 2:
                raise ValueError(
                    f"bad working period {part.strip()!r} in {text!r}: expected HH:MM-HH:MM"
                )
            try:
                periods.append((_parse_time(bounds[0]), _parse_time(bounds[1])))
            except ValueError as exc:
                raise ValueError(
                    f"bad working period {part.strip()!r} in {text!r}: {exc}"
                ) from None
        try:
            return cls(tuple(periods))
        except ValueError as exc:
            raise ValueError(f"bad working hours {text!r}: {exc}") from None

    def __str__(self) -> str:
        return ",".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods)

    @property
    def per_day(self) -> timedelta:
        """Working time in one full working day."""
        return sum((_offset(e) - _offset(s) for s, e in self.periods), _ZERO)


DEFAULT_WORKING_HOURS = WorkingHours(((time(8, 30), time(12, 0)), (time(13, 0), time(17, 30))))

_LIBRARY_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")


def add_natural(start: datetime, duration: timedelta) -> datetime:
    """Start plus elapsed (natural) time; holidays and nights count. Result in start's zone."""
    _require_aware(start, "start")
    # Aware + timedelta is wall-clock arithmetic in Python; going through UTC makes it elapsed
    # time even in zones with daylight saving.
    return (start.astimezone(UTC) + duration).astimezone(start.tzinfo)


class WorkCalendar:
    """Working days (Chinese official calendar plus overrides) and working hours in one zone.

    Working time is measured in local wall-clock time inside the working periods. Build one
    per process and share it: the per-day cache and the once-per-year warning live on it.
    """

    def __init__(
        self,
        *,
        hours: WorkingHours = DEFAULT_WORKING_HOURS,
        tz: str = "Asia/Shanghai",
        overrides: Mapping[date, bool] | None = None,
    ) -> None:
        try:
            self._zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        self._tz = tz
        self._hours = hours
        self._periods = tuple((_offset(s), _offset(e)) for s, e in hours.periods)
        self._per_day = hours.per_day
        self._overrides: dict[date, bool] = dict(overrides or {})
        self._override_years = frozenset(day.year for day in self._overrides)
        self._cache: dict[date, bool] = {}
        self._warned_years: set[int] = set()

    @property
    def hours(self) -> WorkingHours:
        return self._hours

    @property
    def tz(self) -> str:
        return self._tz

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def overrides(self) -> Mapping[date, bool]:
        return dict(self._overrides)

    @property
    def library_years(self) -> range:
        """Years the installed ``chinese_calendar`` has official holiday data for."""
        return _LIBRARY_YEARS

    @property
    def known_years(self) -> frozenset[int]:
        """Years counted from real data: the library's years plus any year with overrides."""
        return frozenset(_LIBRARY_YEARS) | self._override_years

    @property
    def working_seconds_per_day(self) -> int:
        return int(self._per_day.total_seconds())

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day: override, else official calendar, else Mon–Fri."""
        if isinstance(day, datetime):
            # An instant's day is the local day, not the day of whatever zone it came in.
            day = (day.astimezone(self._zone) if day.tzinfo is not None else day).date()
        override = self._overrides.get(day)
        if override is not None:
            return override
        cached = self._cache.get(day)
        if cached is None:
            cached = self._cache[day] = self._lookup(day)
        return cached

    def _lookup(self, day: date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            pass
        # A year with overrides is assumed to carry that year's whole notice: the notice only
        # lists holidays and make-up days, everything else is Monday to Friday anyway.
        if day.year not in self._override_years and day.year not in self._warned_years:
            self._warned_years.add(day.year)
            message = (
                f"no official holiday data for {day.year} (chinese_calendar covers "
                f"{_LIBRARY_YEARS.start}-{_LIBRARY_YEARS.stop - 1}); counting Monday to Friday. "
                f"Load that year's State Council holiday notice as calendar overrides."
            )
            logger.warning(message)
            warnings.warn(message, CalendarCoverageWarning, stacklevel=3)
        return day.weekday() < 5

    def _local(self, value: datetime, name: str) -> datetime:
        """Naive local wall-clock time of an aware instant."""
        _require_aware(value, name)
        return value.astimezone(self._zone).replace(tzinfo=None)

    def _aware(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self._zone)

    def _overlap(self, day: date, lo: timedelta, hi: timedelta) -> timedelta:
        """Working time on ``day`` between offsets ``lo`` and ``hi`` from local midnight."""
        if lo >= hi or not self.is_workday(day):
            return _ZERO
        total = _ZERO
        for start, end in self._periods:
            begin, finish = max(start, lo), min(end, hi)
            if begin < finish:
                total += finish - begin
        return total

    def workdays_between(self, first: date, last: date) -> int:
        """Number of working days in ``[first, last)``."""
        count = 0
        day = first
        while day < last:
            count += self.is_workday(day)
            day += _ONE_DAY
        return count

    def add_working(self, start: datetime, duration: timedelta) -> datetime:
        """``start`` plus ``duration`` of working time (backwards if negative), in the calendar tz.

        Time before the next working period does not count; a result exactly at the end of a
        period is that end (12:00, not 13:00), and going backwards exactly at a start, its start.
        """
        local = self._local(start, "start")
        if duration == _ZERO:
            return start.astimezone(self._zone)
        if duration > _ZERO:
            return self._aware(self._forward(local, duration))
        return self._aware(self._backward(local, -duration))

    def _forward(self, local: datetime, amount: timedelta) -> datetime:
        day = local.date()
        offset = local - datetime.combine(day, time())
        first_start = self._periods[0][0]
        while True:
            if self.is_workday(day):
                if offset <= first_start and amount > self._per_day:
                    amount -= self._per_day
                else:
                    for start, end in self._periods:
                        begin = max(start, offset)
                        if begin >= end:
                            continue
                        available = end - begin
                        if amount <= available:
                            return datetime.combine(day, time()) + begin + amount
                        amount -= available
            day += _ONE_DAY
            offset = _ZERO

    def _backward(self, local: datetime, amount: timedelta) -> datetime:
        day = local.date()
        offset = local - datetime.combine(day, time())
        last_end = self._periods[-1][1]
        while True:
            if self.is_workday(day):
                if offset >= last_end and amount > self._per_day:
                    amount -= self._per_day
                else:
                    for start, end in reversed(self._periods):
                        finish = min(end, offset)
                        if finish <= start:
                            continue
                        available = finish - start
                        if amount <= available:
                            return datetime.combine(day, time()) + finish - amount
                        amount -= available
            day -= _ONE_DAY
            offset = _ONE_DAY

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in ``[start, end)``; negative of the reverse when ``end < start``."""
        a, b = self._local(start, "start"), self._local(end, "end")
        if end.astimezone(UTC) < start.astimezone(UTC):
            return -self.working_between(end, start)
        first, last = a.date(), b.date()
        a_offset = a - datetime.combine(first, time())
        b_offset = b - datetime.combine(last, time())
        if first == last:
            return self._overlap(first, a_offset, b_offset)
        whole_days = self.workdays_between(first + _ONE_DAY, last)
        return (
            self._overlap(first, a_offset, _ONE_DAY)
            + self._per_day * whole_days
            + self._overlap(last, _ZERO, b_offset)
        )


def _parse_day(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"date {value.isoformat()!r} has a time; give the day only")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"date {value!r} is not a day in YYYY-MM-DD form")


def _parse_kind(value: object) -> bool:
    kind = str(value).strip().lower() if value is not None else ""
    if kind not in _KINDS:
        raise ValueError(f"kind {value!r} must be 'workday' or 'holiday'")
    return _KINDS[kind]


def _collect(path: Path, rows: Iterable[tuple[int, object, object]]) -> dict[date, bool]:
    result: dict[date, bool] = {}
    seen_on: dict[date, int] = {}
    for line, raw_day, raw_kind in rows:
        try:
            day, working = _parse_day(raw_day), _parse_kind(raw_kind)
        except ValueError as exc:
            raise ValueError(f"{path}:{line}: {exc}") from None
        if day in result and result[day] != working:
            raise ValueError(
                f"{path}:{line}: {day.isoformat()} contradicts line {seen_on[day]} "
                "(both workday and holiday)"
            )
        result[day] = working
        seen_on.setdefault(day, line)
    return result


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig: spreadsheets save a byte-order mark that would otherwise stick to "date".
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 (save the file as UTF-8, not GBK): {exc}") from None


def _csv_rows(path: Path, text: str) -> Iterable[tuple[int, object, object]]:
    reader = csv.DictReader(text.splitlines())
    fields = [name.strip().lower() for name in reader.fieldnames or []]
    if "date" not in fields or "kind" not in fields:
        raise ValueError(f"{path}:1: header must have 'date' and 'kind' columns, got {fields}")
    reader.fieldnames = fields
    for row in reader:
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue
        yield reader.line_num, row.get("date"), row.get("kind")


def _yaml_rows(path: Path, text: str) -> Iterable[tuple[int, object, object]]:
    try:
        data: Any = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}{where}: not valid YAML: {exc}") from None
    if data is None:
        return
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        raise ValueError(f"{path}:1: expected a list of {{date, kind, name}} entries")
    for item, node in zip(data, root.value, strict=True):
        line = node.start_mark.line + 1
        if not isinstance(item, dict) or "date" not in item or "kind" not in item:
            raise ValueError(f"{path}:{line}: each entry needs 'date' and 'kind'")
        yield line, item["date"], item["kind"]


def load_overrides(path: Path) -> dict[date, bool]:
    """Read working-day overrides (True = workday) from a CSV or YAML file.

    CSV: header ``date,kind[,name]``; YAML: a list of ``{date, kind, name}``. ``kind`` is
    ``workday`` or ``holiday``; errors name the file and line.
    """
    path = Path(path)
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _collect(path, _csv_rows(path, text))
    if suffix in {".yaml", ".yml"}:
        return _collect(path, _yaml_rows(path, text))
    raise ValueError(f"{path}: overrides must be a .csv, .yaml or .yml file")
