"""Responsibility areas (责任网格): which department answers for which classes where.

An area is a polygon, a list of region codes, or both, with the department (org unit) and the
class codes it covers (major ``05`` or minor ``0501``; none = every class). Routing asks
``areas_at`` for a case's position and class and takes the most specific answer first.
Imported from GeoJSON (polygons; ``geometry`` may be null) or CSV (region lists).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.errors import InvalidInput
from cityops.geo import service
from cityops.geo.coords import CRS, geometry_to_wgs84
from cityops.geo.models import ResponsibilityArea
from cityops.geo.projection import area_m2


@dataclass(frozen=True)
class AreaInput:
    name: str
    org_unit_code: str | None
    org_unit_id: int | None
    class_codes: tuple[str, ...]
    region_codes: tuple[str, ...]
    geometry: shapely.geometry.base.BaseGeometry | None


@dataclass(frozen=True)
class AreaMatch:
    id: int
    name: str
    org_unit_id: int | None
    org_unit_code: str | None
    class_codes: tuple[str, ...]
    #: How the area matched: ``polygon`` or the region code it lists.
    matched_by: str


def _codes(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"org_unit_id {value!r} is not a number", field="org_unit_id") from exc


def _area(props: dict[str, Any], geometry: Any) -> AreaInput:
    name = str(props.get("name") or "").strip()
    if not name:
        raise InvalidInput("every responsibility area needs a name", field="name")
    regions = _codes(props.get("region_codes"))
    if geometry is None and not regions:
        raise InvalidInput(
            f"area {name!r} has neither a polygon nor region codes", field="geometry"
        )
    return AreaInput(
        name=name,
        org_unit_code=str(props.get("org_unit_code") or "") or None,
        org_unit_id=_int_or_none(props.get("org_unit_id")),
        class_codes=_codes(props.get("class_codes")),
        region_codes=regions,
        geometry=geometry,
    )


def parse_areas(text: str, *, fmt: str, crs: CRS | str = CRS.WGS84) -> list[AreaInput]:
    """Areas from GeoJSON (``fmt='geojson'``) or CSV text (columns as the property names)."""
    if fmt == "csv":
        return [_area(dict(row), None) for row in csv.DictReader(io.StringIO(text))]
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"invalid GeoJSON: {exc}", field="file") from exc
    features = data.get("features", [data]) if isinstance(data, dict) else []
    result = []
    for feature in features:
        raw = feature.get("geometry")
        geometry = None
        if raw:
            try:
                geometry = geometry_to_wgs84(shapely.make_valid(shape(raw)), crs)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                raise InvalidInput(f"invalid geometry: {exc}", field="file") from exc
        result.append(_area(dict(feature.get("properties") or {}), geometry))
    return result


def replace_areas(
    session: Session, *, actor: Actor, district_code: str, items: Sequence[AreaInput], source: str
) -> int:
    """Replace the district's responsibility areas; one audit entry."""
    session.execute(
        delete(ResponsibilityArea).where(ResponsibilityArea.district_code == district_code)
    )
    for item in items:
        session.add(
            ResponsibilityArea(
                district_code=district_code,
                name=item.name,
                org_unit_id=item.org_unit_id,
                org_unit_code=item.org_unit_code,
                class_codes=list(item.class_codes),
                region_codes=list(item.region_codes),
                geometry=None if item.geometry is None else shapely.to_wkb(item.geometry),
                source=source[:128],
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="geo.load",
        object_type="responsibility_areas",
        object_id=district_code,
        detail={"count": len(items), "source": source},
    )
    return len(items)


def import_areas(
    session: Session, *, actor: Actor, district_code: str, path: Path, crs: CRS | str = CRS.WGS84
) -> int:
    """Import a GeoJSON or CSV file of responsibility areas."""
    fmt = "csv" if path.suffix.lower() == ".csv" else "geojson"
    items = parse_areas(path.read_text(encoding="utf-8-sig"), fmt=fmt, crs=crs)
    return replace_areas(
        session, actor=actor, district_code=district_code, items=items, source=f"import {path.name}"
    )


def _covers_class(area: ResponsibilityArea, class_code: str | None) -> bool:
    if not area.class_codes or class_code is None:
        return True
    return any(class_code.startswith(c) for c in area.class_codes)


def areas_at(
    session: Session,
    *,
    district_code: str,
    lon: float,
    lat: float,
    class_code: str | None = None,
) -> list[AreaMatch]:
    """Areas answering for a WGS84 point (and class), most specific first.

    Areas listing the point's region come first (grid before community before street before
    district), then areas whose polygon holds the point, smallest polygon first.
    """
    codes = service.locate(session, district_code=district_code, lon=lon, lat=lat)
    point = shapely.Point(lon, lat)
    located = (
        [c for c in (codes.grid_code, codes.community_code, codes.street_code, district_code) if c]
        if codes
        else [district_code]
    )
    ranked: list[tuple[float, int, AreaMatch]] = []
    rows = session.scalars(
        select(ResponsibilityArea).where(ResponsibilityArea.district_code == district_code)
    )
    for area in rows:
        if not _covers_class(area, class_code):
            continue
        match = next((c for c in located if c in area.region_codes), None)
        if match is not None:
            # 15-digit codes are the most specific: rank by negative code length, then polygons.
            rank = float(-len(match)) * 1e12
            how = match
        elif area.geometry is not None and shapely.from_wkb(area.geometry).intersects(point):
            rank = float(area_m2([shapely.from_wkb(area.geometry)])[0])
            how = "polygon"
        else:
            continue
        ranked.append(
            (
                rank,
                area.id,
                AreaMatch(
                    area.id,
                    area.name,
                    area.org_unit_id,
                    area.org_unit_code,
                    tuple(area.class_codes),
                    how,
                ),
            )
        )
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [m for _, _, m in ranked]
