"""Geography use cases: locate points, read regions, replace a district's regions.

``locate`` is what the case service calls at report time. It reads one row (the district's
load token) per call and answers from a process-wide index per (database, district) that is
rebuilt only when a load has changed the token. Services ``flush()``; callers commit.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.errors import InvalidInput, NotFound
from cityops.geo.coords import CRS, from_wgs84, geometry_from_wgs84
from cityops.geo.index import BatchCodes, IndexRow, RegionCodes, RegionIndex
from cityops.geo.models import CODE_LENGTH, GeoGeneration, Region, RegionLevel
from cityops.geo.projection import area_m2
from cityops.timeutil import utcnow

__all__ = [
    "BatchCodes",
    "OutsideJurisdiction",
    "RegionCodes",
    "RegionDetail",
    "RegionInput",
    "RegionSummary",
    "district_index",
    "get_region",
    "locate",
    "locate_many",
    "replace_regions",
    "search_regions",
]

_INSERT_CHUNK = 2000


class OutsideJurisdiction(InvalidInput):
    """The point lies outside the district whose maps are loaded."""


@dataclass(frozen=True)
class RegionInput:
    """A region to store; geometry in WGS84."""

    code: str
    level: RegionLevel
    name: str
    parent_code: str | None
    geometry: BaseGeometry
    synthetic: bool = False


@dataclass(frozen=True)
class RegionSummary:
    code: str
    level: str
    name: str
    parent_code: str | None
    synthetic: bool
    centroid_lon: float
    centroid_lat: float


@dataclass(frozen=True)
class RegionDetail:
    """A region with its polygon as a GeoJSON geometry, in the requested coordinate system."""

    code: str
    level: str
    name: str
    parent_code: str | None
    district_code: str
    synthetic: bool
    area_m2: float
    centroid_lon: float
    centroid_lat: float
    geometry: dict[str, Any]
    crs: str
    source: str


# ---------------------------------------------------------------------------------------------
# The cached index


_cache: dict[tuple[str, str], tuple[str, RegionIndex]] = {}
_cache_lock = threading.Lock()


def db_key(session: Session) -> str:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine.url.render_as_string(hide_password=True)


def current_token(session: Session, *, district_code: str) -> str | None:
    """The district's load token, None when no geography was ever loaded for it."""
    return session.scalar(
        select(GeoGeneration.token).where(GeoGeneration.district_code == district_code)
    )


def district_index(session: Session, *, district_code: str) -> RegionIndex | None:
    """The district's geocoder, rebuilt when a load changed it; None when nothing is loaded."""
    token = current_token(session, district_code=district_code)
    if token is None:
        return None
    key = (db_key(session), district_code)
    cached = _cache.get(key)
    if cached is not None and cached[0] == token:
        return cached[1]
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == token:
            return cached[1]
        rows = session.execute(
            select(Region.code, Region.level, Region.parent_code, Region.geometry).where(
                Region.district_code == district_code
            )
        ).all()
        geoms = shapely.from_wkb([r.geometry for r in rows]) if rows else []
        index = RegionIndex(
            district_code,
            [IndexRow(r.code, r.level, r.parent_code, g) for r, g in zip(rows, geoms, strict=True)],
        )
        _cache[key] = (token, index)
        return index


def clear_cache() -> None:
    """Forget every cached index (tests; a process that switches databases)."""
    with _cache_lock:
        _cache.clear()


def _check_point(lon: float, lat: float) -> None:
    if not (isinstance(lon, (int, float)) and math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidInput("longitude must be a number between -180 and 180", field="lon")
    if not (isinstance(lat, (int, float)) and math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidInput("latitude must be a number between -90 and 90", field="lat")


def locate(session: Session, *, district_code: str, lon: float, lat: float) -> RegionCodes | None:
    """Region codes of a WGS84 point. None when no geography is loaded for the district
    (the core works without maps); OutsideJurisdiction when maps are loaded and the point
    is outside."""
    _check_point(lon, lat)
    index = district_index(session, district_code=district_code)
    if index is None:
        return None
    codes = index.locate(float(lon), float(lat))
    if codes is None:
        raise OutsideJurisdiction(
            f"the point ({lon:.6f}, {lat:.6f}) is outside district {district_code}",
            field="lon",
            district_code=district_code,
        )
    return codes


def locate_many(
    session: Session, *, district_code: str, lon: npt.ArrayLike, lat: npt.ArrayLike
) -> BatchCodes | None:
    """Codes of many WGS84 points; ``inside`` marks those in the district (no exception)."""
    index = district_index(session, district_code=district_code)
    if index is None:
        return None
    return index.locate_many(lon, lat)


# ---------------------------------------------------------------------------------------------
# Reading regions


def _summary(region: Region) -> RegionSummary:
    return RegionSummary(
        code=region.code,
        level=region.level,
        name=region.name,
        parent_code=region.parent_code,
        synthetic=region.synthetic,
        centroid_lon=region.centroid_lon,
        centroid_lat=region.centroid_lat,
    )


def get_region(session: Session, *, code: str, crs: CRS | str = CRS.WGS84) -> RegionDetail:
    """A region by code with its centroid and polygon (reverse lookup)."""
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(f"no region with code {code}", field="code")
    crs = CRS(crs)
    geometry = geometry_from_wgs84(shapely.from_wkb(region.geometry), crs)
    c_lon, c_lat = from_wgs84(region.centroid_lon, region.centroid_lat, crs)
    return RegionDetail(
        code=region.code,
        level=region.level,
        name=region.name,
        parent_code=region.parent_code,
        district_code=region.district_code,
        synthetic=region.synthetic,
        area_m2=region.area_m2,
        centroid_lon=float(c_lon),
        centroid_lat=float(c_lat),
        geometry=dict(mapping(geometry)),
        crs=crs.value,
        source=region.source,
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_regions(
    session: Session, *, district_code: str, q: str, limit: int = 20
) -> list[RegionSummary]:
    """Gazetteer: regions whose code or name matches ``q`` exactly, then by prefix, then inside."""
    q = q.strip()
    if not q:
        return []
    limit = max(1, min(limit, 200))
    base = select(Region).where(Region.district_code == district_code)
    found: dict[str, RegionSummary] = {}
    if q.isdigit():
        stages = [Region.code == q, Region.code.like(_like_escape(q) + "%", escape="\\")]
    else:
        pattern = _like_escape(q)
        stages = [
            Region.name == q,
            Region.name.like(pattern + "%", escape="\\"),
            Region.name.like("%" + pattern + "%", escape="\\"),
        ]
    for condition in stages:
        if len(found) >= limit:
            break
        query = base.where(condition).order_by(Region.code).limit(limit)
        for region in session.scalars(query):
            found.setdefault(region.code, _summary(region))
    return list(found.values())[:limit]


def children(session: Session, *, code: str) -> list[RegionSummary]:
    """The regions directly below ``code``, by code."""
    rows = session.scalars(select(Region).where(Region.parent_code == code).order_by(Region.code))
    return [_summary(r) for r in rows]


def loaded_levels(session: Session, *, district_code: str) -> dict[str, int]:
    """How many regions of each level a district has."""
    rows = session.execute(
        select(Region.level, func.count())
        .where(Region.district_code == district_code)
        .group_by(Region.level)
    ).all()
    return {str(level): int(n) for level, n in rows}


# ---------------------------------------------------------------------------------------------
# Writing regions


def _validate(district_code: str, regions: Sequence[RegionInput]) -> None:
    seen: set[str] = set()
    for r in regions:
        want = CODE_LENGTH[r.level]
        if len(r.code) != want or not r.code.isdigit():
            raise InvalidInput(
                f"{r.level.value} code {r.code!r} must be {want} digits", field="code"
            )
        if not r.code.startswith(district_code):
            raise InvalidInput(
                f"code {r.code} does not belong to district {district_code}", field="code"
            )
        if r.code in seen:
            raise InvalidInput(f"code {r.code} appears twice", field="code")
        seen.add(r.code)
        if r.geometry.is_empty or r.geometry.geom_type not in ("Polygon", "MultiPolygon"):
            raise InvalidInput(f"region {r.code} has no polygon", field="geometry")


def bump_generation(session: Session, *, district_code: str) -> int:
    """Mark the district's geography as changed (every in-process index rebuilds)."""
    row = session.get(GeoGeneration, district_code, with_for_update=True)
    token = uuid.uuid4().hex
    if row is None:
        row = GeoGeneration(district_code=district_code, generation=1, token=token)
        session.add(row)
    else:
        row.generation += 1
        row.token = token
        row.updated_at = utcnow()
    session.flush()
    return row.generation


def replace_regions(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    levels: Collection[RegionLevel],
    regions: Sequence[RegionInput],
    source: str,
    detail: dict[str, Any] | None = None,
) -> int:
    """Replace the district's regions of ``levels`` by ``regions``; one audit entry in all."""
    _validate(district_code, regions)
    stray = {r.level for r in regions} - set(levels)
    if stray:
        raise InvalidInput(
            f"regions of level {sorted(stray)} given but not replaced", field="level"
        )
    session.execute(
        delete(Region).where(
            Region.district_code == district_code, Region.level.in_([lv.value for lv in levels])
        )
    )
    geoms = np.array([r.geometry for r in regions], dtype=object)
    if len(regions):
        geoms = shapely.normalize(geoms)
        wkb = shapely.to_wkb(geoms)
        areas = area_m2(geoms)
        labels = shapely.get_coordinates(shapely.point_on_surface(geoms))
        bounds = shapely.bounds(geoms)
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "code": r.code,
            "level": r.level.value,
            "name": r.name,
            "parent_code": r.parent_code,
            "district_code": district_code,
            "synthetic": r.synthetic,
            "geometry": bytes(wkb[i]),
            "area_m2": float(areas[i]),
            "centroid_lon": float(labels[i, 0]),
            "centroid_lat": float(labels[i, 1]),
            "min_lon": float(bounds[i, 0]),
            "min_lat": float(bounds[i, 1]),
            "max_lon": float(bounds[i, 2]),
            "max_lat": float(bounds[i, 3]),
            "source": source[:128],
            "created_at": now,
        }
        for i, r in enumerate(regions)
    ]
    for start in range(0, len(rows), _INSERT_CHUNK):
        session.execute(insert(Region), rows[start : start + _INSERT_CHUNK])
    generation = bump_generation(session, district_code=district_code)
    counts: dict[str, int] = {}
    for r in regions:
        counts[r.level.value] = counts.get(r.level.value, 0) + 1
    audit.record(
        session,
        actor=actor,
        action="geo.load",
        object_type="district_geography",
        object_id=district_code,
        detail={
            "levels": sorted(lv.value for lv in levels),
            "counts": counts,
            "source": source,
            "generation": generation,
            **(detail or {}),
        },
    )
    session.flush()
    return len(rows)


def regions_of(
    session: Session, *, district_code: str, level: RegionLevel
) -> list[tuple[Region, BaseGeometry]]:
    """All regions of a level with their decoded WGS84 geometries, by code."""
    rows = list(
        session.scalars(
            select(Region)
            .where(Region.district_code == district_code, Region.level == level.value)
            .order_by(Region.code)
        )
    )
    geoms = shapely.from_wkb([r.geometry for r in rows]) if rows else []
    return list(zip(rows, geoms, strict=True))


def in_bbox(
    session: Session,
    *,
    district_code: str,
    level: RegionLevel,
    bbox: tuple[float, float, float, float] | None,
    limit: int,
) -> list[Region]:
    """Regions of a level whose bounding box meets ``bbox`` (WGS84), by code, at most ``limit``."""
    query = select(Region).where(Region.district_code == district_code, Region.level == level.value)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        query = query.where(
            Region.max_lon >= min_lon,
            Region.min_lon <= max_lon,
            Region.max_lat >= min_lat,
            Region.min_lat <= max_lat,
        )
    return list(session.scalars(query.order_by(Region.code).limit(limit)))
