"""Routes of the case API: intake, lists, detail, one endpoint per lifecycle action, uploads.

(No ``from __future__ import annotations`` here: the action endpoints are built in a loop and
FastAPI must see each one's real body model.)
"""

from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cityops.cases import bulk, queries, service
from cityops.cases.attachments import storage_path, store_attachment
from cityops.cases.enums import Kind, Source
from cityops.cases.lifecycle import RULES, Action
from cityops.cases.models import Attachment
from cityops.cases.schemas import (
    ACTION_BODIES,
    ActionBase,
    AttachmentRead,
    CaseDetail,
    CasePage,
    CaseRead,
    CaseReport,
    Conflicting,
)
from cityops.db import settings_of
from cityops.deps import AdminUser, CurrentUser, SessionDep, WriteSessionDep
from cityops.errors import NotFound

router = APIRouter(tags=["cases"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "outside your data scope, or your role may not do this"},
    404: {"description": "no such case"},
    409: {
        "model": Conflicting,
        "description": "the case changed or the action is not possible now",
    },
    422: {"description": "invalid input; `field` names it"},
}


@router.post("/cases", response_model=CaseRead, status_code=201, responses=ERRORS)
def report(
    body: CaseReport, actor: CurrentUser, session: WriteSessionDep, response: Response
) -> CaseRead:
    """Report a problem (上报). Resending the same `client_request_id` returns the case with 200."""
    result = service.report_case(session, actor=actor, data=body)
    session.commit()
    if not result.created:
        response.status_code = 200
    return queries.to_read(session, result.case, actor)


class BatchReport(BaseModel):
    """Many reports at once (machine clients: sensor gateways, the 12345 platform, imports)."""

    model_config = ConfigDict(extra="forbid")

    items: list[CaseReport] = Field(min_length=1, max_length=500)


class BatchItemRead(BaseModel):
    index: int
    id: int
    number: str
    status: str
    created: bool


class BatchReportRead(BaseModel):
    created: int
    items: list[BatchItemRead]


@router.post("/cases/batch", response_model=BatchReportRead, status_code=201, responses=ERRORS)
def report_batch(
    body: BatchReport, actor: CurrentUser, session: WriteSessionDep, response: Response
) -> BatchReportRead:
    """Report up to 500 problems in one transaction: all are taken in or none is, and an error
    names the item (`items[3].lon`). Each item needs a `client_request_id`; resending a batch
    returns the cases already made (200 when none is new)."""
    found = bulk.report_many(session, actor=actor, items=body.items)
    session.commit()
    created = sum(item.created for item in found)
    if not created:
        response.status_code = 200
    return BatchReportRead(created=created, items=[BatchItemRead(**asdict(item)) for item in found])


@router.get("/cases", response_model=CasePage)
def list_cases(
    actor: CurrentUser,
    session: SessionDep,
    status: Annotated[list[str] | None, Query(description="one or more states")] = None,
    kind: Kind | None = None,
    minor_code: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None,
    source: Source | None = None,
    department_id: int | None = None,
    assignee_id: int | None = None,
    region: Annotated[str | None, Query(description="district/street/community/grid code")] = None,
    overdue: bool | None = None,
    reported_from: datetime | None = None,
    reported_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=100, description="text or case number")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
) -> CasePage:
    """Cases within your data scope, newest first, with cursor pagination."""
    flt = queries.CaseFilter(
        status=status or (),
        kind=kind.value if kind else None,
        minor_code=minor_code,
        source=source.value if source else None,
        department_id=department_id,
        assignee_id=assignee_id,
        region=region,
        overdue=overdue,
        reported_from=_aware(reported_from, "reported_from"),
        reported_to=_aware(reported_to, "reported_to"),
        q=q,
    )
    items, next_cursor = queries.list_cases(
        session, actor=actor, flt=flt, cursor=cursor, limit=limit
    )
    return CasePage(items=items, next_cursor=next_cursor)


def _aware(value: datetime | None, field: str) -> datetime | None:
    from cityops.errors import InvalidInput

    if value is not None and value.tzinfo is None:
        raise InvalidInput("give a time zone, e.g. 2026-11-23T08:00:00+08:00", field=field)
    return value


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=ERRORS)
def detail(case_id: int, actor: CurrentUser, session: SessionDep) -> CaseDetail:
    """One case with its full history, reporters (masked unless your role needs them) and photos."""
    return queries.case_detail(session, actor=actor, case_id=case_id)


def _action_endpoint(action: Action, body_model: type[ActionBase]) -> Callable[..., CaseRead]:
    def endpoint(
        case_id: int,
        body: body_model,  # type: ignore[valid-type]
        actor: CurrentUser,
        session: WriteSessionDep,
    ) -> CaseRead:
        case = service.act(session, actor=actor, case_id=case_id, action=action, body=body)
        session.commit()
        return queries.to_read(session, case, actor)

    rule = RULES[action]
    roles = ", ".join(sorted(r.value for r in rule.roles))
    endpoint.__name__ = f"case_{action.value}"
    endpoint.__doc__ = f"{rule.label_zh} ({action.value}). Roles: {roles}."
    return endpoint


for _action, _body in ACTION_BODIES.items():
    router.add_api_route(
        f"/cases/{{case_id}}/{_action.value}",
        _action_endpoint(_action, _body),
        methods=["POST"],
        response_model=CaseRead,
        responses=ERRORS,
        summary=f"{RULES[_action].label_zh} {_action.value}",
    )


@router.post(
    "/attachments",
    response_model=AttachmentRead,
    status_code=201,
    responses={413: {"description": "over 10 MB"}, 415: {"description": "not an image"}},
)
def upload(file: UploadFile, actor: CurrentUser, session: WriteSessionDep) -> AttachmentRead:
    """Upload a photo (JPEG, PNG or WebP, checked from its bytes); attach it by id later."""
    row = store_attachment(session, actor=actor, stream=file.file, filename=file.filename)
    session.commit()
    return AttachmentRead.model_validate(row)


@router.get("/attachments/{attachment_id}", response_class=FileResponse, responses=ERRORS)
def download(attachment_id: int, actor: CurrentUser, session: SessionDep) -> FileResponse:
    row = session.get(Attachment, attachment_id)
    if row is None or row.district_code != actor.district_code:
        raise NotFound(f"no attachment with id {attachment_id}", field="attachment_id")
    if row.uploaded_by_id != actor.id:
        if row.case_id is None:
            raise NotFound(f"no attachment with id {attachment_id}", field="attachment_id")
        queries.get_case(session, actor=actor, case_id=row.case_id)
    path = storage_path(settings_of(session).attachments_dir, row.sha256)
    return FileResponse(path, media_type=row.content_type)


class CalendarOverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workday: bool = Field(description="true: a working day (e.g. a make-up Saturday); false: rest")
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None


class CalendarOverrideRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    workday: bool
    name: str | None
    updated_at: datetime


@router.get("/calendar/overrides", response_model=list[CalendarOverrideRead], tags=["calendar"])
def calendar_overrides(actor: CurrentUser, session: SessionDep) -> list[CalendarOverrideRead]:
    """Days whose working status overrides the holiday library for the deadline clock."""
    rows = service.list_calendar_overrides(session, district_code=actor.district_code)
    return [CalendarOverrideRead.model_validate(r) for r in rows]


@router.put("/calendar/overrides/{day}", response_model=CalendarOverrideRead, tags=["calendar"])
def set_calendar_override(
    day: date, body: CalendarOverrideBody, admin: AdminUser, session: WriteSessionDep
) -> CalendarOverrideRead:
    """Declare a day a working day or a rest day (next year's notice, a local rest day)."""
    row = service.set_calendar_override(
        session, actor=admin, day=day, workday=body.workday, name=body.name
    )
    session.commit()
    return CalendarOverrideRead.model_validate(row)


@router.delete("/calendar/overrides/{day}", status_code=204, tags=["calendar"])
def delete_calendar_override(day: date, admin: AdminUser, session: WriteSessionDep) -> None:
    service.delete_calendar_override(session, actor=admin, day=day)
    session.commit()
