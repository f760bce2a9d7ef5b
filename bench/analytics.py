"""Dashboard, analytics and evaluation query times over a year of synthetic cases, and HTTP intake.

Loads ``--cases`` synthetic cases (default 20 million: one year ending today) into SQLite and/or
PostgreSQL, then times every dashboard figure (``cityops.web.stats``), every analytics question
(``cityops.analytics.queries``) and the month's evaluation of every subject
(``cityops.evaluation.indicators.evaluate``) ``--repeat`` times after one warm-up call, and
prints p50/p95 against the goals: p95 < 200 ms per dashboard or analytics query, < 2 s for a
month's evaluation (each subject and all subjects together). Then it serves the loaded database
with the real server (``cityops serve``) and has ``--intake-clients`` threads report cases over
HTTP for ``--intake-seconds`` (goal on PostgreSQL: >= 1,000 cases/s), and prints the server's
peak memory (VmHWM of the server and its worker processes).

    .venv/bin/python bench/analytics.py --cases 200000 --intake-seconds 10
    .venv/bin/python bench/analytics.py --db postgresql --cases 20000000 --skip-intake
    .venv/bin/python bench/analytics.py --db postgresql --pg-schema bench_analytics_big --keep
    .venv/bin/python bench/analytics.py --db postgresql --pg-schema bench_analytics_big --reuse
        # (the data still ends on the day it was loaded: rerun the same day for like figures)

What the data is, and what it is not:
  * Geography: district 110106 cut into 26 rectangular streets, 369 communities and 3,321
    unit grids (real WGS84 polygons, so the geocoder answers intake reports), loaded with
    ``geo.service.replace_regions``; the demo departments (bureaus, utilities, one office per
    street) with ``catalog.service.ensure_demo_departments``; the default catalogue; one
    inspector per ten grids.
  * Cases: Zipf-like class popularity, log-normal grid hotspots, a weekly and seasonal rhythm,
    a few injected street x class spikes (so anomaly detection has something to find), sources
    inspector/hotline/public/sensor, and a lifecycle per case (verify for non-inspector
    sources, register or reject or void, dispatch with returns, extensions, urges, handle ~90 %
    on time, check with rework, close) truncated at "now", so recent cases are still open.
    Deadlines approximate the working calendar (8 working hours ~ 1.4 calendar days) instead of
    running ``cases.clock``: query cost does not depend on the exact minute a case is due.
  * Events are NOT stored for the whole year: 20 million cases make ~140 million events, which
    would take hours to write and are read by none of the dashboard or analytics queries. The
    roll-ups (``case_stats``) are instead filled by the app's own counting code: every
    synthetic counted event goes through ``analytics.rollup.Tally.add_case`` into a
    ``rollup.Tally`` written with ``rollup.write``, exactly what ``cases.bulk`` does. Only the
    events of the evaluated month are stored (every action), so the evaluation's drill-downs
    and scoped viewers have them. The evaluation's cohort roll-ups (``case_cohorts``) are
    filled by the app's own ``analytics.cohorts.contributions`` of each case's final row, and
    every synthetic verify and check is counted for its inspector, as the writers do.
  * Bulk-load shortcuts (load only): the secondary indexes of ``cases`` are dropped during the
    load and rebuilt after it (``--no-defer-indexes`` keeps them), rows go through ``COPY``
    (``cases.bulk.copy_rows``) on PostgreSQL and executemany in one transaction per chunk with
    ``PRAGMA synchronous=OFF`` on SQLite; then VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite).

Everything runs on loopback; every loop is bounded in count or time. The schema comes from the
migrations (``--schema auto`` falls back to the models, loudly, if the migrations disagree).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import numpy as np
import yaml
from shapely.geometry import box
from sqlalchemy import Engine, Table, func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

import cityops.models  # noqa: F401  (registers every table on Base.metadata)
from cityops.analytics import cohorts, queries, rollup
from cityops.analytics.models import MEASURES, CaseStat
from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.models import OrgUnit, User
from cityops.auth.service import actor_of, create_user, ensure_district
from cityops.cases import bulk
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseCounter
from cityops.catalog import departments as catalog_departments
from cityops.catalog.models import CatalogClass
from cityops.catalog.service import active_version, ensure_default_catalog
from cityops.config import Settings
from cityops.db import Base, make_engine, make_sessionmaker, unit_of_work, writer_bind
from cityops.evaluation import indicators, selfeval
from cityops.evaluation.config import SUBJECTS
from cityops.geo.models import LEVELS, GeoGeneration, Region, RegionLevel
from cityops.geo.service import RegionInput, replace_regions
from cityops.timeutil import LOCAL_TZ, to_local, utcnow
from cityops.web import stats

DISTRICT = "110106"
DISTRICT_NAME = "丰台区"
#: Fengtai's rough bounding box (WGS84); streets tile it 13 x 2.
BBOX = (116.10, 39.78, 116.42, 39.90)
STREET_COLS, STREET_ROWS = 13, 2
COMMUNITIES = 369
GRID_SIDE = 3  # grids per community: GRID_SIDE²
GRIDS_PER_INSPECTOR = 10
PASSWORD = "Bench-analytics-7a"
AUDIT_KEY = "bench-analytics"
DASHBOARD_GOAL_S = 0.200
EVALUATION_GOAL_S = 2.0
INTAKE_GOAL = 1000.0

SOURCES = ("inspector", "hotline", "public", "sensor")
SOURCE_P = (0.55, 0.25, 0.12, 0.08)
HOUR_WEIGHTS = (
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4.0, 5.0, 5.0, 4.5,
    3.5, 4.0, 4.5, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.8, 1.5, 1.2,
)  # fmt: skip
P_VOID, P_REJECT, P_RETURN, P_EXTENSION = 0.01, 0.04, 0.03, 0.02
P_URGE, P_ON_TIME, P_REWORK, P_STUCK, P_URGENT = 0.02, 0.90, 0.03, 0.0005, 0.05
HOUR = 3600.0

#: Users the bench creates (username suffix → roles).
STAFF = {
    "operator": "operator",
    "shift-lead": "shift_lead",
    "dispatcher": "dispatcher",
    "leader": "leader",
    "handler": "department_handler",
}

A_REPORT, A_ASSIGN_VERIFY, A_VERIFY = "report", "assign_verify", "verify"
A_REGISTER, A_REJECT, A_VOID, A_DISPATCH = "register", "reject", "void", "dispatch"
A_RETURN, A_REQUEST_EXT, A_APPROVE_EXT = "return", "request_extension", "approve_extension"
A_URGE, A_HANDLE, A_ASSIGN_CHECK, A_CHECK = "urge", "handle", "assign_check", "check"
A_REWORK, A_CLOSE = "rework", "close"
# The synthetic lifecycle spells actions itself for speed; fail at once if the app renamed one.
assert {
    A_REPORT, A_ASSIGN_VERIFY, A_VERIFY, A_REGISTER, A_REJECT, A_VOID, A_DISPATCH, A_RETURN,
    A_REQUEST_EXT, A_APPROVE_EXT, A_URGE, A_HANDLE, A_ASSIGN_CHECK, A_CHECK, A_REWORK, A_CLOSE,
} <= {a.value for a in Action}  # fmt: skip

TO_STATUS = {
    A_REPORT: "reported", A_ASSIGN_VERIFY: "verifying", A_VERIFY: "verified",
    A_REGISTER: "registered", A_REJECT: "rejected", A_VOID: "voided",
    A_DISPATCH: "dispatched", A_RETURN: "returned", A_REQUEST_EXT: "extension_requested",
    A_APPROVE_EXT: "dispatched", A_HANDLE: "handled", A_ASSIGN_CHECK: "checking",
    A_REWORK: "dispatched", A_CLOSE: "closed",
}  # fmt: skip
ACTOR_ROLE = {
    A_ASSIGN_VERIFY: "operator", A_VERIFY: "inspector", A_REGISTER: "shift_lead",
    A_REJECT: "shift_lead", A_VOID: "shift_lead", A_DISPATCH: "dispatcher",
    A_RETURN: "department_handler", A_REQUEST_EXT: "department_handler",
    A_APPROVE_EXT: "shift_lead", A_URGE: "dispatcher", A_HANDLE: "department_handler",
    A_ASSIGN_CHECK: "dispatcher", A_CHECK: "inspector", A_REWORK: "dispatcher",
    A_CLOSE: "shift_lead",
}  # fmt: skip
#: The columns of ``cases`` the loader writes (the rest are NULL).
CASE_COLUMNS = (
    "id", "district_code", "number", "source", "kind", "major_code", "minor_code",
    "class_name", "catalog_version", "urgency", "description", "lon", "lat", "street_code",
    "community_code", "grid_code", "status", "reported_by_id", "department_id", "assignee_id",
    "verify_result", "deadline_kind", "deadline_hours", "due_at", "handled_on_time",
    "reported_at", "registered_at", "dispatched_at", "handled_at", "closed_at", "updated_at",
    "rework_count", "return_count", "urge_count", "extension_count", "version",
)  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


# --- databases ---------------------------------------------------------------------------------


def pg_schema_url(base: str, schema: str) -> str:
    """``base`` with every connection's search_path set to ``schema`` (as tests/conftest.py)."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@dataclass
class Target:
    backend: str
    url: str
    #: Drops the schema or removes the file (None: keep).
    cleanup: Callable[[], None] | None
    where: str


def open_target(backend: str, args: argparse.Namespace) -> Target:
    if backend == "postgresql":
        schema = args.pg_schema or f"bench_analytics_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        admin.dispose()

        def drop() -> None:
            engine = make_engine(args.pg_url)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()

        return Target(
            backend, pg_schema_url(args.pg_url, schema), None if args.keep else drop,
            f"schema {schema}",
        )  # fmt: skip
    if args.sqlite_path:
        path = Path(args.sqlite_path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return Target(backend, f"sqlite:///{path}", None if args.keep else remove, str(path))
    directory = Path(tempfile.mkdtemp(prefix="cityops-bench-analytics-"))
    path = directory / "cityops.db"
    return Target(
        backend, f"sqlite:///{path}",
        None if args.keep else (lambda: shutil.rmtree(directory, ignore_errors=True)), str(path),
    )  # fmt: skip


def schema_drift(engine: Engine) -> list[str]:
    """Tables or columns where the database differs from the models."""
    found = sa_inspect(engine)
    tables = set(found.get_table_names())
    problems = []
    for table in Base.metadata.sorted_tables:
        if table.name not in tables:
            problems.append(f"table {table.name} missing")
            continue
        have = {c["name"] for c in found.get_columns(table.name)}
        want = {c.name for c in table.columns}
        if have != want:
            problems.append(
                f"{table.name}: missing {sorted(want - have)}, extra {sorted(have - want)}"
            )
    return problems


def wipe(engine: Engine) -> None:
    """Drop every table (the migrations' and ours) so the models can build the schema."""
    with engine.begin() as conn:
        names = sa_inspect(conn).get_table_names()
        if engine.dialect.name == "postgresql":
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


def build_schema(url: str, mode: str) -> str:
    """The schema from the migrations (or the models); returns how it was built."""
    engine = make_engine(url)
    try:
        if mode == "metadata":
            Base.metadata.create_all(engine)
            return "models (Base.metadata.create_all)"
        from cityops.migrate import upgrade

        upgrade(url)
        drift = schema_drift(engine)
        if not drift:
            return "migrations (alembic upgrade head)"
        message = "SCHEMA DRIFT: the migrations disagree with the models: " + "; ".join(drift)
        if mode == "migrations":
            raise SystemExit(message + " (rerun with --schema metadata or auto)")
        log(f"  !! {message}")
        log("  !! falling back to Base.metadata.create_all for this run")
        wipe(engine)
        Base.metadata.create_all(engine)
        return "models (migrations drifted, see above)"
    finally:
        engine.dispose()


def make_settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        environment="test", database_url=url, data_dir=data_dir, audit_key=AUDIT_KEY,
        district_code=DISTRICT, argon2_time_cost=1, argon2_memory_kib=8 * 1024,
    )  # fmt: skip


# --- the world: geography, catalogue, departments, users ------------------------------------


@dataclass(frozen=True)
class ClassInfo:
    kind: str
    major_code: str
    minor_code: str
    name: str
    dept_type: str | None
    #: (deadline kind, hours, seconds of calendar time) for normal and urgent cases.
    normal: tuple[str, float, float]
    urgent: tuple[str, float, float]


@dataclass
class World:
    catalog_label: str
    classes: list[ClassInfo]
    grid_codes: list[str]
    community_of_grid: list[str]
    street_of_grid: list[str]
    street_index_of_grid: np.ndarray
    grid_rects: np.ndarray  # (grids, 4): min lon, min lat, max lon, max lat
    streets: list[str]
    #: Department per (class index, street index) and a second one for re-dispatch after a
    #: return.
    primary: list[list[int]]
    secondary: list[list[int]]
    department_names: dict[int, str]
    inspector_of_grid: list[int]
    staff: dict[str, int]


def _calendar_seconds(kind: str, hours: float) -> float:
    """A deadline in calendar seconds: working hours are 8 a day, 5 days a week."""
    if kind == "working":
        return hours / 8.0 * 24.0 * 7.0 / 5.0 * HOUR
    return hours * HOUR


def _tile(n: int) -> tuple[int, int]:
    """(columns, rows) with columns x rows = n, as square as possible."""
    cols = min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: abs(d - math.sqrt(n)))
    return cols, n // cols


def synthetic_regions() -> list[RegionInput]:
    """District > 26 streets > 369 communities > 3,321 grids, rectangles tiling the bbox."""
    west, south, east, north = BBOX
    streets = STREET_COLS * STREET_ROWS
    try:
        spec = yaml.safe_load(catalog_departments.DEMO_DEPARTMENTS_FILE.read_text("utf-8"))
        street_names = [s["name"] for s in spec.get("streets", [])]
    except (OSError, AttributeError, KeyError, TypeError):
        street_names = []
    regions = [RegionInput(DISTRICT, RegionLevel.DISTRICT, DISTRICT_NAME, None, box(*BBOX))]
    dw, dh = (east - west) / STREET_COLS, (north - south) / STREET_ROWS
    for s in range(streets):
        sx, sy = west + (s % STREET_COLS) * dw, south + (s // STREET_COLS) * dh
        street = f"{DISTRICT}{s + 1:03d}"
        name = street_names[s] if s < len(street_names) else f"合成街道{s + 1:03d}"
        regions.append(
            RegionInput(street, RegionLevel.STREET, name, DISTRICT, box(sx, sy, sx + dw, sy + dh),
                        synthetic=True)
        )  # fmt: skip
        k = COMMUNITIES // streets + (1 if s < COMMUNITIES % streets else 0)
        cols, rows = _tile(k)
        cw, ch = dw / cols, dh / rows
        for c in range(k):
            cx, cy = sx + (c % cols) * cw, sy + (c // cols) * ch
            community = f"{street}{c + 1:03d}"
            regions.append(
                RegionInput(community, RegionLevel.COMMUNITY, f"{name}第{c + 1}社区", street,
                            box(cx, cy, cx + cw, cy + ch), synthetic=True)
            )  # fmt: skip
            gw, gh = cw / GRID_SIDE, ch / GRID_SIDE
            for g in range(GRID_SIDE * GRID_SIDE):
                gx, gy = cx + (g % GRID_SIDE) * gw, cy + (g // GRID_SIDE) * gh
                regions.append(
                    RegionInput(f"{community}{g + 1:03d}", RegionLevel.GRID,
                                f"{name}第{c + 1}社区{g + 1}号网格", community,
                                box(gx, gy, gx + gw, gy + gh), synthetic=True)
                )  # fmt: skip
    return regions


def set_up_world(factory: sessionmaker[Session]) -> World:
    """Geography, catalogue, departments and users (idempotent, so ``--reuse`` can call it)."""
    with unit_of_work(factory) as session:
        ensure_district(session, code=DISTRICT, name=DISTRICT_NAME)
        ensure_default_catalog(session, district_code=DISTRICT)
        if session.get(GeoGeneration, DISTRICT) is None:
            regions = synthetic_regions()
            replace_regions(
                session, actor=replace(SYSTEM, district_code=DISTRICT), district_code=DISTRICT,
                levels=LEVELS, regions=regions, source="bench/analytics.py synthetic rectangles",
            )  # fmt: skip
        catalog_departments.ensure_demo_departments(session, district_code=DISTRICT)
        grids = session.execute(
            select(Region.code, Region.min_lon, Region.min_lat, Region.max_lon, Region.max_lat)
            .where(Region.district_code == DISTRICT, Region.level == RegionLevel.GRID.value)
            .order_by(Region.code)
        ).all()
        staff = _ensure_staff(session, [g.code for g in grids])
    with factory() as session:
        version = active_version(session, district_code=DISTRICT)
        assert version is not None
        classes = [
            ClassInfo(
                kind=c.kind,
                major_code=c.major_code,
                minor_code=c.minor_code,
                name=c.minor_name,
                dept_type=c.dept_type,
                normal=(
                    c.normal_deadline_kind,
                    c.normal_deadline_hours,
                    _calendar_seconds(c.normal_deadline_kind, c.normal_deadline_hours),
                ),
                urgent=(
                    c.urgent_deadline_kind,
                    c.urgent_deadline_hours,
                    _calendar_seconds(c.urgent_deadline_kind, c.urgent_deadline_hours),
                ),
            )
            for c in session.scalars(
                select(CatalogClass)
                .where(CatalogClass.version_id == version.id, CatalogClass.active.is_(True))
                .order_by(CatalogClass.position)
            )
        ]
        units = list(
            session.scalars(
                select(OrgUnit).where(
                    OrgUnit.district_code == DISTRICT,
                    OrgUnit.kind.in_(catalog_departments.DEPARTMENT_KINDS),
                    OrgUnit.active.is_(True),
                )
            )
        )
        label = version.label
    grid_codes = [g.code for g in grids]
    streets = sorted({code[:9] for code in grid_codes})
    street_index = {code: i for i, code in enumerate(streets)}
    by_type: dict[str, int] = {}
    offices: dict[str, int] = {}
    for unit in sorted(units, key=lambda u: u.id):
        if unit.kind == "street_office" and unit.region_code:
            offices.setdefault(unit.region_code, unit.id)
        elif unit.dept_type:
            by_type.setdefault(unit.dept_type, unit.id)
    fallback = by_type.get("city_management") or min(u.id for u in units)
    primary: list[list[int]] = []
    secondary: list[list[int]] = []
    for c in classes:
        row, alt = [], []
        for s in streets:
            office = offices.get(s, fallback)
            first = office if c.dept_type == "street" else by_type.get(c.dept_type or "", fallback)
            row.append(first)
            alt.append(office if first != office else fallback)
        primary.append(row)
        secondary.append(alt)
    inspectors = [staff[f"inspector-{i // GRIDS_PER_INSPECTOR:04d}"] for i in range(len(grids))]
    return World(
        catalog_label=label,
        classes=classes,
        grid_codes=grid_codes,
        community_of_grid=[code[:12] for code in grid_codes],
        street_of_grid=[code[:9] for code in grid_codes],
        street_index_of_grid=np.array([street_index[code[:9]] for code in grid_codes]),
        grid_rects=np.array([(g.min_lon, g.min_lat, g.max_lon, g.max_lat) for g in grids]),
        streets=streets,
        primary=primary,
        secondary=secondary,
        department_names={u.id: u.name for u in units},
        inspector_of_grid=inspectors,
        staff=staff,
    )


def _ensure_staff(session: Session, grid_codes: list[str]) -> dict[str, int]:
    """The bench's users by short name; inspectors get ten grids each."""
    wanted: list[tuple[str, str, list[str]]] = [(k, r, []) for k, r in STAFF.items()]
    for i in range(0, len(grid_codes), GRIDS_PER_INSPECTOR):
        wanted.append(
            (f"inspector-{i // GRIDS_PER_INSPECTOR:04d}", "inspector",
             grid_codes[i : i + GRIDS_PER_INSPECTOR])
        )  # fmt: skip
    existing = dict(
        session.execute(select(User.username, User.id).where(User.username.like("bench-%"))).all()
    )
    found: dict[str, int] = {}
    for short, role, areas in wanted:
        username = f"bench-{short}"
        if username not in existing:
            user = create_user(
                session, actor=replace(SYSTEM, district_code=DISTRICT), username=username,
                password=PASSWORD, display_name=f"压测{short}", roles=[role],
                district_code=DISTRICT, scope_areas=areas,
            )  # fmt: skip
            existing[username] = user.id
        found[short] = int(existing[username])
    return found


# --- loading -------------------------------------------------------------------------------------


class CaseView:
    """The case as ``Tally.add_case`` reads it, changed in place as a synthetic case moves on.

    Attributes the bench does not model read as None, so a field the app adds later does not
    break the loader (it is then counted as empty, which the output would show).
    """

    __slots__ = (
        "community_code", "department_id", "district_code", "grid_code", "handled_on_time",
        "kind", "minor_code", "source", "street_code",
    )  # fmt: skip
    community_code: str | None
    department_id: int | None
    district_code: str
    grid_code: str | None
    handled_on_time: bool | None
    kind: str
    minor_code: str
    source: str
    street_code: str | None

    def __getattr__(self, name: str) -> Any:
        return None


@dataclass
class LoadReport:
    cases: int = 0
    counted_events: int = 0
    stored_events: int = 0
    cells_written: int = 0
    open_cases: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    def add_phase(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds


def last_full_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


class Loader:
    """Streams synthetic cases into the database chunk by chunk (memory stays bounded)."""

    def __init__(
        self,
        session: Session,
        world: World,
        *,
        cases: int,
        seed: int,
        chunk: int,
        max_cells: int,
        now: datetime,
    ) -> None:
        self.session = session
        self.max_cells = max_cells
        self.world = world
        self.total = cases
        self.chunk = chunk
        self.rng = np.random.default_rng(seed)
        self.now = now
        self.now_ts = now.timestamp()
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self.report = LoadReport()
        self.tally = rollup.Tally()
        self.cohorts = cohorts.CohortTally()
        self.view = CaseView()
        self.view.district_code = DISTRICT
        period = indicators.resolve_period(last_full_month(to_local(now).date()))
        self.window = (period.start.timestamp(), period.end.timestamp())
        self.counted = frozenset(rollup.ACTION_MEASURE)
        self.case_rows: list[dict[str, Any]] = []
        self.event_rows: list[dict[str, Any]] = []
        self.counters: dict[date, int] = {}
        self.next_id = 1 + int(session.scalar(select(func.coalesce(func.max(Case.id), 0))) or 0)
        ranks = self.rng.permutation(len(world.classes)) + 1
        weights = 1.0 / ranks.astype(float) ** 1.1
        self.class_p = weights / weights.sum()
        grid_w = self.rng.lognormal(0.0, 1.0, len(world.grid_codes))
        self.grid_p = grid_w / grid_w.sum()
        self.hour_p = np.array(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS)
        self.street_index = [int(i) for i in world.street_index_of_grid]

    # -- the calendar of reports

    def day_counts(self, days: list[date]) -> np.ndarray:
        n = len(days)
        season = 1.0 + 0.25 * np.sin(2 * np.pi * (np.arange(n) / 365.0 - 0.3))
        weekday = np.array([0.7 if d.weekday() >= 5 else 1.0 for d in days])
        weights = season * weekday * self.rng.lognormal(0.0, 0.08, n)
        local_now = to_local(self.now)
        elapsed = local_now - local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        weights[-1] *= max(elapsed.total_seconds(), 60.0) / 86400.0
        return self.rng.multinomial(self.total, weights / weights.sum())

    def spikes(self, days: int) -> dict[int, tuple[int, int, int]]:
        """Day index → (street index, class index, cases): bursts anomaly detection should see."""
        per_day = self.total / max(days, 1) / len(self.world.streets)
        mean_cell = per_day * float(self.class_p[5:15].mean())
        found = {days - 1: (3, int(np.argsort(-self.class_p)[8]), int(3 * mean_cell) + 12)}
        for d in self.rng.choice(np.arange(max(days - 60, 0), days - 1), size=3, replace=False):
            street = int(self.rng.integers(len(self.world.streets)))
            klass = int(np.argsort(-self.class_p)[int(self.rng.integers(5, 15))])
            found[int(d)] = (street, klass, int(3 * mean_cell) + 12)
        return found

    def run(self, progress_every: float = 10.0) -> LoadReport:
        started = time.perf_counter()
        today = to_local(self.now).date()
        days = [today - timedelta(days=364 - i) for i in range(365)]
        counts = self.day_counts(days)
        spikes = self.spikes(len(days))
        grids_of_street = [
            np.flatnonzero(self.world.street_index_of_grid == s)
            for s in range(len(self.world.streets))
        ]
        last_print = started
        for index, (day, n) in enumerate(zip(days, counts.tolist(), strict=True)):
            if n == 0:
                continue
            t = time.perf_counter()
            midnight = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).timestamp()
            span = 86400.0 if day != today else max(self.now_ts - midnight - 1.0, 1.0)
            if day == today:
                seconds = np.sort(self.rng.random(n) * span)
            else:
                hours = self.rng.choice(24, size=n, p=self.hour_p)
                seconds = np.sort(hours * HOUR + self.rng.random(n) * HOUR)
            grid = self.rng.choice(len(self.world.grid_codes), size=n, p=self.grid_p)
            klass = self.rng.choice(len(self.world.classes), size=n, p=self.class_p)
            if index in spikes:
                street, spike_class, k = spikes[index]
                k = min(k, n)
                picks = self.rng.integers(0, n, size=k)
                grid[picks] = self.rng.choice(grids_of_street[street], size=k)
                klass[picks] = spike_class
            source = self.rng.choice(len(SOURCES), size=n, p=SOURCE_P)
            rects = self.world.grid_rects[grid]
            lon = rects[:, 0] + self.rng.random(n) * (rects[:, 2] - rects[:, 0])
            lat = rects[:, 1] + self.rng.random(n) * (rects[:, 3] - rects[:, 1])
            uniform = self.rng.random((n, 9))
            expo = self.rng.exponential(1.0, (n, 9))
            self.report.add_phase("generate (numpy)", time.perf_counter() - t)
            t = time.perf_counter()
            self.simulate_day(
                day, midnight, seconds.tolist(), grid.tolist(), klass.tolist(), source.tolist(),
                lon.tolist(), lat.tolist(), uniform.tolist(), expo.tolist(),
            )  # fmt: skip
            self.report.add_phase("lifecycle + roll-up tally (Python)", time.perf_counter() - t)
            # Bounded memory: case and event rows ~1 KB each, a tally cell ~2 KB once
            # rollup.write turns it into rows; a day is never split, so a chunk may overshoot.
            if (
                len(self.case_rows) >= self.chunk
                or len(self.event_rows) >= self.chunk
                or len(self.tally) >= self.max_cells
            ):
                self.flush()
            if time.perf_counter() - last_print >= progress_every:
                last_print = time.perf_counter()
                self.progress(started)
        self.flush()
        self.write_counters()
        self.report.seconds = time.perf_counter() - started
        self.progress(started)
        return self.report

    def progress(self, started: float) -> None:
        r = self.report
        elapsed = time.perf_counter() - started
        log(
            f"    {r.cases:,}/{self.total:,} cases ({100 * r.cases / max(self.total, 1):.0f} %), "
            f"{r.counted_events:,} events counted, {r.stored_events:,} stored, "
            f"{r.cells_written:,} roll-up cells upserted; {elapsed:.0f} s, "
            f"{r.cases / max(elapsed, 1e-9):,.0f} cases/s; "
            f"loader peak RSS {peak_rss_mib():,.0f} MiB"
        )

    # -- one day of cases

    def simulate_day(
        self, day: date, midnight: float, seconds: list[float], grid: list[int],
        klass: list[int], source: list[int], lon: list[float], lat: list[float],
        uniform: list[list[float]], expo: list[list[float]],
    ) -> None:  # fmt: skip
        world, view, count = self.world, self.view, self.tally.add_case
        count_cohorts, count_actor = self.cohorts.add, self.cohorts.add_event
        contributions = cohorts.contributions
        street_index = self.street_index
        counted = self.counted
        now_ts = self.now_ts
        lo, hi = self.window
        stamp = datetime.fromtimestamp
        staff = world.staff
        number_prefix = f"{DISTRICT}{day:%Y%m%d}"
        label = world.catalog_label
        store_events = self.event_rows.append
        add_case = self.case_rows.append
        report = self.report
        no_payload: dict[str, Any] = {}
        open_cases = 0
        counted_n = 0
        for j, offset in enumerate(seconds):
            t = midnight + offset
            g = grid[j]
            info = world.classes[klass[j]]
            src = SOURCES[source[j]]
            u = uniform[j]
            e = expo[j]
            s_index = street_index[g]
            inspector = world.inspector_of_grid[g]
            urgent = u[8] < P_URGENT
            deadline_kind, deadline_hours, deadline = info.urgent if urgent else info.normal
            view.street_code = world.street_of_grid[g]
            view.community_code = world.community_of_grid[g]
            view.grid_code = world.grid_codes[g]
            view.kind = info.kind
            view.minor_code = info.minor_code
            view.source = src
            view.department_id = None
            view.handled_on_time = None

            # The whole life of the case as (time, action, argument), in time order.
            life: list[tuple[float, str, Any]] = [(t, A_REPORT, None)]
            if src != "inspector":
                t += HOUR * (0.2 + 0.5 * e[0])
                life.append((t, A_ASSIGN_VERIFY, inspector))
                t += HOUR * (0.5 + 1.5 * e[1])
                life.append((t, A_VERIFY, inspector))
            if u[0] < P_VOID:
                life.append((t + HOUR * (0.5 + e[2]), A_VOID, None))
            elif u[0] < P_VOID + P_REJECT:
                life.append((t + HOUR * (0.2 + e[2]), A_REJECT, None))
            else:
                t += HOUR * (0.1 + 0.4 * e[2])
                life.append((t, A_REGISTER, None))
                t += HOUR * (0.1 + 0.5 * e[3])
                first = world.primary[klass[j]][s_index]
                life.append((t, A_DISPATCH, first))
                due = t + deadline
                if u[1] < P_RETURN:
                    t += HOUR * (1.0 + 3.0 * e[4])
                    life.append((t, A_RETURN, first))
                    t += HOUR * (0.2 + 0.5 * e[5])
                    life.append((t, A_DISPATCH, world.secondary[klass[j]][s_index]))
                    due = t + deadline
                if u[7] >= P_STUCK:
                    if u[2] < P_EXTENSION:
                        t += 0.3 * (due - t)
                        life.append((t, A_REQUEST_EXT, None))
                        t += HOUR * (1.0 + e[6])
                        life.append((t, A_APPROVE_EXT, deadline))
                        due += deadline
                    if u[4] < P_ON_TIME:
                        handled = t + (0.05 + 0.9 * u[5]) * (due - t)
                    else:
                        handled = due + HOUR + e[7] * (0.5 * deadline + 4 * HOUR)
                    if u[3] < P_URGE:
                        life.append((t + 0.4 * (handled - t), A_URGE, None))
                    life.append((handled, A_HANDLE, None))
                    t = handled + HOUR * (0.3 + e[8])
                    life.append((t, A_ASSIGN_CHECK, inspector))
                    t += HOUR * (0.5 + 2.0 * e[0])
                    if u[6] < P_REWORK:
                        life.append((t, A_CHECK, "fail"))
                        t += HOUR * (0.5 + e[1])
                        life.append((t, A_REWORK, None))
                        t += HOUR * (2.0 + 4.0 * e[2])
                        life.append((t, A_HANDLE, None))
                        t += HOUR * (0.3 + e[3])
                        life.append((t, A_ASSIGN_CHECK, inspector))
                        t += HOUR * (0.5 + e[4])
                    life.append((t, A_CHECK, "pass"))
                    life.append((t + HOUR * (0.2 + e[5]), A_CLOSE, None))

            # Play it up to now: the state of the row, the counted events, the stored events.
            version = 0
            status = ""
            reported_at = stamp(life[0][0], UTC)
            registered_at = dispatched_at = handled_at = closed_at = due_at = None
            department: int | None = None
            assignee: int | None = None
            verify_result: str | None = None
            on_time: bool | None = None
            due_ts: float | None = None
            reworks = returns = urges = extensions = 0
            last = reported_at
            for at, action, arg in life:
                if at > now_ts:
                    break
                version += 1
                previous = status
                when = stamp(at, UTC) if version > 1 else reported_at
                last = when
                payload = no_payload
                if action == A_CHECK:
                    status = "checked" if arg == "pass" else "check_failed"
                    assignee = None
                else:
                    status = TO_STATUS.get(action, status)
                if action == A_DISPATCH:
                    department = arg
                    view.department_id = arg
                    dispatched_at = when
                    due_ts = at + deadline
                elif action == A_HANDLE:
                    handled_at = when
                    on_time = due_ts is not None and at <= due_ts
                    view.handled_on_time = on_time
                elif action == A_REGISTER:
                    registered_at = when
                elif action == A_CLOSE:
                    closed_at = when
                elif action == A_RETURN:
                    payload = {"from_department_id": department, "reason": "非本单位职责"}
                    department = None
                    view.department_id = None
                    returns += 1
                    due_ts = None
                elif action in (A_ASSIGN_VERIFY, A_ASSIGN_CHECK):
                    assignee = arg
                elif action == A_VERIFY:
                    assignee = None
                    verify_result = "confirmed"
                elif action == A_APPROVE_EXT:
                    extensions += 1
                    due_ts = (due_ts or at) + arg
                elif action == A_URGE:
                    urges += 1
                elif action == A_REWORK:
                    reworks += 1
                    on_time = None
                    view.handled_on_time = None
                elif action in (A_VOID, A_REJECT):
                    due_ts = None
                if action in counted:
                    count(view, action, when, payload)
                    counted_n += 1
                if action in (A_VERIFY, A_CHECK):
                    count_actor(DISTRICT, when, action, inspector)
                if lo <= at < hi:
                    if action == A_REPORT:
                        actor_id = inspector if src == "inspector" else staff["operator"]
                        role = "inspector" if src == "inspector" else "operator"
                    else:
                        role = ACTOR_ROLE[action]
                        actor_id = inspector if role == "inspector" else staff[_STAFF_OF[role]]
                    store_events(
                        {
                            "case_id": self.next_id,
                            "district_code": DISTRICT,
                            "seq": version,
                            "action": action,
                            "from_status": previous or None,
                            "to_status": status,
                            "actor_id": actor_id,
                            "actor_role": role,
                            "payload": self.event_payload(action, arg, payload, info, on_time),
                            "at": when,
                            "due_at": stamp(due_ts, UTC) if due_ts is not None else None,
                        }
                    )
            if due_ts is not None:
                due_at = stamp(due_ts, UTC)
            if status not in ("closed", "rejected", "voided"):
                open_cases += 1
            self.counters[day] = self.counters.get(day, 0) + 1
            row = {
                "id": self.next_id,
                "district_code": DISTRICT,
                "number": f"{number_prefix}{self.counters[day]:06d}",
                "source": src,
                "kind": info.kind,
                "major_code": info.major_code,
                "minor_code": info.minor_code,
                "class_name": info.name,
                "catalog_version": label,
                "urgency": "urgent" if urgent else "normal",
                "description": f"{info.name}（压测合成案卷）",
                "lon": round(lon[j], 6),
                "lat": round(lat[j], 6),
                "street_code": view.street_code,
                "community_code": view.community_code,
                "grid_code": view.grid_code,
                "status": status,
                "reported_by_id": inspector if src == "inspector" else None,
                "department_id": department,
                "assignee_id": assignee,
                "verify_result": verify_result,
                "deadline_kind": deadline_kind,
                "deadline_hours": float(deadline_hours),
                "due_at": due_at,
                "handled_on_time": on_time,
                "reported_at": reported_at,
                "registered_at": registered_at,
                "dispatched_at": dispatched_at,
                "handled_at": handled_at,
                "closed_at": closed_at,
                "updated_at": last,
                "rework_count": reworks,
                "return_count": returns,
                "urge_count": urges,
                "extension_count": extensions,
                "version": version,
            }
            add_case(row)
            count_cohorts(contributions(SimpleNamespace(**row)))
            self.next_id += 1
        report.cases += len(seconds)
        report.counted_events += counted_n
        report.open_cases += open_cases

    def event_payload(
        self, action: str, arg: Any, payload: dict[str, Any], info: ClassInfo, on_time: bool | None
    ) -> Any:
        """What the app writes in the event's payload (JSON text for COPY, a dict for SQLite)."""
        if action == A_REPORT:
            found: dict[str, Any] = {"kind": info.kind, "minor_code": info.minor_code}
        elif action == A_DISPATCH:
            found = {"department_id": arg, "department_name": self.world.department_names[arg]}
        elif action == A_RETURN:
            found = dict(payload)
        elif action in (A_VERIFY, A_CHECK):
            found = {"verdict": "confirmed" if action == A_VERIFY else arg}
        elif action in (A_ASSIGN_VERIFY, A_ASSIGN_CHECK):
            found = {"assignee_id": arg}
        elif action == A_HANDLE:
            found = {"result": "已处置", "on_time": on_time}
        elif action == A_REGISTER:
            found = {"catalog_version": self.world.catalog_label}
        else:
            found = {}
        if self.postgres:
            return json.dumps(found, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return found

    # -- writing

    def flush(self) -> None:
        if not self.case_rows:
            return
        session = self.session
        t = time.perf_counter()
        bulk.copy_rows(session, "cases", self.case_rows)
        self.report.add_phase("write cases", time.perf_counter() - t)
        t = time.perf_counter()
        if self.event_rows:
            bulk.copy_rows(session, "case_events", self.event_rows)
        self.report.add_phase("write evaluated month's events", time.perf_counter() - t)
        t = time.perf_counter()
        rows = self.tally.cells()
        cells = len(rows)
        rollup.write_cells(session, rows)
        self.tally.clear()
        self.report.add_phase("write roll-ups (rollup.write)", time.perf_counter() - t)
        t = time.perf_counter()
        cohorts.write(session, self.cohorts)
        self.report.add_phase("write cohorts (cohorts.write)", time.perf_counter() - t)
        t = time.perf_counter()
        session.commit()
        self.report.add_phase("commit", time.perf_counter() - t)
        self.report.cells_written += cells
        self.report.stored_events += len(self.event_rows)
        self.case_rows = []
        self.event_rows = []

    def write_counters(self) -> None:
        """Serials used per day, so cases reported over HTTP today get fresh numbers."""
        if not self.counters:
            return
        rows = [{"district_code": DISTRICT, "day": d, "last": n} for d, n in self.counters.items()]
        self.session.execute(insert(CaseCounter), rows)
        if self.postgres:
            # COPY wrote explicit ids; the server's inserts must continue after them.
            self.session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                    "(SELECT max(id) FROM cases))"
                )
            )
        self.session.commit()


_STAFF_OF = {role: short for short, role in STAFF.items()}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextmanager
def load_session(engine: Engine, factory: sessionmaker[Session]) -> Iterator[Session]:
    """One connection for the whole load; SQLite skips fsync and gets a big page cache."""
    with writer_bind(engine).connect() as conn:
        if engine.dialect.name == "sqlite":
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute("PRAGMA cache_size=-1000000")
        session = factory(bind=conn)
        try:
            yield session
        finally:
            session.close()
            if engine.dialect.name == "sqlite":
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA synchronous=NORMAL")


def drop_case_indexes(engine: Engine) -> list[Any]:
    """The secondary indexes of ``cases`` (as the models define them), dropped for the load."""
    indexes = sorted(cast(Table, Case.__table__).indexes, key=lambda i: str(i.name))
    present = {i["name"] for i in sa_inspect(engine).get_indexes("cases")}
    dropped = [i for i in indexes if i.name in present]
    with writer_bind(engine).begin() as conn:
        for index in dropped:
            conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
    return dropped


def create_indexes(engine: Engine, indexes: list[Any]) -> None:
    with writer_bind(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET maintenance_work_mem = '512MB'"))
        for index in indexes:
            t = time.perf_counter()
            index.create(conn)
            log(f"    index {index.name}: {time.perf_counter() - t:.1f} s")


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in Base.metadata.sorted_tables:
                conn.execute(text(f'VACUUM (ANALYZE) "{table.name}"'))
    else:
        with writer_bind(engine).begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def rollup_check(engine: Engine, load: LoadReport) -> str:
    """The day grain must hold one count per counted event and one report per case."""
    measures = [m for m in MEASURES if m != "handled_on_time"]
    with engine.connect() as conn:
        cells = int(conn.scalar(select(func.count()).select_from(CaseStat)) or 0)
        reported, events = conn.execute(
            select(
                func.sum(CaseStat.reported),
                func.sum(sum((getattr(CaseStat, m) for m in measures[1:]), CaseStat.reported)),
            ).where(CaseStat.district_code == DISTRICT, CaseStat.grain == "day")
        ).one()
    ok = reported == load.cases and events == load.counted_events
    return (
        f"case_stats: {cells:,} rows; day grain holds {int(reported or 0):,} reports and "
        f"{int(events or 0):,} counted events: {'consistent' if ok else 'MISMATCH'} with the load"
    )


def table_sizes(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            found = []
            for name in ("cases", "case_stats", "case_events"):
                size = conn.scalar(text(f"SELECT pg_total_relation_size('{name}')"))
                found.append(f"{name} {int(size or 0) / 2**20:,.0f} MiB")
            return ", ".join(found)
    return ""


# --- timing --------------------------------------------------------------------------------------


class SignatureChanged(Exception):
    pass


def bind(fn: Callable[..., Any], **offered: Any) -> Callable[[Session], Any]:
    """``fn(session, **the offered arguments it takes)``; refuses if it needs one more.

    The dashboard functions are being moved onto the roll-ups while this bench is written, so
    it calls whatever signature they have when it runs instead of breaking on a new one.
    """
    parameters = list(inspect.signature(fn).parameters.values())[1:]
    kwargs: dict[str, Any] = {}
    for p in parameters:
        if p.name in offered:
            kwargs[p.name] = offered[p.name]
        elif p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            raise SignatureChanged(f"{fn.__module__}.{fn.__name__} needs {p.name!r}")
    return lambda session: fn(session, **kwargs)


@dataclass
class Timing:
    group: str
    name: str
    goal_s: float
    samples: list[float] = field(default_factory=list)
    note: str = ""
    rows: int | None = None

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def p95(self) -> float:
        if not self.samples:
            return math.nan
        ordered = sorted(self.samples)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]

    @property
    def passed(self) -> bool | None:
        return None if not self.samples else self.p95 < self.goal_s


def _size(result: Any) -> int | None:
    if isinstance(result, list | dict):
        return len(result)
    rows = getattr(result, "rows", None)
    return len(rows) if isinstance(rows, list) else None


def time_one(
    factory: sessionmaker[Session], timing: Timing, call: Callable[[Session], Any],
    repeat: int, budget_s: float,
) -> None:  # fmt: skip
    with factory() as session:  # warm-up: plans, caches, the first page reads
        timing.rows = _size(call(session))
    started = time.perf_counter()
    for _ in range(repeat):
        with factory() as session:
            t = time.perf_counter()
            call(session)
            timing.samples.append(time.perf_counter() - t)
        if time.perf_counter() - started > budget_s and len(timing.samples) >= 3:
            timing.note = f"stopped after {len(timing.samples)} runs (time budget)"
            break


def run_timings(
    factory: sessionmaker[Session], actor: Actor, *, repeat: int, budget_s: float
) -> list[Timing]:
    now = utcnow()
    today = to_local(now).date()
    since = now - timedelta(days=30)
    scope = queries.scope_of(actor)
    month = last_full_month(today)
    m_start = date.fromisoformat(f"{month}-01")
    m_end = (m_start + timedelta(days=32)).replace(day=1)
    after = today + timedelta(days=1)
    dashboard: list[tuple[str, str, dict[str, Any]]] = [
        ("counters", "counters", {}),
        ("trend, 30 days", "trend", {"days": 30, "now": now}),
        ("top classes, 30 days", "top_classes", {"since": since, "limit": 10}),
        ("on time by street, 30 days", "on_time", {"since": since, "by": "street"}),
        ("on time by department, 30 days", "on_time", {"since": since, "by": "department"}),
        ("heat points (open cases)", "heat_points", {}),
    ]
    analytics: list[tuple[str, str, dict[str, Any]]] = [
        ("counts by class, 30 days", "counts",
         {"start": today - timedelta(days=29), "end": after, "group_by": ["class"]}),
        (f"counts by street x source, {month}", "counts",
         {"start": m_start, "end": m_end, "group_by": ["street", "source"]}),
        ("counts by month, 1 year", "counts",
         {"start": today - timedelta(days=364), "end": after, "group_by": [],
          "interval": "month"}),
        ("trend with yoy, 30 days", "trend", {"start": today - timedelta(days=29), "end": after}),
        ("hotspots by grid, 3 months", "hotspots",
         {"start": today - timedelta(days=90), "end": after, "level": "grid"}),
        ("recurring, 6 months", "recurring", {"start": today - timedelta(days=182), "end": after}),
        ("anomalies, today", "anomalies", {"day": today}),
        # Right after midnight (Beijing) today holds minutes of data: also a whole day.
        ("anomalies, yesterday", "anomalies", {"day": today - timedelta(days=1)}),
    ]  # fmt: skip
    found: list[Timing] = []
    plans: list[tuple[Timing, Callable[[Session], Any] | None]] = []
    for group, module, items, offered in (
        ("dashboard", stats, dashboard, {"actor": actor}),
        ("analytics", queries, analytics, {"scope": scope}),
    ):
        for name, function, extra in items:
            timing = Timing(group, name, DASHBOARD_GOAL_S)
            fn = getattr(module, function, None)
            try:
                call = None if fn is None else bind(fn, **offered, **extra)
                if fn is None:
                    timing.note = f"skipped: {module.__name__}.{function} is gone"
            except SignatureChanged as exc:
                call, timing.note = None, f"skipped: {exc}"
            plans.append((timing, call))
    whole = Timing("dashboard", "whole dashboard (sum of the figures)", math.inf)
    for timing, call in plans:
        found.append(timing)
        if call is None:
            log(f"    {timing.name}: {timing.note}")
            continue
        log(f"    timing {timing.group}: {timing.name} …")
        time_one(factory, timing, call, repeat, budget_s)
    figures = [t for t in found if t.group == "dashboard" and t.samples]
    if figures:
        n = min(len(t.samples) for t in figures)
        whole.samples = [sum(t.samples[i] for t in figures) for i in range(n)]
        last = max(i for i, t in enumerate(found) if t.group == "dashboard")
        found.insert(last + 1, whole)
    found += time_evaluation(factory, actor, month, repeat=repeat, budget_s=budget_s)
    log("    " + cohort_check(factory, actor, month))
    log("    " + recurring_check(factory, scope, today - timedelta(days=182), after))
    log("    " + self_evaluation_once(factory, actor, str(today.year)))
    return found


def time_evaluation(
    factory: sessionmaker[Session], actor: Actor, month: str, *, repeat: int, budget_s: float
) -> list[Timing]:
    """Each subject's evaluation of the month, and all of them together, per repetition."""
    subjects = [Timing("evaluation", f"{s}, {month}", EVALUATION_GOAL_S) for s in SUBJECTS]
    together = Timing("evaluation", f"all subjects together, {month}", EVALUATION_GOAL_S)
    log(f"    timing evaluation {month} ({', '.join(SUBJECTS)}) …")
    started = time.perf_counter()
    for run in range(repeat + 1):
        total = 0.0
        for subject, timing in zip(SUBJECTS, subjects, strict=True):
            with factory() as session:
                period = indicators.resolve_period(month)
                t = time.perf_counter()
                result = indicators.evaluate(session, actor=actor, subject=subject, period=period)
                took = time.perf_counter() - t
            if run == 0:
                timing.rows = len(result.rows)
            else:
                timing.samples.append(took)
            total += took
        if run > 0:
            together.samples.append(total)
        if run > 0 and time.perf_counter() - started > budget_s and run >= 3:
            for timing in (*subjects, together):
                timing.note = f"stopped after {run} runs (time budget)"
            break
    return [*subjects, together]


def cohort_check(factory: sessionmaker[Session], actor: Actor, month: str) -> str:
    """The month's cohort-backed counts read from ``case_cohorts`` must equal the same counts
    from the cases table (which is also timed once, for comparison)."""
    period = indicators.resolve_period(month)
    mismatched: list[str] = []
    seconds = 0.0
    with factory() as session:
        for subject, make in indicators.QUERIES.items():
            for query in make(period):
                if query.cohorts is None:
                    continue
                kept = indicators._aggregate(session, actor, query)
                t = time.perf_counter()
                counted = indicators._aggregate(
                    session, actor, replace(query, cohorts=None, rollups=None)
                )
                seconds += time.perf_counter() - t
                if kept != counted:
                    mismatched.append(subject)
    verdict = "consistent" if not mismatched else f"MISMATCH in {', '.join(mismatched)}"
    return (
        f"case_cohorts: the month's cohort counts are {verdict} with the cases table "
        f"(counting them from the cases took {seconds:.2f} s)"
    )


def recurring_check(
    factory: sessionmaker[Session], scope: queries.AnalyticsScope, start: date, end: date
) -> str:
    """Recurring problems found through the threshold bound must equal the plain sum of every
    grid × class cell of the months (also timed once: what the bound saves)."""
    with factory() as session:
        t = time.perf_counter()
        totals = queries.pair_totals(session, scope, queries.month_starts(start, end), None)
        plain = queries.rank_pairs(totals, 3, 2)[:50]
        seconds = time.perf_counter() - t
        found = queries.recurring(session, scope=scope, start=start, end=end)
    pruned = [((r["grid_code"], *r["class"].split(":")), r["reported"], r["months"]) for r in found]
    verdict = "equal" if pruned == plain else "MISMATCH"
    return (
        f"recurring: the bound's leaders are {verdict} to the plain sum of {len(totals):,} "
        f"grid x class pairs (which took {seconds:.2f} s)"
    )


def self_evaluation_once(factory: sessionmaker[Session], actor: Actor, year: str) -> str:
    """The year's self-evaluation figures, timed once (an export, counted from the cases)."""
    with factory() as session:
        t = time.perf_counter()
        figures = selfeval.metrics(session, actor=actor, period=indicators.resolve_period(year))
        seconds = time.perf_counter() - t
    return f"self-evaluation {year}: {seconds:.2f} s (case volume {figures['case_volume']:,.0f})"


def print_timings(backend: str, timings: list[Timing]) -> None:
    log(f"\n  {backend}: query times over {len(timings)} figures")
    log(f"  {'group':<11}{'query':<44}{'rows':>6}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}"
        f"{'goal ms':>9}  result")  # fmt: skip
    for t in timings:
        goal = "—" if math.isinf(t.goal_s) else f"{t.goal_s * 1000:,.0f}"
        verdict = {True: "PASS", False: "FAIL", None: "—"}[t.passed]
        if math.isinf(t.goal_s):
            verdict = "(info)"
        log(
            f"  {t.group:<11}{t.name[:43]:<44}{'' if t.rows is None else t.rows:>6}"
            f"{len(t.samples):>4}{t.p50 * 1000:>10,.1f}{t.p95 * 1000:>10,.1f}{goal:>9}  "
            f"{verdict}{'  ' + t.note if t.note else ''}"
        )


# --- intake over HTTP ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (uvicorn's workers are children of the supervisor)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def memory_kib(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


@dataclass
class IntakeReport:
    accepted: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    rss_start_mib: float = 0.0
    peak_mib: dict[int, float] = field(default_factory=dict)
    stored: int | None = None

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def run_intake(
    url: str, data_dir: Path, world: World, factory: sessionmaker[Session], *,
    seconds: float, clients: int, workers: int, seed: int, batch: int = 1,
) -> IntakeReport:  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log = data_dir / "server.log"
    env = os.environ | {
        "CITYOPS_DATABASE_URL": url,
        "CITYOPS_DATA_DIR": str(data_dir),
        "CITYOPS_ENVIRONMENT": "test",
        "CITYOPS_DISTRICT_CODE": DISTRICT,
        "CITYOPS_AUDIT_KEY": AUDIT_KEY,
        "CITYOPS_ARGON2_TIME_COST": "1",
        "CITYOPS_ARGON2_MEMORY_KIB": str(8 * 1024),
    }
    command = [sys.executable, "-m", "cityops.cli", "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    report = IntakeReport()
    with server_log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 120
        while True:  # readiness, bounded by the deadline
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {server_log}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after 120 s; see {server_log}")
            time.sleep(0.1)
        report.rss_start_mib = (
            sum(memory_kib(p).get("VmRSS", 0) for p in process_tree(proc.pid)) / 1024
        )
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"username": "bench-operator", "password": PASSWORD},
            timeout=60,
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        west, south, east, north = BBOX
        lock = threading.Lock()
        start_gate = threading.Barrier(clients + 1)
        stop_at = [0.0]
        run = uuid.uuid4().hex[:6]

        def client(number: int) -> None:
            rng = np.random.default_rng(seed * 1000 + number)
            latencies: list[float] = []
            accepted = errors = 0
            samples: list[str] = []
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                start_gate.wait()
                n = 0
                while time.monotonic() < stop_at[0]:
                    items = []
                    for _ in range(batch):
                        info = world.classes[int(rng.integers(len(world.classes)))]
                        x, y = 0.001 + 0.998 * rng.random(), 0.001 + 0.998 * rng.random()
                        items.append({
                            "client_request_id": f"bench-{run}-{number}-{n}",
                            "source": "hotline",
                            "kind": info.kind,
                            "minor_code": info.minor_code,
                            "description": f"{info.name}（压测接入）",
                            "lon": round(west + (east - west) * x, 6),
                            "lat": round(south + (north - south) * y, 6),
                        })  # fmt: skip
                        n += 1
                    t = time.perf_counter()
                    try:
                        if batch == 1:
                            r = http.post("/api/v1/cases", json=items[0])
                        else:
                            r = http.post("/api/v1/cases/batch", json={"items": items})
                        ok = r.status_code == 201
                        problem = "" if ok else f"{r.status_code} {r.text[:160]}"
                    except httpx.HTTPError as exc:
                        ok, problem = False, f"{type(exc).__name__}: {exc}"
                    latencies.append(time.perf_counter() - t)
                    if ok:
                        accepted += batch
                    else:
                        errors += 1
                        if len(samples) < 3:
                            samples.append(problem)
            with lock:
                report.accepted += accepted
                report.errors += errors
                report.latencies += latencies
                report.error_samples += samples[: max(0, 5 - len(report.error_samples))]

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for thread in threads:
            thread.start()
        stop_at[0] = time.monotonic() + seconds
        start_gate.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join(timeout=seconds + 120)
        report.seconds = time.perf_counter() - began
        # VmHWM is the peak over each process's life: read it before the processes end.
        for pid in process_tree(proc.pid):
            hwm = memory_kib(pid).get("VmHWM")
            if hwm:
                report.peak_mib[pid] = hwm / 1024
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
    with factory() as session:
        operator = session.scalar(select(User.id).where(User.username == "bench-operator"))
        report.stored = session.scalar(
            select(func.count(Case.id)).where(
                Case.reported_by_id == operator, Case.client_request_id.like(f"bench-{run}-%")
            )
        )
    return report


def print_intake(backend: str, r: IntakeReport, clients: int, workers: int, batch: int = 1) -> None:
    ordered = sorted(r.latencies)

    def pct(q: float) -> float:
        return ordered[max(math.ceil(q * len(ordered)) - 1, 0)] * 1000 if ordered else math.nan

    goal = f" (goal >= {INTAKE_GOAL:,.0f}: {'PASS' if r.rate >= INTAKE_GOAL else 'FAIL'})"
    log(
        f"\n  {backend}: intake over HTTP, {clients} client threads, {workers} server worker(s), "
        f"{'one case per request' if batch == 1 else f'{batch} cases per request (/cases/batch)'}: "
        f"{r.accepted:,} cases accepted in {r.seconds:.1f} s = {r.rate:,.1f} cases/s"
        f"{goal if backend == 'postgresql' else ' (goal is for PostgreSQL)'}; "
        f"{r.errors} errors; latency p50 {pct(0.5):,.0f} ms, p95 {pct(0.95):,.0f} ms; "
        f"{r.stored} stored"
    )
    for sample in r.error_samples:
        log(f"    error: {sample}")
    peaks = ", ".join(f"pid {p}: {m:,.0f} MiB" for p, m in sorted(r.peak_mib.items()))
    log(
        f"  server memory: {r.rss_start_mib:,.0f} MiB RSS when ready; peak (VmHWM) "
        f"{sum(r.peak_mib.values()):,.0f} MiB summed over {len(r.peak_mib)} process(es) [{peaks}]"
    )


# --- main ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    backend: str
    timings: list[Timing]
    load: LoadReport | None
    intake: IntakeReport | None


def run_backend(backend: str, args: argparse.Namespace) -> Outcome:
    target = open_target(backend, args)
    log(f"\n== {backend} ({target.where}) ==")
    data_dir = Path(tempfile.mkdtemp(prefix="cityops-bench-analytics-data-"))
    try:
        engine = make_engine(target.url)
        loaded = False
        if args.reuse:
            try:
                with engine.connect() as conn:
                    loaded = bool(conn.scalar(select(func.max(Case.id))))
            except SQLAlchemyError:  # no schema yet: load as usual
                loaded = False
        if not loaded:
            t = time.perf_counter()
            how = build_schema(target.url, args.schema)
            log(f"  schema from {how}: {time.perf_counter() - t:.1f} s")
        settings = make_settings(target.url, data_dir)
        factory = make_sessionmaker(engine, settings)
        t = time.perf_counter()
        world = set_up_world(factory)
        log(
            f"  world: {len(world.streets)} streets, {len(set(world.community_of_grid))} "
            f"communities, {len(world.grid_codes):,} grids, {len(world.classes)} classes, "
            f"{len(world.department_names)} departments, "
            f"{len(set(world.inspector_of_grid))} inspectors; {time.perf_counter() - t:.1f} s"
        )
        load: LoadReport | None = None
        if loaded:
            with engine.connect() as conn:
                n = conn.scalar(select(func.max(Case.id)))
                newest = conn.scalar(select(func.max(Case.reported_at)))
            log(f"  --reuse: cases already loaded (max id {n:,}, newest {newest}); not loading")
        else:
            dropped = drop_case_indexes(engine) if args.defer_indexes else []
            log(
                f"  loading {args.cases:,} cases in chunks of {args.chunk:,} "
                f"(indexes deferred: {', '.join(str(i.name) for i in dropped) or 'none'}); "
                "events are counted into case_stats through rollup.Tally.add_case/write, "
                "but stored only for the evaluated month"
            )
            with load_session(engine, factory) as session:
                loader = Loader(
                    session, world, cases=args.cases, seed=args.seed, chunk=args.chunk,
                    max_cells=args.max_cells, now=utcnow(),
                )  # fmt: skip
                load = loader.run()
            if dropped:
                t = time.perf_counter()
                create_indexes(engine, dropped)
                load.add_phase("rebuild cases indexes", time.perf_counter() - t)
            t = time.perf_counter()
            analyze(engine)
            load.add_phase("VACUUM ANALYZE" if backend == "postgresql" else "ANALYZE",
                           time.perf_counter() - t)  # fmt: skip
            total = sum(
                v for k, v in load.phases.items() if k.startswith(("rebuild", "VAC", "ANA"))
            )
            load.seconds += total
            log(
                f"  loaded {load.cases:,} cases in {load.seconds:.0f} s "
                f"({load.cases / load.seconds:,.0f} cases/s including indexes and ANALYZE); "
                f"{load.counted_events:,} events counted into case_stats (not stored), "
                f"{load.stored_events:,} events of the evaluated month stored, "
                f"{load.open_cases:,} cases open now"
            )
            log("  phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in load.phases.items()))
            log("  " + rollup_check(engine, load))
            sizes = table_sizes(engine)
            if sizes:
                log(f"  sizes: {sizes}")
            if backend == "sqlite":
                log(f"  database file: {Path(target.where).stat().st_size / 2**20:,.0f} MiB")
        with factory() as session:
            leader = session.scalar(select(User).where(User.username == "bench-leader"))
            assert leader is not None
            actor = actor_of(leader)
        log(f"  timing as {actor.username} ({', '.join(sorted(actor.roles))}, district-wide)")
        timings: list[Timing] = []
        if not args.skip_queries:
            timings = run_timings(factory, actor, repeat=args.repeat, budget_s=args.query_budget)
            print_timings(backend, timings)
        intake = None
        if not args.skip_intake:
            workers = args.server_workers if backend == "postgresql" else 1
            engine.dispose()
            intake = run_intake(
                target.url, data_dir, world, factory, seconds=args.intake_seconds,
                clients=args.intake_clients, workers=workers, seed=args.seed,
                batch=args.intake_batch,
            )  # fmt: skip
            print_intake(backend, intake, args.intake_clients, workers, args.intake_batch)
        engine.dispose()
        if target.cleanup is None:
            log(f"  kept: {target.url}")
        return Outcome(backend, timings, load, intake)
    finally:
        if target.cleanup is not None:
            target.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def print_summary(outcomes: list[Outcome]) -> None:
    log("\n== goals ==")
    for o in outcomes:
        measured = [t for t in o.timings if t.samples and not math.isinf(t.goal_s)]
        slow = [t for t in measured if not t.passed]
        skipped = [t for t in o.timings if not t.samples and not math.isinf(t.goal_s)]
        log(
            f"  {o.backend}: {len(measured) - len(slow)}/{len(measured)} queries within their "
            f"goal{'; skipped: ' + ', '.join(t.name for t in skipped) if skipped else ''}"
        )
        for t in slow:
            log(f"    FAIL {t.group}: {t.name}: p95 {t.p95 * 1000:,.0f} ms > "
                f"{t.goal_s * 1000:,.0f} ms")  # fmt: skip
        if o.intake is not None and o.backend == "postgresql":
            verdict = "PASS" if o.intake.rate >= INTAKE_GOAL else "FAIL"
            log(f"    {verdict} intake {o.intake.rate:,.0f} cases/s (goal >= {INTAKE_GOAL:,.0f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--cases", type=int, default=20_000_000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pg-schema", help="schema to use (default: a fresh random one)")
    parser.add_argument("--sqlite-path", help="database file (default: in a temporary directory)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=200_000, help="cases per transaction")
    parser.add_argument(
        "--max-cells", type=int, default=400_000,
        help="roll-up counters (cell x measure) held in memory before a transaction is written",
    )  # fmt: skip
    parser.add_argument("--schema", choices=("auto", "migrations", "metadata"), default="auto")
    parser.add_argument(
        "--no-defer-indexes", dest="defer_indexes", action="store_false",
        help="keep the cases indexes during the load",
    )  # fmt: skip
    parser.add_argument(
        "--query-budget", type=float, default=300.0,
        help="seconds per query before fewer than --repeat runs are taken",
    )  # fmt: skip
    parser.add_argument("--intake-seconds", type=float, default=20.0)
    parser.add_argument("--intake-clients", type=int, default=16)
    parser.add_argument(
        "--intake-batch", type=int, default=1,
        help="cases per request: 1 posts /cases, more posts /cases/batch (at most 500)",
    )  # fmt: skip
    parser.add_argument(
        "--server-workers", type=int, default=1, help="uvicorn workers (PostgreSQL only)"
    )
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-queries", action="store_true", help="only load and/or intake")
    parser.add_argument("--keep", action="store_true", help="keep the databases for reruns")
    parser.add_argument(
        "--reuse", action="store_true",
        help="with --pg-schema / --sqlite-path naming a loaded database: skip loading",
    )  # fmt: skip
    args = parser.parse_args()
    if args.reuse and not args.keep:
        args.keep = True  # a reused database is the caller's; never drop it
    if args.reuse and args.db in ("postgresql", "both") and not args.pg_schema:
        parser.error("--reuse needs --pg-schema for PostgreSQL")
    if args.reuse and args.db in ("sqlite", "both") and not args.sqlite_path:
        parser.error("--reuse needs --sqlite-path for SQLite")
    scale = "databases already loaded (--reuse)" if args.reuse else f"{args.cases:,} cases"
    log(
        f"bench/analytics.py: {scale}, repeat {args.repeat}, seed {args.seed}; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"started {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    outcomes = [run_backend(backend, args) for backend in backends]
    print_summary(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
