"""Importing real boundaries, map layers and responsibility areas."""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import mapping

from cityops.auth.actor import SYSTEM
from cityops.errors import InvalidInput
from cityops.geo import areas, layers, loading, service
from cityops.geo.coords import CRS, geometry_from_wgs84
from cityops.geo.models import RegionLevel

from .conftest import DISTRICT


def _halves(geometry):
    x = geometry.centroid.x
    return (
        shapely.clip_by_rect(geometry, -180, -90, x, 90),
        shapely.clip_by_rect(geometry, x, -90, 180, 90),
    )


def test_import_streets_from_gcj02_geojson_file(session, loaded, boundary, tmp_path):
    west, east = _halves(boundary.geometry)
    features = [
        {
            "type": "Feature",
            "geometry": mapping(geometry_from_wgs84(geom, CRS.GCJ02)),
            # Statistical 12-digit street codes are accepted and shortened to 9 digits.
            "properties": {"code": f"{DISTRICT}00{n}000", "name": name},
        }
        for n, (geom, name) in enumerate([(west, "西街道"), (east, "东街道")], start=1)
    ]
    path = tmp_path / "streets.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    count = loading.import_regions(
        session,
        actor=SYSTEM,
        district_code=DISTRICT,
        data=path,
        level=RegionLevel.STREET,
        crs="gcj02",
    )
    session.commit()
    assert count == 2
    assert service.loaded_levels(session, district_code=DISTRICT) == {"district": 1, "street": 2}
    stored = service.get_region(session, code=f"{DISTRICT}001")
    assert stored.name == "西街道"
    assert not stored.synthetic
    assert shapely.geometry.shape(stored.geometry).hausdorff_distance(west) < 1e-7  # < 1 cm
    p = east.representative_point()
    codes = service.locate(session, district_code=DISTRICT, lon=p.x, lat=p.y)
    assert codes is not None and codes.street_code == f"{DISTRICT}002"


def test_import_communities_finds_parents_by_location_then_grids(session, loaded, boundary):
    streets = service.regions_of(session, district_code=DISTRICT, level=RegionLevel.STREET)
    _street, geom = streets[0]
    parts = _halves(geom)
    data = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": mapping(p), "properties": {"name": f"社区{n}"}}
            for n, p in enumerate(parts)
        ],
    }
    loading.import_regions(
        session, actor=SYSTEM, district_code=DISTRICT, data=data, level=RegionLevel.COMMUNITY
    )
    communities = service.regions_of(session, district_code=DISTRICT, level=RegionLevel.COMMUNITY)
    assert [r.code for r, _ in communities] == [f"{DISTRICT}001001", f"{DISTRICT}001002"]
    n = loading.generate_district_grids(session, actor=SYSTEM, district_code=DISTRICT)
    assert n > 10
    session.commit()


def test_import_rejects_non_polygons_and_missing_parents(session):
    point = {"type": "Point", "coordinates": [116.3, 39.85]}
    with pytest.raises(InvalidInput):
        loading.import_regions(
            session, actor=SYSTEM, district_code=DISTRICT, data=point, level=RegionLevel.STREET
        )
    square = mapping(shapely.box(116.3, 39.8, 116.31, 39.81))
    with pytest.raises(InvalidInput, match="before"):
        loading.import_regions(
            session, actor=SYSTEM, district_code=DISTRICT, data=square, level=RegionLevel.GRID
        )
    with pytest.raises(InvalidInput, match="no communities"):
        loading.generate_district_grids(session, actor=SYSTEM, district_code=DISTRICT)


def test_layers_simplify_filter_and_count(session, loaded, boundary):
    streets = layers.layer(
        session, district_code=DISTRICT, level=RegionLevel.STREET, bbox=None, zoom=12
    )
    assert streets["type"] == "FeatureCollection"
    assert len(streets["features"]) == 3
    props = streets["features"][0]["properties"]
    assert props["synthetic"] is True and len(props["code"]) == 9
    again = layers.layer(
        session, district_code=DISTRICT, level=RegionLevel.STREET, bbox=None, zoom=12
    )
    assert again is streets  # cached until the next load
    with pytest.raises(InvalidInput, match="zoom"):
        layers.layer(session, district_code=DISTRICT, level=RegionLevel.GRID, bbox=None, zoom=10)
    minx, miny, _maxx, _maxy = boundary.geometry.bounds
    small = (minx, miny, minx + 0.003, miny + 0.003)
    grids = layers.layer(
        session, district_code=DISTRICT, level=RegionLevel.GRID, bbox=small, zoom=16
    )
    assert 0 < len(grids["features"]) < loaded.grids
    gcj = layers.layer(
        session, district_code=DISTRICT, level=RegionLevel.GRID, bbox=small, zoom=16, crs="gcj02"
    )
    assert gcj["crs_name"] == "gcj02"
    from datetime import UTC, datetime

    counted = layers.layer(
        session,
        district_code=DISTRICT,
        level=RegionLevel.STREET,
        bbox=None,
        zoom=12,
        counts_since=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert all(f["properties"]["cases"] == 0 for f in counted["features"])
    assert layers.parse_bbox("116.1,39.7,116.5,39.9") == (116.1, 39.7, 116.5, 39.9)
    with pytest.raises(InvalidInput):
        layers.parse_bbox("1,2,3")


def test_responsibility_areas_most_specific_first(session, loaded, boundary):
    p = boundary.geometry.representative_point()
    codes = service.locate(session, district_code=DISTRICT, lon=p.x, lat=p.y)
    assert codes is not None and codes.grid_code is not None
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(boundary.geometry),
                "properties": {
                    "name": "全区道路养护",
                    "org_unit_code": "ROAD",
                    "class_codes": ["02"],
                },
            },
            {
                "type": "Feature",
                "geometry": mapping(p.buffer(0.001)),
                "properties": {
                    "name": "公园管理处",
                    "org_unit_code": "PARK",
                    "class_codes": "04,0301",
                },
            },
            {
                "type": "Feature",
                "geometry": None,
                "properties": {
                    "name": "街道办",
                    "org_unit_id": "7",
                    "region_codes": [codes.street_code],
                },
            },
        ],
    }
    items = areas.parse_areas(json.dumps(geojson), fmt="geojson")
    assert (
        areas.replace_areas(session, actor=SYSTEM, district_code=DISTRICT, items=items, source="t")
        == 3
    )
    found = areas.areas_at(session, district_code=DISTRICT, lon=p.x, lat=p.y)
    assert [a.name for a in found] == ["街道办", "公园管理处", "全区道路养护"]
    assert found[0].matched_by == codes.street_code and found[0].org_unit_id == 7
    roads = areas.areas_at(session, district_code=DISTRICT, lon=p.x, lat=p.y, class_code="0201")
    assert [a.name for a in roads] == ["街道办", "全区道路养护"]
    csv_items = areas.parse_areas(
        "name,org_unit_code,class_codes,region_codes\n河道,WATER,0105;0106,110199001\n", fmt="csv"
    )
    assert csv_items[0].class_codes == ("0105", "0106")
    with pytest.raises(InvalidInput, match="neither"):
        areas.parse_areas("name,org_unit_code\n空,X\n", fmt="csv")
