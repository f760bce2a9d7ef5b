"""Unit grid generation: inside, covering, sliver-free, coded, stable."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import shapely

from cityops.geo.grids import MAX_SERIAL, generate_grids, grids_for_community
from cityops.geo.partition import synthesize
from cityops.geo.projection import area_m2, to_lonlat, xy_to_metric

from .conftest import DISTRICT, l_shaped_district


@pytest.fixture(scope="module")
def communities():
    _streets, cells = synthesize(DISTRICT, l_shaped_district(), streets=2, communities=6)
    return [(c.code, c.geometry) for c in cells]


@pytest.fixture(scope="module")
def grids(communities):
    return generate_grids(communities)


def _hash(grids) -> str:
    digest = hashlib.sha256()
    for g in grids:
        digest.update(g.code.encode())
        digest.update(shapely.to_wkb(shapely.set_precision(g.geometry, 1e-9)))
    return digest.hexdigest()


def test_codes_are_15_digits_unique_and_hierarchical(grids, communities):
    codes = [g.code for g in grids]
    assert len(codes) == len(set(codes))
    community_codes = {c for c, _ in communities}
    for g in grids:
        assert len(g.code) == 15
        assert g.code.isdigit()
        assert g.code[:12] == g.community_code
        assert g.community_code in community_codes
        assert g.code.startswith(DISTRICT)
    for code in community_codes:
        serials = sorted(int(g.code[12:]) for g in grids if g.community_code == code)
        assert serials == list(range(1, len(serials) + 1))


def test_stable_across_runs(grids, communities):
    assert _hash(generate_grids(communities)) == _hash(grids)


def test_every_grid_inside_its_community_and_communities_covered(grids, communities):
    by_code = dict(communities)
    for code, community in communities:
        mine = [g.geometry for g in grids if g.community_code == code]
        community_area = float(area_m2([community])[0])
        covered = float(area_m2([shapely.union_all(mine)])[0])
        assert abs(covered - community_area) / community_area < 0.001
        # Inside, up to the curvature of ≤ 50 m edges between lon/lat and the projection:
        # a few hundredths of a m² per grid, i.e. < 10 ppm of its area.
        mine_arr = np.array(mine, dtype=object)
        outside = area_m2(shapely.difference(mine_arr, by_code[code]))
        assert (outside / area_m2(mine_arr)).max() < 1e-5


def test_cells_are_about_10000_m2_and_no_slivers(grids):
    areas = np.array([g.area_m2 for g in grids])
    assert np.median(areas) == pytest.approx(10_000, rel=1e-6)
    assert areas.min() >= 2_500  # slivers (< 25 % of a cell) were merged
    assert areas.max() < 10_000 * 2.5


def test_sliver_is_merged_into_the_neighbour_with_the_longest_edge():
    # 220 m × 100 m aligned with the lattice: two whole cells and a 20 m sliver on the east.
    metric = shapely.box(0, 0, 220, 100)
    grids, size = grids_for_community(metric)
    assert size == 100
    assert [round(g.area) for g in grids] == [10_000, 12_000]


def test_community_smaller_than_a_sliver_is_one_grid():
    grids, _size = grids_for_community(shapely.box(10, 10, 40, 40))
    assert len(grids) == 1
    assert grids[0].area == pytest.approx(900)


def test_huge_community_gets_coarser_lattice_to_keep_three_digit_serials():
    x, y = xy_to_metric(116.3, 39.8)
    big = to_lonlat(shapely.box(float(x), float(y), float(x) + 4_000, float(y) + 3_000))
    grids = generate_grids([("110199001001", big)])
    assert len(grids) <= MAX_SERIAL
    assert {g.cell_m for g in grids} == {200.0}


def test_rejects_bad_community_codes():
    with pytest.raises(ValueError, match="12 digits"):
        generate_grids([("1101", shapely.box(116.3, 39.8, 116.31, 39.81))])
