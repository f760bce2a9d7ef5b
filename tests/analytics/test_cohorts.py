"""Cohort roll-ups kept by the writers equal a recomputation from the cases, and the evaluation
reads the same figures from them as from the cases table, for any period."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.analytics import cells, cohorts
from cityops.analytics.cohorts import NEVER
from cityops.analytics.models import COHORT_MEASURES, CaseCohort
from cityops.auth.actor import SYSTEM
from cityops.cases.bulk import Batch
from cityops.cases.lifecycle import Action
from cityops.cases.schemas import ACTION_BODIES
from cityops.evaluation import indicators
from cityops.evaluation.indicators import resolve_period

from .walk import T0, report, walk


def snapshot(session: Session) -> dict[tuple[Any, ...], dict[str, int]]:
    """Every non-empty cohort cell, by its key (cells a case has left stay behind at zero)."""
    found = {}
    for row in session.scalars(select(CaseCohort)):
        values = {m: getattr(row, m) for m in COHORT_MEASURES if getattr(row, m)}
        if values:
            found[(row.district_code, row.cohort, row.period, row.subject, row.outcome)] = values
    return found


def _periods(last_day: Any) -> list[str]:
    """Months, ISO weeks, single days and a custom range over the walk."""
    labels = {f"{T0:%Y-%m}", f"{last_day:%Y-%m}", "2026-04", "2026-Q1", "2026-Q2", "2026"}
    day = T0.date()
    while day <= last_day:
        labels.add(day.isoformat())
        iso = day.isocalendar()
        labels.add(f"{iso.year}-W{iso.week:02d}")
        day += timedelta(days=3)
    labels.add(f"{T0.date() + timedelta(days=5)}..{T0.date() + timedelta(days=40)}")
    return sorted(labels)


def _agree(session: Session, lead: Any, label: str) -> dict[str, int]:
    """Every cohort-backed count equals the cases-table count; returns the period's totals."""
    period = resolve_period(label, as_of=T0 + timedelta(days=365))
    totals: dict[str, int] = {}
    for subject, make in indicators.QUERIES.items():
        for query in make(period):
            if query.cohorts is None:
                continue
            from_cohorts = indicators._aggregate(session, lead, query)
            from_cases = indicators._aggregate(
                session, lead, replace(query, cohorts=None, rollups=None)
            )
            assert from_cohorts == from_cases, (label, subject)
            for counts in from_cases.values():
                for name, n in counts.items():
                    totals[name] = totals.get(name, 0) + n
    by_cohorts = indicators.others_per_grid(session, lead, period, from_cohorts=True)
    by_cases = indicators.others_per_grid(session, lead, period, from_cohorts=False)
    assert by_cohorts == by_cases, label
    totals["missed"] = sum(by_cases.values())
    return totals


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_cohorts_equal_a_rebuild_and_the_cases_counts(
    session: Session, crew: dict[str, Any], mapped: list[str], seed: int
) -> None:
    last = walk(session, crew, seed, cases=16, actions=360)
    kept = snapshot(session)
    assert {key[1] for key in kept} == {"department", "street", "inspector", "grid", "actor"}
    assert any(key[4] != NEVER for key in kept), "some cases should have been handled or closed"
    cohorts.rebuild(session)
    session.commit()
    assert snapshot(session) == kept
    lead = crew["actors"]["shift_lead"]
    seen: dict[str, int] = {}
    for label in _periods(last.date()):
        for name, n in _agree(session, lead, label).items():
            seen[name] = seen.get(name, 0) + n
    # The comparison is only worth something if the walk reached these outcomes.
    for name in ("to_handle", "handled", "found", "registered", "reports", "verified", "missed"):
        assert seen.get(name, 0) > 0, name


@pytest.mark.parametrize("copy_above", [500, 0])
def test_bulk_batches_keep_the_same_cohorts(
    session: Session,
    crew: dict[str, Any],
    mapped: list[str],
    copy_above: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stored cases acted on in later batches move between cells as ``service.act`` moves
    them (0: every write takes PostgreSQL's COPY path)."""
    monkeypatch.setattr(cells, "_COPY_ABOVE", copy_above)
    actors = crew["actors"]
    batch = Batch(session, district_code="110106", audit_actor=SYSTEM)
    rng = random.Random(11)
    states = [
        batch.report(actor=actors[rng.choice(["inspector", "operator"])], data=report(rng, n),
                     now=T0 + timedelta(hours=n))
        for n in range(8)
    ]  # fmt: skip
    batch.flush()

    def act(state: Any, action: Action, who: str, at: Any, **kw: Any) -> None:
        body = ACTION_BODIES[action](expected_version=state.version, **kw)
        batch.act(actor=actors[who], case=state, action=action, body=body, now=at)

    for n, state in enumerate(states):
        at = T0 + timedelta(days=1, hours=n)
        if state.status != "reported":  # an operator's report waits for verification
            act(state, Action.ASSIGN_VERIFY, "shift_lead", at, assignee_id=crew["inspector_id"])
            act(state, Action.VERIFY, "inspector", at, verdict="confirmed")
        act(state, Action.REGISTER, "shift_lead", at)
        department = crew["departments"][n % 2]
        act(state, Action.DISPATCH, "dispatcher", at, department_id=department)
    batch.flush()
    for n, state in enumerate(states[:5]):  # handled in the next days, some of them late
        at = T0 + timedelta(days=2 + 3 * n)
        act(state, Action.HANDLE, "water" if n % 2 == 0 else "roads", at, result="已处理")
    batch.flush()
    session.commit()
    kept = snapshot(session)
    handled = sum(v.get("n", 0) for k, v in kept.items() if k[1] == "department" and k[4] != NEVER)
    assert handled == 5
    assert sum(v.get("n", 0) for k, v in kept.items() if k[1] == "department") == 8
    cohorts.rebuild(session)
    session.commit()
    assert snapshot(session) == kept
    for label in ("2026-03", "2026-W10", "2026-03-03"):
        _agree(session, actors["shift_lead"], label)
