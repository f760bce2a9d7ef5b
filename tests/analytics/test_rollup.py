"""Roll-ups kept in the writers' transactions equal a recomputation from the events alone."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.analytics import rollup
from cityops.analytics.models import MEASURES, CaseStat
from cityops.auth.actor import SYSTEM
from cityops.auth.service import actor_of, create_org_unit
from cityops.cases import service
from cityops.cases.bulk import Batch
from cityops.cases.lifecycle import Action, LifecycleError, Status, allowed_actions
from cityops.cases.models import Case, CaseEvent
from cityops.cases.schemas import ACTION_BODIES, CaseReport
from cityops.errors import CityopsError

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 8, tzinfo=SH)
CLASSES = ["0102", "0104", "0101"]
SOURCES = ["inspector", "hotline", "public"]


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


@pytest.fixture
def crew(session: Session, make_user: Any, department: Any) -> dict[str, Any]:
    roads = create_org_unit(
        session, actor=SYSTEM, district_code="110106", kind="department", code="roads",
        name="区市政所", dept_type="roads",
    )  # fmt: skip
    session.commit()
    inspector = make_user("inspector")
    return {
        "actors": {
            "inspector": actor_of(inspector),
            "operator": actor_of(make_user("operator")),
            "shift_lead": actor_of(make_user("shift_lead")),
            "dispatcher": actor_of(make_user("dispatcher")),
            "water": actor_of(make_user("department_handler", scope_department_id=department.id)),
            "roads": actor_of(make_user("department_handler", scope_department_id=roads.id)),
        },
        "departments": [department.id, roads.id],
        "inspector_id": inspector.id,
    }


def _report(rng: random.Random, n: int) -> CaseReport:
    return CaseReport(
        kind="event",
        minor_code=rng.choice(CLASSES),
        source=rng.choice(SOURCES),
        description=f"随机案卷{n}",
        lon=116.29,
        lat=39.84,
    )


def _body(rng: random.Random, action: Action, case: Any, crew: dict[str, Any], other: int) -> Any:
    model = ACTION_BODIES[action]
    values: dict[str, Any] = {
        "reason": "原因", "note": "说明", "result": "已处理", "hours": 4.0,
        "department_id": rng.choice(crew["departments"]), "assignee_id": crew["inspector_id"],
        "minor_code": rng.choice(CLASSES), "target_case_id": other,
    }  # fmt: skip
    kw = {k: v for k, v in values.items() if k in model.model_fields}
    if "minor_code" in kw and rng.random() < 0.5:
        del kw["minor_code"]  # register sometimes reclassifies, sometimes keeps the class
    if "verdict" in model.model_fields:
        kw["verdict"] = rng.choice(
            ["confirmed", "not_found"] if action is Action.VERIFY else ["pass", "fail"]
        )
    return model(expected_version=case.version, **kw)


def _walk(session: Session, crew: dict[str, Any], seed: int) -> None:
    """Random actions by random people at times spread over several days, through the service."""
    rng = random.Random(seed)
    actions = [a for a in Action if a is not Action.REPORT]
    now = T0
    cases = []
    for n in range(10):
        now += timedelta(hours=rng.randint(1, 30))
        reporter = crew["actors"][rng.choice(["inspector", "operator"])]
        cases.append(
            service.report_case(session, actor=reporter, data=_report(rng, n), now=now).case
        )
    for _ in range(300):
        now += timedelta(minutes=rng.randint(5, 600))
        case, other = rng.sample(cases, 2)
        # Mostly actions the state allows (so cases travel far), sometimes anything at all.
        allowed = [a for a in allowed_actions(Status(case.status)) if a is not Action.REPORT]
        rare = {Action.MERGE, Action.VOID, Action.REJECT}
        likely = [a for a in allowed if a not in rare or rng.random() < 0.1]
        action = rng.choice(likely if likely and rng.random() < 0.9 else actions)
        try:
            with session.begin_nested():
                service.act(
                    session, actor=crew["actors"][rng.choice(list(crew["actors"]))],
                    case_id=case.id, action=action, body=_body(rng, action, case, crew, other.id),
                    now=now,
                )  # fmt: skip
        except (LifecycleError, CityopsError):
            session.refresh(case)
    session.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_a_recomputation_from_the_events(
    session: Session, crew: dict[str, Any], seed: int
) -> None:
    _walk(session, crew, seed)
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
    monkeypatch.setattr(rollup, "_COPY_ABOVE", copy_above)
    actors = crew["actors"]
    batch = Batch(session, district_code="110106", audit_actor=SYSTEM)
    rng = random.Random(7)
    states = [
        batch.report(actor=actors["inspector"], data=_report(rng, n), now=T0 + timedelta(hours=n))
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
