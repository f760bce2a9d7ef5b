"""The demo's live feed: a new report or call every few seconds, departments acting.

Low volume, so everything goes through the per-action services (``cases.service``,
``hotline.service``), one transaction per change, exactly as the web API would do it. Run
``run_live_feed`` in a background thread; tests drive ``LiveFeed.step`` with their own clock.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.cases import service as case_service
from cityops.cases.lifecycle import OPEN, Action, Status
from cityops.cases.models import Case
from cityops.cases.schemas import ACTION_BODIES
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.errors import CityopsError
from cityops.simulate.executors import ServiceExecutor
from cityops.simulate.model import CONSULT, Generator
from cityops.simulate.presets import get_preset
from cityops.simulate.world import World, build_world
from cityops.timeutil import to_local, utcnow

log = logging.getLogger(__name__)


class LiveFeed:
    """One tick = maybe a new report or call, then the next action on a few open cases."""

    def __init__(
        self, factory: sessionmaker[Session], *, district_code: str, seed: int, preset: str
    ) -> None:
        self.factory = factory
        self.district_code = district_code
        self.seed = seed
        self.preset = get_preset(preset)
        self.tick = 0
        with unit_of_work(factory) as session:
            self.world: World = build_world(
                session,
                district_code=district_code,
                seed=seed,
                inspectors=self.preset.inspectors,
                grid_workers=self.preset.grid_workers,
                bureaus=self.preset.bureaus,
                operators=self.preset.operators,
            )
            self.cal = case_service.calendar_for(session)

    def step(self, now: datetime) -> list[str]:
        """Do one tick at ``now``; return what happened (for logs and tests)."""
        self.tick += 1
        rng = random.Random(f"live:{self.seed}:{self.tick}")
        done: list[str] = []
        if rng.random() < 0.7:
            done.append(self._arrival(rng, now))
        for _ in range(rng.randint(1, 3)):
            what = self._advance(rng, now)
            if what:
                done.append(what)
        return done

    def _arrival(self, rng: random.Random, now: datetime) -> str:
        with unit_of_work(self.factory) as session:
            generator = Generator(
                self.world,
                self.preset,
                self.cal,
                lambda kind, minor, street: self.world.route(session, kind, minor, street),
            )
            plans = [
                p for p in generator.arrivals(to_local(now).date()) if p.steps[0].op != CONSULT
            ]
            if not plans:
                return "no arrival"
            plan = plans[rng.randrange(len(plans))]
            plan.key = f"live{self.seed}-{now:%Y%m%d%H%M%S}-{self.tick}"
            plan.steps[0].t = now
            generator.plan(plan, plan.grid.code, plan.grid.street_code)
            executor = ServiceExecutor(session, self.world.actors)
            executor.step(plan, plan.steps[0], None)
            return f"{plan.source} {plan.kind} {plan.minor_code}"

    def _next(
        self, session: Session, case: Case, rng: random.Random
    ) -> tuple[Action, int, dict[str, object]] | None:
        """The natural next action for a case's state, and who takes it."""
        w = self.world
        lead = w.shift_leads[0]
        disp = w.dispatchers[0]
        op = w.operators[0]
        inspector = w.inspectors_of_grid.get(case.grid_code or "") or next(
            iter(w.inspectors_of_grid.values())
        )
        handler = w.handler_of_dept.get(case.department_id or 0)
        status = Status(case.status)
        if status in (Status.REPORTED, Status.VERIFIED):
            return Action.REGISTER, lead, {}
        if status is Status.VERIFYING:
            return Action.VERIFY, case.assignee_id or inspector, {"verdict": "confirmed"}
        if status in (Status.REGISTERED, Status.RETURNED):
            dept = w.route(session, case.kind, case.minor_code, case.street_code)
            return Action.DISPATCH, disp, {"department_id": dept}
        if status is Status.DISPATCHED and handler is not None:
            return Action.HANDLE, handler, {"result": "已按要求处置完毕。"}
        if status is Status.EXTENSION_REQUESTED:
            return Action.APPROVE_EXTENSION, lead, {}
        if status is Status.SUSPENDED:
            return Action.RESUME, disp, {}
        if status is Status.HANDLED:
            return Action.ASSIGN_CHECK, op, {"assignee_id": inspector}
        if status is Status.CHECKING:
            verdict = "pass" if rng.random() < 0.95 else "fail"
            return Action.CHECK, case.assignee_id or inspector, {"verdict": verdict}
        if status is Status.CHECK_FAILED:
            return Action.REWORK, disp, {}
        if status is Status.CHECKED:
            return Action.CLOSE, lead, {}
        return None

    def _advance(self, rng: random.Random, now: datetime) -> str | None:
        with unit_of_work(self.factory) as session:
            ids = session.scalars(
                select(Case.id)
                .where(Case.district_code == self.district_code)
                .where(Case.status.in_([s.value for s in OPEN]))
                .order_by(Case.updated_at, Case.id)
                .limit(30)
            ).all()
            if not ids:
                return None
            case = session.get(Case, ids[rng.randrange(len(ids))])
            assert case is not None
            nxt = self._next(session, case, rng)
            if nxt is None:
                return None
            action, actor_id, values = nxt
            actor = self.world.actors.get(actor_id)
            if actor is None:
                return None
            body = ACTION_BODIES[action](expected_version=case.version, **values)
            try:
                with session.begin_nested():
                    case_service.act(
                        session, actor=actor, case_id=case.id, action=action, body=body, now=now
                    )
            except CityopsError as exc:
                # Someone (a demo user) acted on it first, or it left the actor's scope.
                return f"{case.number} {action.value} refused: {exc.message}"
            return f"{case.number} {action.value}"


def run_live_feed(
    settings: Settings,
    stop_event: threading.Event,
    seed: int = 1,
    *,
    interval: float = 4.0,
    preset: str = "demo",
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Tick every ``interval`` seconds until ``stop_event`` is set (run it in a thread)."""
    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine, settings)
    try:
        feed = LiveFeed(factory, district_code=settings.district_code, seed=seed, preset=preset)
        while not stop_event.wait(interval):
            try:
                for line in feed.step(clock()):
                    log.info("live feed: %s", line)
            except Exception:  # the demo must keep serving even if one tick fails
                log.exception("live feed tick failed")
    finally:
        engine.dispose()


__all__ = ["LiveFeed", "run_live_feed"]
