"""Dashboard figures within the viewer's data scope.

For a district-wide viewer (leaders, the command centre) the period figures come from the
analytics roll-ups, so they cost the same over twenty million cases as over ten thousand. A
viewer with a narrower scope also sees cases they reported or hold tasks on, which roll-ups
cannot single out; their figures are counted from the cases they can see (few, and indexed).
Open and overdue counts always read the cases table: they are states now, not events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from cityops.analytics import queries
from cityops.analytics.queries import AnalyticsScope
from cityops.auth.actor import Actor
from cityops.auth.models import OrgUnit
from cityops.cases.lifecycle import CLOCK_RUNNING, OPEN
from cityops.cases.models import Case
from cityops.cases.scope import is_district_wide, visible
from cityops.errors import CityopsError
from cityops.geo.models import Region
from cityops.timeutil import LOCAL_TZ, to_local, utcnow

HEAT_LIMIT = 5000


def local_midnight(now: datetime) -> datetime:
    local = to_local(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _count(session: Session, *conditions: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count(Case.id)).where(*conditions)) or 0)


def _rollup_scope(actor: Actor) -> AnalyticsScope | None:
    """The roll-up view for a district-wide actor; None means count from the cases."""
    return AnalyticsScope(actor.district_code) if is_district_wide(actor) else None


def counters(session: Session, *, actor: Actor, now: datetime | None = None) -> dict[str, int]:
    """Today's reports, registrations and closures, and the open and overdue cases now."""
    now = now or utcnow()
    start = local_midnight(now)
    scope = visible(actor)
    running = Case.status.in_([s.value for s in CLOCK_RUNNING])
    current = {
        "open": _count(session, scope, Case.status.in_([s.value for s in OPEN])),
        "overdue": _count(session, scope, running, Case.due_at < now),
    }
    rollup = _rollup_scope(actor)
    if rollup is not None:
        today = start.date()
        found = queries.series(
            session, scope=rollup, start=today, end=today + timedelta(days=1),
            measures=("reported", "registered", "closed"),
        )  # fmt: skip
        return {name: values[0] for name, values in found.items()} | current
    return {
        "reported": _count(session, scope, Case.reported_at >= start),
        "registered": _count(session, scope, Case.registered_at >= start),
        "closed": _count(session, scope, Case.closed_at >= start),
    } | current


def _local_day(session: Session, column: Any) -> Any:
    """The local calendar day of a UTC timestamp column, in the database's own SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(str(LOCAL_TZ), column))
    offset = to_local(utcnow()).utcoffset() or timedelta(hours=8)
    return func.date(column, f"+{int(offset.total_seconds() // 3600)} hours")


def trend(
    session: Session, *, actor: Actor, days: int, now: datetime | None = None
) -> dict[str, Any]:
    """Cases reported and closed per local day over the last ``days`` days."""
    now = now or utcnow()
    start = local_midnight(now) - timedelta(days=days - 1)
    labels = [(start + timedelta(days=i)).date().isoformat() for i in range(days)]
    rollup = _rollup_scope(actor)
    if rollup is not None:
        first = start.date()
        daily = queries.series(
            session, scope=rollup, start=first, end=first + timedelta(days=days),
            measures=("reported", "closed"),
        )  # fmt: skip
        return {"days": labels, **daily}
    series: dict[str, list[int]] = {}
    for name, column in (("reported", Case.reported_at), ("closed", Case.closed_at)):
        day = _local_day(session, column).label("day")
        rows = session.execute(
            select(day, func.count(Case.id)).where(visible(actor), column >= start).group_by(day)
        ).all()
        found = {str(d): int(n) for d, n in rows}
        series[name] = [found.get(label, 0) for label in labels]
    return {"days": labels, **series}


def top_classes(
    session: Session, *, actor: Actor, since: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """The most reported classes since ``since``."""
    rollup = _rollup_scope(actor)
    if rollup is not None:
        first = to_local(since).date()
        rows_ = queries.counts(
            session, scope=rollup, start=first, end=to_local(utcnow()).date() + timedelta(days=1),
            group_by=["class"],
        )  # fmt: skip
        names = queries.class_names(session, actor.district_code)
        ranked = []
        for row in rows_[:limit]:
            kind, _, minor = row["class"].partition(":")
            ranked.append({"name": names.get((kind, minor), minor), "count": row["reported"]})
        return [r for r in ranked if r["count"]]
    rows = session.execute(
        select(Case.class_name, func.count(Case.id).label("n"))
        .where(visible(actor), Case.reported_at >= since)
        .group_by(Case.class_name)
        .order_by(func.count(Case.id).desc())
        .limit(limit)
    ).all()
    return [{"name": name, "count": int(n)} for name, n in rows]


def on_time(session: Session, *, actor: Actor, since: datetime, by: str) -> list[dict[str, Any]]:
    """Handled cases and the share handled on time since ``since``, per street or department."""
    rollup = _rollup_scope(actor)
    if rollup is not None:
        return _on_time_rollup(session, actor=actor, scope=rollup, since=since, by=by)
    key: Any = Case.street_code if by == "street" else Case.department_id
    on_time_n = func.sum(case((Case.handled_on_time.is_(True), 1), else_=0))
    rows = session.execute(
        select(key, func.count(Case.id), on_time_n)
        .where(visible(actor), Case.handled_at >= since, key.is_not(None))
        .group_by(key)
    ).all()
    keys = [r[0] for r in rows]
    names: dict[Any, str] = {}
    if by == "street":
        found = session.execute(select(Region.code, Region.name).where(Region.code.in_(keys)))
    else:
        found = session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(keys)))
    for code, name in found:
        names[code] = name
    result = [
        {
            "key": str(k),
            "name": names.get(k, str(k)),
            "handled": int(n),
            "on_time": int(ok or 0),
            "rate": round(int(ok or 0) / int(n), 4) if n else None,
        }
        for k, n, ok in rows
    ]
    result.sort(key=lambda r: -int(r["handled"] or 0))
    return result[:20]


def _on_time_rollup(
    session: Session, *, actor: Actor, scope: AnalyticsScope, since: datetime, by: str
) -> list[dict[str, Any]]:
    dimension = "street" if by == "street" else "department"
    rows = queries.counts(
        session, scope=scope, start=to_local(since).date(),
        end=to_local(utcnow()).date() + timedelta(days=1), group_by=[dimension],
    )  # fmt: skip
    rows = [r for r in rows if r[dimension] and r["handled"]]
    if by == "street":
        names: dict[Any, str] = dict(queries.region_names(session, (r["street"] for r in rows)))
    else:
        names = dict(queries.department_names(session, (r["department"] for r in rows)))
    result = [
        {
            "key": str(r[dimension]),
            "name": names.get(r[dimension], str(r[dimension])),
            "handled": r["handled"],
            "on_time": r["handled_on_time"],
            "rate": r["on_time_rate"],
        }
        for r in rows
    ]
    result.sort(key=lambda r: -int(r["handled"] or 0))
    return result[:20]


def heat_points(session: Session, *, actor: Actor) -> list[list[float]]:
    """Positions of open cases (newest first, at most ``HEAT_LIMIT``) as [lat, lon]."""
    rows = session.execute(
        select(Case.lat, Case.lon)
        .where(visible(actor), Case.status.in_([s.value for s in OPEN]))
        .order_by(Case.id.desc())
        .limit(HEAT_LIMIT)
    ).all()
    return [[round(lat, 6), round(lon, 6)] for lat, lon in rows]


def _analytics_scope(actor: Actor) -> AnalyticsScope | None:
    """The roll-up view of an actor scoped by place (district or streets), else None."""
    try:
        scope = queries.scope_of(actor)
    except CityopsError:
        return None
    return None if scope.department_id else scope


def anomalies(
    session: Session, *, actor: Actor, now: datetime | None = None, limit: int = 8
) -> list[dict[str, Any]]:
    """Today's street × class anomalies, or yesterday's when today has none yet (mornings)."""
    scope = _analytics_scope(actor)
    if scope is None:
        return []
    today = to_local(now or utcnow()).date()
    for day in (today, today - timedelta(days=1)):
        found = queries.anomalies(session, scope=scope, day=day)
        if found:
            break
    return queries.described(session, actor.district_code, found[:limit])


def hotspots(
    session: Session, *, actor: Actor, days: int, now: datetime | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """Communities with the most reports per km² over the last ``days`` local days."""
    scope = _analytics_scope(actor)
    if scope is None:
        return []
    today = to_local(now or utcnow()).date()
    return queries.hotspots(
        session, scope=scope, start=today - timedelta(days=days - 1),
        end=today + timedelta(days=1), level="community", limit=limit,
    )  # fmt: skip
