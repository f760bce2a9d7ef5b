"""What every CLI command needs: settings from the environment and a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.roles import Role
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.errors import CityopsError


@lru_cache(maxsize=1)
def cli_settings() -> Settings:
    return Settings()


#: One engine per distinct configuration: sessions carry their settings (audit key, costs…),
#: so a factory must never be shared between two configurations on the same database.
_factories: dict[str, tuple[Engine, sessionmaker[Session]]] = {}


def _factory(settings: Settings) -> sessionmaker[Session]:
    key = settings.model_dump_json()
    if key not in _factories:
        engine = make_engine(settings.database_url)
        _factories[key] = (engine, make_sessionmaker(engine, settings))
    return _factories[key][1]


@contextmanager
def session_scope(*, write: bool = True, settings: Settings | None = None) -> Iterator[Session]:
    """A session on the configured database, committed on success, rolled back on error."""
    with unit_of_work(_factory(settings or cli_settings()), write=write) as session:
        yield session


DistrictOpt = Annotated[
    str | None,
    typer.Option("--district", help="6-digit district code (default: CITYOPS_DISTRICT_CODE)."),
]


def district_code(value: str | None) -> str:
    """The ``--district`` given, or the configured one; refuses anything but 6 digits."""
    code = value or cli_settings().district_code
    if len(code) != 6 or not code.isdigit():
        raise typer.BadParameter("a district code has 6 digits", param_hint="--district")
    return code


def system_actor(code: str) -> Actor:
    """The command line acts as the system, seeing the whole district like the command centre."""
    return replace(SYSTEM, district_code=code, roles=frozenset({Role.ADMIN}))


@contextmanager
def domain_errors(console: Console) -> Iterator[None]:
    """Domain refusals become a one-line message naming the field and exit code 1."""
    try:
        yield
    except CityopsError as exc:
        where = f"{exc.field}: " if exc.field else ""
        console.print(f"[red]error:[/red] {where}{exc.message}")
        raise typer.Exit(1) from exc
