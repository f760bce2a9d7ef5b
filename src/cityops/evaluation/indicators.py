"""Indicators per period and subject, the weighted composite, the ranking and the drill-down.

Every count is defined as one ``SUM(CASE WHEN … THEN 1 ELSE 0 END)`` in a GROUP BY query over
``cases`` (or ``case_events`` joined to ``cases``) under the actor's data scope; the same
condition objects serve the drill-down, so a figure and the list of cases behind it cannot
disagree. For district-wide viewers the same counts are read from the roll-ups instead, whose
size does not grow with the number of cases: the cohort counts from ``case_cohorts``
(``analytics.cohorts``), a department's dispatches and returns from ``case_stats``; tests check
both ways give the same numbers. Rates and weights come from the configuration (``config.py``,
``defaults.yaml``).

Periods are local (Asia/Shanghai) days: ``2025``, ``2025-Q3``, ``2025-09``, ``2025-W38``,
``2025-09-18`` (``hotline.rates.parse_period``) or a custom ``2025-07-01..2025-08-15``
(both days included).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select, true
from sqlalchemy.orm import Session

from cityops.analytics.cohorts import NOT_VALID, OTHER_SOURCES
from cityops.analytics.models import CaseCohort, CaseStat
from cityops.auth.actor import Actor
from cityops.auth.models import OrgUnit, User
from cityops.auth.roles import Role
from cityops.cases.enums import Source
from cityops.cases.lifecycle import CLOCK_RUNNING, Action, Status
from cityops.cases.models import Case, CaseEvent
from cityops.cases.scope import is_district_wide, visible
from cityops.errors import InvalidInput
from cityops.evaluation.config import SUBJECTS, EvalConfig, SubjectConfig, load_config
from cityops.evaluation.schemas import DrillRead, EvaluationRead, SubjectRow
from cityops.geo.models import Region
from cityops.hotline.enums import RateGroup
from cityops.hotline.rates import parse_period, three_rates
from cityops.timeutil import ensure_aware, to_local, utcnow

_NOT_VALID = sorted(NOT_VALID)
UNDECIDED = (Status.REPORTED.value, Status.VERIFYING.value, Status.VERIFIED.value)


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC-aware datetimes; ``as_of`` is when "now" counts (≤ end)."""

    label: str
    start: datetime
    end: datetime
    as_of: datetime


def resolve_period(text: str, *, as_of: datetime | None = None) -> Period:
    """A period from its text; ``as_of`` defaults to the earlier of now and the period end."""
    value = text.strip()
    if ".." in value:
        first, _, last = value.partition("..")
        start, _ = parse_period(first)
        _, end = parse_period(last)
        if end <= start:
            raise InvalidInput("the custom period ends before it starts", field="period")
    else:
        start, end = parse_period(value)
    moment = ensure_aware(as_of) if as_of is not None else min(utcnow(), end)
    return Period(label=value, start=start, end=end, as_of=moment)


@dataclass(frozen=True)
class Measure:
    label: str
    condition: ColumnElement[bool]
    #: Summed where the condition holds (default 1, i.e. a count of rows).
    value: Any = None


@dataclass(frozen=True)
class FromRollups:
    """The same event counts kept in the analytics roll-ups (``case_stats``): read there for
    district-wide viewers instead of counting a month of events (the roll-ups count each
    event for the same department the query names)."""

    grain: str
    key: str  # the case_stats column holding the query's key
    measures: dict[str, str]  # measure name → case_stats column
    first: date  # local days [first, after)
    after: date


@dataclass(frozen=True)
class FromCohorts:
    """The same counts kept in the cohort roll-ups (``case_cohorts``), read there for
    district-wide viewers: a measure sums a column over the cells whose cohort day lies in
    [first, after); a ``settled`` measure only over those whose outcome came before ``after``."""

    cohort: str
    measures: dict[str, tuple[str, bool]]  # measure name → (case_cohorts column, settled)
    first: date
    after: date


@dataclass(frozen=True)
class Query:
    """One GROUP BY: rows of ``cases`` (or ``case_events`` ⋈ ``cases``) matching ``base``."""

    key: Any
    base: ColumnElement[bool]
    measures: dict[str, Measure]
    events: bool = False
    rollups: FromRollups | None = None
    cohorts: FromCohorts | None = None


def _in(column: Any, p: Period) -> ColumnElement[bool]:
    result: ColumnElement[bool] = (column >= p.start) & (column < p.end)
    return result


def _days(p: Period) -> tuple[date, date]:
    """The period's local days as [first, after)."""
    return to_local(p.start).date(), to_local(p.end).date()


def _department_queries(p: Period) -> list[Query]:
    cohort = _in(Case.dispatched_at, p)
    handled = cohort & Case.handled_at.is_not(None) & (Case.handled_at < p.end)
    event_department = func.coalesce(
        CaseEvent.payload["department_id"].as_integer(),
        CaseEvent.payload["from_department_id"].as_integer(),
    )
    running = Case.status.in_([s.value for s in CLOCK_RUNNING])
    # Two queries, not one with ``cohort OR running``: each side then uses its own index
    # (dispatched_at; district and status) instead of scanning every case.
    return [
        Query(
            key=Case.department_id,
            base=cohort,
            measures={
                "to_handle": Measure("应处置数", cohort),
                "handled": Measure("已处置数", handled),
                "handled_on_time": Measure("按时处置数", handled & Case.handled_on_time.is_(True)),
                "reworked": Measure("返工案卷数", handled & (Case.rework_count > 0)),
                "extended": Measure("延期案卷数", cohort & (Case.extension_count > 0)),
                "extensions": Measure(
                    "批准延期次数", cohort & (Case.extension_count > 0), Case.extension_count
                ),
            },
            cohorts=FromCohorts(
                "department",
                {
                    "to_handle": ("n", False),
                    "handled": ("n", True),
                    "handled_on_time": ("on_time", True),
                    "reworked": ("reworked", True),
                    "extended": ("extended", False),
                    "extensions": ("extensions", False),
                },
                *_days(p),
            ),
        ),
        Query(
            # "+ 0" keeps SQLite off the (department, status) index as a range over every
            # department (1.9 M entries at 2 M cases, 150 ms); it then skips through it by
            # status instead (14 ms).
            key=Case.department_id + 0,
            base=running,
            measures={
                "overdue_open": Measure(
                    "超期未处置数",
                    running & Case.due_at.is_not(None) & (Case.due_at < p.as_of),
                ),
            },
        ),
        Query(
            key=event_department,
            base=_in(CaseEvent.at, p)
            & CaseEvent.action.in_([Action.DISPATCH.value, Action.RETURN.value]),
            measures={
                "dispatched": Measure("派遣次数", CaseEvent.action == Action.DISPATCH.value),
                "returns": Measure("回退次数", CaseEvent.action == Action.RETURN.value),
            },
            events=True,
            rollups=FromRollups(
                "department",
                "department_id",
                {"dispatched": "dispatched", "returns": "returned"},
                *_days(p),
            ),
        ),
    ]


def _street_queries(p: Period) -> list[Query]:
    registered = Case.registered_at.is_not(None) & Case.status.not_in(_NOT_VALID)
    closed = registered & Case.closed_at.is_not(None) & (Case.closed_at < p.end)
    return [
        Query(
            key=Case.street_code,
            base=_in(Case.reported_at, p),
            measures={
                "found": Measure("发现问题数", true()),
                "registered": Measure("立案数", registered),
                "closed": Measure("结案数", closed),
                "closed_on_time": Measure("按期结案数", closed & Case.handled_on_time.is_(True)),
            },
            cohorts=FromCohorts(
                "street",
                {
                    "found": ("n", False),
                    "registered": ("valid", False),
                    "closed": ("n", True),
                    "closed_on_time": ("on_time", True),
                },
                *_days(p),
            ),
        )
    ]


def _inspector_queries(p: Period) -> list[Query]:
    return [
        Query(
            key=Case.reported_by_id,
            base=_in(Case.reported_at, p) & (Case.source == Source.INSPECTOR.value),
            measures={
                "reports": Measure("上报数", true()),
                "valid_reports": Measure(
                    "有效上报数", Case.registered_at.is_not(None) & Case.status.not_in(_NOT_VALID)
                ),
            },
            cohorts=FromCohorts(
                "inspector", {"reports": ("n", False), "valid_reports": ("valid", False)}, *_days(p)
            ),
        ),
        Query(
            key=CaseEvent.actor_id,
            base=_in(CaseEvent.at, p)
            & CaseEvent.action.in_([Action.VERIFY.value, Action.CHECK.value]),
            measures={
                "verified": Measure("核实任务完成数", CaseEvent.action == Action.VERIFY.value),
                "checked": Measure("核查任务完成数", CaseEvent.action == Action.CHECK.value),
            },
            events=True,
            cohorts=FromCohorts(
                "actor", {"verified": ("verified", False), "checked": ("checked", False)}, *_days(p)
            ),
        ),
    ]


QUERIES: dict[str, Callable[[Period], list[Query]]] = {
    "department": _department_queries,
    "street": _street_queries,
    "inspector": _inspector_queries,
}
#: Counts computed outside the GROUP BY queries, with their labels.
EXTRA_LABELS = {
    "area_km2": "面积(km²)",
    "missed": "漏报数",
    "hotline_requests": "12345诉求数",
}
HOTLINE_LABELS = {
    "response_rate": "响应率",
    "resolution_rate": "解决率",
    "satisfaction_rate": "满意率",
    "hotline_composite": "三率综合",
}


def _check_subject(subject: str) -> None:
    if subject not in SUBJECTS:
        raise InvalidInput(f"subject must be one of {', '.join(SUBJECTS)}", field="subject")


def _select(query: Query, actor: Actor, *columns: Any, counting: bool = False) -> Any:
    stmt = select(*columns)
    if query.events and counting and is_district_wide(actor):
        # Event counts name no case column: a district-wide count needs no join to ``cases``
        # (the join made the database read every case to check its district).
        return stmt.select_from(CaseEvent).where(
            CaseEvent.district_code == actor.district_code, query.base, query.key.is_not(None)
        )
    if query.events:
        stmt = stmt.select_from(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
    else:
        stmt = stmt.select_from(Case)
    return stmt.where(visible(actor), query.base, query.key.is_not(None))


def _aggregate(session: Session, actor: Actor, query: Query) -> dict[str, dict[str, int]]:
    if query.cohorts is not None and is_district_wide(actor):
        return _aggregate_cohorts(session, actor.district_code, query.cohorts)
    if query.rollups is not None and is_district_wide(actor):
        return _aggregate_rollups(session, actor.district_code, query.rollups)
    sums = [
        func.coalesce(
            func.sum(case((m.condition, m.value if m.value is not None else 1), else_=0)), 0
        ).label(name)
        for name, m in query.measures.items()
    ]
    stmt = _select(query, actor, query.key.label("key"), *sums, counting=True).group_by(query.key)
    return {
        str(row.key): {name: int(getattr(row, name)) for name in query.measures}
        for row in session.execute(stmt)
    }


def _cohort_cells(district_code: str, cohort: str, first: date, after: date) -> Any:
    return (
        (CaseCohort.district_code == district_code)
        & (CaseCohort.cohort == cohort)
        & (CaseCohort.period >= first)
        & (CaseCohort.period < after)
    )


def _aggregate_cohorts(
    session: Session, district_code: str, source: FromCohorts
) -> dict[str, dict[str, int]]:
    def summed(column: str, settled: bool) -> Any:
        value = getattr(CaseCohort, column)
        if settled:
            value = case((CaseCohort.outcome < source.after, value), else_=0)
        return func.coalesce(func.sum(value), 0)

    sums = [summed(column, settled).label(name) for name, (column, settled) in
            source.measures.items()]  # fmt: skip
    stmt = (
        select(CaseCohort.subject.label("key"), *sums)
        .where(_cohort_cells(district_code, source.cohort, source.first, source.after))
        .group_by(CaseCohort.subject)
    )
    found = {
        str(row.key): {name: int(getattr(row, name)) for name in source.measures}
        for row in session.execute(stmt)
    }
    # Cells a case has left stay behind at zero; the cases query lists keys with cases only.
    return {k: counts for k, counts in found.items() if any(counts.values())}


def _aggregate_rollups(
    session: Session, district_code: str, source: FromRollups
) -> dict[str, dict[str, int]]:
    key = getattr(CaseStat, source.key)
    sums = [
        func.coalesce(func.sum(getattr(CaseStat, column)), 0).label(name)
        for name, column in source.measures.items()
    ]
    stmt = (
        select(key.label("key"), *sums)
        .where(
            CaseStat.district_code == district_code,
            CaseStat.grain == source.grain,
            CaseStat.period >= source.first,
            CaseStat.period < source.after,
            key != (0 if source.key == "department_id" else ""),
        )
        .group_by(key)
    )
    found = {
        str(row.key): {name: int(getattr(row, name)) for name in source.measures}
        for row in session.execute(stmt)
    }
    # A cell may hold other measures only; the event query lists keys with events.
    return {k: counts for k, counts in found.items() if any(counts.values())}


def _inspector_grids(session: Session, actor: Actor) -> dict[int, list[str]]:
    """Grid codes (15 digits) in each inspector's scope; loops over users, not cases."""
    users = session.execute(
        select(User.id, User.roles, User.scope_areas).where(
            User.district_code == actor.district_code
        )
    )
    return {
        uid: [c for c in (areas or []) if len(c) == 15]
        for uid, roles, areas in users
        if Role.INSPECTOR.value in (roles or [])
    }


def _reported_by_others(p: Period) -> ColumnElement[bool]:
    """Reported in the period by a source other than the inspectors."""
    result: ColumnElement[bool] = _in(Case.reported_at, p) & Case.source.in_(sorted(OTHER_SOURCES))
    return result


def _missed_condition(p: Period, grids: list[str]) -> ColumnElement[bool]:
    result: ColumnElement[bool] = _reported_by_others(p) & Case.grid_code.in_(grids)
    return result


def others_per_grid(
    session: Session, actor: Actor, p: Period, *, from_cohorts: bool
) -> dict[str, int]:
    """Reports by other sources in the period per grid, from the cohort roll-ups (district-wide
    viewers only) or from the cases."""
    stmt: Any
    if from_cohorts:
        stmt = (
            select(CaseCohort.subject, func.sum(CaseCohort.n))
            .where(_cohort_cells(actor.district_code, "grid", *_days(p)))
            .group_by(CaseCohort.subject)
        )
    else:
        stmt = (
            select(Case.grid_code, func.count(Case.id))
            .where(visible(actor), _reported_by_others(p), Case.grid_code.is_not(None))
            .group_by(Case.grid_code)
        )
    return {grid: int(n) for grid, n in session.execute(stmt) if n}


def _missed(session: Session, actor: Actor, p: Period) -> dict[str, int]:
    grids = _inspector_grids(session, actor)
    every = sorted({g for gs in grids.values() for g in gs})
    if not every:
        return {}
    # Every grid's count, then the inspectors' grids picked here: an IN list of thousands of
    # grid codes cost the database more than the extra groups (194 → 113 ms at 2M cases).
    per_grid = others_per_grid(session, actor, p, from_cohorts=is_district_wide(actor))
    return {str(uid): sum(per_grid.get(g, 0) for g in gs) for uid, gs in grids.items() if gs}


def _names(session: Session, subject: str, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    if subject == "street":
        rows = session.execute(select(Region.code, Region.name).where(Region.code.in_(keys)))
    elif subject == "department":
        ids = [int(k) for k in keys]
        rows = session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids)))
    else:
        ids = [int(k) for k in keys]
        rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {str(k): str(v) for k, v in rows}


def _rate(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _score(cfg: SubjectConfig, counts: dict[str, Any], rates: dict[str, float | None]) -> Any:
    total = 0.0
    for term in cfg.composite:
        value = rates.get(term.rate)
        if value is None:
            return None
        total += term.weight * ((1 - value) if term.invert else value)
    total -= sum(per * counts.get(name, 0) for name, per in cfg.penalties.items())
    return round(max(total, 0.0), 4)


def _row(
    cfg: SubjectConfig,
    key: str,
    name: str | None,
    counts: dict[str, Any],
    hotline: dict[str, float | None] | None,
) -> SubjectRow:
    rates: dict[str, float | None] = {
        r.name: _rate(counts.get(r.numerator, 0), counts.get(r.denominator, 0)) for r in cfg.rates
    }
    if hotline is not None:
        rates |= hotline
    return SubjectRow(
        key=key, name=name, counts=counts, rates=rates, composite=_score(cfg, counts, rates)
    )


def _hotline(
    session: Session, actor: Actor, subject: str, p: Period
) -> tuple[dict[str, tuple[int, dict[str, float | None]]], dict[str, float | None]]:
    """The three rates per key (requests, rates) and the total's rates."""
    read = three_rates(
        session,
        actor=actor,
        by=RateGroup.STREET if subject == "street" else RateGroup.DEPARTMENT,
        period_from=p.start,
        period_to=p.end,
        as_of=p.as_of,
    )

    def rates(r: Any) -> dict[str, float | None]:
        return {
            "response_rate": r.response_rate,
            "resolution_rate": r.resolution_rate,
            "satisfaction_rate": r.satisfaction_rate,
            "hotline_composite": r.composite,
        }

    per_key = {r.key: (r.requests, rates(r)) for r in read.rows if r.key is not None}
    return per_key, rates(read.total)


def rank(rows: list[SubjectRow]) -> list[SubjectRow]:
    """Order by composite, best first, unscored last; equal scores share a rank (1, 2, 2, 4)."""
    ordered = sorted(rows, key=lambda r: (r.composite is None, -(r.composite or 0.0), r.key))
    previous: float | None = None
    current = 0
    for position, row in enumerate(ordered, start=1):
        if row.composite is None:
            row.rank = None
            continue
        if row.composite != previous:
            current, previous = position, row.composite
        row.rank = current
    return ordered


def evaluate(
    session: Session,
    *,
    actor: Actor,
    subject: str,
    period: Period,
    config: EvalConfig | None = None,
) -> EvaluationRead:
    """Indicators, composite and rank of every department, street or inspector with data."""
    _check_subject(subject)
    cfg = (config or load_config()).subjects[subject]
    queries = QUERIES[subject](period)
    measure_names = [n for q in queries for n in q.measures]
    counts: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(measure_names, 0))
    for query in queries:
        for key, found in _aggregate(session, actor, query).items():
            counts[key].update(found)
    labels = {n: m.label for q in queries for n, m in q.measures.items()}
    hotline: dict[str, tuple[int, dict[str, float | None]]] = {}
    hotline_total: dict[str, float | None] | None = None
    if subject == "inspector":
        for key, missed in _missed(session, actor, period).items():
            if missed or key in counts:
                counts[key]["missed"] = missed
        for values in counts.values():
            values.setdefault("missed", 0)
        labels["missed"] = EXTRA_LABELS["missed"]
    else:
        hotline, hotline_total = _hotline(session, actor, subject, period)
        for key, (n, _rates) in hotline.items():
            counts[key]["hotline_requests"] = n
        for values in counts.values():
            values.setdefault("hotline_requests", 0)
        labels["hotline_requests"] = EXTRA_LABELS["hotline_requests"]
        labels |= HOTLINE_LABELS
    names = _names(session, subject, list(counts))
    if subject == "street":
        areas = dict(
            session.execute(
                select(Region.code, Region.area_m2).where(Region.code.in_(list(counts)))
            ).all()
        )
        for key, values in counts.items():
            values["area_km2"] = round(areas[key] / 1e6, 4) if key in areas else 0
        labels["area_km2"] = EXTRA_LABELS["area_km2"]
    labels |= {r.name: r.label for r in cfg.rates}
    empty_hotline = dict.fromkeys(HOTLINE_LABELS) if subject != "inspector" else None
    rows = [
        _row(cfg, key, names.get(key), values, hotline[key][1] if key in hotline else empty_hotline)
        for key, values in counts.items()
    ]
    totals: dict[str, Any] = {}
    for values in counts.values():
        for name, value in values.items():
            totals[name] = totals.get(name, 0) + value
    if "area_km2" in totals:
        totals["area_km2"] = round(totals["area_km2"], 4)
    return EvaluationRead(
        subject=subject,
        period=period.label,
        period_from=period.start,
        period_to=period.end,
        as_of=period.as_of,
        labels=labels,
        weights={t.rate: t.weight for t in cfg.composite},
        rows=rank(rows),
        total=_row(cfg, "total", "合计", totals, hotline_total),
    )


def _typed_key(subject: str, key: str) -> Any:
    if subject == "street":
        return key
    try:
        return int(key)
    except ValueError as exc:
        raise InvalidInput(f"a {subject} key is a number", field="key") from exc


def _case_ids(
    session: Session, actor: Actor, subject: str, measure: str, key: str, p: Period
) -> list[int]:
    if subject == "inspector" and measure == "missed":
        grids = _inspector_grids(session, actor).get(int(_typed_key(subject, key)), [])
        if not grids:
            return []
        stmt = select(Case.id).where(visible(actor), _missed_condition(p, grids))
        return list(session.scalars(stmt.order_by(Case.id)))
    for query in QUERIES[subject](p):
        if measure in query.measures:
            stmt = (
                _select(query, actor, Case.id)
                .distinct()
                .where(
                    query.key == literal(_typed_key(subject, key)),
                    query.measures[measure].condition,
                )
            )
            return sorted(session.scalars(stmt))
    raise InvalidInput(f"{measure!r} cannot be drilled into", field="indicator")


def drill(
    session: Session,
    *,
    actor: Actor,
    subject: str,
    indicator: str,
    key: str,
    period: Period,
    config: EvalConfig | None = None,
) -> DrillRead:
    """The case ids behind a count, or behind a rate's numerator and denominator."""
    _check_subject(subject)
    cfg = (config or load_config()).subjects[subject]
    rate = next((r for r in cfg.rates if r.name == indicator), None)
    measure = rate.numerator if rate is not None else indicator
    ids = _case_ids(session, actor, subject, measure, key, period)
    result = DrillRead(subject=subject, key=key, indicator=indicator, measure=measure, case_ids=ids)
    if rate is not None and rate.denominator != "area_km2":
        result.denominator = rate.denominator
        result.denominator_case_ids = _case_ids(
            session, actor, subject, rate.denominator, key, period
        )
    return result
