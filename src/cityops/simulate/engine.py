"""The simulation loop: days of arrivals, every plan's steps in time order, batched commits.

Each transaction covers whole simulated days and ends by recording the instant reached in
``simulation_runs``; Ctrl-C rolls back only the unfinished days. ``--resume`` rebuilds the
plans of the last ``MAX_SPAN`` (they are functions of the seed), attaches them to the stored
cases and continues with the steps after the recorded instant — the final data is the same
as an uninterrupted run's.
"""

from __future__ import annotations

import gc
import heapq
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from cityops.auth.actor import SYSTEM
from cityops.cases.lifecycle import LifecycleError
from cityops.cases.service import calendar_for
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, writer_bind
from cityops.errors import CityopsError
from cityops.geo.index import RegionCodes
from cityops.geo.service import district_index
from cityops.simulate.executors import BulkExecutor, Executor, ServiceExecutor, Write
from cityops.simulate.model import CONSULT, MAX_SPAN, Generator, Plan
from cityops.simulate.models import SimulationRun
from cityops.simulate.presets import Preset, get_preset
from cityops.simulate.world import World, build_world
from cityops.timeutil import LOCAL_TZ, utcnow

log = logging.getLogger(__name__)

Progress = Callable[[date, dict[str, int]], None]


@dataclass
class RunResult:
    run_id: int
    preset: str
    seed: int
    period_from: datetime
    period_to: datetime
    simulated_to: datetime
    cases: int = 0
    events: int = 0
    calls: int = 0
    errors: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    first_errors: list[str] = field(default_factory=list)
    #: Wall seconds per phase: set-up (staff, world), plan, run (steps), flush (writes, commit).
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.simulated_to >= self.period_to


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).astimezone(UTC)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine, settings)
    session = factory(bind=writer_bind(engine))
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        engine.dispose()


class _Writer:
    """Writes and commits each transaction's rows together with the run's checkpoint.

    In bulk mode on PostgreSQL this happens on a second connection in a thread, so the
    database inserts one transaction's rows while the next days are simulated: the steps read
    only what a run does not change (staff, catalogue, rules, geography), and at most one
    transaction is in flight. Otherwise the run's own session writes, in turn."""

    def __init__(self, session: Session, *, background: bool) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1) if background else None
        self.session = (
            Session(bind=session.get_bind(), info=session.info, expire_on_commit=False)
            if background
            else session
        )
        self._pending: Future[None] | None = None

    def wait(self) -> None:
        """Return once the transaction in flight is committed (raising its error, if any)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def submit(self, write: Write, run_id: int, run_values: dict[str, Any]) -> None:
        """Write, record the checkpoint and commit (in the background when there is one)."""
        db = self.session

        def job() -> None:
            try:
                write(db)
                db.execute(
                    update(SimulationRun).where(SimulationRun.id == run_id).values(**run_values)
                )
                db.commit()
            except BaseException:
                db.rollback()
                raise

        if self._pool is None:
            job()
        else:
            self._pending = self._pool.submit(job)

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self.session.close()


def _locate(session: Session, world: World, plans: list[Plan]) -> list[RegionCodes | None]:
    """Region codes of the plans' points with the geocoder's batch API (consultations: None)."""
    index = district_index(session, district_code=world.district_code)
    todo = [i for i, p in enumerate(plans) if p.steps[0].op != CONSULT]
    codes: list[RegionCodes | None] = [None] * len(plans)
    if index is None or not todo:
        return codes
    lon = np.array([plans[i].lon for i in todo])
    lat = np.array([plans[i].lat for i in todo])
    found = index.locate_many(lon, lat)
    outside = [k for k, inside in enumerate(found.inside) if not inside]
    if outside:
        # A jittered point left the district: use the grid's representative point instead.
        for k in outside:
            plan = plans[todo[k]]
            plan.lon, plan.lat = plan.grid.lon, plan.grid.lat
        again = index.locate_many(
            np.array([plans[todo[k]].lon for k in outside]),
            np.array([plans[todo[k]].lat for k in outside]),
        )
        for j, k in enumerate(outside):
            found.street_code[k] = again.street_code[j]
            found.community_code[k] = again.community_code[j]
            found.grid_code[k] = again.grid_code[j]
    for k, i in enumerate(todo):
        codes[i] = RegionCodes(
            district_code=world.district_code,
            street_code=str(found.street_code[k]) or None,
            community_code=str(found.community_code[k]) or None,
            grid_code=str(found.grid_code[k]) or None,
        )
    return codes


class Simulation:
    """One run: the world, the generator, the plans in flight and the executor."""

    def __init__(
        self,
        session: Session,
        *,
        preset: Preset,
        seed: int,
        district_code: str,
        bulk: bool,
    ) -> None:
        self.session = session
        self.preset = preset
        self.seed = seed
        self.district_code = district_code
        self.world = build_world(
            session,
            district_code=district_code,
            seed=seed,
            inspectors=preset.inspectors,
            grid_workers=preset.grid_workers,
            bureaus=preset.bureaus,
            operators=preset.operators,
        )
        session.commit()
        self.cal = calendar_for(session)
        self.generator = Generator(
            self.world,
            preset,
            self.cal,
            lambda kind, minor, street: self.world.route(session, kind, minor, street),
        )
        self.executor: Executor = (
            BulkExecutor(session, self.world.actors, district_code)
            if bulk
            else ServiceExecutor(session, self.world.actors)
        )
        self._heap: list[tuple[datetime, tuple[int, int], int]] = []
        self._plans: dict[tuple[int, int], tuple[Plan, RegionCodes | None]] = {}
        self.errors = 0
        self.first_errors: list[str] = []

    def _plan_day(self, day: date) -> list[tuple[Plan, RegionCodes | None]]:
        plans = self.generator.arrivals(day)
        codes = _locate(self.session, self.world, plans)
        for plan, code in zip(plans, codes, strict=True):
            self.generator.plan(
                plan,
                code.grid_code if code else None,
                code.street_code if code else None,
            )
            plan.steps.sort(key=lambda s: s.t)
        return list(zip(plans, codes, strict=True))

    def add_day(self, day: date) -> None:
        for plan, code in self._plan_day(day):
            self._plans[plan.order] = (plan, code)
            heapq.heappush(self._heap, (plan.steps[0].t, plan.order, 0))

    def restore(self, checkpoint: datetime) -> int:
        """Rebuild the plans still running at ``checkpoint`` and attach their stored rows."""
        first = (checkpoint - MAX_SPAN).astimezone(LOCAL_TZ).date()
        last = checkpoint.astimezone(LOCAL_TZ).date()
        pending: list[tuple[Plan, RegionCodes | None, int]] = []
        day = first
        while day < last:
            for plan, code in self._plan_day(day):
                nxt = next((i for i, s in enumerate(plan.steps) if s.t >= checkpoint), None)
                if nxt is not None and nxt > 0:
                    pending.append((plan, code, nxt))
            day += timedelta(days=1)
        for start in range(0, len(pending), 2000):
            self.executor.attach([p for p, _, _ in pending[start : start + 2000]])
        for plan, code, nxt in pending:
            if plan.case is None and plan.request is None:
                continue  # it failed before (counted then); nothing to continue
            self._plans[plan.order] = (plan, code)
            heapq.heappush(self._heap, (plan.steps[nxt].t, plan.order, nxt))
        return len(pending)

    def run_until(self, end: datetime) -> None:
        """Execute every step before ``end`` in time order."""
        heap, plans, executor = self._heap, self._plans, self.executor
        while heap and heap[0][0] < end:
            _t, order, index = heapq.heappop(heap)
            plan, code = plans[order]
            step = plan.steps[index]
            try:
                executor.step(plan, step, code)
            except (CityopsError, LifecycleError) as exc:
                # The rules refused a planned step: count it and drop the rest of the plan.
                self.errors += 1
                if len(self.first_errors) < 5:
                    self.first_errors.append(f"{plan.key} {step.op}: {exc}")
                del plans[order]
                continue
            if index + 1 < len(plan.steps):
                heapq.heappush(heap, (plan.steps[index + 1].t, order, index + 1))
            else:
                del plans[order]


@contextmanager
def _long_lived() -> Iterator[None]:
    """Tune the cyclic collector for a run: the world, the plans in flight and the cases they
    hold live long, and full passes would rescan them every few thousand allocations (GC was
    ~20 % of a Fengtai run's CPU). Frozen objects are skipped (the run freezes again after
    each commit), and the young generations are collected less often — the steps allocate
    many small acyclic objects that reference counting frees anyway."""
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 50, 100)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _find_run(session: Session, district_code: str) -> SimulationRun | None:
    return session.scalar(
        select(SimulationRun)
        .where(SimulationRun.district_code == district_code, SimulationRun.status != "done")
        .order_by(SimulationRun.id.desc())
        .limit(1)
    )


def run(
    settings: Settings,
    *,
    preset: str = "small",
    seed: int = 1,
    period_from: date | None = None,
    period_to: date | None = None,
    bulk: bool = True,
    resume: bool = False,
    progress: Progress | None = None,
    stop_after_days: int | None = None,
) -> RunResult:
    """Simulate the local days ``period_from`` … ``period_to`` (inclusive) of the district.

    ``resume`` continues the district's latest unfinished run with its own seed, preset and
    period (the arguments are ignored). ``stop_after_days`` ends the run early as Ctrl-C
    would, after that many days (tests). Returns what was written.
    """
    started = time.perf_counter()
    district_code = settings.district_code
    with _session(settings) as session, _long_lived():
        row = _find_run(session, district_code) if resume else None
        if resume and row is None:
            raise ValueError(f"no unfinished simulation run for district {district_code}")
        if row is None:
            if period_from is None or period_to is None:
                raise ValueError("give the period: --from and --to")
            if period_to < period_from:
                raise ValueError("the period ends before it starts")
            chosen = get_preset(preset)
            if chosen.postgres_only and session.get_bind().dialect.name != "postgresql":
                raise ValueError(f"preset {preset!r} needs PostgreSQL")
            now = utcnow()
            row = SimulationRun(
                district_code=district_code,
                preset=chosen.name,
                seed=seed,
                bulk=bulk,
                period_from=local_midnight(period_from),
                period_to=local_midnight(period_to + timedelta(days=1)),
                simulated_to=local_midnight(period_from),
                status="running",
                started_at=now,
                updated_at=now,
            )
            session.add(row)
            session.commit()
        else:
            row.status = "running"
            session.commit()
        sim = Simulation(
            session,
            preset=get_preset(row.preset),
            seed=row.seed,
            district_code=district_code,
            bulk=row.bulk,
        )
        result = RunResult(
            run_id=row.id,
            preset=row.preset,
            seed=row.seed,
            period_from=row.period_from,
            period_to=row.period_to,
            simulated_to=row.simulated_to,
            cases=row.cases,
            events=row.events,
            calls=row.calls,
            errors=row.errors,
        )
        checkpoint = row.simulated_to
        if checkpoint > row.period_from:
            sim.restore(checkpoint)
        phases = result.phases
        phases["setup"] = time.perf_counter() - started
        phases["plan"] = phases["run"] = phases["flush"] = 0.0
        day = checkpoint.astimezone(LOCAL_TZ).date()
        last_day = (row.period_to.astimezone(LOCAL_TZ) - timedelta(days=1)).date()
        days_done = 0
        errors_before = row.errors
        background = row.bulk and session.get_bind().dialect.name == "postgresql"
        writer = _Writer(session, background=background)
        try:
            while day <= last_day:
                batch_end_day = min(day + timedelta(days=sim.preset.days_per_batch - 1), last_day)
                d = day
                while d <= batch_end_day:
                    t0 = time.perf_counter()
                    sim.add_day(d)
                    t1 = time.perf_counter()
                    sim.run_until(local_midnight(d + timedelta(days=1)))
                    phases["plan"] += t1 - t0
                    phases["run"] += time.perf_counter() - t1
                    d += timedelta(days=1)
                t0 = time.perf_counter()
                writer.wait()
                counts, write = sim.executor.prepare(writer.session)
                reached = local_midnight(batch_end_day + timedelta(days=1))
                result.simulated_to = reached
                result.cases += counts["cases"]
                result.events += counts["events"]
                result.calls += counts["calls"]
                result.errors = errors_before + sim.errors
                run_values: dict[str, Any] = {
                    "simulated_to": reached,
                    "cases": result.cases,
                    "events": result.events,
                    "calls": result.calls,
                    "errors": result.errors,
                    "updated_at": utcnow(),
                    "status": "done" if reached >= row.period_to else "running",
                }
                writer.submit(write, row.id, run_values)
                phases["flush"] += time.perf_counter() - t0
                gc.freeze()  # what this transaction left in memory lives on (see _long_lived)
                days_done += (batch_end_day - day).days + 1
                if progress is not None:
                    progress(batch_end_day, counts)
                day = batch_end_day + timedelta(days=1)
                if stop_after_days is not None and days_done >= stop_after_days and day <= last_day:
                    raise KeyboardInterrupt
            t0 = time.perf_counter()
            writer.wait()
            phases["flush"] += time.perf_counter() - t0
        except KeyboardInterrupt:
            # The transaction in flight holds whole days and its checkpoint: let it land.
            writer.wait()
            writer.session.rollback()
            session.rollback()
            run_row = session.get(SimulationRun, row.id, populate_existing=True)
            assert run_row is not None
            run_row.status = "interrupted"
            session.commit()
            result.interrupted = True
            stored = (run_row.simulated_to, run_row.cases, run_row.events, run_row.calls)
            result.simulated_to, result.cases, result.events, result.calls = stored
            result.errors = run_row.errors
        finally:
            writer.close()
        _refresh_statistics(session)
        result.first_errors = sim.first_errors
        result.seconds = time.perf_counter() - started
        return result


#: The tables a run fills: their planner statistics are refreshed when it ends.
_FILLED = ("cases", "case_events", "case_reporters", "case_stats", "hotline_requests",
           "hotline_callbacks")  # fmt: skip


def _refresh_statistics(session: Session) -> None:
    """Let the query planner see the new rows: autovacuum re-analyses a table only after a
    tenth of it changed, and stale counts made the dashboard's map query 60× slower in the
    benchmark."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {', '.join(_FILLED)}"))
    else:
        session.execute(text("PRAGMA optimize"))
    session.commit()


def system_actor(district_code: str) -> object:
    return replace(SYSTEM, district_code=district_code)
