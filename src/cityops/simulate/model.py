"""The generative model: what happens on a day, and how each case will go.

A day's arrivals come from ``random.Random(f"{seed}:{day}")`` and each case's plan from its
own ``random.Random(key)``: nothing depends on what was simulated before, so a resumed run
regenerates the very same plans and continues them. A plan is a list of steps with times;
the engine executes them in time order through the case rules, which decide every transition
(a step the rules refuse is counted as an error, never forced).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cityops.cases.lifecycle import Action
from cityops.catalog.files import ClassSpec
from cityops.simulate import text
from cityops.simulate.presets import Preset
from cityops.simulate.world import Grid, World
from cityops.timeutil import LOCAL_TZ
from cityops.workcal import DeadlineKind, WorkCalendar, compute_due

#: No plan runs longer than this after its report (suspensions included).
MAX_SPAN = timedelta(days=60)

# Plan step operations besides lifecycle actions.
CALL = "call"  # hotline intake that makes a case (take_call)
REPORT = "report"  # report_case
CONSULT = "consult"  # a consultation answered at intake (no case)
REPLY = "reply"  # the department's reply to the caller
CALLBACK = "callback"  # 回访

#: Relative frequency of the classes that dominate real statistics (catalog.md).
FREQUENT: dict[tuple[str, str], float] = {
    ("event", "0507"): 60, ("event", "0102"): 55, ("event", "0103"): 30, ("event", "0104"): 35,
    ("event", "0201"): 50, ("event", "0501"): 30, ("event", "0504"): 35, ("event", "0505"): 30,
    ("event", "0506"): 35, ("event", "0503"): 12, ("event", "0598"): 8, ("event", "0510"): 6,
    ("event", "0108"): 8, ("event", "0306"): 8, ("event", "0109"): 6,
    ("component", "0118"): 14, ("component", "0305"): 12, ("component", "0315"): 10,
    ("component", "0211"): 9, ("component", "0102"): 7, ("component", "0103"): 6,
    ("component", "0101"): 5, ("component", "0104"): 5, ("component", "0212"): 4,
}  # fmt: skip
#: What citizens call about (more nuisance, less street furniture).
HOTLINE: dict[tuple[str, str], float] = {
    ("event", "0301"): 30, ("event", "0141"): 18, ("event", "0505"): 30, ("event", "0508"): 14,
    ("event", "0510"): 10, ("event", "0306"): 14, ("event", "0404"): 12, ("event", "0102"): 18,
    ("event", "0507"): 16, ("event", "0501"): 10, ("event", "0504"): 10, ("event", "0302"): 10,
    ("event", "0111"): 6, ("component", "0118"): 12, ("event", "0506"): 10,
}  # fmt: skip
SENSOR_CLASSES = (
    ("component", "0101"), ("component", "0102"), ("component", "0103"), ("component", "0105"),
    ("component", "0111"), ("event", "0111"), ("event", "0132"),
)  # fmt: skip
#: Month multipliers of seasonal classes.
SEASONAL: dict[tuple[str, str], tuple[float, ...]] = {
    ("event", "0510"): (0.2, 0.2, 0.4, 0.8, 1.5, 2.5, 3.0, 3.0, 1.8, 0.8, 0.3, 0.2),
    ("event", "0111"): (0.1, 0.1, 0.2, 0.4, 0.8, 2.5, 5.0, 4.0, 1.2, 0.3, 0.1, 0.1),
    ("event", "0113"): (0.1, 0.1, 0.2, 0.5, 1.5, 3.0, 3.5, 3.0, 1.5, 0.4, 0.1, 0.1),
    ("event", "0112"): (6.0, 4.0, 1.0, 0, 0, 0, 0, 0, 0, 0, 1.0, 4.0),
    ("event", "0127"): (2.0, 1.5, 1.5, 1.0, 0.6, 0.5, 0.5, 0.5, 0.8, 1.5, 2.5, 2.0),
    ("event", "0301"): (0.6, 0.4, 1.0, 1.2, 1.3, 1.3, 1.2, 1.2, 1.2, 1.1, 1.0, 0.7),
}
#: Which classes gather around which kind of place.
AFFINITY: dict[str, tuple[tuple[str, str], ...]] = {
    "market": (("event", "0501"), ("event", "0504"), ("event", "0102"), ("event", "0503")),
    "station": (("event", "0506"), ("event", "0201"), ("event", "0505"), ("event", "0509")),
    "school": (("event", "0505"), ("event", "0506"), ("event", "0204")),
    "construction": (
        ("event", "0302"), ("event", "0301"), ("event", "0304"), ("event", "0103"),
        ("event", "0120"), ("event", "0307"),
    ),
    "residential": (("event", "0507"), ("event", "0102"), ("event", "0141"), ("event", "0108")),
}  # fmt: skip
#: Hotline calls by local hour: peaks in the morning and after work.
HOURLY = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.0, 2.6, 2.6, 2.2, 1.6, 1.8, 2.0, 1.9, 1.8, 1.9,
    2.1, 2.4, 2.3, 1.7, 1.0, 0.5,
)  # fmt: skip
#: Hotline volume by weekday (Monday first).
SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")
WEEKLY = (1.18, 1.08, 1.02, 1.0, 0.98, 0.88, 0.86)


@dataclass
class Step:
    t: datetime
    op: str
    actor: int
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """One arrival and everything that will happen to it."""

    key: str
    order: tuple[int, int]
    source: str
    kind: str
    minor_code: str
    urgency: str
    description: str
    address: str
    lon: float
    lat: float
    grid: Grid
    reporter: int
    call_type: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    answer: str | None = None
    region_code: str | None = None
    steps: list[Step] = field(default_factory=list)
    #: What the executor holds for it (a CaseState or a case id; a hotline request).
    case: Any = None
    request: Any = None


def _utc(local: datetime) -> datetime:
    return local.astimezone(UTC).replace(microsecond=0)


def _local_at(day: date, seconds: float) -> datetime:
    return datetime.combine(day, time(), tzinfo=LOCAL_TZ) + timedelta(seconds=int(seconds))


def _weighted(rng: random.Random, items: list[Any], weights: list[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


@dataclass
class ClassTable:
    """Class weights per source for one month."""

    specs: list[ClassSpec]
    inspector: list[float]
    hotline: list[float]
    by_key: dict[tuple[str, str], ClassSpec]

    @classmethod
    def build(cls, specs: list[ClassSpec], month: int) -> ClassTable:
        ordered = sorted(specs, key=lambda s: (s.kind, s.minor_code))
        keys = [(s.kind, s.minor_code) for s in ordered]
        seasonal = [SEASONAL.get(k, (1.0,) * 12)[month - 1] for k in keys]
        inspector = [FREQUENT.get(k, 1.0) * f for k, f in zip(keys, seasonal, strict=True)]
        hotline = [
            (HOTLINE.get(k, 0.0) + 0.3 * FREQUENT.get(k, 0.5)) * f
            for k, f in zip(keys, seasonal, strict=True)
        ]
        return cls(ordered, inspector, hotline, dict(zip(keys, ordered, strict=True)))


class Generator:
    """Makes a day's arrivals and each arrival's plan."""

    def __init__(
        self,
        world: World,
        preset: Preset,
        cal: WorkCalendar,
        route: Callable[[str, str, str | None], int],
    ) -> None:
        self.world = world
        self.preset = preset
        self.cal = cal
        self.route = route
        self._tables: dict[int, ClassTable] = {}
        share = preset.sources
        per_year = preset.cases_per_year
        # Inspectors work on working days only (about 249 a year).
        self.inspector_per_workday = per_year * share[0] / 249.0
        self.hotline_per_day = per_year * share[1] / 365.0
        self.public_per_day = per_year * share[2] / 365.0
        self.sensor_per_day = per_year * share[3] / 365.0
        self.poi_weights = [p.weight for p in world.pois]

    def table(self, month: int) -> ClassTable:
        if month not in self._tables:
            self._tables[month] = ClassTable.build(self.world.classes, month)
        return self._tables[month]

    # --- arrivals ---------------------------------------------------------------------------

    def _count(self, rng: random.Random, mean: float) -> int:
        # Normal approximation of a Poisson count, with day-to-day variation of ±10 %.
        mean *= rng.uniform(0.9, 1.1)
        return max(0, round(rng.gauss(mean, math.sqrt(max(mean, 1.0)))))

    def _place(
        self, rng: random.Random, cls_key: tuple[str, str] | None
    ) -> tuple[Grid, float, float, str | None]:
        world = self.world
        if rng.random() < 0.55 and world.pois:
            poi = _weighted(rng, world.pois, self.poi_weights)
            if cls_key is None or cls_key in AFFINITY.get(poi.kind, ()) or rng.random() < 0.5:
                grid = poi.grid
                spot = rng.choice(text.PLACES[poi.kind])
                lon = grid.lon + rng.gauss(0, grid.half_lon * 0.5)
                lat = grid.lat + rng.gauss(0, grid.half_lat * 0.5)
                return grid, lon, lat, spot
        grid = world.grids[rng.randrange(len(world.grids))]
        lon = grid.lon + rng.uniform(-0.5, 0.5) * grid.half_lon
        lat = grid.lat + rng.uniform(-0.5, 0.5) * grid.half_lat
        return grid, lon, lat, None

    def _class_near(self, rng: random.Random, table: ClassTable, weights: list[float]) -> ClassSpec:
        spec: ClassSpec = _weighted(rng, table.specs, weights)
        return spec

    def arrivals(self, day: date) -> list[Plan]:
        """Every report and call of one local day, in time order (plans without steps)."""
        rng = random.Random(f"{self.world.seed}:{day.isoformat()}")
        table = self.table(day.month)
        plans: list[Plan] = []
        season = 1.15 if day.month in (6, 7, 8) else 1.0
        workday = self.cal.is_workday(day)
        n_insp = self._count(rng, self.inspector_per_workday) if workday else 0
        n_hot = self._count(rng, self.hotline_per_day * WEEKLY[day.weekday()] * season)
        n_pub = self._count(rng, self.public_per_day)
        n_sen = self._count(rng, self.sensor_per_day)
        n_consult = self._count(rng, n_hot * self.preset.consultations_per_hotline_case)
        idx = 0
        day_code = f"{day:%Y%m%d}"
        ordinal = day.toordinal()
        world = self.world

        def new(source: str, seconds: float, spec: ClassSpec | None) -> Plan:
            nonlocal idx
            idx += 1
            key = f"sim{world.seed}-{day_code}-{idx:06d}"
            grid, lon, lat, spot = self._place(
                rng, (spec.kind, spec.minor_code) if spec is not None else None
            )
            street = world.street_names.get(grid.street_code)
            address = text.place_text(rng, street, spot)
            kind = spec.kind if spec else ""
            minor = spec.minor_code if spec else ""
            desc = (
                text.describe(
                    rng, kind=kind, minor_code=minor, name=spec.minor_name, source=source,
                    place=address,
                )
                if spec
                else ""
            )  # fmt: skip
            urgent = spec is not None and spec.urgent_deadline_hours < 4 and rng.random() < 0.05
            return Plan(
                key=key,
                order=(ordinal, idx),
                source=source,
                kind=kind,
                minor_code=minor,
                urgency="urgent" if urgent else "normal",
                description=desc,
                address=address,
                lon=lon,
                lat=lat,
                grid=grid,
                reporter=0,
                steps=[Step(_utc(_local_at(day, seconds)), REPORT, 0)],
            )

        periods = [(8.5 * 3600, 12 * 3600), (13 * 3600, 17.5 * 3600)]
        for _ in range(n_insp):
            lo, hi = periods[rng.random() < 0.5]
            spec = self._class_near(rng, table, table.inspector)
            plan = new("inspector", rng.uniform(lo, hi), spec)
            plans.append(plan)
        for _ in range(n_hot):
            hour = _weighted(rng, list(range(24)), list(HOURLY))
            spec = self._class_near(rng, table, table.hotline)
            plan = new("hotline", hour * 3600 + rng.uniform(0, 3600), spec)
            plan.call_type = "complaint" if rng.random() < 0.7 else rng.choice(("help", "report"))
            plan.caller_name = text.person(rng)
            plan.caller_phone = text.phone(rng)
            plan.steps[0].op = CALL
            plans.append(plan)
        for _ in range(n_pub):
            spec = self._class_near(rng, table, table.hotline)
            plans.append(new("public", rng.uniform(7 * 3600, 23 * 3600), spec))
        for _ in range(n_sen):
            cls_key = rng.choice(SENSOR_CLASSES)
            spec = table.by_key.get(cls_key) or self._class_near(rng, table, table.inspector)
            plans.append(new("sensor", rng.uniform(0, 86400), spec))
        for _ in range(n_consult):
            hour = _weighted(rng, list(range(24)), list(HOURLY))
            plan = new("hotline", hour * 3600 + rng.uniform(0, 3600), None)
            plan.call_type = "consultation"
            plan.description, plan.answer = text.consultation(rng)
            plan.caller_name = text.person(rng)
            plan.caller_phone = text.phone(rng)
            plan.region_code = plan.grid.street_code
            plan.steps[0].op = CONSULT
            plans.append(plan)
        plans.sort(key=lambda p: (p.steps[0].t, p.order))
        return plans

    # --- plans ------------------------------------------------------------------------------

    def _work(self, t: datetime, hours: float) -> datetime:
        return _utc(self.cal.add_working(t, timedelta(hours=max(hours, 0.05))))

    def _due(self, t: datetime, hours: float, kind: str) -> datetime:
        return _utc(compute_due(self.cal, t, max(hours, 0.05), DeadlineKind(kind)))

    def plan(self, plan: Plan, grid_code: str | None, street_code: str | None) -> None:
        """Fill the plan's steps after intake, given where the geocoder put the point."""
        world = self.world
        rng = random.Random(plan.key)
        first = plan.steps[0]
        ops, leads, disp = world.operators, world.shift_leads, world.dispatchers
        operator = ops[rng.randrange(len(ops))]
        lead = leads[rng.randrange(len(leads))]
        dispatcher = disp[rng.randrange(len(disp))]
        grid_key = grid_code or plan.grid.code
        inspector = (
            world.inspectors_of_grid.get(grid_key) or world.inspectors_of_grid[plan.grid.code]
        )
        if plan.source == "inspector":
            owner = world.actors.get(inspector)
            # Grid workers report in their own grids; the inspector patrols the community.
            plan.reporter = inspector if owner is not None and rng.random() < 0.3 else 0
            if plan.reporter == 0:
                plan.reporter = self._grid_worker(grid_key) or inspector
        elif plan.source == "sensor":
            plan.reporter = world.sensor_gateway
        else:
            plan.reporter = operator
        first.actor = plan.reporter
        if first.op == CONSULT:
            return
        steps = plan.steps
        t = first.t

        def add(op: str, at: datetime, actor: int, **body: Any) -> datetime:
            steps.append(Step(at, op, actor, body))
            return at

        def minutes(lo: float, hi: float) -> timedelta:
            return timedelta(seconds=int(rng.uniform(lo, hi) * 60))

        if plan.source != "inspector" and rng.random() < (
            0.2 if plan.source == "hotline" else 0.45
        ):
            t = add(Action.ASSIGN_VERIFY, t + minutes(3, 20), operator, assignee_id=inspector)
            t = add(
                Action.VERIFY,
                self._work(t, rng.uniform(0.3, 3.0)),
                inspector,
                verdict="confirmed" if rng.random() < 0.95 else "not_found",
            )
            if steps[-1].body["verdict"] == "not_found":
                add(Action.REJECT, t + minutes(10, 40), lead, reason="核实未发现问题，不予立案")
                return
        elif plan.source == "inspector" and rng.random() < 0.03:
            add(Action.REJECT, t + minutes(10, 60), lead, reason="不符合立案标准")
            return
        if rng.random() < 0.002:
            add(Action.VOID, t + minutes(10, 60), lead, reason="重复录入，作废")
            return
        t = add(Action.REGISTER, t + minutes(5, 40), lead)
        spec = self.table(1).by_key[(plan.kind, plan.minor_code)]
        urgent = plan.urgency == "urgent"
        hours = spec.urgent_deadline_hours if urgent else spec.normal_deadline_hours
        kind = spec.urgent_deadline_kind if urgent else spec.normal_deadline_kind
        dept = self.route(plan.kind, plan.minor_code, street_code)
        t = add(Action.DISPATCH, t + minutes(3, 30), dispatcher, department_id=dept)
        if rng.random() < 0.035 and len(world.departments) > 1:
            wrong = world.departments[rng.randrange(len(world.departments))]
            if wrong != dept:
                steps[-1].body["department_id"] = wrong
                t = add(
                    Action.RETURN,
                    self._work(t, rng.uniform(0.5, 6.0)),
                    world.handler_of_dept[wrong],
                    reason="非本单位职责，申请回退",
                )
                t = add(Action.DISPATCH, t + minutes(5, 40), dispatcher, department_id=dept)
        handler = world.handler_of_dept[dept]
        profile = world.profiles[dept]
        dispatched = t
        roll = rng.random()
        if roll < profile.p_suspend:
            t = add(Action.SUSPEND, t + minutes(60, 240), lead, reason="需协调资金，暂时挂账")
            t = add(
                Action.RESUME,
                t + timedelta(days=rng.uniform(3, 25)),
                dispatcher,
            )
            handled = self._due(t, hours * rng.uniform(0.2, 0.8), kind)
        elif roll < profile.p_suspend + profile.p_extension:
            t = add(
                Action.REQUEST_EXTENSION,
                self._due(t, hours * rng.uniform(0.3, 0.7), kind),
                handler,
                reason="需采购材料，申请延期",
                hours=float(max(1, round(hours * rng.uniform(1, 2)))),
            )
            approved = rng.random() < 0.8
            extra = steps[-1].body["hours"]
            if approved:
                t = add(Action.APPROVE_EXTENSION, t + minutes(30, 240), lead)
                handled = self._due(t, (hours * 0.3 + extra) * rng.uniform(0.3, 0.9), kind)
            else:
                t = add(Action.REFUSE_EXTENSION, t + minutes(30, 240), lead, reason="理由不充分")
                handled = self._due(t, hours * rng.uniform(0.1, 0.5), kind)
        else:
            fraction = math.exp(rng.gauss(profile.mu, profile.sigma))
            handled = self._due(t, hours * fraction, kind)
            if fraction > 1.05:
                urge_at = self._due(t, hours, kind) + minutes(30, 120)
                if urge_at < handled:
                    add(Action.URGE, urge_at, dispatcher, note="已超期，请尽快处置")
        if plan.source == "hotline":
            reply_at = dispatched + timedelta(hours=rng.lognormvariate(math.log(2), 0.8))
            if reply_at >= handled:
                reply_at = dispatched + (handled - dispatched) / 2
            add(REPLY, reply_at.replace(microsecond=0), handler)
        steps.sort(key=lambda s: s.t)
        t = add(Action.HANDLE, handled, handler, result="已按要求处置完毕，现场已恢复。")
        t = self._check(plan, rng, t, operator, inspector, dispatcher, handler, hours, kind,
                        profile.p_fail_check)  # fmt: skip
        t = add(Action.CLOSE, t + minutes(10, 90), lead)
        if plan.source != "hotline":
            return
        reached = rng.random() < 0.92
        late = any(s.op == Action.URGE for s in steps)
        p_resolved = 0.80 if late else 0.93
        resolved = rng.random() < p_resolved
        if resolved:
            sat = _weighted(
                rng,
                list(SATISFACTION),
                [0.86, 0.1, 0.04] if not late else [0.6, 0.25, 0.15],
            )
        else:
            sat = _weighted(
                rng, ["satisfied", "basically_satisfied", "dissatisfied"], [0.1, 0.3, 0.6]
            )
        callback_at = t + timedelta(hours=rng.uniform(4, 72))
        if not reached:
            add(CALLBACK, callback_at.replace(microsecond=0), operator, reached=False)
            return
        t = add(CALLBACK, callback_at.replace(microsecond=0), operator,
                reached=True, resolved=resolved, satisfaction=sat)  # fmt: skip
        if not resolved:
            # The callback reopens the case (in the callback step); the department goes again.
            t = add(Action.HANDLE, self._due(t, hours * rng.uniform(0.3, 0.9), kind), handler,
                    result="已二次处置，问题已解决。")  # fmt: skip
            t = self._check(plan, rng, t, operator, inspector, dispatcher, handler, hours, kind, 0)
            add(Action.CLOSE, t + minutes(10, 90), lead)

    def _check(
        self,
        plan: Plan,
        rng: random.Random,
        t: datetime,
        operator: int,
        inspector: int,
        dispatcher: int,
        handler: int,
        hours: float,
        kind: str,
        p_fail: float,
    ) -> datetime:
        steps = plan.steps
        minutes = timedelta(minutes=1)
        t = t + minutes * rng.uniform(10, 60)
        steps.append(Step(t.replace(microsecond=0), Action.ASSIGN_CHECK, operator,
                          {"assignee_id": inspector}))  # fmt: skip
        t = self._work(t, rng.uniform(0.2, 4.0))
        fail = rng.random() < p_fail
        steps.append(Step(t, Action.CHECK, inspector, {"verdict": "fail" if fail else "pass"}))
        if not fail:
            return t
        t = (t + minutes * rng.uniform(10, 60)).replace(microsecond=0)
        steps.append(Step(t, Action.REWORK, dispatcher))
        t = self._due(t, hours * rng.uniform(0.2, 0.8), kind)
        steps.append(Step(t, Action.HANDLE, handler, {"result": "已返工整改完毕。"}))
        return self._check(plan, rng, t, operator, inspector, dispatcher, handler, hours, kind, 0)

    def _grid_worker(self, grid_code: str) -> int | None:
        return self.world.grid_worker_of.get(grid_code)
