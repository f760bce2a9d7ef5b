"""The department registry: bureaus, street offices and utilities are org units with a type.

Departments live in ``org_units`` (kinds ``department``, ``street_office``, ``company``); this
module only adds the catalogue's view of them and writes through ``cityops.auth.service``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.models import OrgUnit
from cityops.auth.service import create_org_unit, update_org_unit
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.geo.models import Region

DEPARTMENT_KINDS = ("department", "street_office", "company")
#: Department types answered by the street office of the case's street, not one bureau.
STREET_LEVEL_TYPES = frozenset({"street"})
DEMO_DEPARTMENTS_FILE = Path(__file__).parent / "data" / "demo_departments.yaml"
_DEPT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    kind: str
    dept_type: str
    name_en: str | None = None
    region_code: str | None = None


def _check(spec: DepartmentSpec) -> None:
    if spec.kind not in DEPARTMENT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DEPARTMENT_KINDS)}", field="kind")
    if not _DEPT_TYPE.match(spec.dept_type):
        raise InvalidInput(
            f"dept_type must be lower-case letters, digits and _, got {spec.dept_type!r}",
            field="dept_type",
        )
    if spec.kind == "street_office" and not (spec.region_code or "").isdigit():
        raise InvalidInput("a street office needs its street's region code", field="region_code")


def create_department(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    code: str,
    name: str,
    dept_type: str,
    kind: str = "department",
    name_en: str | None = None,
    region_code: str | None = None,
) -> OrgUnit:
    """Register a department (an org unit with a type the routing can find)."""
    spec = DepartmentSpec(
        code=code,
        name=name,
        kind=kind,
        dept_type=dept_type,
        name_en=name_en,
        region_code=region_code,
    )
    _check(spec)
    return create_org_unit(
        session,
        actor=actor,
        district_code=district_code,
        kind=kind,
        code=code,
        name=name,
        name_en=name_en,
        dept_type=dept_type,
        region_code=region_code,
    )


def update_department(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    department_id: int,
    name: str | None = None,
    name_en: str | None = None,
    dept_type: str | None = None,
    region_code: str | None = None,
    active: bool | None = None,
) -> OrgUnit:
    """Rename, retype, re-place, deactivate or reactivate a department.

    Deactivating is refused while cases wait on the department: they would have no one to
    handle them. Routing rules pointing at an inactive department are skipped, not deleted.
    """
    from cityops.cases.lifecycle import OPEN
    from cityops.cases.models import Case

    unit = get_department(session, district_code=district_code, department_id=department_id)
    changes: dict[str, object] = {}
    for key, value in (("name", name), ("name_en", name_en), ("dept_type", dept_type),
                       ("region_code", region_code), ("active", active)):  # fmt: skip
        if value is not None and value != getattr(unit, key):
            changes[key] = value
    if "name" in changes and not str(changes["name"]).strip():
        raise InvalidInput("a department needs a name", field="name")
    _check(
        DepartmentSpec(
            code=unit.code,
            name=str(changes.get("name", unit.name)),
            kind=unit.kind,
            dept_type=str(changes.get("dept_type", unit.dept_type or "")),
            region_code=changes.get("region_code", unit.region_code),  # type: ignore[arg-type]
        )
    )
    if changes.get("active") is False:
        waiting = session.scalar(
            select(func.count(Case.id)).where(
                Case.department_id == unit.id, Case.status.in_([s.value for s in OPEN])
            )
        )
        if waiting:
            raise Conflict(
                f"{unit.name} still has {waiting} open cases; dispatch them elsewhere first",
                field="active",
                open_cases=waiting,
            )
    if not changes:
        return unit
    return update_org_unit(session, actor=actor, unit=unit, changes=changes)


def list_departments(
    session: Session,
    *,
    district_code: str,
    dept_type: str | None = None,
    include_inactive: bool = False,
) -> Sequence[OrgUnit]:
    query = select(OrgUnit).where(
        OrgUnit.district_code == district_code, OrgUnit.kind.in_(DEPARTMENT_KINDS)
    )
    if dept_type is not None:
        query = query.where(OrgUnit.dept_type == dept_type)
    if not include_inactive:
        query = query.where(OrgUnit.active.is_(True))
    return session.scalars(query.order_by(OrgUnit.kind, OrgUnit.code)).all()


def get_department(session: Session, *, district_code: str, department_id: int) -> OrgUnit:
    unit = session.get(OrgUnit, department_id)
    if unit is None or unit.district_code != district_code or unit.kind not in DEPARTMENT_KINDS:
        raise NotFound(f"no department with id {department_id}", field="department_id")
    return unit


def department_by_code(session: Session, *, district_code: str, code: str) -> OrgUnit:
    unit = session.scalar(
        select(OrgUnit).where(OrgUnit.district_code == district_code, OrgUnit.code == code)
    )
    if unit is None or unit.kind not in DEPARTMENT_KINDS:
        raise NotFound(f"no department with code {code!r}", field="department_code")
    return unit


def demo_department_specs(
    streets: Sequence[tuple[str, str]] | None = None,
) -> list[DepartmentSpec]:
    """The packaged demo bureaus and utilities, plus a street office per street.

    ``streets`` is ``[(region_code, name), ...]``; by default the packaged demo streets (pass
    the geography's streets so offices match the loaded regions).
    """
    doc: dict[str, Any] = yaml.safe_load(DEMO_DEPARTMENTS_FILE.read_text(encoding="utf-8"))
    specs = [
        DepartmentSpec(
            code=d["code"],
            name=d["name"],
            kind=d["kind"],
            dept_type=d["dept_type"],
            name_en=d.get("name_en"),
        )
        for d in doc["departments"]
    ]
    if streets is None:
        streets = [(s["region_code"], s["name"]) for s in doc["streets"]]
    specs += [
        DepartmentSpec(
            code=f"street-{region}",
            name=f"{name}办事处",
            kind="street_office",
            dept_type="street",
            region_code=region,
        )
        for region, name in streets
    ]
    return specs


def loaded_streets(session: Session, *, district_code: str) -> list[tuple[str, str]]:
    """Streets of the loaded geography as ``(region_code, name)``, so offices match them."""
    rows = session.execute(
        select(Region.code, Region.name)
        .where(Region.district_code == district_code, Region.level == "street")
        .order_by(Region.code)
    ).all()
    return [(code, name) for code, name in rows]


def ensure_demo_departments(session: Session, *, district_code: str) -> int:
    """Create missing demo departments (street offices of the loaded streets, if any, else the
    packaged demo streets) as the system; return how many departments the district has."""
    streets = loaded_streets(session, district_code=district_code) or None
    actor = replace(SYSTEM, district_code=district_code)
    load_demo_departments(session, actor=actor, district_code=district_code, streets=streets)
    return len(list_departments(session, district_code=district_code))


def load_demo_departments(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    streets: Sequence[tuple[str, str]] | None = None,
) -> list[OrgUnit]:
    """Create the demo departments that are missing (idempotent); return those created."""
    specs = demo_department_specs(streets)
    for spec in specs:
        _check(spec)
    existing = set(
        session.scalars(select(OrgUnit.code).where(OrgUnit.district_code == district_code))
    )
    created = []
    for spec in specs:
        if spec.code in existing:
            continue
        created.append(
            create_org_unit(
                session,
                actor=actor,
                district_code=district_code,
                kind=spec.kind,
                code=spec.code,
                name=spec.name,
                name_en=spec.name_en,
                dept_type=spec.dept_type,
                region_code=spec.region_code,
            )
        )
    return created
