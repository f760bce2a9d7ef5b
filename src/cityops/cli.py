"""The ``cityops`` command line: database, users, audit, serving, and the demo."""

from __future__ import annotations

import getpass
import secrets
import string
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cityops.analytics import cli as analytics_cli
from cityops.auth.roles import Role
from cityops.catalog import cli as catalog_cli
from cityops.clisupport import cli_settings, session_scope
from cityops.config import Settings
from cityops.dispatch import cli as dispatch_cli
from cityops.errors import CityopsError
from cityops.evaluation import cli as evaluation_cli
from cityops.geo import cli as geo_cli
from cityops.hotline import cli as hotline_cli
from cityops.open311 import cli as open311_cli
from cityops.ops import cli as ops_cli
from cityops.simulate import cli as simulate_cli

app = typer.Typer(
    help="cityops — city operations platform (城市运行管理服务平台).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(geo_cli.app, name="geo", help="Regions, unit grids and the geocoder.")
app.add_typer(catalog_cli.app, name="catalog", help="Catalogue, departments, routing rules.")
app.add_typer(dispatch_cli.app, name="dispatch", help="Learned dispatch suggestions.")
app.add_typer(simulate_cli.app, name="simulate", help="Simulate a district's workload.")
app.add_typer(evaluation_cli.app, name="evaluate", help="Indicators, rankings, Excel reports.")
app.add_typer(analytics_cli.app, name="analytics", help="Roll-ups, anomalies, hotspots.")
app.add_typer(open311_cli.app, name="open311", help="Open311 GeoReport v2: api keys.")
app.add_typer(ops_cli.app, name="ops", help="Webhooks and exports.")
app.command("backup")(ops_cli.backup_command)
app.command("restore")(ops_cli.restore_command)
app.add_typer(
    hotline_cli.app, name="hotline", help="12345 hotline: rates, knowledge base, callbacks."
)

console = Console()


def fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the schema of CITYOPS_DATABASE_URL to the latest version."""
    from alembic.util.exc import CommandError

    from cityops.migrate import upgrade

    settings = cli_settings()
    try:
        upgrade(settings.database_url, revision)
    except CommandError as exc:
        raise fail(
            f"cannot migrate {settings.database_url}: {exc} (a database made by another "
            "version of cityops? restore a backup of it, or start from an empty database)"
        ) from exc
    console.print(f"database at {settings.database_url} is at revision {revision}")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="login name")],
    roles: Annotated[list[Role], typer.Option("--role", help="repeat for several roles")],
    display_name: Annotated[str | None, typer.Option(help="shown name, e.g. 张伟")] = None,
    district: Annotated[str | None, typer.Option(help="6-digit district code")] = None,
    district_name: Annotated[str, typer.Option(help="name if the district is new")] = "",
    scope_area: Annotated[
        list[str] | None, typer.Option(help="region code of the data scope")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="omit to be asked (never echoed)", envvar="CITYOPS_NEW_PASSWORD"),
    ] = None,
) -> None:
    """Create a user (the first admin: `cityops user create --username admin --role admin`)."""
    from cityops.auth import service
    from cityops.auth.actor import SYSTEM

    settings = cli_settings()
    code = district or settings.district_code
    if password is None:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise fail("the passwords differ")
    try:
        with session_scope() as session:
            service.ensure_district(session, code=code, name=district_name or code)
            user = service.create_user(
                session,
                actor=SYSTEM,
                username=username,
                password=password,
                display_name=display_name or username,
                roles=[r.value for r in roles],
                district_code=code,
                scope_areas=scope_area or [],
            )
            console.print(f"created user {user.username} (id {user.id}) with roles {user.roles}")
    except CityopsError as exc:
        raise fail(f"{exc.field + ': ' if exc.field else ''}{exc.message}") from exc


@user_app.command("reset-password")
def user_reset_password(
    username: Annotated[str, typer.Option(help="login name")],
    password: Annotated[
        str | None,
        typer.Option(help="omit for a generated one-time password", envvar="CITYOPS_NEW_PASSWORD"),
    ] = None,
) -> None:
    """Set a new password, unlock the account and revoke its tokens (e.g. lost demo passwords)."""
    from sqlalchemy import select

    from cityops.auth import service
    from cityops.auth.actor import SYSTEM
    from cityops.auth.models import User

    new_password = password or one_time_password()
    try:
        with session_scope() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise fail(f"no user named {username!r}")
            service.update_user(
                session, actor=SYSTEM, user_id=user.id, password=new_password, unlock=True
            )
    except CityopsError as exc:
        raise fail(f"{exc.field + ': ' if exc.field else ''}{exc.message}") from exc
    shown = "" if password else f": {new_password}"
    console.print(f"password of {username} reset, account unlocked{shown}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit chain and report the first broken link (exit code 1 if any)."""
    from cityops.auth.audit import verify_chain

    settings = cli_settings()
    with session_scope(write=False) as session:
        result = verify_chain(session, key=settings.audit_key)
    if result.ok:
        console.print(f"audit chain intact: {result.checked} entries verified")
        return
    console.print(
        f"[red]audit chain broken[/red] at entry {result.broken_id}: {result.reason} "
        f"({result.checked} entries verified before it)"
    )
    raise typer.Exit(code=1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (PostgreSQL only)")] = 1,
) -> None:
    """Serve the API (OpenAPI at /docs)."""
    import uvicorn

    settings = cli_settings()
    if workers > 1:
        if settings.is_sqlite:
            raise fail("several workers need PostgreSQL; SQLite serves with one")
        uvicorn.run("cityops.app:create_app", factory=True, host=host, port=port, workers=workers)
        return
    from cityops.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port)


def one_time_password() -> str:
    """A random password that meets the password rule."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(10)) + "-7a"
        if any(c.isupper() for c in candidate) and any(c.isdigit() for c in candidate):
            return candidate


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    days: Annotated[int, typer.Option(help="days of history to simulate")] = 90,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="set up, then exit")] = False,
) -> None:
    """Set up a demo district on the configured database (SQLite by default) and serve it live.

    Loads Fengtai's map, the catalogue, departments and one user per role, simulates the last
    DAYS days, then serves while a live feed keeps reporting and handling cases.
    """
    import threading
    import time

    from cityops.demo import setup_demo
    from cityops.simulate.history import simulate_recent
    from cityops.simulate.live import run_live_feed

    settings = cli_settings()
    started = time.perf_counter()
    db_upgrade("head")
    created = setup_demo(settings, console=console)
    if days > 0 and not _has_cases(settings):
        with console.status(f"simulating the last {days} days…"):
            result = simulate_recent(settings, days=days)
        console.print(
            f"history: {result.cases:,} cases, {result.events:,} events and {result.calls:,} "
            f"hotline calls simulated in {result.seconds:.0f} s"
        )
    table = Table(title="demo users (passwords shown once)")
    for column in ("username", "roles", "password"):
        table.add_column(column)
    for username, roles, password in created:
        table.add_row(username, ", ".join(roles), password)
    if created:
        console.print(table)
    else:
        console.print(
            "demo users exist already; `cityops user reset-password --username NAME` sets a new one"
        )
    console.print(f"set-up took {time.perf_counter() - started:.0f} s")
    if no_serve:
        return
    stop = threading.Event()
    feed = threading.Thread(target=run_live_feed, args=(settings, stop), daemon=True)
    feed.start()
    threading.Thread(target=_train_suggestions, args=(settings,), daemon=True).start()
    console.print(f"serving on http://{host}:{port} — API docs at http://{host}:{port}/docs")
    try:
        serve(host=host, port=port, workers=1)
    finally:
        stop.set()
        feed.join(timeout=10)


def _train_suggestions(settings: Settings) -> None:
    """Train the learned class/department suggestions from the simulated history, if untrained.

    Runs beside the server (training on every closed case takes minutes on two cores; the
    most recent 10,000 are plenty for the demo), and the models are picked up once written.
    """
    from cityops.dispatch.service import train_from_cases

    if (settings.data_dir / "dispatch" / "minor_class.pickle").exists():
        return
    with session_scope(settings=settings, write=False) as session:
        results = train_from_cases(
            session=session,
            data_dir=settings.data_dir,
            district_code=settings.district_code,
            limit=10_000,
        )
    trained = ", ".join(f"{r.target} ({r.cases:,} cases)" for r in results if r.path)
    console.print(f"learned suggestions trained: {trained or 'nothing to learn from yet'}")


def _has_cases(settings: Settings) -> bool:
    from sqlalchemy import select

    from cityops.cases.models import Case

    with session_scope(settings=settings, write=False) as session:
        return session.scalar(select(Case.id).limit(1)) is not None


if __name__ == "__main__":
    app()
