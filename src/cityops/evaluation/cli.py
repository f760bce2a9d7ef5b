"""``cityops evaluate …``: indicators and rankings for a period, and the Excel workbooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.roles import Role
from cityops.clisupport import cli_settings, session_scope
from cityops.errors import CityopsError
from cityops.evaluation.config import Subject, load_config
from cityops.evaluation.export import evaluation_workbook, self_evaluation_workbook
from cityops.evaluation.indicators import evaluate, resolve_period
from cityops.evaluation.selfeval import self_evaluation

app = typer.Typer(
    help="Evaluation (绩效评价): indicators, rankings and the Excel workbooks.",
    no_args_is_help=True,
)
console = Console()

PeriodOpt = Annotated[
    str,
    typer.Option(
        help="2025, 2025-Q3, 2025-09, 2025-W38, 2025-09-18 or 2025-07-01..2025-08-15",
    ),
]
DistrictOpt = Annotated[
    str | None,
    typer.Option("--district", help="6-digit district code (default: CITYOPS_DISTRICT_CODE)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="YAML with formulas and weights (default: the packaged ones)."),
]


def _actor(value: str | None) -> Actor:
    code = value or cli_settings().district_code
    if len(code) != 6 or not code.isdigit():
        raise typer.BadParameter("a district code has 6 digits", param_hint="--district")
    # The command line sees the whole district, as the command centre does.
    return replace(SYSTEM, district_code=code, roles=frozenset({Role.ADMIN}))


@contextmanager
def _errors() -> Iterator[None]:
    """Domain refusals become a one-line message and exit code 1, not a traceback."""
    try:
        yield
    except CityopsError as exc:
        where = f"{exc.field}: " if exc.field else ""
        console.print(f"[red]error:[/red] {where}{exc.message}")
        raise typer.Exit(1) from exc


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}"


@app.command("run")
def run_command(
    period: PeriodOpt,
    xlsx: Annotated[Path | None, typer.Option(help="write the evaluation workbook here")] = None,
    subject: Annotated[
        Subject | None, typer.Option(help="one subject type (default: all three)")
    ] = None,
    district: DistrictOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Indicators, composite scores and rankings per subject type; optionally an .xlsx."""
    actor = _actor(district)
    subjects = [subject] if subject is not None else list(Subject)
    with _errors(), session_scope(write=False) as session:
        cfg = load_config(config)
        p = resolve_period(period)
        results = [
            evaluate(session, actor=actor, subject=s.value, period=p, config=cfg) for s in subjects
        ]
    for result in results:
        table = Table(title=f"{result.subject} · {result.period}")
        for column in ("rank", "key", "name", "composite"):
            table.add_column(column)
        for row in result.rows:
            rank = "—" if row.rank is None else str(row.rank)
            table.add_row(rank, row.key, row.name or "", _score(row.composite))
        console.print(table)
    if xlsx is not None:
        evaluation_workbook(results).save(xlsx)
        console.print(f"wrote {xlsx}")


@app.command("self-eval")
def self_eval_command(
    period: PeriodOpt,
    xlsx: Annotated[Path, typer.Option(help="write the 项目支出绩效自评表 here")],
    availability: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="platform availability from monitoring, e.g. 0.9995"),
    ] = None,
    district: DistrictOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The project performance self-evaluation table with its quantitative rows filled in."""
    actor = _actor(district)
    with _errors(), session_scope(write=False) as session:
        cfg = load_config(config)
        table = self_evaluation(
            session,
            actor=actor,
            period=resolve_period(period),
            availability=availability,
            config=cfg,
        )
    self_evaluation_workbook(table).save(xlsx)
    console.print(
        f"computed score {table.computed_score} of {table.computed_weight:g}; wrote {xlsx}"
    )
