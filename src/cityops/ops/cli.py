"""``cityops backup`` and ``cityops restore`` (and the ``ops`` group holding both)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cityops.auth.actor import Actor
from cityops.clisupport import cli_settings

app = typer.Typer(help="Backup, restore and exports.", no_args_is_help=True)
console = Console()


def _default_output() -> Path:
    from cityops.timeutil import to_local, utcnow

    return Path("var/backups") / f"cityops-{to_local(utcnow()):%Y%m%d-%H%M%S}.tar.gz"


@app.command("backup")
def backup_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="archive to write (.tar.gz)")
    ] = None,
) -> None:
    """Snapshot the database and attachments online into one archive with SHA-256 checksums."""
    from cityops.db import make_engine
    from cityops.ops.backup import backup

    settings = cli_settings()
    engine = make_engine(settings.database_url)
    try:
        report = backup(
            engine=engine,
            attachments_dir=settings.attachments_dir,
            output=output or _default_output(),
        )
    finally:
        engine.dispose()
    rows = sum(n for n, _ in report.tables.values())
    console.print(
        f"backup written to {report.path}: {len(report.tables)} tables, {rows} rows, "
        f"{report.attachments} attachments, {report.bytes} bytes"
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@app.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="archive made by `cityops backup`")],
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="check the checksums, restore nothing")
    ] = False,
) -> None:
    """Restore into an EMPTY database (run `cityops db upgrade` first); checksums are checked
    before anything is written, and a damaged archive is refused."""
    import tempfile

    from cityops.db import make_engine
    from cityops.ops.backup import BackupError, restore, unpack_verified

    settings = cli_settings()
    try:
        if verify_only:
            with tempfile.TemporaryDirectory() as tmp:
                manifest = unpack_verified(archive, Path(tmp))
            console.print(
                f"{archive} is intact: {len(manifest['files'])} files match their checksums"
            )
            return
        engine = make_engine(settings.database_url)
        try:
            report = restore(
                engine=engine, attachments_dir=settings.attachments_dir, archive=archive
            )
        finally:
            engine.dispose()
    except BackupError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    console.print(
        f"restored {sum(report.tables.values())} rows in {len(report.tables)} tables and "
        f"{report.attachments} attachments into {settings.database_url}"
    )


def _system(district: str | None) -> tuple[str, Actor]:
    from dataclasses import replace

    from cityops.auth.actor import SYSTEM

    code = district or cli_settings().district_code
    return code, replace(SYSTEM, district_code=code)


@app.command("webhooks-subscribe")
def webhooks_subscribe(
    name: Annotated[str, typer.Option(help="the receiving system, e.g. 区应急局")],
    url: Annotated[str, typer.Option(help="https endpoint that receives the POSTs")],
    event: Annotated[list[str] | None, typer.Option(help="case action; repeat; none = all")] = None,
    area: Annotated[list[str] | None, typer.Option(help="region code prefix; repeat")] = None,
    district: Annotated[str | None, typer.Option(help="6-digit district code")] = None,
) -> None:
    """Subscribe an endpoint to case events; prints the HMAC secret once."""
    from cityops.clisupport import session_scope
    from cityops.errors import CityopsError
    from cityops.ops import webhooks

    _code, actor = _system(district)
    try:
        with session_scope() as session:
            row = webhooks.subscribe(
                session,
                actor=actor,
                name=name,
                url=url,
                event_types=event or [],
                area_prefixes=area or [],
            )
            console.print(f"subscription {row.id} created; signing secret (shown once):")
            console.print(row.secret, markup=False, highlight=False)
    except CityopsError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from exc


@app.command("webhooks-run")
def webhooks_run(
    loop: Annotated[bool, typer.Option(help="keep running (Ctrl-C to stop)")] = False,
    interval: Annotated[float, typer.Option(help="seconds between passes")] = 5.0,
) -> None:
    """Fan out new case events and deliver what is due (once, or in a loop)."""
    import time

    from cityops.clisupport import session_scope
    from cityops.ops import webhooks

    sender = webhooks.HttpSender()
    while True:
        with session_scope() as session:
            stats = webhooks.run_once(session, sender=sender)
        console.print(
            f"fanned out {stats.fanned_out}, delivered {stats.delivered}, "
            f"to retry {stats.retried}, given up {stats.failed}"
        )
        if not loop:
            return
        time.sleep(interval)  # a polling worker; the interval is configuration, not timing


@app.command("webhooks-replay")
def webhooks_replay(
    delivery_id: Annotated[int, typer.Argument(help="id from the delivery log")],
    district: Annotated[str | None, typer.Option(help="6-digit district code")] = None,
) -> None:
    """Send a delivery again at the next run."""
    from cityops.clisupport import session_scope
    from cityops.errors import CityopsError
    from cityops.ops import webhooks

    _code, actor = _system(district)
    try:
        with session_scope() as session:
            webhooks.replay(session, actor=actor, delivery_id=delivery_id)
    except CityopsError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from exc
    console.print(f"delivery {delivery_id} will be sent again at the next run")


@app.command("export")
def export_command(
    what: Annotated[str, typer.Argument(help="cases or events")],
    start: Annotated[str, typer.Option("--from", help="e.g. 2026-11-01 (Asia/Shanghai)")],
    end: Annotated[str, typer.Option("--to", help="exclusive end, e.g. 2026-12-01")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write")],
    district: Annotated[str | None, typer.Option(help="6-digit district code")] = None,
) -> None:
    """Bulk CSV export of cases (by report time) or events (by time) for a period."""
    from datetime import datetime

    from cityops.clisupport import session_scope
    from cityops.errors import CityopsError
    from cityops.ops.export import export_csv
    from cityops.timeutil import LOCAL_TZ

    def parse(value: str) -> datetime:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)

    code, _actor = _system(district)
    try:
        with session_scope(write=False) as session, output.open("w", newline="") as out:
            count = export_csv(
                session, what=what, district_code=code, start=parse(start), end=parse(end), out=out
            )
    except (CityopsError, ValueError) as exc:
        console.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
        raise typer.Exit(code=1) from exc
    console.print(f"{count} {what} written to {output}")
