"""``cityops simulate``: run, resume and report simulations (the lead mounts ``app``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cityops.clisupport import cli_settings, session_scope
from cityops.simulate import engine
from cityops.simulate.models import SimulationRun
from cityops.simulate.presets import PRESETS
from cityops.simulate.report import format_shape, shape

app = typer.Typer(help="Simulate a district's workload (demo data, benchmark volume).",
                  no_args_is_help=True)  # fmt: skip
console = Console()


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()  # noqa: DTZ007  (a calendar day)


@app.command("run")
def run_cmd(
    from_: Annotated[str | None, typer.Option("--from", help="first local day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, typer.Option("--to", help="last local day, YYYY-MM-DD")] = None,
    preset: Annotated[str, typer.Option(help=f"one of: {', '.join(PRESETS)}")] = "small",
    seed: Annotated[int, typer.Option(help="same seed, same data")] = 1,
    bulk: Annotated[bool, typer.Option("--bulk/--no-bulk", help="batched writes")] = True,
    resume: Annotated[bool, typer.Option(help="continue the last unfinished run")] = False,
) -> None:
    """Simulate the days --from … --to (Ctrl-C keeps every finished day; --resume goes on)."""
    settings = cli_settings()
    if not resume and (from_ is None or to is None):
        raise typer.BadParameter("give --from and --to (or --resume)")
    start = _day(from_) if from_ else None
    end = _day(to) if to else None
    total = (end - start).days + 1 if start and end else None
    seen = {"cases": 0, "events": 0}
    with Progress(
        TextColumn("[bold]simulating[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=total, rate="")
        clock = {"start": datetime.now().timestamp()}  # noqa: DTZ005  (a duration only)

        def progress(day: date, counts: dict[str, int]) -> None:
            seen["cases"] += counts["cases"]
            seen["events"] += counts["events"]
            spent = max(datetime.now().timestamp() - clock["start"], 1e-6)  # noqa: DTZ005
            rate = f"{seen['cases'] / spent:,.0f} cases/s, {seen['events'] / spent:,.0f} events/s"
            if total is None:
                bar.update(task, description=str(day), rate=rate)
            else:
                assert start is not None
                bar.update(task, completed=(day - start).days + 1, description=str(day), rate=rate)

        try:
            result = engine.run(
                settings, preset=preset, seed=seed, period_from=start, period_to=end,
                bulk=bulk, resume=resume, progress=progress,
            )  # fmt: skip
        except ValueError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    state = "interrupted (resume with --resume)" if result.interrupted else "done"
    console.print(
        f"run {result.run_id} {state}: {result.cases:,} cases, {result.events:,} events, "
        f"{result.calls:,} calls, {result.errors} refused steps in {result.seconds:.1f} s "
        f"(simulated to {result.simulated_to:%Y-%m-%d %H:%M} UTC)"
    )
    for line in result.first_errors:
        console.print(f"[yellow]refused:[/yellow] {line}")
    with session_scope(write=False) as session:
        console.print(
            format_shape(
                shape(session, district_code=settings.district_code,
                      period_from=result.period_from, period_to=result.simulated_to)
            )
        )  # fmt: skip


@app.command("report")
def report_cmd(
    from_: Annotated[str | None, typer.Option("--from", help="first local day")] = None,
    to: Annotated[str | None, typer.Option("--to", help="last local day")] = None,
) -> None:
    """Print the shape of a period (default: the latest run's): classes, rates, three rates."""
    settings = cli_settings()
    with session_scope(write=False) as session:
        if from_ and to:
            period_from = engine.local_midnight(_day(from_))
            period_to = engine.local_midnight(_day(to) + timedelta(days=1))
        else:
            from sqlalchemy import select

            row = session.scalar(
                select(SimulationRun)
                .where(SimulationRun.district_code == settings.district_code)
                .order_by(SimulationRun.id.desc())
                .limit(1)
            )
            if row is None:
                console.print("no simulation run yet; give --from and --to")
                raise typer.Exit(1)
            period_from, period_to = row.period_from, row.simulated_to
        console.print(
            format_shape(
                shape(session, district_code=settings.district_code,
                      period_from=period_from, period_to=period_to)
            )
        )  # fmt: skip
