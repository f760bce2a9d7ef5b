"""Map layers: GeoJSON of a level's regions in a bounding box, simplified for the zoom level,
optionally with case counts per region over a time range.

Geometry answers are cached per (database, district load token, level, bbox, zoom, crs), so a
new load invalidates them like the geocoder; case counts are not cached (they move).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import mapping
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cityops.errors import InvalidInput
from cityops.geo import service
from cityops.geo.coords import CRS, geometry_from_wgs84
from cityops.geo.models import RegionLevel

#: Below this zoom a grid layer would be tens of thousands of 100 m squares nobody can see.
MIN_GRID_ZOOM = 14
MAX_FEATURES = 5000
_CACHE_SIZE = 256

_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()

BBox = tuple[float, float, float, float]


def tolerance_deg(zoom: int) -> float:
    """Half a screen pixel at ``zoom`` (256-px Web Mercator tiles), in degrees of longitude."""
    return 360.0 / (256.0 * 2.0**zoom) / 2.0


def parse_bbox(text: str | None) -> BBox | None:
    """``min_lon,min_lat,max_lon,max_lat`` → tuple, or None."""
    if not text:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError as exc:
        raise InvalidInput("bbox must be four numbers", field="bbox") from exc
    if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
        raise InvalidInput("bbox is min_lon,min_lat,max_lon,max_lat", field="bbox")
    return parts[0], parts[1], parts[2], parts[3]


def _features(
    session: Session,
    *,
    district_code: str,
    level: RegionLevel,
    bbox: BBox | None,
    zoom: int,
    crs: CRS,
) -> dict[str, Any]:
    regions = service.in_bbox(
        session, district_code=district_code, level=level, bbox=bbox, limit=MAX_FEATURES + 1
    )
    truncated = len(regions) > MAX_FEATURES
    regions = regions[:MAX_FEATURES]
    geoms = shapely.from_wkb([r.geometry for r in regions]) if regions else []
    if len(regions):
        geoms = shapely.simplify(geoms, tolerance_deg(zoom), preserve_topology=True)
    features = []
    for region, geom in zip(regions, geoms, strict=True):
        shown = geometry_from_wgs84(shapely.set_precision(geom, 1e-7), crs)
        features.append(
            {
                "type": "Feature",
                "id": region.code,
                "geometry": mapping(shown),
                "properties": {
                    "code": region.code,
                    "name": region.name,
                    "level": region.level,
                    "parent_code": region.parent_code,
                    "synthetic": region.synthetic,
                    "area_m2": round(region.area_m2, 1),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "crs_name": crs.value,
        "truncated": truncated,
        "features": features,
    }


def layer(
    session: Session,
    *,
    district_code: str,
    level: RegionLevel,
    bbox: BBox | None,
    zoom: int,
    crs: CRS | str = CRS.WGS84,
    counts_since: datetime | None = None,
    counts_until: datetime | None = None,
    case_filter: ColumnElement[bool] | None = None,
    counts: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """A FeatureCollection of the level's regions meeting ``bbox`` (at most 5,000).

    Each feature gets a ``cases`` count when ``counts`` are given, or when a period is: then
    cases reported in it are counted, among those ``case_filter`` (the viewer's scope) admits.
    """
    crs = CRS(crs)
    if not 0 <= zoom <= 22:
        raise InvalidInput("zoom must be between 0 and 22", field="zoom")
    if level is RegionLevel.GRID and zoom < MIN_GRID_ZOOM:
        raise InvalidInput(f"the grid layer needs zoom ≥ {MIN_GRID_ZOOM}", field="zoom")
    token = service.current_token(session, district_code=district_code)
    rounded = None if bbox is None else tuple(round(v, 4) for v in bbox)
    key = (service.db_key(session), district_code, token, level.value, rounded, zoom, crs.value)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is None:
        cached = _features(
            session, district_code=district_code, level=level, bbox=bbox, zoom=zoom, crs=crs
        )
        with _lock:
            _cache[key] = cached
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    if counts is None:
        if counts_since is None and counts_until is None:
            return cached
        counts = case_counts(
            session,
            district_code=district_code,
            level=level,
            since=counts_since,
            until=counts_until,
            case_filter=case_filter,
            # Grids are many: count only those on screen.
            codes=[f["id"] for f in cached["features"]] if level is RegionLevel.GRID else None,
        )
    features = [
        {**f, "properties": {**f["properties"], "cases": counts.get(f["id"], 0)}}
        for f in cached["features"]
    ]
    return {**cached, "features": features}


def case_counts(
    session: Session,
    *,
    district_code: str,
    level: RegionLevel,
    since: datetime | None,
    until: datetime | None,
    case_filter: ColumnElement[bool] | None = None,
    codes: Sequence[str] | None = None,
) -> dict[str, int]:
    """Cases reported per region of ``level`` in ``[since, until)`` (reads the cases table),
    among the cases ``case_filter`` admits and, when given, in the regions ``codes``."""
    from cityops.cases.models import Case

    column = {
        RegionLevel.STREET: Case.street_code,
        RegionLevel.COMMUNITY: Case.community_code,
        RegionLevel.GRID: Case.grid_code,
        RegionLevel.DISTRICT: Case.district_code,
    }[level]
    query = select(column, func.count()).where(Case.district_code == district_code)
    if case_filter is not None:
        query = query.where(case_filter)
    if codes is not None:
        query = query.where(column.in_(codes))
    if since is not None:
        query = query.where(Case.reported_at >= since)
    if until is not None:
        query = query.where(Case.reported_at < until)
    rows = session.execute(query.group_by(column)).all()
    return {str(code): int(n) for code, n in rows if code}
