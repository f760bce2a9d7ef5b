"""Hotline fixtures: actors of every role, a two-street map, cases walked through the lifecycle.

Until the lead mounts the hotline and duplicates routers in ``create_app``, the ``app``
fixture adds them here under ``/api/v1`` behind authentication; once they are mounted it adds
nothing, so these tests keep passing unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import shapely
from sqlalchemy.orm import Session

from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.service import actor_of
from cityops.cases import service as case_service
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case
from cityops.cases.schemas import ACTION_BODIES
from cityops.geo import service as geo_service
from cityops.geo.models import RegionLevel
from cityops.geo.service import RegionInput
from cityops.hotline.schemas import CallCreate

SH = ZoneInfo("Asia/Shanghai")
DISTRICT = "110106"
STREET_A = "110106001"
STREET_B = "110106002"
#: A point in street A and one in street B (the streets are side by side, 0.02° wide).
POINT_A = (116.29, 39.84)
POINT_B = (116.31, 39.84)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture(autouse=True)
def _fresh_geo_cache() -> Iterator[None]:
    # The geocoder is cached per database URL; tests share URLs, so start clean.
    geo_service.clear_cache()
    yield
    geo_service.clear_cache()


@pytest.fixture
def streets(session: Session, district: str) -> tuple[str, str]:
    """Two streets side by side, A west of 116.30°E and B east of it, loaded and committed."""
    street, district_level = RegionLevel.STREET, RegionLevel.DISTRICT
    regions = [
        RegionInput(
            DISTRICT, district_level, "丰台区", None, shapely.box(116.28, 39.83, 116.32, 39.85)
        ),
        RegionInput(
            STREET_A, street, "甲街道", DISTRICT, shapely.box(116.28, 39.83, 116.30, 39.85)
        ),
        RegionInput(
            STREET_B, street, "乙街道", DISTRICT, shapely.box(116.30, 39.83, 116.32, 39.85)
        ),
    ]
    geo_service.replace_regions(
        session,
        actor=SYSTEM,
        district_code=DISTRICT,
        levels=[RegionLevel.DISTRICT, RegionLevel.STREET],
        regions=regions,
        source="test",
    )
    session.commit()
    return STREET_A, STREET_B


@pytest.fixture
def actors(make_user: Any, department: Any) -> dict[str, Actor]:
    """One actor per role; ``operator`` lacks the contacts permission, ``operator_c`` has it."""
    users = {
        "operator": make_user("operator"),
        "operator_c": make_user("operator", permissions=["contacts"]),
        "shift_lead": make_user("shift_lead"),
        "dispatcher": make_user("dispatcher"),
        "inspector": make_user("inspector"),
        "handler": make_user("department_handler", scope_department_id=department.id),
    }
    return {name: actor_of(user) for name, user in users.items()}


def call(**kw: Any) -> CallCreate:
    """A complaint about exposed garbage at point A, with a caller; ``kw`` overrides."""
    values: dict[str, Any] = {
        "type": "complaint",
        "caller_name": "张三",
        "caller_phone": "13812341234",
        "text": "幸福小区门口垃圾桶满溢发臭，好几天没人清运",
        "lon": POINT_A[0],
        "lat": POINT_A[1],
        "kind": "event",
        "minor_code": "0102",
    }
    return CallCreate.model_validate(values | kw)


def act(
    session: Session, actor: Actor, case: Case, action: Action, now: datetime, **kw: Any
) -> Case:
    body = ACTION_BODIES[action](expected_version=case.version, **kw)
    return case_service.act(
        session, actor=actor, case_id=case.id, action=action, body=body, now=now
    )


def dispatch(
    session: Session, actors: dict[str, Actor], case: Case, department_id: int, now: datetime
) -> Case:
    """Register and dispatch a reported case."""
    act(session, actors["shift_lead"], case, Action.REGISTER, now)
    return act(
        session, actors["dispatcher"], case, Action.DISPATCH, now, department_id=department_id
    )


def close(session: Session, actors: dict[str, Actor], case: Case, now: datetime) -> Case:
    """Handle, check (by the assigned inspector) and close a dispatched case."""
    act(session, actors["handler"], case, Action.HANDLE, now, result="已清运")
    inspector = actors["inspector"]
    act(session, actors["dispatcher"], case, Action.ASSIGN_CHECK, now, assignee_id=inspector.id)
    act(session, actors["inspector"], case, Action.CHECK, now, verdict="pass")
    return act(session, actors["shift_lead"], case, Action.CLOSE, now)
