"""The geocoder and the region store on both databases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select

from cityops.auth.actor import SYSTEM
from cityops.auth.models import AuditEntry
from cityops.errors import InvalidInput, NotFound
from cityops.geo import loading, service
from cityops.geo.coords import CRS
from cityops.geo.models import GeoGeneration, Region, RegionLevel
from cityops.geo.service import OutsideJurisdiction, RegionCodes

from .conftest import DISTRICT


def _grids(session) -> list[tuple[str, shapely.Geometry]]:
    return [
        (r.code, g)
        for r, g in service.regions_of(session, district_code=DISTRICT, level=RegionLevel.GRID)
    ]


def test_locate_is_none_without_maps(session):
    assert service.locate(session, district_code=DISTRICT, lon=116.3, lat=39.85) is None
    assert service.locate_many(session, district_code=DISTRICT, lon=[116.3], lat=[39.85]) is None


def test_round_trip_counts_geometry_and_one_audit_entry_per_load(session, loaded, backend):
    counts = service.loaded_levels(session, district_code=DISTRICT)
    assert counts == {"district": 1, "street": 3, "community": 8, "grid": loaded.grids}
    assert 250 < loaded.grids < 400  # ~3 km² of 100 m cells
    district = service.get_region(session, code=DISTRICT)
    grid_area = session.scalar(
        select(func.sum(Region.area_m2)).where(Region.level == RegionLevel.GRID.value)
    )
    assert grid_area == pytest.approx(district.area_m2, rel=1e-4)
    streets = session.scalars(select(Region).where(Region.level == "street")).all()
    assert all(s.synthetic and s.parent_code == DISTRICT for s in streets)
    # One audit entry for the district load and one for the grid generation, not one per row.
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("geo.load") == 2
    assert session.get(GeoGeneration, DISTRICT).generation == 2


def test_locate_matches_brute_force(session, loaded):
    grids = _grids(session)
    boundary = session.scalar(select(Region.geometry).where(Region.code == DISTRICT))
    min_lon, min_lat, max_lon, max_lat = shapely.from_wkb(boundary).bounds
    rng = np.random.default_rng(3)
    lon = rng.uniform(min_lon - 0.002, max_lon + 0.002, 3000)
    lat = rng.uniform(min_lat - 0.002, max_lat + 0.002, 3000)
    batch = service.locate_many(session, district_code=DISTRICT, lon=lon, lat=lat)
    assert batch is not None
    geoms = np.array([g for _, g in grids], dtype=object)
    codes = [c for c, _ in grids]
    for i in range(len(lon)):
        hits = np.flatnonzero(shapely.intersects(geoms, shapely.Point(lon[i], lat[i])))
        expected = min(codes[h] for h in hits) if len(hits) else ""
        assert batch.grid_code[i] == expected
        assert batch.inside[i] == bool(expected)
        if expected:
            assert batch.community_code[i] == expected[:12]
            assert batch.street_code[i] == expected[:9]
    assert 0.3 < batch.inside.mean() < 0.9
    # The single-point contract agrees with the batch.
    i = int(np.flatnonzero(batch.inside)[0])
    one = service.locate(session, district_code=DISTRICT, lon=float(lon[i]), lat=float(lat[i]))
    assert one == RegionCodes(
        DISTRICT, batch.street_code[i], batch.community_code[i], batch.grid_code[i]
    )


def test_points_on_shared_borders_resolve_to_the_lowest_code(session, loaded):
    grids = _grids(session)
    vertices: dict[tuple[float, float], list[str]] = {}
    for code, geom in grids:
        for x, y in {tuple(xy) for xy in shapely.get_coordinates(geom)}:
            vertices.setdefault((x, y), []).append(code)
    shared = [(xy, codes) for xy, codes in vertices.items() if len(set(codes)) >= 2][:200]
    assert len(shared) > 50
    for (x, y), codes in shared:
        first = service.locate(session, district_code=DISTRICT, lon=x, lat=y)
        assert first is not None
        assert first.grid_code == min(codes)
    service.clear_cache()  # a fresh index (another process) gives the same answers
    for (x, y), codes in shared[:50]:
        again = service.locate(session, district_code=DISTRICT, lon=x, lat=y)
        assert again is not None
        assert again.grid_code == min(codes)


def test_outside_points_are_rejected(session, loaded):
    with pytest.raises(OutsideJurisdiction) as info:
        service.locate(session, district_code=DISTRICT, lon=116.0, lat=39.0)
    assert info.value.field == "lon"
    assert isinstance(info.value, InvalidInput)
    with pytest.raises(InvalidInput):
        service.locate(session, district_code=DISTRICT, lon=math.nan, lat=39.85)
    with pytest.raises(InvalidInput):
        service.locate(session, district_code=DISTRICT, lon=116.3, lat=95.0)


def test_a_new_load_invalidates_the_cached_index(session, loaded, boundary):
    first = service.district_index(session, district_code=DISTRICT)
    assert service.district_index(session, district_code=DISTRICT) is first  # cached
    centroid = boundary.geometry.representative_point()
    before = service.locate(session, district_code=DISTRICT, lon=centroid.x, lat=centroid.y)
    loading.load_boundary(
        session, actor=SYSTEM, boundary=boundary, streets=2, communities=5, seed=9, grids=False
    )
    session.commit()
    second = service.district_index(session, district_code=DISTRICT)
    assert second is not first
    after = service.locate(session, district_code=DISTRICT, lon=centroid.x, lat=centroid.y)
    assert after is not None and before is not None
    assert after.grid_code is None  # the new load has no grids: communities are the leaves
    assert after.community_code is not None
    assert after.street_code in {"110199001", "110199002"}


def test_a_gap_in_imported_regions_gives_the_district_alone(session, loaded, boundary):
    west = shapely.clip_by_rect(boundary.geometry, -180, -90, boundary.geometry.centroid.x, 90)
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(west),
                "properties": {"name": "西街道"},
            }
        ],
    }
    loading.import_regions(
        session, actor=SYSTEM, district_code=DISTRICT, data=data, level=RegionLevel.STREET
    )
    session.commit()
    east = shapely.clip_by_rect(boundary.geometry, boundary.geometry.centroid.x, -90, 180, 90)
    p = east.representative_point()
    assert service.locate(session, district_code=DISTRICT, lon=p.x, lat=p.y) == RegionCodes(
        DISTRICT, None, None, None
    )
    w = west.representative_point()
    codes = service.locate(session, district_code=DISTRICT, lon=w.x, lat=w.y)
    assert codes == RegionCodes(DISTRICT, "110199001", None, None)


def test_reverse_lookup_and_gcj02_view(session, loaded):
    grid_code = _grids(session)[5][0]
    detail = service.get_region(session, code=grid_code)
    polygon = shapely.geometry.shape(detail.geometry)
    assert polygon.contains(shapely.Point(detail.centroid_lon, detail.centroid_lat))
    assert detail.area_m2 == pytest.approx(10_000, rel=0.6)
    gcj = service.get_region(session, code=grid_code, crs=CRS.GCJ02)
    assert gcj.crs == "gcj02"
    assert 0.001 < gcj.centroid_lon - detail.centroid_lon < 0.01  # Beijing: ~ +0.006° east
    with pytest.raises(NotFound):
        service.get_region(session, code="110199999999999")


def test_gazetteer_exact_then_prefix(session, loaded):
    street = service.search_regions(session, district_code=DISTRICT, q="110199001")
    assert street[0].code == "110199001"
    assert all(r.code.startswith("110199001") for r in street)
    first_name = street[0].name
    by_name = service.search_regions(session, district_code=DISTRICT, q=first_name)
    assert by_name[0].name == first_name
    assert service.search_regions(session, district_code=DISTRICT, q="no such place") == []
    assert service.search_regions(session, district_code=DISTRICT, q="%") == []
    children = service.children(session, code="110199001")
    assert children and all(c.parent_code == "110199001" for c in children)


def test_replace_regions_validates_codes(session):
    geom = shapely.box(116.3, 39.8, 116.31, 39.81)
    bad = [service.RegionInput("11019900", RegionLevel.STREET, "x", DISTRICT, geom)]
    with pytest.raises(InvalidInput, match="9 digits"):
        service.replace_regions(
            session,
            actor=SYSTEM,
            district_code=DISTRICT,
            levels=[RegionLevel.STREET],
            regions=bad,
            source="t",
        )
    other = [service.RegionInput("120101001", RegionLevel.STREET, "x", DISTRICT, geom)]
    with pytest.raises(InvalidInput, match="does not belong"):
        service.replace_regions(
            session,
            actor=SYSTEM,
            district_code=DISTRICT,
            levels=[RegionLevel.STREET],
            regions=other,
            source="t",
        )
