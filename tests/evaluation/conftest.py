"""A hand-built September 2025 for evaluation: two departments, two streets, two inspectors.

Rows are inserted directly (not walked through the lifecycle) so every timestamp is chosen and
the expected figures can be worked out by hand; see ``test_indicators.py`` for the arithmetic.
The analytics roll-ups are then rebuilt from those events and the cohorts from the cases.

Until the lead mounts the evaluation router in ``create_app``, the ``app`` fixture adds it here
under ``/api/v1``; once it is mounted this adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from cityops.analytics import cohorts, rollup
from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.service import actor_of, create_org_unit
from cityops.cases.models import Case, CaseEvent
from cityops.geo.models import Region
from cityops.hotline.models import HotlineRequest

SH = ZoneInfo("Asia/Shanghai")
DISTRICT = "110106"
STREET_A, STREET_B = "110106001", "110106002"
GRID_1, GRID_2 = "110106001001001", "110106002001001"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@dataclass
class World:
    """Ids of everything the data set made, by the names used in the worked examples."""

    water: int  # department W
    city: int  # department C
    i1: int  # inspector of grid 1 (street A)
    i2: int  # inspector of grid 2 (street B)
    cases: dict[str, int]
    lead: Actor  # a district-wide shift lead
    street_a_actor: Actor  # a community worker scoped to street A


def _region(code: str, name: str, area_m2: float) -> Region:
    return Region(
        code=code,
        level="street",
        name=name,
        parent_code=DISTRICT,
        district_code=DISTRICT,
        geometry=b"",
        area_m2=area_m2,
        centroid_lon=116.3,
        centroid_lat=39.84,
        min_lon=116.28,
        min_lat=39.83,
        max_lon=116.32,
        max_lat=39.85,
        source="test",
    )


@pytest.fixture
def world(session: Session, make_user: Any, department: Any) -> World:
    city = create_org_unit(
        session, actor=SYSTEM, district_code=DISTRICT, kind="department", code="city",
        name="区城管委", dept_type="city",
    ).id  # fmt: skip
    session.add_all(
        [_region(STREET_A, "甲街道", 2_000_000), _region(STREET_B, "乙街道", 4_000_000)]
    )
    i1 = make_user("inspector", scope_areas=[GRID_1], display_name="监督员一")
    i2 = make_user("inspector", scope_areas=[GRID_2], display_name="监督员二")
    lead = actor_of(make_user("shift_lead"))
    street_a_actor = actor_of(make_user("operator", scope_areas=[STREET_A]))
    water = department.id
    serial = count(1)

    def add_case(name: str, **kw: Any) -> Case:
        street = kw.pop("street")
        row = Case(
            district_code=DISTRICT,
            number=f"{DISTRICT}2025090{next(serial):09d}",
            kind="event",
            major_code="01",
            minor_code="0102",
            class_name="暴露垃圾",
            catalog_version="test",
            description=name,
            lon=116.29,
            lat=39.84,
            street_code=street,
            community_code=None,
            grid_code=kw.pop("grid", GRID_1 if street == STREET_A else GRID_2),
            **kw,
        )
        session.add(row)
        session.flush()
        cases[name] = row.id
        return row

    cases: dict[str, int] = {}
    on, late = True, False
    add_case(
        "c1",
        street=STREET_A,
        source="inspector",
        reported_by_id=i1.id,
        status="closed",
        reported_at=local(2025, 9, 1, 9),
        registered_at=local(2025, 9, 1, 10),
        dispatched_at=local(2025, 9, 2, 9),
        department_id=water,
        due_at=local(2025, 9, 4, 9),
        handled_at=local(2025, 9, 3, 9),
        handled_on_time=on,
        closed_at=local(2025, 9, 4, 12),
    )
    add_case(
        "c2",
        street=STREET_A,
        source="inspector",
        reported_by_id=i1.id,
        status="closed",
        reported_at=local(2025, 9, 4, 9),
        registered_at=local(2025, 9, 4, 10),
        dispatched_at=local(2025, 9, 5, 9),
        department_id=water,
        due_at=local(2025, 9, 6, 9),
        handled_at=local(2025, 9, 8, 9),
        handled_on_time=late,
        rework_count=1,
        closed_at=local(2025, 9, 9, 12),
    )
    add_case(
        "c3",
        street=STREET_B,
        grid=GRID_1,
        source="hotline",
        status="dispatched",
        reported_at=local(2025, 9, 9, 9),
        registered_at=local(2025, 9, 9, 10),
        dispatched_at=local(2025, 9, 10, 9),
        department_id=water,
        due_at=local(2025, 9, 12, 9),
        extension_count=1,
    )
    add_case(
        "c4",
        street=STREET_B,
        source="inspector",
        reported_by_id=i2.id,
        status="checking",
        reported_at=local(2025, 9, 19, 9),
        registered_at=local(2025, 9, 19, 10),
        dispatched_at=local(2025, 9, 20, 9),
        department_id=water,
        due_at=local(2025, 9, 22, 9),
        handled_at=local(2025, 9, 21, 9),
        handled_on_time=on,
    )
    add_case(
        "c5",
        street=STREET_A,
        source="inspector",
        reported_by_id=i1.id,
        status="dispatched",
        reported_at=local(2025, 8, 27, 9),
        registered_at=local(2025, 8, 27, 10),
        dispatched_at=local(2025, 8, 28, 9),
        department_id=water,
        due_at=local(2025, 8, 30, 9),
    )
    add_case(
        "c6",
        street=STREET_B,
        source="inspector",
        reported_by_id=i2.id,
        status="closed",
        reported_at=local(2025, 9, 14, 9),
        registered_at=local(2025, 9, 14, 10),
        dispatched_at=local(2025, 9, 16, 9),
        department_id=city,
        return_count=1,
        due_at=local(2025, 9, 18, 9),
        handled_at=local(2025, 9, 17, 9),
        handled_on_time=on,
        closed_at=local(2025, 9, 18, 12),
    )
    add_case(
        "c7",
        street=STREET_A,
        source="inspector",
        reported_by_id=i1.id,
        status="rejected",
        reported_at=local(2025, 9, 22, 9),
    )
    add_case(
        "c8",
        street=STREET_A,
        source="inspector",
        reported_by_id=i1.id,
        status="merged",
        reported_at=local(2025, 9, 23, 9),
        registered_at=local(2025, 9, 23, 10),
    )
    add_case("c9", street=STREET_B, source="public", status="reported",
             reported_at=local(2025, 9, 25, 9))  # fmt: skip

    def event(name: str, seq: int, action: str, at: datetime, actor: int | None, **payload: Any):
        session.add(
            CaseEvent(case_id=cases[name], district_code=DISTRICT, seq=seq, action=action,
                      from_status=None, to_status="x", actor_id=actor, payload=payload, at=at)
        )  # fmt: skip

    for name, day in (("c1", 2), ("c2", 5), ("c3", 10), ("c4", 20)):
        event(name, 10, "dispatch", local(2025, 9, day, 9), None, department_id=water)
    event("c5", 10, "dispatch", local(2025, 8, 28, 9), None, department_id=water)
    event("c6", 10, "dispatch", local(2025, 9, 15, 9), None, department_id=water)
    event(
        "c6", 11, "return", local(2025, 9, 16, 8), None, reason="非本单位", from_department_id=water
    )
    event("c6", 12, "dispatch", local(2025, 9, 16, 9), None, department_id=city)
    event("c1", 2, "verify", local(2025, 9, 1, 9, 30), i1.id, verdict="confirmed")
    event("c1", 20, "check", local(2025, 9, 3, 12), i1.id, verdict="pass")
    event("c2", 20, "check", local(2025, 9, 7, 12), i1.id, verdict="fail")
    event("c2", 21, "check", local(2025, 9, 8, 12), i1.id, verdict="pass")
    event("c6", 20, "check", local(2025, 9, 17, 12), i2.id, verdict="pass")
    event("c5", 2, "verify", local(2025, 8, 27, 9, 30), i2.id, verdict="confirmed")

    def request(name: str, street: str, received: datetime, responded: datetime, **kw: Any):
        session.add(
            HotlineRequest(district_code=DISTRICT, type="complaint", status="called_back",
                           text="诉求", case_id=cases[name], street_code=street,
                           received_at=received, response_due_at=received.replace(hour=23),
                           responded_at=responded, **kw)
        )  # fmt: skip

    request(
        "c3",
        STREET_B,
        local(2025, 9, 9, 8),
        local(2025, 9, 9, 12),
        resolved=True,
        satisfaction="satisfied",
    )
    request("c1", STREET_A, local(2025, 9, 1, 8), local(2025, 9, 2, 12),
            resolved=False, satisfaction="dissatisfied")  # fmt: skip
    # The rows bypassed the writers, so the roll-ups are recomputed from the events (as after
    # an import); district-wide event counts read them.
    rollup.rebuild(session)
    cohorts.rebuild(session)
    session.commit()
    return World(water, city, i1.id, i2.id, cases, lead, street_a_actor)
