"""Random action sequences through the case service, shared by the roll-up property tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from cityops.cases import service
from cityops.cases.lifecycle import Action, LifecycleError, Status, allowed_actions
from cityops.cases.schemas import ACTION_BODIES, CaseReport
from cityops.errors import CityopsError

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 8, tzinfo=SH)
CLASSES = ["0102", "0104", "0101"]
SOURCES = ["inspector", "hotline", "public"]
#: The box the ``mapped`` fixture covers with two streets of two grids each.
WEST, SOUTH, EAST, NORTH = 116.28, 39.83, 116.32, 39.85


def report(rng: random.Random, n: int) -> CaseReport:
    """A random report at a random point of the box (outside any street if none is loaded)."""
    return CaseReport(
        kind="event",
        minor_code=rng.choice(CLASSES),
        source=rng.choice(SOURCES),
        description=f"随机案卷{n}",
        lon=round(rng.uniform(WEST + 0.001, EAST - 0.001), 6),
        lat=round(rng.uniform(SOUTH + 0.001, NORTH - 0.001), 6),
    )


def body(rng: random.Random, action: Action, case: Any, crew: dict[str, Any], other: int) -> Any:
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


def walk(
    session: Session, crew: dict[str, Any], seed: int, *, cases: int = 10, actions: int = 300
) -> datetime:
    """Random actions by random people at times spread over weeks, through the service;
    returns the time of the last one."""  # fmt: skip
    rng = random.Random(seed)
    every = [a for a in Action if a is not Action.REPORT]
    now = T0
    made = []
    for n in range(cases):
        now += timedelta(hours=rng.randint(1, 30))
        reporter = crew["actors"][rng.choice(["inspector", "operator"])]
        made.append(service.report_case(session, actor=reporter, data=report(rng, n), now=now).case)
    for _ in range(actions):
        now += timedelta(minutes=rng.randint(5, 600))
        case, other = rng.sample(made, 2)
        # Mostly actions the state allows (so cases travel far), sometimes anything at all.
        allowed = [a for a in allowed_actions(Status(case.status)) if a is not Action.REPORT]
        rare = {Action.MERGE, Action.VOID, Action.REJECT}
        likely = [a for a in allowed if a not in rare or rng.random() < 0.1]
        action = rng.choice(likely if likely and rng.random() < 0.9 else every)
        actor = crew["actors"][rng.choice(list(crew["actors"]))]
        if action in service.DEPARTMENT_ACTIONS and rng.random() < 0.8:
            # Mostly the department that holds the case, so handling happens often enough.
            actor = crew["handlers"].get(case.department_id, actor)
        try:
            with session.begin_nested():
                service.act(
                    session, actor=actor,
                    case_id=case.id, action=action, body=body(rng, action, case, crew, other.id),
                    now=now,
                )  # fmt: skip
        except (LifecycleError, CityopsError):
            session.refresh(case)
    session.commit()
    return now
