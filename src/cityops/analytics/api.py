"""Routes of analytics (under ``/api/v1`` behind authentication), all read from the roll-ups.

Periods are given as ``start`` and ``end`` local dates, both included; the default is the last
30 days including today.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from cityops.analytics import queries
from cityops.analytics.models import MEASURES
from cityops.analytics.queries import DIMENSIONS
from cityops.deps import CurrentUser, SessionDep
from cityops.errors import InvalidInput
from cityops.timeutil import to_local, utcnow

router = APIRouter(prefix="/analytics", tags=["analytics"])

StartQ = Annotated[date | None, Query(description="first local day (default: 29 days ago)")]
EndQ = Annotated[date | None, Query(description="last local day, included (default: today)")]
ClassQ = Annotated[
    str | None, Query(max_length=24, pattern=r"^\w+:\d{4}$", description="kind:minor, event:0102")
]
StreetQ = Annotated[str | None, Query(max_length=9, pattern=r"^\d{9}$")]
SourceQ = Annotated[str | None, Query(max_length=16)]
DepartmentQ = Annotated[int | None, Query(ge=1)]


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    """[start, end + 1 day) from the inclusive query dates."""
    last = end or to_local(utcnow()).date()
    first = start or last - timedelta(days=29)
    if last < first:
        raise InvalidInput("end is before start", field="end")
    return first, last + timedelta(days=1)


def _split(value: str | None, field: str, allowed: Any) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    for item in items:
        if item not in allowed:
            raise InvalidInput(f"{field}: unknown {item!r}; use {', '.join(allowed)}", field=field)
    return items


@router.get("/counts")
def read_counts(
    session: SessionDep,
    actor: CurrentUser,
    start: StartQ = None,
    end: EndQ = None,
    group_by: Annotated[str | None, Query(max_length=64, description="class,street,…")] = None,
    interval: Annotated[str | None, Query(pattern="^(day|month)$")] = None,
    klass: Annotated[ClassQ, Query(alias="class")] = None,
    street: StreetQ = None,
    source: SourceQ = None,
    department: DepartmentQ = None,
) -> dict[str, Any]:
    """Counts of every measure and the derived rates by time × class × street × source ×
    department, with names for the codes."""
    first, after = _period(start, end)
    scope = queries.scope_of(actor)
    dims = _split(group_by, "group_by", DIMENSIONS)
    rows = queries.counts(
        session, scope=scope, start=first, end=after, group_by=dims, interval=interval,
        filters={"class": klass, "street": street, "source": source, "department": department},
    )  # fmt: skip
    if "class" in dims:
        names = queries.class_names(session, actor.district_code)
        for row in rows:
            kind, _, minor = row["class"].partition(":")
            row["class_name"] = names.get((kind, minor), minor)
    if "street" in dims:
        streets = queries.region_names(session, (r["street"] for r in rows))
        for row in rows:
            row["street_name"] = streets.get(row["street"], row["street"] or "")
    if "department" in dims:
        units = queries.department_names(session, (r["department"] for r in rows))
        for row in rows:
            row["department_name"] = units.get(row["department"], "")
    return {
        "start": first.isoformat(),
        "end": (after - timedelta(days=1)).isoformat(),
        "rows": rows,
    }


@router.get("/trend")
def read_trend(
    session: SessionDep,
    actor: CurrentUser,
    start: StartQ = None,
    end: EndQ = None,
    measures: Annotated[str, Query(max_length=128)] = "reported,closed",
    klass: Annotated[ClassQ, Query(alias="class")] = None,
    street: StreetQ = None,
    source: SourceQ = None,
) -> dict[str, Any]:
    """Daily series with the same days a year earlier and the year-on-year change."""
    first, after = _period(start, end)
    return queries.trend(
        session, scope=queries.scope_of(actor), start=first, end=after,
        measures=_split(measures, "measures", MEASURES),
        filters={"class": klass, "street": street, "source": source},
    )  # fmt: skip


@router.get("/hotspots")
def read_hotspots(
    session: SessionDep,
    actor: CurrentUser,
    start: StartQ = None,
    end: EndQ = None,
    level: Annotated[str, Query(pattern="^(grid|community)$")] = "grid",
    klass: Annotated[ClassQ, Query(alias="class")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[dict[str, Any]]:
    """Grids or communities ranked by reports per km² (whole months covering the period), with
    a point for the map."""
    first, after = _period(start, end)
    return queries.hotspots(
        session, scope=queries.scope_of(actor), start=first, end=after, level=level,
        klass=klass, limit=limit,
    )  # fmt: skip


@router.get("/recurring")
def read_recurring(
    session: SessionDep,
    actor: CurrentUser,
    start: StartQ = None,
    end: EndQ = None,
    min_reports: Annotated[int, Query(ge=1, le=10_000)] = 3,
    min_months: Annotated[int, Query(ge=1, le=120)] = 2,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """The same class in the same grid month after month: candidates for a root-cause fix."""
    first, after = _period(start, end)
    return queries.recurring(
        session, scope=queries.scope_of(actor), start=first, end=after,
        min_reports=min_reports, min_months=min_months, limit=limit,
    )  # fmt: skip


@router.get("/anomalies")
def read_anomalies(
    session: SessionDep,
    actor: CurrentUser,
    day: Annotated[date | None, Query(description="local day (default: today)")] = None,
    weeks: Annotated[int, Query(ge=2, le=52)] = 8,
    threshold: Annotated[float, Query(gt=0, le=100)] = 4.0,
    min_count: Annotated[int, Query(ge=1, le=10_000)] = 5,
) -> list[dict[str, Any]]:
    """Street × class counts far above the same weekday of the previous weeks, with the
    evidence (the baseline counts, their median and scale, and the score)."""
    found = queries.anomalies(
        session, scope=queries.scope_of(actor), day=day or to_local(utcnow()).date(),
        weeks=weeks, threshold=threshold, min_count=min_count,
    )  # fmt: skip
    return queries.described(session, actor.district_code, found)
