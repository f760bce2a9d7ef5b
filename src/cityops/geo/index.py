"""The in-memory geocoder of one district: an STRtree over its finest regions.

Pure (no database): built from region rows by ``service``, which caches one per district.
Leaves are the finest level loaded (grids, else communities, else streets), sorted by code;
a point takes the lowest-coded leaf whose polygon *intersects* it (boundary included), so a
point on a shared border always resolves to the same region. A point in no leaf but inside the
district polygon (a gap left by imported data) gets the district code alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from cityops.geo.models import CODE_LENGTH, RegionLevel

StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True)
class RegionCodes:
    """Where a point is: its district and, when loaded, street, community and unit grid."""

    district_code: str
    street_code: str | None
    community_code: str | None
    grid_code: str | None


@dataclass(frozen=True)
class BatchCodes:
    """Codes of many points; ``""`` where a level is not loaded or the point is outside.

    ``inside`` is False for points outside the district (the batch API does not raise).
    """

    inside: npt.NDArray[np.bool_]
    street_code: StrArray
    community_code: StrArray
    grid_code: StrArray


@dataclass(frozen=True)
class IndexRow:
    """What the index needs of a region row."""

    code: str
    level: str
    parent_code: str | None
    geometry: BaseGeometry


def _ancestor(code: str, level: RegionLevel, parents: dict[str, tuple[str, str | None]]) -> str:
    """The code of ``code``'s ancestor (or itself) at ``level``, following parent links."""
    current: str | None = code
    seen = 0
    while current is not None and seen < 8:
        entry = parents.get(current)
        if entry is None:
            break
        if entry[0] == level.value:
            return current
        current = entry[1]
        seen += 1
    # Generated and standard codes are hierarchical: fall back to the prefix.
    n = CODE_LENGTH[level]
    return code[:n] if len(code) >= n and level != RegionLevel.DISTRICT else ""


class RegionIndex:
    """Point → region codes for one district."""

    def __init__(self, district_code: str, rows: Sequence[IndexRow]) -> None:
        self.district_code = district_code
        parents = {r.code: (r.level, r.parent_code) for r in rows}
        district = [r for r in rows if r.level == RegionLevel.DISTRICT and r.code == district_code]
        self.boundary: BaseGeometry | None = district[0].geometry if district else None
        if self.boundary is not None:
            shapely.prepare(self.boundary)
        self.leaf_level: RegionLevel | None = None
        for level in (RegionLevel.GRID, RegionLevel.COMMUNITY, RegionLevel.STREET):
            if any(r.level == level for r in rows):
                self.leaf_level = level
                break
        leaves = sorted(
            (r for r in rows if self.leaf_level is not None and r.level == self.leaf_level),
            key=lambda r: r.code,
        )
        self.geometries = np.array([r.geometry for r in leaves], dtype=object)
        self.tree = shapely.STRtree(self.geometries)

        def column(level: RegionLevel) -> StrArray:
            if self.leaf_level is None or list(RegionLevel).index(level) > list(RegionLevel).index(
                self.leaf_level
            ):
                return np.full(len(leaves), "", dtype="<U15")
            return np.array([_ancestor(r.code, level, parents) for r in leaves], dtype="<U15")

        self.street_codes = column(RegionLevel.STREET)
        self.community_codes = column(RegionLevel.COMMUNITY)
        self.grid_codes = column(RegionLevel.GRID)

    def __len__(self) -> int:
        return len(self.geometries)

    def _in_boundary(
        self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        if self.boundary is None:
            return np.zeros(lon.shape, dtype=bool)
        result: npt.NDArray[np.bool_] = shapely.intersects_xy(self.boundary, lon, lat)
        return result

    def leaf_of(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Index of the lowest-coded leaf intersecting each point, ``-1`` where none does."""
        x = np.asarray(lon, np.float64).ravel()
        y = np.asarray(lat, np.float64).ravel()
        out = np.full(len(x), -1, dtype=np.int64)
        if len(self.geometries) == 0 or len(x) == 0:
            return out
        hits = self.tree.query(shapely.points(x, y), predicate="intersects")
        if hits.shape[1]:
            best = np.full(len(x), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(best, hits[0], hits[1])
            found = best != np.iinfo(np.int64).max
            out[found] = best[found]
        return out

    def locate_many(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> BatchCodes:
        """Codes of many WGS84 points (vectorised)."""
        x = np.asarray(lon, np.float64).ravel()
        y = np.asarray(lat, np.float64).ravel()
        leaf = self.leaf_of(x, y)
        hit = leaf >= 0
        inside = hit.copy()
        missed = np.flatnonzero(~hit)
        if len(missed):
            inside[missed] = self._in_boundary(x[missed], y[missed])
        empty = np.full(len(x), "", dtype="<U15")
        street, community, grid = empty.copy(), empty.copy(), empty.copy()
        street[hit] = self.street_codes[leaf[hit]]
        community[hit] = self.community_codes[leaf[hit]]
        grid[hit] = self.grid_codes[leaf[hit]]
        return BatchCodes(inside, street, community, grid)

    def locate(self, lon: float, lat: float) -> RegionCodes | None:
        """Codes of one point; None when it is outside the district."""
        return self.locate_each([lon], [lat])[0]

    def locate_each(self, lon: Sequence[float], lat: Sequence[float]) -> list[RegionCodes | None]:
        """``locate`` for many points in one vectorised call."""
        batch = self.locate_many(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        return [
            RegionCodes(
                district_code=self.district_code,
                street_code=str(batch.street_code[i]) or None,
                community_code=str(batch.community_code[i]) or None,
                grid_code=str(batch.grid_code[i]) or None,
            )
            if batch.inside[i]
            else None
            for i in range(len(batch.inside))
        ]
