"""Small read-only lookups pages need: names for codes and ids, and the options of selects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth import service as auth_service
from cityops.auth.models import OrgUnit, User
from cityops.auth.roles import Role
from cityops.catalog import departments
from cityops.catalog import service as catalog_service
from cityops.geo.models import Region


def region_names(session: Session, codes: Iterable[str | None]) -> dict[str, str]:
    """Region code → name for the given codes."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    rows = session.execute(select(Region.code, Region.name).where(Region.code.in_(wanted)))
    return {str(code): str(name) for code, name in rows}


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """User id → display name."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {int(uid): str(name) for uid, name in rows}


def unit_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Org unit id → name."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(wanted)))
    return {int(uid): str(name) for uid, name in rows}


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    group: str = ""


def department_options(session: Session, district_code: str) -> list[Option]:
    """Units a case can be dispatched to, grouped by kind."""
    return [
        Option(str(unit.id), unit.name, unit.kind)
        for unit in departments.list_departments(session, district_code=district_code)
    ]


def inspector_options(
    session: Session, district_code: str, near: Iterable[str | None] = ()
) -> list[Option]:
    """Active inspectors; those whose areas cover ``near`` codes first."""
    codes = [c for c in near if c]
    found = []
    for user in auth_service.list_users(session, district_code=district_code):
        if not user.active or Role.INSPECTOR.value not in user.roles:
            continue
        covers = any(code.startswith(area) for code in codes for area in user.scope_areas or ())
        found.append((not covers, user.display_name, Option(str(user.id), user.display_name)))
    return [option for *_key, option in sorted(found, key=lambda item: (item[0], item[1]))]


def class_options(session: Session, district_code: str) -> list[Option]:
    """Active classes of the active catalogue as ``kind:minor_code`` values, grouped by major."""
    version = catalog_service.active_version(session, district_code=district_code)
    if version is None:
        return []
    return [
        Option(f"{row.kind}:{row.minor_code}", f"{row.minor_code} {row.minor_name}", row.major_name)
        for row in catalog_service.list_classes(session, version_id=version.id)
        if row.active
    ]
