"""Operator intake: the 12345 call form, live suggestions, duplicates and the knowledge base.

The form posts to ``hotline.service.take_call`` with the same ``CallCreate`` model as the API;
suggestions come from ``hotline.service.suggestion_for`` (learned class and department),
``catalog.routing.suggest_department`` (the rules) and ``dispatch.duplicates.propose_duplicates``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityops.auth.roles import Role
from cityops.catalog.routing import suggest_department
from cityops.deps import SessionDep
from cityops.dispatch.duplicates import propose_duplicates
from cityops.errors import CityopsError
from cityops.geo import service as geo_service
from cityops.hotline import knowledge
from cityops.hotline import service as hotline_service
from cityops.hotline.enums import RequestType
from cityops.hotline.schemas import CallCreate
from cityops.timeutil import utcnow
from cityops.web import lookups
from cityops.web.actions import Posted, attempt, read_form
from cityops.web.render import redirect, render, t
from cityops.web.session import PageUser, roles_form, roles_page

router = APIRouter(include_in_schema=False)

OPERATORS = (Role.OPERATOR, Role.SHIFT_LEAD)
OperatorPage = Annotated[PageUser, Depends(roles_page(*OPERATORS))]
OperatorForm = Annotated[PageUser, Depends(roles_form(*OPERATORS))]


@router.get("/intake")
def intake_page(request: Request, user: OperatorPage, session: SessionDep) -> Response:
    """The hotline form beside a map of the district."""
    return render(
        request,
        "intake.html",
        user,
        types=[t.value for t in RequestType],
        class_options=lookups.class_options(session, user.actor.district_code),
        client_request_id=f"web-{uuid.uuid4().hex}",
        form={},
    )


def call_from_form(posted: Posted) -> CallCreate:
    """The API's ``CallCreate`` from the form's fields (empty fields are left out)."""
    fields = dict(posted.fields)
    kind, _, minor = fields.pop("class", "").partition(":")
    if kind and minor:
        fields["kind"], fields["minor_code"] = kind, minor
    answered = fields.get("type") == RequestType.CONSULTATION.value and (
        fields.get("kb_article_id") or fields.get("answer")
    )
    if answered:
        for name in ("kind", "minor_code"):
            fields.pop(name, None)
    names = set(CallCreate.model_fields)
    values: dict[str, Any] = {k: v for k, v in fields.items() if k in names and v != ""}
    return CallCreate.model_validate(values)


@router.post("/intake")
async def take_call(request: Request, user: OperatorForm) -> Response:
    """Record the call: answered from the knowledge base, or made a case."""
    posted = await read_form(request)
    try:
        data = call_from_form(posted)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return redirect("/intake", f"{where}: {first.get('msg', '')}", "error")

    def work(session: Session) -> hotline_service.Taken:
        return hotline_service.take_call(session, actor=user.actor, data=data)

    taken, error = await run_in_threadpool(attempt, request, work)
    if error or taken is None:
        return redirect("/intake", error or "", "error")
    if taken.case is None:
        return redirect("/intake", t(request, "Consultation answered and closed."))
    message = t(request, "Call recorded as case %(number)s.", number=taken.case.number)
    if taken.duplicates:
        message += " " + t(
            request, "%(n)s possible duplicates: merge below if it is one.", n=len(taken.duplicates)
        )
    return redirect(f"/cases/{taken.case.id}", message)


@router.get("/intake/suggest")
def suggest(
    user: OperatorPage,
    session: SessionDep,
    text: Annotated[str, Query(max_length=2000)] = "",
    cls: Annotated[str, Query(alias="class", max_length=24)] = "",
    lon: float | None = None,
    lat: float | None = None,
) -> Any:
    """Live help while the operator types: class/department suggestions and duplicates."""
    answer: dict[str, Any] = {"classes": [], "departments": [], "message": None}
    if len(text.strip()) >= 4:
        found = hotline_service.suggestion_for(session, text)
        answer = found.model_dump()
    kind, _, minor = cls.partition(":")
    answer["routing"] = None
    answer["duplicates"] = []
    if kind and minor and lon is not None and lat is not None:
        try:
            codes = geo_service.locate(
                session, district_code=user.actor.district_code, lon=lon, lat=lat
            )
            route = suggest_department(
                session,
                district_code=user.actor.district_code,
                kind=kind,
                minor_code=minor,
                street_code=codes.street_code if codes else None,
                community_code=codes.community_code if codes else None,
                grid_code=codes.grid_code if codes else None,
                at=utcnow(),
                lon=lon,
                lat=lat,
            )
            answer["routing"] = asdict(route)
            answer["duplicates"] = [
                {**asdict(p), "reason": p.reason}
                for p in propose_duplicates(
                    session,
                    actor=user.actor,
                    kind=kind,
                    minor_code=minor,
                    lon=lon,
                    lat=lat,
                    text=text,
                    limit=5,
                )
            ]
        except CityopsError as exc:
            answer["message"] = exc.message
    return JSONResponse(answer)


@router.get("/intake/kb")
def kb_search(
    user: OperatorPage,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Any:
    """Knowledge-base articles for a consultation, best first."""
    hits = knowledge.search(session, district_code=user.actor.district_code, query=q, limit=8)
    return [
        {
            "id": h.article.id,
            "title": h.article.title,
            "body": h.article.body,
            "category": h.article.category,
            "score": h.score,
        }
        for h in hits
    ]
