"""GCJ-02 ↔ WGS84 (and BD-09) against published reference pairs and by round trip."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cityops.geo.coords import (
    CRS,
    bd09_to_gcj02,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    geometry_from_wgs84,
    geometry_to_wgs84,
    haversine_m,
    to_wgs84,
    wgs84_to_gcj02,
)

# (wgs lon, wgs lat, gcj lon, gcj lat): googollee/eviltransform test vectors (Shanghai,
# Shenzhen, Beijing) and wandergis/coordtransform README (Tiananmen, 116.404, 39.915).
PAIRS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
]


@pytest.mark.parametrize(("w_lon", "w_lat", "g_lon", "g_lat"), PAIRS)
def test_forward_matches_published_pairs(w_lon, w_lat, g_lon, g_lat):
    lon, lat = wgs84_to_gcj02(w_lon, w_lat)
    assert float(lon) == pytest.approx(g_lon, abs=1e-9)
    assert float(lat) == pytest.approx(g_lat, abs=1e-9)


@pytest.mark.parametrize(("w_lon", "w_lat", "g_lon", "g_lat"), PAIRS)
def test_inverse_recovers_published_wgs84_within_1cm(w_lon, w_lat, g_lon, g_lat):
    lon, lat = gcj02_to_wgs84(g_lon, g_lat)
    assert float(haversine_m(lon, lat, w_lon, w_lat)) < 0.01


def test_baidu_pairs_from_coordtransform_readme():
    # gcj02tobd09(116.404, 39.915) and bd09togcj02(116.404, 39.915) as published.
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41036949371029, 39.92133699351021))
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.39762729119315, 39.90865673957631))


def test_round_trip_within_1m_across_china():
    rng = np.random.default_rng(7)
    lon = rng.uniform(74.0, 134.0, 20_000)
    lat = rng.uniform(18.0, 53.0, 20_000)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    offset = haversine_m(lon, lat, g_lon, g_lat)
    assert offset.max() > 100  # the datum shift is real (hundreds of metres)
    back_lon, back_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 1.0
    # In fact the iteration converges to ~1e-9°, i.e. about a millimetre.
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 0.005


def test_outside_china_passes_through():
    lon, lat = to_wgs84([2.35, -74.0], [48.85, 40.7], CRS.GCJ02)
    assert lon.tolist() == [2.35, -74.0]
    assert lat.tolist() == [48.85, 40.7]


def test_geometry_round_trip_keeps_shape():
    square = shapely.box(116.3, 39.8, 116.31, 39.81)
    gcj = geometry_from_wgs84(square, CRS.GCJ02)
    assert not gcj.equals(square)
    back = geometry_to_wgs84(gcj, CRS.GCJ02)
    assert back.equals_exact(square, tolerance=1e-8)
