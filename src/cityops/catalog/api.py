"""Routes of the catalogue: classes, versions, departments and routing rules (thin)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from cityops.catalog import departments, files, routing, service
from cityops.catalog.schemas import (
    ClassPage,
    ClassRead,
    DepartmentRead,
    DepartmentUpdate,
    ExplainBody,
    ExplainRead,
    RuleCheckRead,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SuggestionRead,
    VersionCreate,
    VersionRead,
)
from cityops.deps import AdminUser, CurrentUser, SessionDep, WriteSessionDep

router = APIRouter(prefix="/catalog", tags=["catalog"])


@router.get("/classes", response_model=ClassPage)
def list_classes(
    actor: CurrentUser,
    session: SessionDep,
    version: Annotated[str | None, Query(description="version label; default: active")] = None,
    kind: Annotated[str | None, Query(pattern="^(component|event)$")] = None,
) -> ClassPage:
    """The classes of the active catalogue (or of an older version), retired ones included."""
    row = service.get_version(session, district_code=actor.district_code, label=version)
    classes = service.list_classes(session, version_id=row.id, kind=kind)
    return ClassPage(
        version=VersionRead.model_validate(row),
        items=[ClassRead.model_validate(c) for c in classes],
    )


@router.get("/versions", response_model=list[VersionRead])
def list_versions(actor: CurrentUser, session: SessionDep) -> list[VersionRead]:
    """Every catalogue version of the district, newest first."""
    rows = service.list_versions(session, district_code=actor.district_code)
    return [VersionRead.model_validate(v) for v in rows]


@router.post("/versions", response_model=VersionRead, status_code=201)
def create_version(body: VersionCreate, admin: AdminUser, session: WriteSessionDep) -> VersionRead:
    """Load a catalogue file's text as a new version (activated unless ``activate`` is false)."""
    parse = files.parse_csv if body.format == "csv" else files.parse_yaml
    version = service.load_catalog(
        session,
        actor=admin,
        district_code=admin.district_code,
        specs=parse(body.content),
        source="api",
        label=body.label,
        activate=body.activate,
    )
    session.commit()
    return VersionRead.model_validate(version)


@router.post("/versions/{label}/activate", response_model=VersionRead)
def activate_version(label: str, admin: AdminUser, session: WriteSessionDep) -> VersionRead:
    """Make an existing version the active one; cases keep the rules they were registered under."""
    version = service.activate_version(
        session, actor=admin, district_code=admin.district_code, label=label
    )
    session.commit()
    return VersionRead.model_validate(version)


@router.get("/departments", response_model=list[DepartmentRead])
def list_departments(
    actor: CurrentUser,
    session: SessionDep,
    dept_type: Annotated[str | None, Query(max_length=32)] = None,
) -> list[DepartmentRead]:
    """Departments a case can be dispatched to, with their types."""
    units = departments.list_departments(
        session, district_code=actor.district_code, dept_type=dept_type
    )
    return [DepartmentRead.model_validate(u) for u in units]


@router.patch("/departments/{department_id}", response_model=DepartmentRead)
def update_department(
    department_id: int, body: DepartmentUpdate, admin: AdminUser, session: WriteSessionDep
) -> DepartmentRead:
    """Rename, retype or (de)activate a department (refused while it has open cases)."""
    unit = departments.update_department(
        session,
        actor=admin,
        district_code=admin.district_code,
        department_id=department_id,
        **body.model_dump(exclude_none=True),
    )
    session.commit()
    return DepartmentRead.model_validate(unit)


@router.get("/routing/rules", response_model=list[RuleRead])
def list_rules(admin: AdminUser, session: SessionDep) -> list[RuleRead]:
    """Routing rules in the order they are tried."""
    rules = routing.list_rules(session, district_code=admin.district_code)
    return [RuleRead.model_validate(r) for r in rules]


@router.post("/routing/rules", response_model=RuleRead, status_code=201)
def create_rule(body: RuleCreate, admin: AdminUser, session: WriteSessionDep) -> RuleRead:
    rule = routing.create_rule(
        session, actor=admin, district_code=admin.district_code, values=body.model_dump()
    )
    session.commit()
    return RuleRead.model_validate(rule)


@router.get("/routing/rules/{rule_id}", response_model=RuleRead)
def get_rule(rule_id: int, admin: AdminUser, session: SessionDep) -> RuleRead:
    rule = routing.get_rule(session, district_code=admin.district_code, rule_id=rule_id)
    return RuleRead.model_validate(rule)


@router.patch("/routing/rules/{rule_id}", response_model=RuleRead)
def update_rule(
    rule_id: int, body: RuleUpdate, admin: AdminUser, session: WriteSessionDep
) -> RuleRead:
    """Change the fields sent; ``null`` clears a condition."""
    rule = routing.update_rule(
        session,
        actor=admin,
        district_code=admin.district_code,
        rule_id=rule_id,
        changes=body.model_dump(exclude_unset=True),
    )
    session.commit()
    return RuleRead.model_validate(rule)


@router.delete("/routing/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: int, admin: AdminUser, session: WriteSessionDep) -> None:
    routing.delete_rule(session, actor=admin, district_code=admin.district_code, rule_id=rule_id)
    session.commit()


@router.post("/routing/explain", response_model=ExplainRead)
def explain(body: ExplainBody, actor: CurrentUser, session: SessionDep) -> ExplainRead:
    """Where a case of this class, place and time would go, and every rule tried on the way."""
    result = routing.explain(
        session,
        district_code=actor.district_code,
        kind=body.kind,
        minor_code=body.minor_code,
        street_code=body.street_code,
        community_code=body.community_code,
        grid_code=body.grid_code,
        at=body.at,
        lon=body.lon,
        lat=body.lat,
    )
    return ExplainRead(
        suggestion=SuggestionRead(**asdict(result.suggestion)),
        checks=[RuleCheckRead(**asdict(c)) for c in result.checks],
    )
