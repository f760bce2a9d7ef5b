"""Every indicator on the hand-built September 2025 of ``conftest.py``, on both databases.

Departments (W = 区水务局, C = 区城管委), cohort = cases dispatched to them in September:
  W: c1 (handled on time), c2 (handled late, reworked once), c3 (open, due 9-12, one approved
     extension), c4 (handled on time, being checked) → to handle 4, handled 3, on time 2,
     reworked 1, extended 1. Overdue open at the period end: c3 and c5 (dispatched in August,
     due 8-30, still open) → 2. Dispatch events in September: c1–c4 and c6 (9-15) → 5; W
     returned c6 on 9-16 → returns 1.
     on-time rate 2/4 = 0.5, handling rate 3/4 = 0.75, rework rate 1/3 = 0.3333,
     return rate 1/5 = 0.2; composite 0.5×0.5 + 0.3×0.75 + 0.2×(1 − 0.3333) = 0.6083.
  C: c6 (re-dispatched 9-16, handled on time) → 1, 1, 1, 0 reworked; composite 1.0.
  Ranking: C first, W second.
Streets, cohort = cases reported in September (c5 was reported in August):
  A (2 km²): c1, c2, c7 (rejected), c8 (merged) → found 4, registered 2 (c1, c2), closed 2,
     closed on time 1 (c2 was handled late) → closure 1.0, on-time closure 0.5, density 1.0/km²;
     composite 0.4×1.0 + 0.6×0.5 = 0.7.
  B (4 km²): c3, c4, c6, c9 (still reported) → found 4, registered 3, closed 1 (c6), on time 1
     → closure 0.3333, on-time 0.3333, density 0.75/km²; composite 0.3333.
  Hotline: A's only request (for c1) was answered late, rated unresolved and dissatisfied →
     0/0/0; B's (for c3) in time, resolved, satisfied → 1/1/1.
Inspectors, cohort = their reports in September:
  I1: c1, c2, c7, c8 → 4 reports, 2 valid (0.5); verified 1 (c1), checked 2 (c1, c2 twice
     but c1 once → events: c1 check, c2 fail, c2 pass = 3 check events); missed 1 (c3, a
     hotline case in grid 1) → composite 0.5 − 0.01 = 0.49.
  I2: c4, c6 → 2 reports, 2 valid (1.0); verified 0 (their verify was in August), checked 1;
     missed 1 (c9, a public report in grid 2) → composite 0.99. Ranking: I2, then I1.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from cityops.errors import InvalidInput
from cityops.evaluation import indicators
from cityops.evaluation.config import load_config, parse_config
from cityops.evaluation.indicators import drill, evaluate, resolve_period

from .conftest import STREET_A, STREET_B, local

SEPTEMBER = "2025-09"


def period(text: str = SEPTEMBER):
    return resolve_period(text, as_of=local(2025, 10, 1))


def rows_by_key(result):
    return {row.key: row for row in result.rows}


def test_departments(session, world):
    result = evaluate(session, actor=world.lead, subject="department", period=period())
    rows = rows_by_key(result)
    w, c = rows[str(world.water)], rows[str(world.city)]
    assert w.name == "区水务局" and c.name == "区城管委"
    assert {k: w.counts[k] for k in (
        "to_handle", "handled", "handled_on_time", "reworked", "extended", "extensions",
        "overdue_open", "dispatched", "returns",
    )} == {
        "to_handle": 4, "handled": 3, "handled_on_time": 2, "reworked": 1, "extended": 1,
        "extensions": 1, "overdue_open": 2, "dispatched": 5, "returns": 1,
    }  # fmt: skip
    assert w.rates["on_time_rate"] == 0.5
    assert w.rates["handling_rate"] == 0.75
    assert w.rates["rework_rate"] == 0.3333
    assert w.rates["return_rate"] == 0.2
    assert w.composite == 0.6083
    assert (c.counts["to_handle"], c.counts["handled_on_time"], c.counts["returns"]) == (1, 1, 0)
    assert c.composite == 1.0
    assert [(r.key, r.rank) for r in result.rows] == [(str(world.city), 1), (str(world.water), 2)]
    # The hotline's three rates, from hotline.rates: c1 (late, unresolved) and c3 (all good).
    assert w.rates["response_rate"] == 0.5 and w.rates["satisfaction_rate"] == 0.5
    assert w.counts["hotline_requests"] == 2
    assert result.total.counts["to_handle"] == 5 and result.total.counts["dispatched"] == 6
    assert result.labels["on_time_rate"] == "按时处置率"


def test_streets(session, world):
    result = evaluate(session, actor=world.lead, subject="street", period=period())
    rows = rows_by_key(result)
    a, b = rows[STREET_A], rows[STREET_B]
    assert a.name == "甲街道"
    assert (a.counts["found"], a.counts["registered"], a.counts["closed"]) == (4, 2, 2)
    assert a.counts["closed_on_time"] == 1 and a.counts["area_km2"] == 2.0
    assert a.rates["closure_rate"] == 1.0 and a.rates["on_time_closure_rate"] == 0.5
    assert a.rates["density"] == 1.0 and a.composite == 0.7
    assert (b.counts["found"], b.counts["registered"], b.counts["closed"]) == (4, 3, 1)
    assert b.rates["closure_rate"] == 0.3333 and b.rates["density"] == 0.75
    assert b.composite == 0.3333
    assert [r.key for r in result.rows] == [STREET_A, STREET_B]
    assert (a.rates["response_rate"], a.rates["resolution_rate"]) == (0.0, 0.0)
    assert (b.rates["response_rate"], b.rates["satisfaction_rate"]) == (1.0, 1.0)
    assert result.total.rates["density"] == round(5 / 6, 4)


def test_inspectors(session, world):
    result = evaluate(session, actor=world.lead, subject="inspector", period=period())
    rows = rows_by_key(result)
    i1, i2 = rows[str(world.i1)], rows[str(world.i2)]
    assert i1.name == "监督员一"
    names = ("reports", "valid_reports", "verified", "checked", "missed")
    assert {k: i1.counts[k] for k in names} == {
        "reports": 4, "valid_reports": 2, "verified": 1, "checked": 3, "missed": 1,
    }  # fmt: skip
    assert i1.rates["valid_report_rate"] == 0.5 and i1.composite == 0.49
    assert (i2.counts["reports"], i2.counts["verified"], i2.counts["checked"]) == (2, 0, 1)
    assert i2.composite == 0.99
    assert [r.rank for r in result.rows] == [1, 2] and result.rows[0].key == str(world.i2)


def test_every_count_equals_its_drill_down(session, world):
    """The drill-down uses the same conditions as the figure, so the two always agree."""
    p = period()
    for subject in ("department", "street", "inspector"):
        result = evaluate(session, actor=world.lead, subject=subject, period=p)
        for row in result.rows:
            for name, value in row.counts.items():
                if name in {"area_km2", "hotline_requests", "extensions"}:
                    continue
                found = drill(
                    session, actor=world.lead, subject=subject, indicator=name, key=row.key,
                    period=p,
                )  # fmt: skip
                assert len(found.case_ids) == value or (
                    # a case counted once per event (c2 was checked twice)
                    name in {"checked", "verified", "dispatched", "returns"}
                    and len(found.case_ids) <= value
                ), (subject, row.key, name)


def test_drill_a_rate_gives_numerator_and_denominator_cases(session, world):
    c = world.cases
    found = drill(
        session, actor=world.lead, subject="department", indicator="on_time_rate",
        key=str(world.water), period=period(),
    )  # fmt: skip
    assert found.measure == "handled_on_time" and found.case_ids == sorted([c["c1"], c["c4"]])
    assert found.denominator == "to_handle"
    assert found.denominator_case_ids == sorted([c["c1"], c["c2"], c["c3"], c["c4"]])
    returns = drill(
        session, actor=world.lead, subject="department", indicator="returns",
        key=str(world.water), period=period(),
    )  # fmt: skip
    assert returns.case_ids == [c["c6"]]
    missed = drill(
        session, actor=world.lead, subject="inspector", indicator="missed",
        key=str(world.i1), period=period(),
    )  # fmt: skip
    assert missed.case_ids == [c["c3"]]
    density = drill(
        session, actor=world.lead, subject="street", indicator="density", key=STREET_A,
        period=period(),
    )  # fmt: skip
    assert density.case_ids == sorted([c["c1"], c["c2"]]) and density.denominator is None
    with pytest.raises(InvalidInput):
        drill(
            session, actor=world.lead, subject="street", indicator="nonsense", key=STREET_A,
            period=period(),
        )  # fmt: skip


def test_data_scope_limits_what_is_counted(session, world):
    result = evaluate(session, actor=world.street_a_actor, subject="street", period=period())
    assert [r.key for r in result.rows] == [STREET_A]
    hidden = drill(
        session, actor=world.street_a_actor, subject="street", indicator="found", key=STREET_B,
        period=period(),
    )  # fmt: skip
    assert hidden.case_ids == []


def test_periods_custom_and_out_of_range(session, world):
    p = resolve_period("2025-09-01..2025-09-05", as_of=local(2025, 10, 1))
    assert (p.start, p.end) == (local(2025, 9, 1), local(2025, 9, 6))
    rows = rows_by_key(evaluate(session, actor=world.lead, subject="street", period=p))
    assert rows[STREET_A].counts["found"] == 2  # c1 (9-01) and c2 (9-04)
    assert (
        evaluate(session, actor=world.lead, subject="street", period=period("2025-Q2")).rows == []
    )
    with pytest.raises(InvalidInput):
        resolve_period("2025-09-05..2025-09-01")
    with pytest.raises(InvalidInput):
        evaluate(session, actor=world.lead, subject="nobody", period=period())


def test_weights_are_data(session, world):
    raw = {
        "department": {
            "rates": {"on_time_rate": {"numerator": "handled_on_time", "denominator": "to_handle"}},
            "composite": [{"rate": "on_time_rate", "weight": 1.0}],
        },
        "street": {"rates": {}, "composite": []},
        "inspector": {"rates": {}, "composite": [], "penalties": {}},
        "self_evaluation": {"rows": []},
    }
    result = evaluate(
        session, actor=world.lead, subject="department", period=period(), config=parse_config(raw)
    )
    assert rows_by_key(result)[str(world.water)].composite == 0.5
    assert load_config().subjects["department"].composite[0].weight == 0.5
    raw["department"]["composite"] = [{"rate": "missing_rate", "weight": 1}]
    with pytest.raises(InvalidInput):
        parse_config(raw)


def test_event_counts_from_rollups_equal_counting_the_events(session, world):
    """District-wide viewers get dispatches and returns from the roll-ups; the same query
    over ``case_events`` gives the same numbers."""
    for query in indicators.QUERIES["department"](period()):
        if query.rollups is None:
            continue
        from_rollups = indicators._aggregate(session, world.lead, query)
        from_events = indicators._aggregate(session, world.lead, replace(query, rollups=None))
        assert from_rollups == from_events
        assert from_rollups == {
            str(world.water): {"dispatched": 5, "returns": 1},
            str(world.city): {"dispatched": 1, "returns": 0},
        }
