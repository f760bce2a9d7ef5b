"""Synthetic streets and communities: reproducible, covering, named and coded."""

from __future__ import annotations

import hashlib

import numpy as np
import shapely

from cityops.geo.partition import allocate, community_name, street_name, synthesize
from cityops.geo.projection import area_m2

from .conftest import DISTRICT, l_shaped_district


def _fingerprint(cells) -> str:
    digest = hashlib.sha256()
    for c in cells:
        digest.update(c.code.encode())
        digest.update(shapely.to_wkb(shapely.set_precision(c.geometry, 1e-9)))
    return digest.hexdigest()


def test_same_seed_same_partition_other_seed_differs():
    boundary = l_shaped_district()
    a = synthesize(DISTRICT, boundary, streets=3, communities=9, seed=1)
    b = synthesize(DISTRICT, boundary, streets=3, communities=9, seed=1)
    c = synthesize(DISTRICT, boundary, streets=3, communities=9, seed=2)
    assert _fingerprint(a[0] + a[1]) == _fingerprint(b[0] + b[1])
    assert _fingerprint(a[1]) != _fingerprint(c[1])


def test_cells_cover_boundary_without_overlap():
    boundary = l_shaped_district()
    streets, communities = synthesize(DISTRICT, boundary, streets=3, communities=10)
    total = float(area_m2([boundary])[0])
    for level in (streets, communities):
        areas = area_m2([c.geometry for c in level])
        assert abs(areas.sum() - total) / total < 1e-6
        union = shapely.union_all([c.geometry for c in level])
        assert abs(float(area_m2([union])[0]) - total) / total < 1e-6


def test_codes_are_hierarchical_and_counts_honoured():
    streets, communities = synthesize(DISTRICT, l_shaped_district(), streets=3, communities=10)
    assert [s.code for s in streets] == ["110199001", "110199002", "110199003"]
    assert len(communities) == 10
    street_codes = {s.code for s in streets}
    for c in communities:
        assert len(c.code) == 12
        assert c.code[:9] == c.parent_code
        assert c.parent_code in street_codes


def test_real_street_names_where_known():
    assert street_name("110106", 0) == "右安门街道"
    assert street_name("110102", 14) == "广安门外街道"
    assert street_name("999999", 2) == "第3街道"
    assert community_name("长辛店镇", 0) == "长辛店第1社区"


def test_allocate_is_proportional_and_at_least_one():
    assert allocate(10, [1, 1]) == [5, 5]
    assert sum(allocate(369, list(np.linspace(1, 5, 26)))) == 369
    assert min(allocate(3, [100, 1, 1])) == 1
