"""Synthetic streets and communities: a seeded Voronoi partition inside a real boundary.

Street (街道) and community (社区) boundaries are not published, so a demo district gets
plausible ones: seeds drawn uniformly inside the polygon from a seeded generator, moved by a
few Lloyd iterations (so cells are compact rather than slivers), Voronoi cells clipped to the
polygon. Everything happens in the equal-area projection, so cell sizes are ground sizes.
The same polygon, count and seed always give the same cells in the same order.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from cityops.geo.projection import to_lonlat, to_metric, xy_to_metric

#: Real street/town names where known (public administrative division lists after Fengtai's
#: 2021 re-division; typed in, not read from a package — see docs/geo.md); geometries stay
#: synthetic. Fengtai: 24 streets + 2 towns; Xicheng: 15 streets.
STREET_NAMES: dict[str, tuple[str, ...]] = {
    "110106": (
        "右安门街道", "太平桥街道", "西罗园街道", "大红门街道", "南苑街道", "东高地街道",
        "东铁匠营街道", "六里桥街道", "丰台街道", "新村街道", "长辛店街道", "云岗街道",
        "方庄街道", "宛平街道", "马家堡街道", "和义街道", "卢沟桥街道", "花乡街道",
        "成寿寺街道", "石榴庄街道", "玉泉营街道", "看丹街道", "五里店街道", "青塔街道",
        "长辛店镇", "王佐镇",
    ),
    "110102": (
        "西长安街街道", "新街口街道", "月坛街道", "展览路街道", "德胜街道", "金融街街道",
        "什刹海街道", "大栅栏街道", "天桥街道", "椿树街道", "陶然亭街道", "广安门内街道",
        "牛街街道", "白纸坊街道", "广安门外街道",
    ),
}  # fmt: skip

#: Real community (社区/村) counts where known; other districts get one per ~0.8 km².
COMMUNITY_COUNTS: dict[str, int] = {"110106": 369, "110102": 259}

DISTRICT_NAMES: dict[str, str] = {"110106": "丰台区", "110102": "西城区", "310117": "松江区"}

_SAMPLE_BATCH = 4096


@dataclass(frozen=True)
class Cell:
    """One generated region, in WGS84."""

    code: str
    name: str
    parent_code: str
    geometry: BaseGeometry


def stable_seed(*parts: str | int) -> int:
    """A seed that depends only on its parts (Python's ``hash`` is salted per process)."""
    return zlib.crc32("|".join(str(p) for p in parts).encode())


def sample_points(
    polygon: BaseGeometry, n: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """``n`` points uniformly inside ``polygon`` by rejection from its bounding box."""
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    found: list[npt.NDArray[np.float64]] = []
    count = 0
    while count < n:
        xs = rng.uniform(minx, maxx, _SAMPLE_BATCH)
        ys = rng.uniform(miny, maxy, _SAMPLE_BATCH)
        inside = shapely.contains_xy(polygon, xs, ys)
        batch = np.column_stack([xs[inside], ys[inside]])
        found.append(batch)
        count += len(batch)
    return np.concatenate(found)[:n]


def _voronoi_cells(
    polygon: BaseGeometry, seeds: npt.NDArray[np.float64]
) -> npt.NDArray[np.object_]:
    """Voronoi cells of ``seeds`` (in seed order) clipped to ``polygon``."""
    if len(seeds) == 1:
        return np.array([polygon], dtype=object)
    regions = shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=polygon.envelope.buffer(1000.0), ordered=True
    )
    cells = shapely.get_parts(regions)
    clipped: npt.NDArray[np.object_] = shapely.intersection(cells, polygon)
    return clipped


def voronoi_partition(
    polygon: BaseGeometry, n: int, *, seed: int, lloyd_iterations: int = 3
) -> list[BaseGeometry]:
    """``n`` cells covering a metric ``polygon``: north→south in 2 km bands, then west→east."""
    rng = np.random.default_rng(seed)
    seeds = sample_points(polygon, n, rng)
    for _ in range(lloyd_iterations):
        cells = _voronoi_cells(polygon, seeds)
        # A cell's centroid can fall outside a concave cell; the representative point cannot.
        centroids = shapely.centroid(cells)
        outside = ~shapely.contains(polygon, centroids)
        if outside.any():
            centroids[outside] = shapely.point_on_surface(cells[outside])
        seeds = shapely.get_coordinates(centroids)
    cells = _voronoi_cells(polygon, seeds)
    cells = shapely.make_valid(cells)
    cells = np.array([_polygonal(c) for c in cells], dtype=object)
    anchors = shapely.get_coordinates(shapely.point_on_surface(cells))
    order = np.lexsort((anchors[:, 0], -np.floor(anchors[:, 1] / 2000.0)))
    return [cells[i] for i in order if not cells[i].is_empty]


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """Drop the lines and points an intersection may leave beside the polygons."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def synthetic_district(
    lon: float = 116.28, lat: float = 39.84, area_km2: float = 300.0
) -> BaseGeometry:
    """A WGS84 octagon of ``area_km2`` around a point: a stand-in district for benchmarks."""
    x, y = xy_to_metric(lon, lat)
    radius = float(np.sqrt(area_km2 * 1e6 / (2 * np.sqrt(2))))
    octagon: BaseGeometry = to_lonlat(shapely.Point(float(x), float(y)).buffer(radius, quad_segs=2))
    return octagon


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder), at least 1 each."""
    n = len(weights)
    if total < n:
        total = n
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    spare = total - n
    raw = w * spare
    base = np.floor(raw).astype(int)
    remainder = spare - int(base.sum())
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:remainder]] += 1
    return [int(b) + 1 for b in base]


def default_counts(district_code: str, area_m2: float) -> tuple[int, int]:
    """(streets, communities) for a district: real counts where known, else by area."""
    names = STREET_NAMES.get(district_code)
    streets = len(names) if names else max(1, round(area_m2 / 12e6))
    communities = COMMUNITY_COUNTS.get(district_code) or max(streets, round(area_m2 / 0.8e6))
    return streets, max(communities, streets)


def street_name(district_code: str, index: int) -> str:
    names = STREET_NAMES.get(district_code, ())
    return names[index] if index < len(names) else f"第{index + 1}街道"


def community_name(street: str, index: int) -> str:
    stem = street.removesuffix("街道").removesuffix("镇").removesuffix("乡")
    return f"{stem}第{index + 1}社区"


def synthesize(
    district_code: str,
    boundary: BaseGeometry,
    *,
    streets: int | None = None,
    communities: int | None = None,
    seed: int = 0,
) -> tuple[list[Cell], list[Cell]]:
    """Synthetic streets and communities inside a WGS84 district boundary.

    Street codes are the district code + 001…; community codes their street code + 001….
    Communities are shared among streets in proportion to street area.
    """
    metric = shapely.make_valid(to_metric(boundary))
    default_streets, default_communities = default_counts(district_code, float(metric.area))
    n_streets = streets or default_streets
    n_communities = max(communities or default_communities, n_streets)
    street_polys = voronoi_partition(
        metric, n_streets, seed=stable_seed(seed, district_code, "street")
    )
    per_street = allocate(n_communities, [p.area for p in street_polys])
    street_cells: list[Cell] = []
    community_cells: list[Cell] = []
    for s_index, (poly, count) in enumerate(zip(street_polys, per_street, strict=True)):
        s_code = f"{district_code}{s_index + 1:03d}"
        s_name = street_name(district_code, s_index)
        street_cells.append(Cell(s_code, s_name, district_code, to_lonlat(poly)))
        parts = voronoi_partition(poly, count, seed=stable_seed(seed, s_code, "community"))
        for c_index, part in enumerate(parts):
            community_cells.append(
                Cell(
                    f"{s_code}{c_index + 1:03d}",
                    community_name(s_name, c_index),
                    s_code,
                    to_lonlat(part),
                )
            )
    return street_cells, community_cells
