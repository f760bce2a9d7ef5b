"""Geo routes (thin): locate, reverse lookup, gazetteer, map layers, responsibility areas.

Every route reads the caller's district from the token; coordinates default to WGS84 and any
route that takes or returns coordinates accepts ``crs=gcj02`` (Amap tiles) or ``bd09``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from cityops.cases.scope import visible
from cityops.deps import CurrentUser, SessionDep
from cityops.errors import NotFound
from cityops.geo import areas, layers, service
from cityops.geo.coords import CRS, to_wgs84
from cityops.geo.models import RegionLevel
from cityops.geo.schemas import (
    AreaMatchRead,
    BatchLocateItem,
    BatchLocateRead,
    BatchLocateRequest,
    RegionCodesRead,
    RegionDetailRead,
    RegionSummaryRead,
)

router = APIRouter(prefix="/geo", tags=["geo"])

Lon = Annotated[float, Query(ge=-180, le=180)]
Lat = Annotated[float, Query(ge=-90, le=90)]


def _no_maps(district_code: str) -> NotFound:
    return NotFound(f"no geography is loaded for district {district_code}", field="district_code")


@router.get("/locate", response_model=RegionCodesRead)
def locate(
    session: SessionDep, actor: CurrentUser, lon: Lon, lat: Lat, crs: CRS = CRS.WGS84
) -> RegionCodesRead:
    """Region codes of a point (422 with field ``lon`` when outside the district)."""
    w_lon, w_lat = to_wgs84(lon, lat, crs)
    codes = service.locate(
        session, district_code=actor.district_code, lon=float(w_lon), lat=float(w_lat)
    )
    if codes is None:
        raise _no_maps(actor.district_code)
    return RegionCodesRead(**asdict(codes))


@router.post("/locate/batch", response_model=BatchLocateRead)
def locate_batch(
    session: SessionDep, actor: CurrentUser, body: BatchLocateRequest
) -> BatchLocateRead:
    """Codes of up to 10,000 points; points outside the district come back with inside=false."""
    lon = [p[0] for p in body.points]
    lat = [p[1] for p in body.points]
    w_lon, w_lat = to_wgs84(lon, lat, body.crs)
    result = service.locate_many(session, district_code=actor.district_code, lon=w_lon, lat=w_lat)
    if result is None:
        raise _no_maps(actor.district_code)
    items = [
        BatchLocateItem(
            inside=bool(result.inside[i]),
            street_code=str(result.street_code[i]) or None,
            community_code=str(result.community_code[i]) or None,
            grid_code=str(result.grid_code[i]) or None,
        )
        for i in range(len(body.points))
    ]
    return BatchLocateRead(district_code=actor.district_code, items=items)


@router.get("/regions/{code}", response_model=RegionDetailRead)
def region(
    session: SessionDep, actor: CurrentUser, code: str, crs: CRS = CRS.WGS84
) -> RegionDetailRead:
    """A region's centroid and polygon (reverse lookup)."""
    detail = service.get_region(session, code=code, crs=crs)
    if detail.district_code != actor.district_code:
        raise NotFound(f"no region with code {code}", field="code")
    return RegionDetailRead(**asdict(detail))


@router.get("/regions/{code}/children", response_model=list[RegionSummaryRead])
def region_children(session: SessionDep, actor: CurrentUser, code: str) -> list[RegionSummaryRead]:
    """The regions directly below a region."""
    if not code.startswith(actor.district_code):
        raise NotFound(f"no region with code {code}", field="code")
    return [RegionSummaryRead(**asdict(r)) for r in service.children(session, code=code)]


@router.get("/search", response_model=list[RegionSummaryRead])
def search(
    session: SessionDep,
    actor: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=64)],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[RegionSummaryRead]:
    """Gazetteer: regions by name or code (exact, then prefix, then contained)."""
    found = service.search_regions(session, district_code=actor.district_code, q=q, limit=limit)
    return [RegionSummaryRead(**asdict(r)) for r in found]


@router.get("/layers/{level}")
def layer(
    session: SessionDep,
    actor: CurrentUser,
    level: RegionLevel,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    zoom: Annotated[int, Query(ge=0, le=22)] = 12,
    crs: CRS = CRS.WGS84,
    counts_since: datetime | None = None,
    counts_until: datetime | None = None,
) -> dict[str, Any]:
    """GeoJSON of a level's regions in a bbox, simplified for the zoom; case counts on request."""
    return layers.layer(
        session,
        district_code=actor.district_code,
        level=level,
        bbox=layers.parse_bbox(bbox),
        zoom=zoom,
        crs=crs,
        counts_since=counts_since,
        counts_until=counts_until,
        case_filter=visible(actor),
    )


@router.get("/areas", response_model=list[AreaMatchRead])
def responsibility_areas(
    session: SessionDep,
    actor: CurrentUser,
    lon: Lon,
    lat: Lat,
    class_code: Annotated[str | None, Query(pattern=r"^\d{2}(\d{2})?$")] = None,
    crs: CRS = CRS.WGS84,
) -> list[AreaMatchRead]:
    """Responsibility areas answering for a point (and class), most specific first."""
    w_lon, w_lat = to_wgs84(lon, lat, crs)
    found = areas.areas_at(
        session,
        district_code=actor.district_code,
        lon=float(w_lon),
        lat=float(w_lat),
        class_code=class_code,
    )
    return [AreaMatchRead(**{**asdict(m), "class_codes": list(m.class_codes)}) for m in found]
