"""``cityops open311``: issue, list and revoke the api keys of citizens' apps."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cityops.clisupport import cli_settings, session_scope
from cityops.errors import CityopsError

app = typer.Typer(help="Open311 GeoReport v2: api keys of citizens' apps.", no_args_is_help=True)
console = Console()


def _fail(exc: CityopsError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc.field + ': ' if exc.field else ''}{exc.message}")
    return typer.Exit(code=1)


@app.command("key-create")
def key_create(
    name: Annotated[str, typer.Option(help="the client app, e.g. 随手拍")],
    district: Annotated[str | None, typer.Option(help="6-digit district code")] = None,
) -> None:
    """Issue an api key (printed once; only its hash is stored)."""
    from dataclasses import replace

    from cityops.auth.actor import SYSTEM
    from cityops.open311 import service

    code = district or cli_settings().district_code
    try:
        with session_scope() as session:
            key, row = service.create_api_key(
                session, actor=replace(SYSTEM, district_code=code), district_code=code, name=name
            )
            console.print(f"api key {row.id} for {row.name!r} (district {code}):")
            console.print(key, markup=False, highlight=False)
    except CityopsError as exc:
        raise _fail(exc) from exc


@app.command("key-list")
def key_list(
    district: Annotated[str | None, typer.Option(help="6-digit district code")] = None,
) -> None:
    """The district's api keys (prefixes only)."""
    from cityops.open311 import service

    code = district or cli_settings().district_code
    table = Table(title=f"Open311 api keys of {code}")
    for column in ("id", "name", "prefix", "active", "created"):
        table.add_column(column)
    with session_scope(write=False) as session:
        for row in service.list_api_keys(session, district_code=code):
            table.add_row(
                str(row.id), row.name, row.key_prefix, str(row.active), row.created_at.isoformat()
            )
    console.print(table)


@app.command("key-revoke")
def key_revoke(
    key_id: Annotated[int, typer.Argument(help="id from key-list")],
    district: Annotated[str | None, typer.Option(help="6-digit district code")] = None,
) -> None:
    """Stop accepting a key at once."""
    from dataclasses import replace

    from cityops.auth.actor import SYSTEM
    from cityops.open311 import service

    code = district or cli_settings().district_code
    try:
        with session_scope() as session:
            service.revoke_api_key(
                session, actor=replace(SYSTEM, district_code=code), key_id=key_id
            )
    except CityopsError as exc:
        raise _fail(exc) from exc
    console.print(f"api key {key_id} revoked")
