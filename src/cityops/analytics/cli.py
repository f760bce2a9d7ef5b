"""``cityops analytics …``: rebuild the roll-ups, and the day's anomalies and hotspots."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cityops.analytics import cohorts, queries, rollup
from cityops.analytics.queries import AnalyticsScope
from cityops.clisupport import DistrictOpt, district_code, domain_errors, session_scope
from cityops.timeutil import to_local, utcnow

app = typer.Typer(
    help="Analytics: roll-ups, anomalies, hotspots, recurring problems.", no_args_is_help=True
)
console = Console()

DayOpt = Annotated[str | None, typer.Option("--day", help="local day YYYY-MM-DD (default: today)")]


def _day(value: str | None) -> date:
    if value is None:
        return to_local(utcnow()).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("a day is written YYYY-MM-DD", param_hint="--day") from None


@app.command("rebuild")
def rebuild_command(district: DistrictOpt = None) -> None:
    """Recompute the roll-ups from the cases and their events (after a bulk import, or to
    check them)."""
    code = district_code(district)
    with session_scope() as session:
        events = rollup.rebuild(session, district_code=code)
        cases = cohorts.rebuild(session, district_code=code)
    console.print(f"roll-ups of district {code} rebuilt from {events} events")
    console.print(f"evaluation cohorts rebuilt from {cases} cases")


@app.command("anomalies")
def anomalies_command(
    district: DistrictOpt = None,
    day: DayOpt = None,
    weeks: Annotated[int, typer.Option(min=2, max=52)] = 8,
    threshold: Annotated[float, typer.Option(min=0.1)] = 4.0,
) -> None:
    """Street × class counts far above the same weekday of the previous weeks."""
    code = district_code(district)
    with session_scope(write=False) as session, domain_errors(console):
        found = queries.anomalies(
            session, scope=AnalyticsScope(code), day=_day(day), weeks=weeks, threshold=threshold
        )
        rows = queries.described(session, code, found)
    table = Table("street", "class", "count", "baseline (same weekday)", "median", "score")
    for a in rows:
        table.add_row(
            a["street_name"], a["class_name"], str(a["count"]),
            " ".join(map(str, a["baseline"])), f"{a['median']:g}", f"{a['score']:.1f}",
        )  # fmt: skip
    console.print(table if found else "no anomalies")


@app.command("hotspots")
def hotspots_command(
    district: DistrictOpt = None,
    day: DayOpt = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="period length")] = 30,
    level: Annotated[str, typer.Option(help="grid or community")] = "community",
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """Grids or communities with the most reports per km² over the days up to ``--day``."""
    code = district_code(district)
    last = _day(day)
    with session_scope(write=False) as session, domain_errors(console):
        found = queries.hotspots(
            session, scope=AnalyticsScope(code), start=last - timedelta(days=days - 1),
            end=last + timedelta(days=1), level=level, limit=limit,
        )  # fmt: skip
    table = Table("code", "name", "reports", "km²", "per km²")
    for h in found:
        table.add_row(
            h["code"], h["name"], str(h["reported"]), str(h["area_km2"] or ""),
            str(h["density_per_km2"] or ""),
        )  # fmt: skip
    console.print(table)
