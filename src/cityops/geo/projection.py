"""The equal-area projection used to measure areas and lay out unit grids.

Albers equal-area conic for China (standard parallels 25°N and 47°N, central meridian 105°E,
origin at the equator), on the WGS84 ellipsoid. It is the same for every district, so a
district's grid lattice never moves when a neighbour is loaded, and a cell of 100 m × 100 m in
it has exactly 10,000 m² on the ground (shapes are off by ~1 % in Beijing, areas by none).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

ALBERS_CHINA = (
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
)

GeomOrArray = TypeVar("GeomOrArray", BaseGeometry, npt.NDArray[np.object_])


@lru_cache(maxsize=2)
def _transformer(inverse: bool) -> Transformer:
    if inverse:
        return Transformer.from_crs(ALBERS_CHINA, "EPSG:4326", always_xy=True)
    return Transformer.from_crs("EPSG:4326", ALBERS_CHINA, always_xy=True)


def _apply(geoms: Any, inverse: bool) -> Any:
    transformer = _transformer(inverse)

    def xy(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, xy)


def to_metric(geoms: GeomOrArray) -> GeomOrArray:
    """WGS84 lon/lat → Albers metres (one geometry or an array of them, vectorised)."""
    result: GeomOrArray = _apply(geoms, inverse=False)
    return result


def to_lonlat(geoms: GeomOrArray) -> GeomOrArray:
    """Albers metres → WGS84 lon/lat."""
    result: GeomOrArray = _apply(geoms, inverse=True)
    return result


def xy_to_metric(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Points in WGS84 → Albers metres."""
    x, y = _transformer(False).transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def xy_to_lonlat(
    x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Albers metres → WGS84 points."""
    lon, lat = _transformer(True).transform(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return np.asarray(lon, np.float64), np.asarray(lat, np.float64)


def area_m2(geoms: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Ground area in m² of WGS84 geometries."""
    arr = np.asarray(geoms, dtype=object)
    result: npt.NDArray[np.float64] = np.asarray(shapely.area(to_metric(arr)), np.float64)
    return result
