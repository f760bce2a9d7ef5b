"""Roll-ups kept in the writers' transactions equal a recomputation from the events alone."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.analytics import cells, rollup
from cityops.analytics.models import MEASURES, CaseStat
from cityops.auth.actor import SYSTEM
from cityops.cases.bulk import Batch
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseEvent
from cityops.cases.schemas import ACTION_BODIES
from cityops.timeutil import to_local

from .walk import T0, report, walk


def snapshot(session: Session) -> dict[tuple[Any, ...], dict[str, int]]:
    """Every non-empty roll-up cell, by its key."""
    cells = {}
    for row in session.scalars(select(CaseStat)):
        key = (row.district_code, row.grain, row.period, row.street_code, row.kind,
               row.minor_code, row.source, row.department_id, row.area_code)  # fmt: skip
        values = {m: getattr(row, m) for m in MEASURES if getattr(row, m)}
        if values:
            cells[key] = values
    return cells


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_a_recomputation_from_the_events(
    session: Session, crew: dict[str, Any], seed: int
) -> None:
    walk(session, crew, seed)
    kept = snapshot(session)
    events = session.scalars(select(CaseEvent)).all()
    counted = [e for e in events if e.action in rollup.ACTION_MEASURE]
    assert len({e.action for e in counted}) >= 6, "the walk should reach most counted actions"
    # Independent of the roll-up code: the day grain is plain counts of events per action.
    by_action = Counter(rollup.ACTION_MEASURE[e.action] for e in counted)
    day_totals: Counter[str] = Counter()
    for key, values in kept.items():
        if key[1] == "day":
            day_totals.update(values)
    assert {m: day_totals[m] for m in by_action} == dict(by_action)
    # Every grain sums to the same totals.
    for grain in rollup.GRAINS:
        totals: Counter[str] = Counter()
        for key, values in kept.items():
            if key[1] == grain:
                totals.update(values)
        assert totals == day_totals, grain
    rollup.rebuild(session)
    session.commit()
    assert snapshot(session) == kept


# 0: every write of more than 0 cells takes PostgreSQL's COPY path (a week of simulation's
# size); 500: these small batches take the executemany upsert. SQLite always takes the latter.
@pytest.mark.parametrize("copy_above", [500, 0])
def test_bulk_batches_add_the_same_cells(
    session: Session, crew: dict[str, Any], copy_above: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cells, "_COPY_ABOVE", copy_above)
    actors = crew["actors"]
    batch = Batch(session, district_code="110106", audit_actor=SYSTEM)
    rng = random.Random(7)
    states = [
        batch.report(actor=actors["inspector"], data=report(rng, n), now=T0 + timedelta(hours=n))
        for n in range(6)
    ]
    batch.flush()
    for n, state in enumerate(states):
        at = T0 + timedelta(days=1, hours=n)
        batch.act(
            actor=actors["shift_lead"],
            case=state,
            action=Action.REGISTER,
            body=ACTION_BODIES[Action.REGISTER](expected_version=state.version),
            now=at,
        )
        batch.act(actor=actors["dispatcher"], case=state, action=Action.DISPATCH,
                  body=ACTION_BODIES[Action.DISPATCH](
                      expected_version=state.version, department_id=crew["departments"][n % 2]),
                  now=at)  # fmt: skip
    batch.flush()
    session.commit()
    kept = snapshot(session)
    assert sum(v.get("dispatched", 0) for k, v in kept.items() if k[1] == "department") == 6
    dispatched = {k[7]: v.get("dispatched") for k, v in kept.items() if k[1] == "department"}
    assert dispatched == {
        0: None,  # reports and registrations happen before any department holds the case
        crew["departments"][0]: 3,
        crew["departments"][1]: 3,
    }
    rollup.rebuild(session)
    session.commit()
    assert snapshot(session) == kept
    assert session.scalar(select(Case.id).limit(1)) is not None


def test_copy_path_locks_cells_in_pythons_order(session: Session, backend: str) -> None:
    """Writers lock cells in key order so they cannot deadlock: the COPY path orders them in
    the database, the other path in Python; both orders must be the same."""
    if backend != "postgresql":
        pytest.skip("the COPY path and its ORDER BY are PostgreSQL's")
    from sqlalchemy import text

    from cityops.analytics.rollup import KEY_ORDER, ROW_NAMES

    texts = ["", "0", "01", "1", "A", "a", "b", "_", "z", "中"]
    rng = random.Random(3)
    cells = {
        ("110106", rng.choice(["day", "class", "cube"]),
         T0.date() + timedelta(days=rng.randint(0, 3)), *(rng.choice(texts) for _ in range(4)),
         rng.randint(0, 12), rng.choice(texts))
        for _ in range(300)
    }  # fmt: skip
    session.execute(text("CREATE TEMPORARY TABLE order_check AS SELECT * FROM case_stats LIMIT 0"))
    names = ROW_NAMES[:9]
    session.execute(
        text(f"INSERT INTO order_check (id, {', '.join(names)}) VALUES "
             f"(0, {', '.join(':' + n for n in names)})"),
        [dict(zip(names, c, strict=True)) for c in cells],
    )  # fmt: skip
    ordered = session.execute(
        text(f"SELECT {', '.join(names)} FROM order_check ORDER BY {KEY_ORDER}")
    ).all()
    session.rollback()
    assert [tuple(r) for r in ordered] == sorted(cells)


def test_tally_counts_every_grain_as_its_definition_says() -> None:
    """Events are counted only in the finest grains and the rest are summed from them: the
    cells must equal counting each event in each grain straight from ``GRAINS``."""
    rng = random.Random(7)
    expected: Counter[tuple[Any, ...]] = Counter()
    tally = rollup.Tally()
    for _ in range(3_000):
        at = T0 + timedelta(hours=rng.randint(0, 24 * 70))
        street = rng.choice(["110106001", "110106002", None])
        community = f"{street}00{rng.randint(1, 2)}" if street else None
        facts = rollup.EventFacts(
            district_code=rng.choice(["110106", "110105"]), at=at,
            action=rng.choice([*rollup.ACTION_MEASURE, "assign", "verify"]),
            street_code=street, kind=rng.choice(["event", "component", None]),
            minor_code=rng.choice(["0101", "0102", None]),
            source=rng.choice(["inspector", "hotline", None]),
            department_id=rng.choice([None, 3, 4]), community_code=community,
            grid_code=f"{community}00{rng.randint(1, 3)}" if community else None,
            on_time=rng.choice([True, False, None]),
        )  # fmt: skip
        tally.add(facts)
        measure = rollup.ACTION_MEASURE.get(facts.action)
        if measure is None:
            continue
        day = to_local(at).date()
        values = {
            "street_code": street or "", "kind": facts.kind or "",
            "minor_code": facts.minor_code or "", "source": facts.source or "",
            "department_id": facts.department_id or 0,
        }  # fmt: skip
        for name, grain in rollup.GRAINS.items():
            key = [facts.district_code, name, day.replace(day=1) if grain.monthly else day]
            for column in rollup.DIMENSIONS:
                if column == "area_code":
                    area = {"grid": facts.grid_code, "community": community}.get(grain.area or "")
                    key.append(area or "")
                else:
                    empty = 0 if column == "department_id" else ""
                    key.append(values[column] if column in grain.dims else empty)
            expected[(*key, measure)] += 1
            if measure == "handled" and facts.on_time:
                expected[(*key, "handled_on_time")] += 1
    found = Counter(
        {
            (*row[:9], measure): n
            for row in tally.cells()
            for measure, n in zip(MEASURES, row[9:], strict=True)
            if n
        }
    )
    assert found == expected
    assert {key[1] for key in found} == set(rollup.GRAINS)
