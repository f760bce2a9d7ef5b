"""The simulated district's fixed parts: staff, departments, grids, hotspots, routing.

Staff are real users created in one batch with ``auth.service.create_accounts`` (accounts
without a password: simulated people never log in; an admin can set one to look around as
them). Everything is derived from the seed and the loaded data only, so a resumed run rebuilds
exactly the same world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.auth import service as auth_service
from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.models import OrgUnit, User
from cityops.catalog import departments as dept_service
from cityops.catalog.files import ClassSpec
from cityops.catalog.routing import Memo, suggest_department
from cityops.catalog.service import active_version, version_specs
from cityops.geo.models import Region, RegionLevel

POI_KINDS = ("market", "school", "station", "construction", "residential")
DISPATCHABLE = ("department", "street_office", "company")


@dataclass(frozen=True)
class Grid:
    code: str
    community_code: str
    street_code: str
    lon: float
    lat: float
    #: Half the bounding box, in degrees: the jitter that keeps points near the grid.
    half_lon: float
    half_lat: float


@dataclass(frozen=True)
class Poi:
    kind: str
    name: str
    grid: Grid
    weight: float


@dataclass(frozen=True)
class DeptProfile:
    """How a department works: handling time as a lognormal fraction of the deadline."""

    mu: float
    sigma: float
    p_fail_check: float
    p_extension: float
    p_suspend: float
    reply_hours: float


@dataclass
class World:
    district_code: str
    seed: int
    classes: list[ClassSpec]
    grids: list[Grid]
    pois: list[Poi]
    street_names: dict[str, str]
    actors: dict[int, Actor]
    inspectors_of_grid: dict[str, int]
    grid_worker_of: dict[str, int]
    operators: list[int]
    shift_leads: list[int]
    dispatchers: list[int]
    sensor_gateway: int
    handler_of_dept: dict[int, int]
    departments: list[int]
    profiles: dict[int, DeptProfile]
    fallback_dept: int
    _routes: dict[tuple[str, str, str | None], int] = field(default_factory=dict)
    #: Rules, classes and departments read by routing (they do not change during a run).
    _routing_reads: Memo = field(default_factory=dict)

    def route(self, session: Session, kind: str, minor_code: str, street: str | None) -> int:
        """The department the routing rules give (cached per class and street)."""
        key = (kind, minor_code, street)
        found = self._routes.get(key)
        if found is None:
            suggestion = suggest_department(
                session,
                district_code=self.district_code,
                kind=kind,
                minor_code=minor_code,
                street_code=street,
                community_code=None,
                grid_code=None,
                # Rules by time of day are rare; routing is decided for office hours.
                at=datetime(2025, 1, 6, 3, 0, tzinfo=UTC),
                memo=self._routing_reads,
            )
            found = suggestion.department_id or self.fallback_dept
            if found not in self.handler_of_dept:
                found = self.fallback_dept
            self._routes[key] = found
        return found


class _Accounts:
    """Staff accounts by username: existing ones are reused, missing ones created in one batch."""

    def __init__(self, session: Session, district_code: str) -> None:
        self.session = session
        self.district_code = district_code
        self.users = {
            u.username: u
            for u in session.scalars(
                select(User).where(User.district_code == district_code, User.username.like("sim-%"))
            )
        }
        self.pending: list[auth_service.AccountSpec] = []

    def want(self, spec: auth_service.AccountSpec) -> str:
        if spec.username not in self.users:
            self.pending.append(spec)
        return spec.username

    def create_missing(self) -> dict[str, User]:
        if self.pending:
            created = auth_service.create_accounts(
                self.session,
                actor=replace(SYSTEM, district_code=self.district_code),
                district_code=self.district_code,
                accounts=self.pending,
            )
            self.users.update({u.username: u for u in created})
            self.pending = []
        return self.users


def _spec(
    username: str,
    display_name: str,
    role: str,
    *,
    scope_areas: list[str] | None = None,
    department_id: int | None = None,
) -> auth_service.AccountSpec:
    return auth_service.AccountSpec(
        username=username,
        display_name=display_name,
        roles=(role,),
        scope_areas=tuple(scope_areas or ()),
        scope_department_id=department_id,
        org_unit_id=department_id,
    )


def _grids(session: Session, district_code: str) -> list[Grid]:
    level = RegionLevel.GRID.value
    rows = session.execute(
        select(
            Region.code,
            Region.parent_code,
            Region.centroid_lon,
            Region.centroid_lat,
            Region.min_lon,
            Region.max_lon,
            Region.min_lat,
            Region.max_lat,
        )
        .where(Region.district_code == district_code, Region.level == level)
        .order_by(Region.code)
    ).all()
    return [
        Grid(
            code=r.code,
            community_code=r.parent_code or r.code[:12],
            street_code=r.code[:9],
            lon=r.centroid_lon,
            lat=r.centroid_lat,
            half_lon=(r.max_lon - r.min_lon) / 2,
            half_lat=(r.max_lat - r.min_lat) / 2,
        )
        for r in rows
    ]


def _ensure_bureaus(session: Session, district_code: str, wanted: int) -> None:
    """Generated bureaus (区第N专业处置单位) until the district has ``wanted`` departments."""
    have = session.scalar(
        select(func.count(OrgUnit.id)).where(
            OrgUnit.district_code == district_code, OrgUnit.kind == "department"
        )
    )
    actor = replace(SYSTEM, district_code=district_code)
    for n in range(int(have or 0), wanted):
        code = f"sim-bureau-{n + 1:02d}"
        exists = session.scalar(
            select(OrgUnit.id).where(OrgUnit.district_code == district_code, OrgUnit.code == code)
        )
        if exists is None:
            dept_service.create_department(
                session,
                actor=actor,
                district_code=district_code,
                code=code,
                name=f"区第{n + 1}专业处置单位",
                kind="department",
                dept_type=f"sim_bureau_{n + 1:02d}",
            )


def build_world(
    session: Session,
    *,
    district_code: str,
    seed: int,
    inspectors: int,
    grid_workers: int,
    bureaus: int,
    operators: int,
) -> World:
    """Create the missing staff and departments (idempotent) and derive the rest from the seed."""
    version = active_version(session, district_code=district_code)
    if version is None:
        raise ValueError(f"district {district_code} has no active catalogue")
    classes = [s for s in version_specs(session, version_id=version.id) if s.active]
    grids = _grids(session, district_code)
    if not grids:
        raise ValueError(f"district {district_code} has no unit grids: load its geography first")
    dept_service.ensure_demo_departments(session, district_code=district_code)
    if bureaus:
        _ensure_bureaus(session, district_code, bureaus)
    units = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.district_code == district_code, OrgUnit.kind.in_(DISPATCHABLE))
        .where(OrgUnit.active.is_(True))
        .order_by(OrgUnit.code)
    ).all()
    street_names = dict(
        session.execute(
            select(Region.code, Region.name).where(
                Region.district_code == district_code, Region.level == RegionLevel.STREET.value
            )
        ).all()
    )
    accounts = _Accounts(session, district_code)
    ops = [
        accounts.want(_spec(f"sim-op-{i:03d}", f"受理员{i:03d}", "operator"))
        for i in range(1, operators + 1)
    ]
    leads = [accounts.want(_spec(f"sim-lead-{i}", f"值班长{i}", "shift_lead")) for i in range(1, 3)]
    dispatchers = [
        accounts.want(_spec(f"sim-disp-{i}", f"派遣员{i}", "dispatcher")) for i in range(1, 4)
    ]
    sensor = accounts.want(_spec("sim-sensor", "物联感知网关", "operator"))
    handlers = {
        unit.id: accounts.want(
            _spec(f"sim-h-{unit.code}"[:64], f"{unit.name}处置员", "department_handler",
                  department_id=unit.id)
        )
        for unit in units
    }  # fmt: skip
    # Grid workers hold contiguous runs of grids; inspectors hold whole communities.
    owner_name: dict[str, str] = {}
    n_workers = max(1, min(grid_workers, len(grids)))
    per_worker = -(-len(grids) // n_workers)
    worker_names = []
    for i in range(n_workers):
        mine = [g.code for g in grids[i * per_worker : (i + 1) * per_worker]]
        if not mine:
            break
        name = accounts.want(
            _spec(f"sim-grid-{i + 1:04d}", f"网格员{i + 1:04d}", "inspector", scope_areas=mine)
        )
        worker_names.append(name)
        for code in mine:
            owner_name[code] = name
    communities = sorted({g.community_code for g in grids})
    n_insp = max(1, min(inspectors, len(communities)))
    per_insp = -(-len(communities) // n_insp)
    inspector_names = []
    for i in range(n_insp):
        mine = communities[i * per_insp : (i + 1) * per_insp]
        if not mine:
            break
        name = accounts.want(
            _spec(f"sim-insp-{i + 1:04d}", f"监督员{i + 1:04d}", "inspector", scope_areas=mine)
        )
        inspector_names.append((name, set(mine)))
    users = accounts.create_missing()
    owner = {code: users[name].id for code, name in owner_name.items()}
    workers = [users[name] for name in worker_names]
    inspector_users = [(users[name], mine) for name, mine in inspector_names]
    ops_users = [users[name] for name in ops]
    leads_users = [users[name] for name in leads]
    dispatcher_users = [users[name] for name in dispatchers]
    sensor_user = users[sensor]
    handler_users = {unit_id: users[name] for unit_id, name in handlers.items()}
    # The grid's inspector (监督员) patrols it; grid workers (网格员) report in their own grids.
    insp_of_grid: dict[str, int] = {}
    for grid in grids:
        for user, mine_set in inspector_users:
            if grid.community_code in mine_set:
                insp_of_grid[grid.code] = user.id
                break
        else:
            insp_of_grid[grid.code] = owner[grid.code]
    all_users = [*ops_users, *leads_users, *dispatcher_users, sensor_user, *handler_users.values()]
    all_users += workers
    all_users += [u for u, _ in inspector_users]
    actors = {u.id: auth_service.actor_of(u) for u in all_users}
    rng = random.Random(f"world:{seed}")
    profiles = {}
    for unit in units:
        slow = rng.random() < 0.15
        profiles[unit.id] = DeptProfile(
            mu=rng.uniform(-0.55, -0.35) if slow else rng.uniform(-1.1, -0.65),
            sigma=rng.uniform(0.3, 0.45),
            p_fail_check=rng.uniform(0.02, 0.08),
            p_extension=rng.uniform(0.01, 0.04),
            p_suspend=rng.uniform(0.003, 0.012),
            reply_hours=rng.uniform(2.0, 10.0),
        )
    n_pois = max(8, len(grids) // 60)
    weights = {"market": 3.0, "school": 1.5, "station": 2.0, "construction": 2.5, "residential": 1}
    pois = []
    for i in range(n_pois):
        kind = POI_KINDS[i % len(POI_KINDS)]
        grid = grids[rng.randrange(len(grids))]
        pois.append(Poi(kind, f"{kind}-{i}", grid, weights[kind] * rng.uniform(0.5, 2.0)))
    fallback = next((u.id for u in units if u.dept_type == "city_management"), units[0].id)
    return World(
        district_code=district_code,
        seed=seed,
        classes=classes,
        grids=grids,
        pois=pois,
        street_names=street_names,
        actors=actors,
        inspectors_of_grid=insp_of_grid,
        grid_worker_of=owner,
        operators=[u.id for u in ops_users],
        shift_leads=[u.id for u in leads_users],
        dispatchers=[u.id for u in dispatcher_users],
        sensor_gateway=sensor_user.id,
        handler_of_dept={d: u.id for d, u in handler_users.items()},
        departments=[u.id for u in units],
        profiles=profiles,
        fallback_dept=fallback,
    )
