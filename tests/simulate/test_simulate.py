"""Simulated data: reproducible, valid paths of the state machine, working-time deadlines,
plausible shape, and resumable."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cityops.auth.audit import verify_chain
from cityops.auth.roles import Role
from cityops.cases import lifecycle
from cityops.cases.lifecycle import Action, Clock, Status
from cityops.cases.models import Case, CaseEvent
from cityops.cases.service import calendar_for
from cityops.config import Settings
from cityops.simulate import engine
from cityops.simulate.report import data_hash, shape
from cityops.workcal import DeadlineKind, compute_due

from .conftest import DISTRICT

START = date(2025, 6, 2)


def _hash(session: Session) -> str:
    session.expire_all()
    return data_hash(session, district_code=DISTRICT)


def test_same_seed_same_data_and_bulk_equals_per_action(
    sim_settings: Settings, fresh: Callable[[], None], sim_session: Session
) -> None:
    end = START + timedelta(days=6)
    first = engine.run(sim_settings, preset="tiny", seed=7, period_from=START, period_to=end)
    assert first.errors == 0 and first.cases > 20
    hash_bulk = _hash(sim_session)
    sim_session.rollback()
    fresh()
    again = engine.run(sim_settings, preset="tiny", seed=7, period_from=START, period_to=end)
    assert (again.cases, again.events) == (first.cases, first.events)
    assert _hash(sim_session) == hash_bulk
    sim_session.rollback()
    fresh()
    slow = engine.run(
        sim_settings, preset="tiny", seed=7, period_from=START, period_to=end, bulk=False
    )
    assert slow.errors == 0
    assert _hash(sim_session) == hash_bulk
    sim_session.rollback()
    fresh()
    engine.run(sim_settings, preset="tiny", seed=8, period_from=START, period_to=end)
    assert _hash(sim_session) != hash_bulk


def test_resume_after_interruption_gives_the_same_data(
    sim_settings: Settings, fresh: Callable[[], None], sim_session: Session
) -> None:
    end = START + timedelta(days=20)
    whole = engine.run(sim_settings, preset="tiny", seed=3, period_from=START, period_to=end)
    expected = _hash(sim_session)
    sim_session.rollback()
    fresh()
    cut = engine.run(
        sim_settings, preset="tiny", seed=3, period_from=START, period_to=end, stop_after_days=9
    )
    assert cut.interrupted and not cut.done
    assert _hash(sim_session) != expected
    sim_session.rollback()
    rest = engine.run(sim_settings, resume=True)
    assert rest.done and not rest.interrupted
    assert (rest.cases, rest.events, rest.errors) == (whole.cases, whole.events, 0)
    assert _hash(sim_session) == expected


def test_a_simulated_month(
    sim_settings: Settings, fresh: Callable[[], None], sim_session: Session
) -> None:
    """One month of the small preset, checked three ways (one run keeps the file fast)."""
    result = engine.run(
        sim_settings, preset="small", seed=11, period_from=START,
        period_to=START + timedelta(days=27),
    )  # fmt: skip
    assert result.errors == 0, result.first_errors
    # Every write of a month of simulated work left an unbroken audit chain.
    chain = verify_chain(sim_session, key=sim_settings.audit_key)
    assert chain.ok and chain.checked > 10, chain
    check_valid_paths_and_deadlines(sim_session)
    check_shape(result, sim_session)
    check_texts(sim_session)


def check_valid_paths_and_deadlines(sim_session: Session) -> None:
    numbers = dict(sim_session.execute(select(Case.id, Case.number)).all())
    cases = {c.id: c for c in sim_session.scalars(select(Case))}
    history: dict[int, list[CaseEvent]] = defaultdict(list)
    for event in sim_session.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)):
        history[event.case_id].append(event)
    cal = calendar_for(sim_session)
    dispatches = 0
    for case_id, events in history.items():
        status: Status | None = None
        assert [e.seq for e in events] == list(range(1, len(events) + 1)), numbers[case_id]
        for event in events:
            # Replay through the pure machine: the stored path must be one it allows.
            transition = lifecycle.apply(
                status, Action(event.action), [Role(event.actor_role)], event.payload | {
                    "description": "x", "lon": 1, "lat": 1, "result": "x", "reason": "x",
                    "note": "x", "hours": 1, "assignee_id": 1, "department_id": 1,
                },
            )  # fmt: skip
            assert transition.target.value == event.to_status
            if transition.clock is Clock.START:
                case = cases[case_id]
                due = compute_due(
                    cal, event.at, case.deadline_hours or 0, DeadlineKind(case.deadline_kind)
                )
                assert event.due_at == due, (numbers[case_id], event.action)
                dispatches += 1
            status = transition.target
        assert status is not None and status.value == cases[case_id].status
    assert dispatches > 100


def check_shape(simulated: engine.RunResult, sim_session: Session) -> None:
    s = shape(
        sim_session,
        district_code=DISTRICT,
        period_from=simulated.period_from,
        period_to=simulated.simulated_to,
    )
    assert s.cases == simulated.cases > 600
    top = [name for _code, name, _n in s.top_classes[:6]]
    assert {"暴露垃圾", "乱堆物堆料"} <= set(top)
    assert s.on_time_rate is not None and 0.85 <= s.on_time_rate <= 0.98
    assert s.rework_rate is not None and 0.01 <= s.rework_rate <= 0.10
    assert s.return_rate is not None and 0.01 <= s.return_rate <= 0.08
    assert s.response_rate is not None and 0.85 <= s.response_rate <= 1.0
    assert s.resolution_rate is not None and 0.80 <= s.resolution_rate <= 0.97
    assert s.satisfaction_rate is not None and 0.80 <= s.satisfaction_rate <= 0.95
    assert s.sources["inspector"] > s.sources["hotline"] > s.sources["sensor"]


def check_texts(sim_session: Session) -> None:
    rows: Any = sim_session.execute(
        select(Case.minor_code, Case.kind, Case.description).where(Case.kind == "event")
    ).all()
    texts = [r.description for r in rows]
    assert len(set(texts)) > 0.9 * len(texts)
    garbage = [r.description for r in rows if r.minor_code == "0102"]
    assert garbage and all("垃圾" in t for t in garbage)


def test_a_run_leaves_fresh_planner_statistics(
    sim_settings: Settings, fresh: Callable[[], None], sim_session: Session, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("checks PostgreSQL's pg_class.reltuples (SQLite gets PRAGMA optimize)")
    end = START + timedelta(days=2)
    engine.run(sim_settings, preset="tiny", seed=2, period_from=START, period_to=end)
    cases = sim_session.scalar(select(func.count()).select_from(Case))
    events = sim_session.scalar(select(func.count()).select_from(CaseEvent))
    estimated = dict(
        sim_session.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE oid IN "
                 "('cases'::regclass, 'case_events'::regclass)")
        ).all()
    )  # fmt: skip
    sim_session.rollback()
    assert cases and events
    assert estimated == {"cases": cases, "case_events": events}
