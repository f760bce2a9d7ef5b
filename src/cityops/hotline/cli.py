"""``cityops hotline …``: the three rates, loading the knowledge base, importing callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.auth.models import User
from cityops.auth.service import actor_of
from cityops.clisupport import (
    DistrictOpt,
    district_code,
    domain_errors,
    session_scope,
    system_actor,
)
from cityops.hotline import knowledge, rates, service
from cityops.hotline.enums import RateGroup

app = typer.Typer(
    help="The 12345 hotline (接诉即办): rates, knowledge base, callbacks.", no_args_is_help=True
)
kb_app = typer.Typer(help="The knowledge base (知识库).", no_args_is_help=True)
callbacks_app = typer.Typer(help="Callbacks (回访).", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(callbacks_app, name="callbacks")
console = Console()


def _user(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise typer.BadParameter(f"no active user {username!r}", param_hint="--as")
    return actor_of(user)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@app.command("rates")
def rates_command(
    period: Annotated[str, typer.Option(help="2026, 2026-Q4, 2026-11, 2026-W47 or 2026-11-23")],
    by: Annotated[RateGroup, typer.Option(help="group by street or department")] = (
        RateGroup.STREET
    ),
    district: DistrictOpt = None,
) -> None:
    """Print the three rates (响应率, 解决率, 满意率) and the composite for a period."""
    code = district_code(district)
    with domain_errors(console), session_scope(write=False) as session:
        start, end = rates.parse_period(period)
        result = rates.three_rates(
            session, actor=system_actor(code), by=by, period_from=start, period_to=end
        )
    table = Table(title=f"三率 {period} by {by.value} (district {code})")
    for column in (by.value, "requests", "response", "rated", "resolution", "satisfaction",
                   "composite"):  # fmt: skip
        table.add_column(column)
    for row in [*result.rows, result.total]:
        label = row.name or row.key or "(none)"
        if row.key and row.name:
            label = f"{row.name} ({row.key})"
        table.add_row(
            label,
            str(row.requests),
            _pct(row.response_rate),
            str(row.rated),
            _pct(row.resolution_rate),
            _pct(row.satisfaction_rate),
            _pct(row.composite),
        )
    console.print(table)
    p = result.policy
    console.print(
        f"basically satisfied counts {p.basic_weight:g}; composite = {p.weight_response:g} × "
        f"response + {p.weight_resolution:g} × resolution + {p.weight_satisfaction:g} × "
        "satisfaction"
    )


@kb_app.command("load")
def kb_load(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or YAML: title, body, keywords, category", exists=True, dir_okay=False
        ),
    ],
    district: DistrictOpt = None,
) -> None:
    """Create or update (by title) the knowledge articles of a file; all rows or none."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        result = knowledge.load_articles(session, actor=system_actor(code), path=file)
    console.print(f"knowledge base: {result.created} created, {result.updated} updated")


@callbacks_app.command("import")
def callbacks_import(
    file: Annotated[
        Path, typer.Argument(help="CSV of SMS/IVR results", exists=True, dir_okay=False)
    ],
    as_user: Annotated[
        str, typer.Option("--as", help="username of the operator the results are recorded by")
    ],
) -> None:
    """Import callback results (request_id or case_number, resolved, satisfaction, …)."""
    with domain_errors(console), session_scope() as session:
        actor = _user(session, as_user)
        summary = service.import_callbacks(
            session,
            actor=actor,
            text=file.read_text(encoding="utf-8-sig"),
            source=f"file:{file.name}",
        )
    console.print(f"imported {summary.imported} callbacks; {summary.reopened} cases reopened")
    for line in summary.not_reopened:
        console.print(f"  not reopened: {line}")
