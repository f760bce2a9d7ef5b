"""Inspector pages for phones: my verify/check tasks, report with photo and position, patrol.

Reports carry a client request id made in the browser; the page queues them while offline
and sends them when back. ``cases.service.report_case`` makes resending harmless (the first
case is returned), and a repeated task action is refused by the version check (409), which
the page takes as "already done".
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityops.auth.roles import Role
from cityops.cases import queries
from cityops.cases import service as case_service
from cityops.cases.enums import Source
from cityops.cases.lifecycle import OPEN, Status
from cityops.cases.models import Case
from cityops.cases.schemas import CaseReport
from cityops.deps import SessionDep
from cityops.errors import CityopsError
from cityops.geo import service as geo_service
from cityops.web import lookups
from cityops.web.actions import Posted, attempt, read_form, store_photos
from cityops.web.render import redirect, render, t
from cityops.web.session import PageUser, roles_form, roles_page

router = APIRouter(include_in_schema=False)

InspectorPage = Annotated[PageUser, Depends(roles_page(Role.INSPECTOR))]
InspectorForm = Annotated[PageUser, Depends(roles_form(Role.INSPECTOR))]
TASK_STATES = (Status.REPORTED, Status.VERIFYING, Status.HANDLED, Status.CHECKING)


@router.get("/m")
def tasks(request: Request, user: InspectorPage, session: SessionDep) -> Response:
    """My verify and check tasks, and my latest reports."""
    flt = queries.CaseFilter(
        status=[s.value for s in (Status.VERIFYING, Status.CHECKING)], assignee_id=user.actor.id
    )
    mine, _ = queries.list_cases(session, actor=user.actor, flt=flt, limit=100)
    reported, _ = queries.list_cases(
        session,
        actor=user.actor,
        flt=queries.CaseFilter(extra=[Case.reported_by_id == user.actor.id]),
        limit=10,
    )
    return render(
        request,
        "m/tasks.html",
        user,
        tasks=mine,
        reported=reported,
        names=lookups.region_names(session, [c.community_code for c in mine]),
    )


@router.get("/m/report")
def report_page(request: Request, user: InspectorPage, session: SessionDep) -> Response:
    """The report form: class, text, camera photo and the phone's position."""
    return render(
        request,
        "m/report.html",
        user,
        class_options=lookups.class_options(session, user.actor.district_code),
        client_request_id=f"m-{uuid.uuid4().hex}",
    )


def _report(session: Session, user: PageUser, posted: Posted) -> tuple[Case, bool]:
    request_id = posted.get("client_request_id") or None
    if request_id:
        earlier = session.scalar(
            select(Case).where(
                Case.reported_by_id == user.actor.id, Case.client_request_id == request_id
            )
        )
        if earlier is not None:  # a resend from the offline queue: nothing new to store
            return earlier, False
    kind, _, minor = posted.get("class").partition(":")
    values: dict[str, Any] = {
        "client_request_id": request_id,
        "source": Source.INSPECTOR,
        "kind": kind or None,
        "minor_code": minor or None,
        "urgency": posted.get("urgency") or "normal",
        "description": posted.get("description"),
        "address": posted.get("address") or None,
        "lon": posted.get("lon") or None,
        "lat": posted.get("lat") or None,
    }
    CaseReport.model_validate(values)  # refuse before storing photos
    values["attachment_ids"] = store_photos(session, user.actor, posted.photos)
    result = case_service.report_case(
        session, actor=user.actor, data=CaseReport.model_validate(values)
    )
    return result.case, result.created


@router.post("/m/report")
async def report(request: Request, user: InspectorForm) -> Response:
    """Report a problem (idempotent by client request id); JSON for the offline queue."""
    posted = await read_form(request)
    wants_json = "application/json" in request.headers.get("accept", "")

    def work(session: Session) -> tuple[Case, bool]:
        return _report(session, user, posted)

    try:
        outcome, error = await run_in_threadpool(attempt, request, work)
    except ValidationError as exc:  # pragma: no cover - attempt turns these into messages
        outcome, error = None, str(exc)
    if error or outcome is None:
        if wants_json:
            return JSONResponse({"ok": False, "message": error}, status_code=422)
        return redirect("/m/report", error or "", "error")
    case, created = outcome
    if wants_json:
        return JSONResponse(
            {"ok": True, "id": case.id, "number": case.number, "created": created},
            status_code=201 if created else 200,
        )
    return redirect("/m", t(request, "Reported as case %(number)s.", number=case.number))


@router.get("/m/patrol")
def patrol(request: Request, user: InspectorPage, session: SessionDep) -> Response:
    """A map of my grids with the open cases in them."""
    areas = []
    for code in user.actor.scope_areas[:200]:
        try:
            region = geo_service.get_region(session, code=code)
        except CityopsError:
            continue
        areas.append({"code": region.code, "name": region.name, "geometry": region.geometry})
    open_cases, _ = queries.list_cases(
        session,
        actor=user.actor,
        flt=queries.CaseFilter(status=[s.value for s in OPEN]),
        limit=200,
    )
    points = [
        {"id": c.id, "lon": c.lon, "lat": c.lat, "label": f"{c.number} {c.class_name}"}
        for c in open_cases
    ]
    return render(
        request,
        "m/patrol.html",
        user,
        map_data={"areas": areas, "cases": points},
        open_cases=open_cases,
    )
