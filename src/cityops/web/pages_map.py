"""JSON the pages' scripts fetch with the session cookie: map layers, places, region search.

Each answer comes from the same geo service functions as ``/api/v1/geo`` (which needs a
bearer token the browser does not hold).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from cityops.analytics import queries
from cityops.cases.scope import is_district_wide, visible
from cityops.deps import SessionDep
from cityops.errors import CityopsError
from cityops.geo import layers
from cityops.geo import service as geo_service
from cityops.geo.models import RegionLevel
from cityops.timeutil import to_local, utcnow
from cityops.web.i18n import normalise
from cityops.web.pages_auth import safe_next
from cityops.web.session import LANG_COOKIE, PageUserDep

router = APIRouter(include_in_schema=False)


def _refusal(exc: CityopsError) -> JSONResponse:
    return JSONResponse({"detail": exc.message, "field": exc.field}, status_code=exc.status_code)


@router.get("/map/layer/{level}")
def map_layer(
    user: PageUserDep,
    session: SessionDep,
    level: RegionLevel,
    bbox: Annotated[str | None, Query(max_length=100)] = None,
    zoom: Annotated[int, Query(ge=0, le=22)] = 12,
    days: Annotated[int | None, Query(ge=1, le=366)] = None,
) -> Any:
    """GeoJSON of a level's regions (with case counts over the last ``days`` when asked).

    Street and community counts for a district-wide viewer come from the analytics roll-ups
    (local days, today included); grids and scoped viewers count the cases they can see."""
    now = utcnow()
    since = now - timedelta(days=days) if days else None
    counts = None
    try:
        if days and is_district_wide(user.actor) and level.value in ("street", "community"):
            today = to_local(now).date()
            counts = queries.region_counts(
                session, scope=queries.scope_of(user.actor), level=level.value,
                start=today - timedelta(days=days - 1), end=today + timedelta(days=1),
            )  # fmt: skip
        return layers.layer(
            session,
            district_code=user.actor.district_code,
            level=level,
            bbox=layers.parse_bbox(bbox),
            zoom=zoom,
            counts_since=since,
            counts_until=now if days else None,
            case_filter=visible(user.actor),
            counts=counts,
        )
    except CityopsError as exc:
        return _refusal(exc)


@router.get("/map/locate")
def map_locate(
    user: PageUserDep,
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
) -> Any:
    """The street, community and grid of a point, with names."""
    from cityops.web.lookups import region_names

    try:
        codes = geo_service.locate(
            session, district_code=user.actor.district_code, lon=lon, lat=lat
        )
    except CityopsError as exc:
        return _refusal(exc)
    if codes is None:
        return JSONResponse({"detail": "no geography loaded"}, status_code=404)
    found = asdict(codes)
    names = region_names(session, [v for v in found.values() if isinstance(v, str)])
    return {**found, "names": names}


@router.get("/map/regions")
def map_regions(
    user: PageUserDep,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=64)],
) -> Any:
    """Gazetteer search for the place pickers."""
    found = geo_service.search_regions(
        session, district_code=user.actor.district_code, q=q, limit=12
    )
    return [asdict(r) for r in found]


@router.get("/lang/{code}")
def switch_language(request: Request, code: str) -> RedirectResponse:
    """Remember the chosen language and go back (the login page works without a session)."""
    target = safe_next(request.query_params.get("next"), "/")
    response = RedirectResponse(target, status_code=303)
    locale = normalise(code)
    if locale:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    return response
