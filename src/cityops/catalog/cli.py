"""``cityops catalog …``: load and export the catalogue, demo departments, routing rules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cityops.catalog import departments, routing, service
from cityops.clisupport import (
    DistrictOpt,
    district_code,
    domain_errors,
    session_scope,
    system_actor,
)
from cityops.timeutil import LOCAL_TZ, to_local

app = typer.Typer(
    help="The component/event catalogue (部件/事件), departments and routing rules.",
    no_args_is_help=True,
)
departments_app = typer.Typer(help="Departments (bureaus, street offices, utilities).")
rules_app = typer.Typer(help="Routing rules: (class, area, time) → department.")
app.add_typer(departments_app, name="departments", no_args_is_help=True)
app.add_typer(rules_app, name="rules", no_args_is_help=True)
console = Console()


@app.command("load")
def load(
    file: Annotated[
        Path | None,
        typer.Argument(help="CSV or YAML catalogue (default: the packaged one)", exists=True),
    ] = None,
    label: Annotated[str | None, typer.Option(help="version label (≤ 32 characters)")] = None,
    activate: Annotated[bool, typer.Option(help="make it the active version")] = True,
    district: DistrictOpt = None,
) -> None:
    """Load a catalogue as a new version (the old versions stay readable)."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        if file is None and label is None:
            label = service.DEFAULT_LABEL
        version = service.load_catalog_file(
            session, actor=system_actor(code), district_code=code, path=file, label=label,
            activate=activate,
        )  # fmt: skip
        console.print(
            f"loaded {version.class_count} classes as version {version.label}"
            + (" (active)" if version.active else "")
        )


@app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="target file; .csv or .yaml/.yml decides format")],
    version: Annotated[str | None, typer.Option(help="version label (default: active)")] = None,
    district: DistrictOpt = None,
) -> None:
    """Write a catalogue version to CSV or YAML (re-importable with `load`)."""
    code = district_code(district)
    with domain_errors(console), session_scope(write=False) as session:
        row = service.export_catalog(session, district_code=code, path=file, label=version)
        console.print(f"wrote {row.class_count} classes of version {row.label} to {file}")


@app.command("activate")
def activate(label: str, district: DistrictOpt = None) -> None:
    """Make an existing version the active one again."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        service.activate_version(session, actor=system_actor(code), district_code=code, label=label)
        console.print(f"version {label} is active")


@app.command("versions")
def versions(district: DistrictOpt = None) -> None:
    """List the district's catalogue versions, newest first."""
    code = district_code(district)
    with session_scope(write=False) as session:
        table = Table("label", "active", "classes", "created (local)", "source")
        for v in service.list_versions(session, district_code=code):
            table.add_row(
                v.label, "yes" if v.active else "", str(v.class_count),
                f"{to_local(v.created_at):%Y-%m-%d %H:%M}", v.source,
            )  # fmt: skip
        console.print(table)


@departments_app.command("load-demo")
def departments_load_demo(district: DistrictOpt = None) -> None:
    """Create the demo bureaus, utilities and street offices that are missing."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        streets = departments.loaded_streets(session, district_code=code) or None
        created = departments.load_demo_departments(
            session, actor=system_actor(code), district_code=code, streets=streets
        )
        console.print(f"created {len(created)} departments")


@departments_app.command("list")
def departments_list(
    dept_type: Annotated[str | None, typer.Option("--type", help="only this dept_type")] = None,
    district: DistrictOpt = None,
) -> None:
    """List departments with their ids and types."""
    code = district_code(district)
    with session_scope(write=False) as session:
        table = Table("id", "code", "name", "kind", "dept_type", "region")
        for unit in departments.list_departments(session, district_code=code, dept_type=dept_type):
            table.add_row(
                str(unit.id), unit.code, unit.name, unit.kind, unit.dept_type or "",
                unit.region_code or "",
            )  # fmt: skip
        console.print(table)


@rules_app.command("list")
def rules_list(district: DistrictOpt = None) -> None:
    """List routing rules in the order they are tried."""
    code = district_code(district)
    with session_scope(write=False) as session:
        names = {u.id: u.name for u in departments.list_departments(
            session, district_code=code, include_inactive=True)}  # fmt: skip
        table = Table("id", "prio", "class", "areas", "time", "days", "department", "active")
        for r in routing.list_rules(session, district_code=code):
            cls = " ".join(x for x in (r.kind, r.major_code, r.minor_code) if x) or "any"
            window = f"{r.time_start}–{r.time_end}" if r.time_start else ""
            target = names.get(r.department_id, str(r.department_id)) if r.department_id else ""
            table.add_row(
                str(r.id), str(r.priority), cls, ",".join(r.area_prefixes) or "any", window,
                ",".join(map(str, r.weekdays)), target or "(manual queue)",
                "yes" if r.active else "no",
            )  # fmt: skip
        console.print(table)


@rules_app.command("add")
def rules_add(
    department: Annotated[
        str | None, typer.Option(help="department code (omit for the manual queue)")
    ] = None,
    priority: Annotated[int, typer.Option(help="lower is tried first")] = 100,
    kind: Annotated[str | None, typer.Option(help="component or event")] = None,
    major: Annotated[str | None, typer.Option(help="2-digit major class")] = None,
    minor: Annotated[str | None, typer.Option(help="4-digit minor class")] = None,
    area: Annotated[
        list[str] | None, typer.Option("--area", help="region code prefix; repeatable")
    ] = None,
    time_start: Annotated[str | None, typer.Option(help="HH:MM local")] = None,
    time_end: Annotated[str | None, typer.Option(help="HH:MM local")] = None,
    weekday: Annotated[
        list[int] | None, typer.Option("--weekday", help="1=Mon … 7=Sun; repeatable")
    ] = None,
    note: Annotated[str | None, typer.Option(help="why the rule exists")] = None,
    district: DistrictOpt = None,
) -> None:
    """Add a routing rule."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        department_id = None
        if department is not None:
            department_id = departments.department_by_code(
                session, district_code=code, code=department
            ).id
        rule = routing.create_rule(
            session, actor=system_actor(code), district_code=code,
            values={
                "priority": priority, "kind": kind, "major_code": major, "minor_code": minor,
                "area_prefixes": area or [], "time_start": time_start, "time_end": time_end,
                "weekdays": weekday or [], "department_id": department_id, "note": note,
            },
        )  # fmt: skip
        console.print(f"added rule {rule.id}")


@rules_app.command("load")
def rules_load(
    file: Annotated[
        Path | None, typer.Argument(help="YAML rules file (default: the demo rules)", exists=True)
    ] = None,
    replace_all: Annotated[
        bool, typer.Option("--replace", help="delete the district's rules first")
    ] = False,
    district: DistrictOpt = None,
) -> None:
    """Add the rules of a YAML file (departments named by code)."""
    code = district_code(district)
    with domain_errors(console), session_scope() as session:
        rules = routing.load_rules_file(
            session, actor=system_actor(code), district_code=code, path=file, replace=replace_all
        )
        console.print(f"loaded {len(rules)} rules")


@rules_app.command("explain")
def rules_explain(
    kind: Annotated[str, typer.Option(help="component or event")],
    minor: Annotated[str, typer.Option(help="4-digit minor class")],
    street: Annotated[str | None, typer.Option(help="9-digit street code")] = None,
    community: Annotated[str | None, typer.Option(help="12-digit community code")] = None,
    grid: Annotated[str | None, typer.Option(help="15-digit grid code")] = None,
    at: Annotated[
        str | None, typer.Option(help="local time, e.g. 2025-03-05T23:00 (default: now)")
    ] = None,
    district: DistrictOpt = None,
) -> None:
    """Show where a case would be routed and which rules were tried."""
    code = district_code(district)
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise typer.BadParameter("expected an ISO time", param_hint="--at") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=LOCAL_TZ)
    with domain_errors(console), session_scope(write=False) as session:
        result = routing.explain(
            session, district_code=code, kind=kind, minor_code=minor, street_code=street,
            community_code=community, grid_code=grid, at=when,
        )  # fmt: skip
        for check in result.checks:
            mark = "✓" if check.matched else "✗"
            console.print(f"  {mark} rule {check.rule_id} (priority {check.priority}): "
                          f"{check.detail}")  # fmt: skip
        console.print(result.suggestion.reason)
