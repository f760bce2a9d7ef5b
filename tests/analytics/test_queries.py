"""Questions asked of the roll-ups, on hand-built counts with the answers worked out here."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.analytics import queries, rollup
from cityops.analytics.models import CaseStat
from cityops.analytics.queries import AnalyticsScope
from cityops.errors import Forbidden, InvalidInput
from cityops.geo.models import Region

SH = ZoneInfo("Asia/Shanghai")
D = "110106"
S1, S2, S3 = "110106001", "110106002", "110106003"
C1 = "110106001001"
G1, G2 = "110106001001001", "110106001001002"
DAY = date(2026, 11, 16)  # a Monday


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SH)


def fact(day: date, action: str = "report", **kw: Any) -> rollup.EventFacts:
    values: dict[str, Any] = {
        "district_code": D, "at": at(day), "action": action, "street_code": S1,
        "kind": "event", "minor_code": "0102", "source": "inspector", "department_id": None,
        "community_code": C1, "grid_code": G1,
    } | kw  # fmt: skip
    return rollup.EventFacts(**values)


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: enough for small means."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


SCOPE = AnalyticsScope(D)


def _normal_weeks(session: Session, rng: random.Random, last: date, weeks: int = 10) -> None:
    """Street × class report counts with a weekly rhythm (Mondays busy, Sundays quiet)."""
    facts = []
    rhythm = [1.4, 1.1, 1.0, 1.0, 1.1, 0.7, 0.5]
    series = [(S1, "0102", 12.0), (S2, "0102", 6.0), (S3, "0104", 20.0), (S1, "0104", 3.0)]
    day = last - timedelta(weeks=weeks) + timedelta(days=1)
    while day <= last:
        for street, minor, mean in series:
            for _ in range(poisson(rng, mean * rhythm[day.weekday()])):
                facts.append(fact(day, street_code=street, minor_code=minor))
        day += timedelta(days=1)
    rollup.record(session, facts)
    session.commit()


# 0: the baselines are read for every cell and the busy ones picked in Python (a day with
# thousands of busy cells); 300: by the busy cells' names.
@pytest.mark.parametrize("named_cells", [300, 0])
def test_anomaly_flags_an_injected_spike_with_its_evidence(
    session: Session, named_cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "_NAMED_CELLS", named_cells)
    _normal_weeks(session, random.Random(5), DAY - timedelta(days=1))
    spike = [fact(DAY, street_code=S2, minor_code="0102") for _ in range(40)]
    usual = [fact(DAY, street_code=S3, minor_code="0104") for _ in range(27)]  # 20 × 1.4 ≈ 28
    rollup.record(session, spike + usual)
    session.commit()
    found = queries.anomalies(session, scope=SCOPE, day=DAY)
    assert [(a.street_code, a.klass, a.count) for a in found] == [(S2, "event:0102", 40)]
    evidence = found[0]
    assert evidence.baseline_days == [DAY - timedelta(weeks=k) for k in range(8, 0, -1)]
    assert len(evidence.baseline) == 8 and evidence.median < 15, evidence
    assert evidence.median < 15 and evidence.scale >= 1
    assert evidence.score >= 4


def test_a_normal_week_raises_no_anomaly(session: Session) -> None:
    last = DAY + timedelta(days=6)
    _normal_weeks(session, random.Random(11), last, weeks=12)
    for offset in range(7):
        assert queries.anomalies(session, scope=SCOPE, day=DAY + timedelta(days=offset)) == []


def test_robust_score_is_on_the_poisson_scale() -> None:
    # 2·√(x + 3/8): 257 against a steady 200 is 2·(√257.375 − √200.375) ≈ 3.75 (a raw z of 4).
    busy, median, scale = queries.robust_score(257, [200] * 8)
    assert (median, scale) == (200, 1.0)
    assert busy == pytest.approx(2 * (math.sqrt(257.375) - math.sqrt(200.375)))
    # 9 reports where 2 is usual is odd, not alarming (Poisson(3) gives 9+ once in 260 days) …
    assert queries.robust_score(9, [2, 2, 1, 5, 1, 3, 2, 4])[0] < 4
    # … while 40 where 10 is usual is (Poisson(10) gives 40+ about once in 10¹² days).
    assert queries.robust_score(40, [9, 10, 11, 10, 12, 8, 10, 10])[0] > 6


def test_counts_group_filter_rates_and_months(session: Session) -> None:
    facts = [
        fact(date(2026, 10, 30)), fact(date(2026, 10, 31), source="hotline"),
        fact(date(2026, 11, 2), street_code=S2, minor_code="0104"),
        fact(date(2026, 11, 2), "register"), fact(date(2026, 11, 2), "register"),
        fact(date(2026, 11, 3), "dispatch", department_id=7),
        fact(date(2026, 11, 5), "return", department_id=7),
        fact(date(2026, 11, 6), "handle", department_id=7, on_time=True),
        fact(date(2026, 11, 7), "handle", department_id=7, on_time=False),
        fact(date(2026, 11, 8), "rework", department_id=7),
    ]  # fmt: skip
    rollup.record(session, facts)
    session.commit()
    period = {"start": date(2026, 10, 1), "end": date(2026, 12, 1)}
    by_class = queries.counts(session, scope=SCOPE, group_by=["class"], **period)
    assert [(r["class"], r["reported"]) for r in by_class] == [("event:0102", 2), ("event:0104", 1)]
    [dept] = [
        r
        for r in queries.counts(session, scope=SCOPE, group_by=["department"], **period)
        if r["department"] == 7
    ]
    assert (dept["handled"], dept["handled_on_time"], dept["on_time_rate"]) == (2, 1, 0.5)
    assert (dept["returned"], dept["reworked"], dept["rework_rate"]) == (1, 1, 0.5)
    monthly = queries.counts(session, scope=SCOPE, interval="month", **period)
    assert {r["period"]: r["reported"] for r in monthly} == {"2026-10": 2, "2026-11": 1}
    hotline = queries.counts(
        session, scope=SCOPE, group_by=["street"], filters={"source": "hotline"}, **period
    )
    assert [(r["street"], r["reported"]) for r in hotline] == [(S1, 1)]
    assert queries.grain_for(["street", "source"]) == "street_source"
    assert queries.grain_for(["street", "source", "class"]) == "cube"
    assert queries.grain_for(["street", "class"]) == "street_class"
    with pytest.raises(InvalidInput) as refused:
        queries.counts(session, scope=SCOPE, group_by=["colour"], **period)
    assert refused.value.field == "group_by"


def test_trend_compares_with_the_same_days_a_year_earlier(session: Session) -> None:
    rollup.record(
        session,
        [fact(date(2026, 11, 2)) for _ in range(3)]
        + [fact(date(2025, 11, 2)) for _ in range(2)]
        + [fact(date(2025, 11, 3), "close")],
    )
    session.commit()
    found = queries.trend(session, scope=SCOPE, start=date(2026, 11, 1), end=date(2026, 11, 4))
    assert found["days"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert found["series"] == {"reported": [0, 3, 0], "closed": [0, 0, 0]}
    assert found["last_year"] == {"reported": [0, 2, 0], "closed": [0, 0, 1]}
    assert found["yoy"] == {"reported": 0.5, "closed": -1.0}


def _regions(session: Session) -> None:
    def region(code: str, level: str, area: float) -> Region:
        return Region(
            code=code, level=level, name=f"区域{code[-3:]}", parent_code=code[:-3],
            district_code=D, geometry=b"", area_m2=area, centroid_lon=116.3,
            centroid_lat=39.85, min_lon=116.29, min_lat=39.84, max_lon=116.31, max_lat=39.86,
            source="test",
        )  # fmt: skip

    session.add_all([region(G1, "grid", 10_000), region(G2, "grid", 5_000)])
    session.add(region(C1, "community", 1_000_000))
    session.commit()


def test_hotspots_rank_by_density_and_recurring_needs_several_months(session: Session) -> None:
    _regions(session)
    facts = (
        [fact(date(2026, m, 3), grid_code=G1) for m in (9, 10, 11) for _ in range(2)]
        + [fact(date(2026, 11, 4), grid_code=G2, minor_code="0104") for _ in range(4)]
        + [fact(date(2026, 11, 5), grid_code=G1) for _ in range(3)]
    )  # fmt: skip
    rollup.record(session, facts)
    session.commit()
    hot = queries.hotspots(session, scope=SCOPE, start=date(2026, 11, 1), end=date(2026, 11, 20))
    # G2: 4 reports on 0.005 km² = 800/km²; G1: 5 on 0.01 km² = 500/km² (more reports, but
    # less dense).
    assert [(h["code"], h["reported"], h["density_per_km2"]) for h in hot] == [
        (G2, 4, 800.0),
        (G1, 5, 500.0),
    ]
    top = queries.hotspots(
        session, scope=SCOPE, start=date(2026, 11, 1), end=date(2026, 11, 20), limit=1
    )
    assert [h["code"] for h in top] == [G2]
    [community] = queries.hotspots(
        session, scope=SCOPE, start=date(2026, 9, 1), end=date(2026, 12, 1), level="community"
    )
    assert (community["code"], community["reported"], community["density_per_km2"]) == (
        C1,
        13,
        13.0,
    )
    again = queries.recurring(session, scope=SCOPE, start=date(2026, 9, 1), end=date(2026, 12, 1))
    assert [(r["grid_code"], r["class"], r["reported"], r["months"]) for r in again] == [
        (G1, "event:0102", 9, 3)
    ]  # G2's four reports all fell in one month
    street_2 = AnalyticsScope(D, streets=(S2,))
    assert (
        queries.hotspots(session, scope=street_2, start=date(2026, 9, 1), end=date(2026, 12, 1))
        == []
    )


def _recurring_by_sum(
    session: Session, scope: AnalyticsScope, start: date, end: date, **kw: int
) -> list[tuple[str, str, int, int]]:
    """Recurring problems the plain way: sum every grid-month cell of the months."""
    first, last = start.replace(day=1), (end - timedelta(days=1)).replace(day=1)
    sums: dict[tuple[str, str], list[int]] = {}
    for cell in session.scalars(select(CaseStat).where(CaseStat.grain == "grid_month")):
        street_ok = not scope.streets or cell.area_code[:9] in scope.streets
        if first <= cell.period <= last and cell.reported > 0 and street_ok:
            total = sums.setdefault((cell.area_code, f"{cell.kind}:{cell.minor_code}"), [0, 0])
            total[0] += cell.reported
            total[1] += 1
    kept = [
        (grid, klass, n, months)
        for (grid, klass), (n, months) in sums.items()
        if n >= kw["min_reports"] and months >= kw["min_months"]
    ]
    return sorted(kept, key=lambda r: (-r[2], r[0], r[1]))[: kw["limit"]]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recurring_pruned_equals_the_plain_sum(
    session: Session, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The threshold bound reads a few cells per month, yet names the same leaders, in the same
    order, as summing every cell, including ties at the cut and both second-round paths."""
    rng = random.Random(seed)
    grids = [f"{street}001{g:03d}" for street in (S1, S2) for g in range(1, 7)]
    classes = [("event", f"01{c:02d}") for c in range(1, 6)] + [("component", "0101")]
    weight = {(g, c): rng.choice([0.2, 0.5, 1, 1, 2, 4]) for g in grids for c in classes}
    facts = []
    for month in range(1, 9):
        for (grid, (kind, minor)), mean in weight.items():
            for _ in range(poisson(rng, mean)):
                facts.append(
                    fact(date(2026, month, rng.randint(1, 28)), kind=kind, minor_code=minor,
                         grid_code=grid, street_code=grid[:9], community_code=grid[:12])
                )  # fmt: skip
    rollup.record(session, facts)
    session.commit()
    rounds = {"bound met": 0, "second round": 0, "plain sum": 0}
    real = queries.pair_totals
    calls: list[int | None] = []
    monkeypatch.setattr(queries, "pair_totals", lambda *a: calls.append(a[-1]) or real(*a))
    for case in range(40):
        monkeypatch.setattr(queries, "_LEADERS_PER_ROW", rng.choice([1, 2, 3]))
        monkeypatch.setattr(queries, "_PRUNE_UP_TO", rng.choice([5, 40, 20_000]))
        first = rng.randint(1, 7)
        start = date(2026, first, rng.randint(1, 28))
        end = date(2026, rng.randint(first + 1, 9), 1)
        kw = {
            "limit": rng.choice([1, 3, 5, 10, 100]),
            "min_reports": rng.choice([1, 3, 6, 12]),
            "min_months": rng.choice([1, 2, 3]),
        }
        scope = rng.choice([SCOPE, AnalyticsScope(D, streets=(S2,))])
        calls.clear()
        found = queries.recurring(session, scope=scope, start=start, end=end, **kw)
        assert [(r["grid_code"], r["class"], r["reported"], r["months"]) for r in found] == (
            _recurring_by_sum(session, scope, start, end, **kw)
        ), (case, start, end, kw)
        key = "plain sum" if None in calls else "second round" if len(calls) > 1 else "bound met"
        rounds[key] += 1
    assert all(rounds.values()), rounds


def test_scope_of_accounts(make_user: Any, department: Any) -> None:
    from cityops.auth.service import actor_of

    assert queries.scope_of(actor_of(make_user("leader"))) == AnalyticsScope(D)
    street = actor_of(make_user("leader", scope_areas=[S1]))
    assert queries.scope_of(street).streets == (S1,)
    handler = actor_of(make_user("department_handler", scope_department_id=department.id))
    assert queries.scope_of(handler).department_id == department.id
    with pytest.raises(Forbidden):
        queries.scope_of(actor_of(make_user("inspector", scope_areas=[G1])))


def test_api_answers_within_scope_and_names_bad_fields(
    client: Any, session: Session, make_user: Any, login: Any
) -> None:
    rollup.record(
        session,
        [fact(DAY), fact(DAY, street_code=S2), fact(DAY, street_code=S2, minor_code="0104")],
    )
    session.commit()
    leader = login(make_user("leader"))
    period = {"start": DAY.isoformat(), "end": DAY.isoformat()}
    whole = client.get("/api/v1/analytics/counts", params=period | {"group_by": "street"},
                       headers=leader)  # fmt: skip
    assert whole.status_code == 200, whole.text
    assert {r["street"]: r["reported"] for r in whole.json()["rows"]} == {S1: 1, S2: 2}
    street_lead = login(make_user("leader", scope_areas=[S2]))
    mine = client.get("/api/v1/analytics/counts", params=period | {"group_by": "class"},
                      headers=street_lead)  # fmt: skip
    assert {r["class"]: r["reported"] for r in mine.json()["rows"]} == {
        "event:0102": 1,
        "event:0104": 1,
    }
    grid_inspector = login(make_user("inspector", scope_areas=[G1]))
    refused = client.get("/api/v1/analytics/trend", params=period, headers=grid_inspector)
    assert refused.status_code == 403 and refused.json()["field"] == "scope"
    bad = client.get("/api/v1/analytics/counts", params=period | {"group_by": "colour"},
                     headers=leader)  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "group_by"
    backwards = client.get(
        "/api/v1/analytics/counts", params={"start": "2026-11-20", "end": "2026-11-01"},
        headers=leader,
    )  # fmt: skip
    assert backwards.status_code == 422 and backwards.json()["field"] == "end"
    for path in ("trend", "hotspots", "recurring", "anomalies"):
        params = {"day": DAY.isoformat()} if path == "anomalies" else period
        answer = client.get(f"/api/v1/analytics/{path}", params=params, headers=leader)
        assert answer.status_code == 200, (path, answer.text)
