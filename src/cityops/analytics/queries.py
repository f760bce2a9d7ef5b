"""Questions asked of the roll-ups: counts and rates, trends, hotspots, recurring problems and
anomalies. Every answer reads ``case_stats`` (a few hundred to a few thousand rows), never the
cases table, so it costs the same for ten thousand cases as for twenty million.

Scope: a district-wide actor sees the whole district; an actor scoped to streets sees those
streets; a department sees the events that happened while cases were with it. Anyone else
(scoped to communities or grids only) is refused, because roll-ups cannot answer for them
exactly (``AnalyticsScope``).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    cast,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from cityops.analytics.models import MEASURES, CaseStat
from cityops.analytics.rollup import GRAINS
from cityops.auth.actor import Actor
from cityops.auth.models import OrgUnit
from cityops.cases.scope import is_district_wide
from cityops.catalog.models import CatalogClass
from cityops.errors import Forbidden, InvalidInput
from cityops.geo.models import Region

#: Public dimension names → roll-up columns.
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "class": ("kind", "minor_code"),
    "street": ("street_code",),
    "source": ("source",),
    "department": ("department_id",),
}
#: Daily grains from the smallest to the largest; the first that covers a question answers it.
_DAILY = [name for name, grain in GRAINS.items() if not grain.monthly]


@dataclass(frozen=True)
class AnalyticsScope:
    """What part of the roll-ups an actor may read."""

    district_code: str
    streets: tuple[str, ...] | None = None
    department_id: int | None = None

    @property
    def needs(self) -> set[str]:
        """Dimensions the scope filters on (so the grain must have them)."""
        return ({"street"} if self.streets else set()) | (
            {"department"} if self.department_id else set()
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [CaseStat.district_code == self.district_code]
        if self.streets:
            found.append(CaseStat.street_code.in_(self.streets))
        if self.department_id:
            found.append(CaseStat.department_id == self.department_id)
        return found


def scope_of(actor: Actor) -> AnalyticsScope:
    """The actor's view of the roll-ups, or ``Forbidden`` if roll-ups cannot serve it."""
    if is_district_wide(actor):
        return AnalyticsScope(actor.district_code)
    streets = tuple(a for a in actor.scope_areas if len(a) == 9)
    if actor.scope_areas and len(streets) == len(actor.scope_areas):
        return AnalyticsScope(actor.district_code, streets=streets)
    if actor.scope_department_id is not None and not actor.scope_areas:
        return AnalyticsScope(actor.district_code, department_id=actor.scope_department_id)
    raise Forbidden(
        "analytics are available to district-wide, street or department accounts only",
        field="scope",
    )


def grain_for(dimensions: Iterable[str]) -> str:
    """The smallest daily grain holding every named dimension."""
    needed = {column for name in dimensions for column in _columns(name)}
    for name in _DAILY:
        if needed <= set(GRAINS[name].dims):
            return name
    raise InvalidInput(f"no roll-up holds {sorted(needed)}", field="group_by")


def _columns(name: str) -> tuple[str, ...]:
    try:
        return DIMENSIONS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown dimension {name!r}; use {', '.join(DIMENSIONS)}", field="group_by"
        ) from None


def _check_range(start: date, end: date, *, longest: int = 3700) -> None:
    if end <= start:
        raise InvalidInput("the period ends before it starts", field="end")
    if (end - start).days > longest:
        raise InvalidInput(f"the period is longer than {longest} days", field="end")


def _base(
    scope: AnalyticsScope, grain: str, start: date, end: date, columns: Sequence[Any]
) -> Select[Any]:
    return select(*columns).where(
        *scope.conditions(),
        CaseStat.grain == grain,
        CaseStat.period >= start,
        CaseStat.period < end,
    )


def _filters(filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    for name, value in filters.items():
        if value in (None, ""):
            continue
        if name == "class":
            kind, _, minor = str(value).partition(":")
            if not minor:
                raise InvalidInput("a class is written kind:minor, e.g. event:0102", field="class")
            found.append(and_(CaseStat.kind == kind, CaseStat.minor_code == minor))
        elif name == "department":
            found.append(CaseStat.department_id == int(value))
        else:
            found.append(getattr(CaseStat, _columns(name)[0]) == value)
    return found


def _rates(values: dict[str, Any]) -> dict[str, Any]:
    handled = values.get("handled") or 0
    registered = values.get("registered") or 0
    return values | {
        "on_time_rate": round(values["handled_on_time"] / handled, 4) if handled else None,
        "return_rate": round(values["returned"] / registered, 4) if registered else None,
        "rework_rate": round(values["reworked"] / handled, 4) if handled else None,
    }


def counts(
    session: Session,
    *,
    scope: AnalyticsScope,
    start: date,
    end: date,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Any] | None = None,
    interval: str | None = None,
) -> list[dict[str, Any]]:
    """Every measure summed over [start, end), grouped by dimensions and optionally by day or
    month, with the derived rates."""
    _check_range(start, end)
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    if interval not in (None, "day", "month"):
        raise InvalidInput("interval is day or month", field="interval")
    grain = grain_for({*group_by, *filters, *scope.needs})
    keys = [getattr(CaseStat, c) for name in group_by for c in _columns(name)]
    if interval:
        keys.insert(0, CaseStat.period)
    sums = [func.sum(getattr(CaseStat, m)).label(m) for m in MEASURES]
    query = _base(scope, grain, start, end, [*keys, *sums]).where(*_filters(filters))
    if keys:
        query = query.group_by(*keys)
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(query):
        mapping = row._mapping
        label: dict[str, Any] = {}
        if interval:
            period: date = mapping["period"]
            label["period"] = (
                period.isoformat() if interval == "day" else f"{period.year}-{period.month:02d}"
            )
        for name in group_by:
            if name == "class":
                label["class"] = f"{mapping['kind']}:{mapping['minor_code']}"
            else:
                label[name] = mapping[_columns(name)[0]]
        values = {m: int(mapping[m] or 0) for m in MEASURES}
        cell = merged.setdefault(tuple(label.values()), label | dict.fromkeys(MEASURES, 0))
        for m in MEASURES:
            cell[m] += values[m]
    return sorted((_rates(c) for c in merged.values()), key=lambda c: -c["reported"])


def series(
    session: Session,
    *,
    scope: AnalyticsScope,
    start: date,
    end: date,
    measures: Sequence[str] = ("reported", "closed"),
    filters: Mapping[str, Any] | None = None,
) -> dict[str, list[int]]:
    """Daily values of ``measures`` over [start, end), zero-filled."""
    _check_range(start, end)
    for m in measures:
        if m not in MEASURES:
            raise InvalidInput(f"unknown measure {m!r}", field="measures")
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    grain = grain_for({*filters, *scope.needs})
    sums = [func.sum(getattr(CaseStat, m)).label(m) for m in measures]
    query = (
        _base(scope, grain, start, end, [CaseStat.period, *sums])
        .where(*_filters(filters))
        .group_by(CaseStat.period)
    )
    found = {row.period: row for row in session.execute(query)}
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    return {
        m: [int(getattr(found[d], m) or 0) if d in found else 0 for d in days] for m in measures
    }


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def trend(
    session: Session,
    *,
    scope: AnalyticsScope,
    start: date,
    end: date,
    measures: Sequence[str] = ("reported", "closed"),
    filters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Daily series over [start, end) beside the same days a year earlier, with totals and the
    year-on-year change."""
    now = series(session, scope=scope, start=start, end=end, measures=measures, filters=filters)
    before = series(
        session, scope=scope, start=_year_earlier(start),
        end=_year_earlier(start) + (end - start), measures=measures, filters=filters,
    )  # fmt: skip
    totals = {m: sum(now[m]) for m in measures}
    earlier = {m: sum(before[m]) for m in measures}
    return {
        "days": [(start + timedelta(days=i)).isoformat() for i in range((end - start).days)],
        "series": now,
        "last_year": before,
        "totals": totals,
        "last_year_totals": earlier,
        "yoy": {
            m: round((totals[m] - earlier[m]) / earlier[m], 4) if earlier[m] else None
            for m in measures
        },
    }


def _months(start: date, end: date) -> tuple[date, date]:
    """The whole months covering [start, end) as [first month, month after the last)."""
    first = start.replace(day=1)
    last = (end - timedelta(days=1)).replace(day=1)
    after = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    return first, after


def _area_scope(
    scope: AnalyticsScope, street: Any = None, stat: Any = CaseStat
) -> list[ColumnElement[bool]]:
    """The scope as conditions on a place-only grain (``street``: where the street code is;
    ``stat``: the roll-up table or an alias of it)."""
    if scope.department_id:
        raise Forbidden("places are counted for area accounts, not departments", field="scope")
    found: list[ColumnElement[bool]] = [stat.district_code == scope.district_code]
    if scope.streets:
        # Grid and community codes start with their street's code (GB/T 30428.1's hierarchy).
        where = street if street is not None else func.substr(stat.area_code, 1, 9)
        found.append(where.in_(scope.streets))
    return found


def hotspots(
    session: Session,
    *,
    scope: AnalyticsScope,
    start: date,
    end: date,
    level: str = "grid",
    klass: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Grids or communities ranked by reports per km². Communities of all classes are counted
    over the exact days; grids, or a single class, over the whole months covering the period
    (grids are counted per month to keep the roll-up small)."""
    _check_range(start, end)
    if level not in ("grid", "community"):
        raise InvalidInput("level is grid or community", field="level")
    if level == "community" and not klass:
        grain, first, after = "community", start, end
        column: Any = CaseStat.area_code
    else:
        grain = "grid_month" if klass else "grid_total"
        first, after = _months(start, end)
        column = CaseStat.area_code if level == "grid" else func.substr(CaseStat.area_code, 1, 12)
    code = column.label("code")
    query = (
        select(code, func.sum(CaseStat.reported).label("n"))
        .where(
            *_area_scope(scope),
            CaseStat.grain == grain,
            CaseStat.period >= first,
            CaseStat.period < after,
            CaseStat.area_code != "",
            *_filters({"class": klass}),
        )
        .group_by(code)
    )
    # Ranked in the database: only the leaders' rows and region names come back (a district
    # has tens of thousands of grids). The final order uses the rounded density as shown, so
    # a margin of candidates is fetched for ties at the cut.
    counts = query.subquery()
    n = counts.c.n
    density = func.coalesce(cast(n, Float) * 1e6 / func.nullif(Region.area_m2, 0), 0)
    leaders = session.execute(
        select(
            counts.c.code,
            n,
            Region.name,
            Region.area_m2,
            Region.centroid_lon,
            Region.centroid_lat,
        )
        .select_from(counts)
        .outerjoin(Region, Region.code == counts.c.code)
        .where(n > 0)
        .order_by(density.desc(), n.desc(), counts.c.code)
        .limit(limit + 50)
    ).all()
    ranked = []
    for row in leaders:
        area_km2 = row.area_m2 / 1e6 if row.area_m2 else None
        ranked.append(
            {
                "code": row.code,
                "name": row.name or row.code,
                "reported": int(row.n),
                "area_km2": round(area_km2, 4) if area_km2 else None,
                "density_per_km2": round(int(row.n) / area_km2, 1) if area_km2 else None,
                "lon": row.centroid_lon,
                "lat": row.centroid_lat,
            }
        )
    ranked.sort(key=lambda r: (-(r["density_per_km2"] or 0), -r["reported"], r["code"]))
    return ranked[:limit]


#: Cells per month per result row whose smallest count makes the first threshold.
_LEADERS_PER_ROW = 2
#: Cells reaching the second threshold past which summing every cell is cheaper.
_PRUNE_UP_TO = 20_000
#: The grid-month grain as a literal: SQLite uses a partial index only when the query repeats
#: the index's condition as written, not through a bound parameter.
_GRID_MONTH: ColumnElement[str] = literal_column("'grid_month'")

Pair = tuple[str, str, str]


def month_starts(start: date, end: date) -> list[date]:
    """The first days of the whole months covering [start, end)."""
    first, after = _months(start, end)
    found = []
    while first < after:
        found.append(first)
        first = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return found


def recurring(
    session: Session,
    *,
    scope: AnalyticsScope,
    start: date,
    end: date,
    min_reports: int = 3,
    min_months: int = 2,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The same class in the same grid again and again (每月一题 candidates): reports and the
    number of months it appeared in, over the whole months covering the period.

    A district has millions of grid × class × month cells a year, so the leaders are found
    without summing them all, exactly, by a threshold bound: sum the months of the pairs with
    a large cell in some month and take the ``limit``-th total ``K``. Any pair reaching ``K``
    over ``m`` months has a month with at least ``ceil(K / m)`` reports, so summing the pairs
    with a cell that large leaves none out."""
    _check_range(start, end)
    if limit < 1:
        raise InvalidInput("limit is at least 1", field="limit")
    months = month_starts(start, end)
    first = _first_threshold(session, scope, months, limit * _LEADERS_PER_ROW)
    # A threshold of one report names every pair: the plain sum is then the cheaper way.
    totals = pair_totals(session, scope, months, first if first > 1 else None)
    ranked = rank_pairs(totals, min_reports, min_months)
    bound = ranked[limit - 1][1] if len(ranked) >= limit else min_reports
    least = -(-bound // len(months))
    if least < first:
        many = least <= 1 or _cells_reaching(session, scope, months, least) > _PRUNE_UP_TO
        totals = pair_totals(session, scope, months, None if many else least)
        ranked = rank_pairs(totals, min_reports, min_months)
    names = class_names(session, scope.district_code)
    return [
        {
            "grid_code": grid,
            "class": f"{kind}:{minor}",
            "class_name": names.get((kind, minor), minor),
            "reported": n,
            "months": in_months,
        }
        for (grid, kind, minor), n, in_months in ranked[:limit]
    ]


def grid_month_cells(
    scope: AnalyticsScope, stat: Any = CaseStat, months: Sequence[date] = ()
) -> list[ColumnElement[bool]]:
    """The scope's grid × class × month cells with reports (of ``months`` if given)."""
    found = [
        *_area_scope(scope, stat=stat),
        stat.grain == _GRID_MONTH,
        stat.area_code != "",
        stat.reported > 0,
    ]
    return [*found, stat.period.in_(months)] if months else found


def _first_threshold(
    session: Session, scope: AnalyticsScope, months: Sequence[date], leaders: int
) -> int:
    """The largest of the months' ``leaders``-th cell counts (1 when no month has so many)."""
    found = 1
    for month in months:
        nth = session.scalar(
            select(CaseStat.reported)
            .where(*grid_month_cells(scope, months=[month]))
            .order_by(CaseStat.reported.desc())
            .offset(leaders - 1)
            .limit(1)
        )
        found = max(found, nth or 1)
    return found


def _cells_reaching(
    session: Session, scope: AnalyticsScope, months: Sequence[date], least: int
) -> int:
    """How many cells have ``least`` reports or more, counted up to one past ``_PRUNE_UP_TO``."""
    reaching = (
        select(CaseStat.id)
        .where(*grid_month_cells(scope, months=months), CaseStat.reported >= least)
        .limit(_PRUNE_UP_TO + 1)
    )
    return int(session.scalar(select(func.count()).select_from(reaching.subquery())) or 0)


def pair_totals(
    session: Session, scope: AnalyticsScope, months: Sequence[date], least: int | None
) -> dict[Pair, tuple[int, int]]:
    """Reports and months with reports of each grid × class pair over the months: of the pairs
    with a month of at least ``least`` reports, or of every pair (None)."""
    c = CaseStat
    query = select(c.area_code, c.kind, c.minor_code, func.sum(c.reported), func.count(c.id)).where(
        *grid_month_cells(scope, months=months)
    )
    if least is not None:
        hit = aliased(CaseStat)
        reaching = (
            select(hit.area_code, hit.kind, hit.minor_code)
            .where(*grid_month_cells(scope, hit, months), hit.reported >= least)
            .distinct()
            .subquery()
        )
        query = query.join(
            reaching,
            and_(
                c.area_code == reaching.c.area_code,
                c.kind == reaching.c.kind,
                c.minor_code == reaching.c.minor_code,
            ),
        )
    rows = session.execute(query.group_by(c.area_code, c.kind, c.minor_code))
    return {(grid, kind, minor): (int(n), int(m)) for grid, kind, minor, n, m in rows}


def rank_pairs(
    totals: Mapping[Pair, tuple[int, int]], min_reports: int, min_months: int
) -> list[tuple[Pair, int, int]]:
    """Pairs meeting both thresholds, most reports first (ties by grid and class)."""
    kept = [
        (pair, n, months)
        for pair, (n, months) in totals.items()
        if n >= min_reports and months >= min_months
    ]
    return sorted(kept, key=lambda row: (-row[1], row[0]))


def region_counts(
    session: Session, *, scope: AnalyticsScope, level: str, start: date, end: date
) -> dict[str, int]:
    """Reports per street or community over [start, end), for the density map."""
    _check_range(start, end)
    if level == "street":
        grain, column = "street", CaseStat.street_code
    elif level == "community":
        grain, column = "community", CaseStat.area_code
    else:
        raise InvalidInput("region counts are by street or community", field="level")
    query = (
        select(column, func.sum(CaseStat.reported))
        .where(
            *_area_scope(scope, CaseStat.street_code if level == "street" else None),
            CaseStat.grain == grain,
            CaseStat.period >= start,
            CaseStat.period < end,
        )
        .group_by(column)
    )
    return {str(code): int(n or 0) for code, n in session.execute(query) if code}


@dataclass
class Anomaly:
    """A street × class whose count on a day is far above its own baseline."""

    street_code: str
    klass: str
    day: date
    count: int
    baseline: list[int] = field(default_factory=list)
    baseline_days: list[date] = field(default_factory=list)
    median: float = 0.0
    scale: float = 1.0
    score: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "street_code": self.street_code,
            "class": self.klass,
            "day": self.day.isoformat(),
            "count": self.count,
            "baseline": self.baseline,
            "baseline_days": [d.isoformat() for d in self.baseline_days],
            "median": self.median,
            "scale": round(self.scale, 3),
            "score": round(self.score, 2),
        }


def anscombe(count: float) -> float:
    """Anscombe's transform: Poisson counts become roughly normal with variance 1 whatever
    their mean, so one threshold serves a street that sees 2 reports a day and one that sees
    200."""
    return 2.0 * math.sqrt(count + 3.0 / 8.0)


def robust_score(value: float, baseline: Sequence[float]) -> tuple[float, float, float]:
    """(score, median, scale): how far ``value`` lies above the baseline, in robust standard
    deviations of the transformed counts. The scale is 1.4826 × MAD of the transformed
    baseline but never below 1 (the transformed Poisson spread), so a very regular series does
    not flag ordinary noise. ``median`` is the baseline's median count, for the evidence."""
    transformed = [anscombe(b) for b in baseline] or [anscombe(0)]
    centre = statistics.median(transformed)
    mad = statistics.median(abs(t - centre) for t in transformed)
    scale = max(1.4826 * mad, 1.0)
    median = float(statistics.median(baseline)) if baseline else 0.0
    return (anscombe(value) - centre) / scale, median, scale


#: Up to this many busy cells, anomalies read their baselines by name.
_NAMED_CELLS = 300


def anomalies(
    session: Session,
    *,
    scope: AnalyticsScope,
    day: date,
    weeks: int = 8,
    threshold: float = 4.0,
    min_count: int = 5,
) -> list[Anomaly]:
    """Street × class counts of reports on ``day`` far above the same weekday of the previous
    ``weeks`` weeks (a seasonal baseline: Mondays are compared with Mondays)."""
    if not 2 <= weeks <= 52:
        raise InvalidInput("weeks is between 2 and 52", field="weeks")
    baseline_days = [day - timedelta(weeks=k) for k in range(weeks, 0, -1)]
    grain = "cube" if scope.department_id else "street_class"
    # First the day's cells busy enough to matter, then the baselines of those only: a city's
    # day has tens of thousands of street × class cells, and few reach ``min_count``.
    total = func.sum(CaseStat.reported)
    busy = session.execute(
        select(CaseStat.street_code, CaseStat.kind, CaseStat.minor_code, total)
        .where(*scope.conditions(), CaseStat.grain == grain, CaseStat.period == day)
        .group_by(CaseStat.street_code, CaseStat.kind, CaseStat.minor_code)
        .having(total >= min_count)
    ).all()
    if not busy:
        return []
    cells: defaultdict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    for street, kind, minor, reported in busy:
        cells[(street, f"{kind}:{minor}")][day] = int(reported)
    history = select(
        CaseStat.period, CaseStat.street_code, CaseStat.kind, CaseStat.minor_code,
        CaseStat.reported,
    ).where(
        *scope.conditions(),
        CaseStat.grain == grain,
        CaseStat.period.in_(baseline_days),
        CaseStat.reported > 0,
    )  # fmt: skip
    if len(busy) <= _NAMED_CELLS:
        # The busy cells by name: separate IN lists per column made PostgreSQL descend the
        # index once per combination (8 days × streets × classes: 220 ms at 2M cases).
        history = history.where(
            tuple_(CaseStat.street_code, CaseStat.kind, CaseStat.minor_code).in_(
                [(street, kind, minor) for street, kind, minor, _n in busy]
            )
        )
    # Else (a storm's day: thousands of busy cells) every cell of the baseline days is read
    # and the busy ones picked here; a list of thousands of tuples took PostgreSQL seconds.
    for period, street, kind, minor, reported in session.execute(history):
        by_day = cells.get((street, f"{kind}:{minor}"))
        if by_day is not None:
            by_day[period] = by_day.get(period, 0) + int(reported)
    found = []
    for (street, klass), by_day in cells.items():
        count = by_day.get(day, 0)
        if count < min_count:
            continue
        baseline = [by_day.get(d, 0) for d in baseline_days]
        score, median, scale = robust_score(count, baseline)
        if score >= threshold:
            found.append(
                Anomaly(street, klass, day, count, baseline, baseline_days, median, scale, score)
            )
    found.sort(key=lambda a: -a.score)
    return found


def described(
    session: Session, district_code: str, found: Sequence[Anomaly]
) -> list[dict[str, Any]]:
    """Anomalies as dicts with the class's and the street's names."""
    names = class_names(session, district_code)
    streets = region_names(session, (a.street_code for a in found))
    result = []
    for item in found:
        kind, _, minor = item.klass.partition(":")
        result.append(
            item.as_dict()
            | {
                "class_name": names.get((kind, minor), minor),
                "street_name": streets.get(item.street_code, item.street_code),
            }
        )
    return result


def class_names(session: Session, district_code: str) -> dict[tuple[str, str], str]:
    """(kind, minor code) → Chinese name, from the newest catalogue version naming it."""
    rows = session.execute(
        select(CatalogClass.kind, CatalogClass.minor_code, CatalogClass.minor_name)
        .where(CatalogClass.district_code == district_code)
        .order_by(CatalogClass.version_id)
    )
    return {(kind, minor): name for kind, minor, name in rows}


def region_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = [c for c in set(codes) if c]
    if not wanted:
        return {}
    rows = session.execute(select(Region.code, Region.name).where(Region.code.in_(wanted)))
    return {str(code): str(name) for code, name in rows}


def department_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = [i for i in set(ids) if i]
    if not wanted:
        return {}
    rows = session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(wanted)))
    return {int(i): name for i, name in rows}
