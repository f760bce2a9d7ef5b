"""People and a small map for the roll-up tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import shapely
from sqlalchemy.orm import Session

from cityops.auth.actor import SYSTEM
from cityops.auth.service import actor_of, create_org_unit
from cityops.geo import service as geo_service
from cityops.geo.models import RegionLevel
from cityops.geo.service import RegionInput

from .walk import EAST, NORTH, SOUTH, WEST


@pytest.fixture
def crew(session: Session, make_user: Any, department: Any) -> dict[str, Any]:
    """One actor per role, two departments (water and roads) with a handler each, and an
    inspector."""
    roads = create_org_unit(
        session, actor=SYSTEM, district_code="110106", kind="department", code="roads",
        name="区市政所", dept_type="roads",
    )  # fmt: skip
    session.commit()
    inspector = make_user("inspector")
    handlers = {
        unit: actor_of(make_user("department_handler", scope_department_id=unit))
        for unit in (department.id, roads.id)
    }
    return {
        "actors": {
            "inspector": actor_of(inspector),
            "operator": actor_of(make_user("operator")),
            "shift_lead": actor_of(make_user("shift_lead")),
            "dispatcher": actor_of(make_user("dispatcher")),
            "water": handlers[department.id],
            "roads": handlers[roads.id],
        },
        "handlers": handlers,
        "departments": [department.id, roads.id],
        "inspector_id": inspector.id,
    }


@pytest.fixture
def mapped(session: Session, district: str) -> Iterator[list[str]]:
    """The walk's box as two streets (west, east), each one community of two grids (south,
    north); yields the grid codes."""
    mid_lon, mid_lat = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
    regions = [RegionInput(district, RegionLevel.DISTRICT, "丰台区", None,
                           shapely.box(WEST, SOUTH, EAST, NORTH))]  # fmt: skip
    grids = []
    for s, (w, e) in enumerate([(WEST, mid_lon), (mid_lon, EAST)], start=1):
        street, community = f"{district}{s:03d}", f"{district}{s:03d}001"
        regions += [
            RegionInput(street, RegionLevel.STREET, f"街道{s}", district,
                        shapely.box(w, SOUTH, e, NORTH)),
            RegionInput(community, RegionLevel.COMMUNITY, f"社区{s}", street,
                        shapely.box(w, SOUTH, e, NORTH)),
        ]  # fmt: skip
        for g, (lo, hi) in enumerate([(SOUTH, mid_lat), (mid_lat, NORTH)], start=1):
            grids.append(f"{community}{g:03d}")
            regions.append(
                RegionInput(grids[-1], RegionLevel.GRID, f"网格{s}-{g}", community,
                            shapely.box(w, lo, e, hi))
            )  # fmt: skip
    geo_service.clear_cache()
    geo_service.replace_regions(
        session, actor=SYSTEM, district_code=district, levels=list(RegionLevel), regions=regions,
        source="test",
    )  # fmt: skip
    session.commit()
    yield grids
    geo_service.clear_cache()
