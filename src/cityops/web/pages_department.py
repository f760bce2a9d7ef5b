"""The department inbox: cases dispatched to my department, handle / return / extension,
and the reply to the citizen for hotline cases (``hotline.service.record_reply``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityops.auth.roles import Role
from cityops.cases import queries
from cityops.cases.lifecycle import Status
from cityops.deps import SessionDep
from cityops.hotline import service as hotline_service
from cityops.hotline.models import HotlineRequest
from cityops.timeutil import utcnow
from cityops.web import lookups
from cityops.web.actions import attempt, read_form
from cityops.web.i18n import N_
from cityops.web.pages_auth import safe_next
from cityops.web.render import redirect, render, t
from cityops.web.session import PageError, PageUser, roles_form, roles_page

router = APIRouter(include_in_schema=False)

HandlerPage = Annotated[PageUser, Depends(roles_page(Role.DEPARTMENT_HANDLER))]
HandlerForm = Annotated[PageUser, Depends(roles_form(Role.DEPARTMENT_HANDLER))]

TABS = {
    "todo": (N_("To handle"), (Status.DISPATCHED, Status.EXTENSION_REQUESTED, Status.CHECK_FAILED)),
    "done": (N_("Handled"), (Status.HANDLED, Status.CHECKING, Status.CHECKED)),
    "closed": (N_("Closed"), (Status.CLOSED,)),
}


@router.get("/inbox")
def inbox(
    request: Request,
    user: HandlerPage,
    session: SessionDep,
    tab: Annotated[str, Query(max_length=10)] = "todo",
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """My department's cases, most urgent first on the to-do tab."""
    department_id = user.actor.scope_department_id
    if department_id is None:
        raise PageError(403, t(request, "Your account is not attached to a department."))
    _label, statuses = TABS.get(tab, TABS["todo"])
    flt = queries.CaseFilter(
        status=[s.value for s in statuses], department_id=department_id, q=q or None
    )
    items, _ = queries.list_cases(session, actor=user.actor, flt=flt, limit=100)
    if tab == "todo":
        items.sort(key=lambda c: (c.sla.remaining_seconds is None, c.sla.remaining_seconds or 0))
    requests, _ = hotline_service.list_requests(
        session,
        actor=user.actor,
        flt=hotline_service.RequestFilter(
            extra=[HotlineRequest.case_id.in_([c.id for c in items] or [0])]
        ),
        limit=200,
    )
    return render(
        request,
        "inbox.html",
        user,
        tab=tab if tab in TABS else "todo",
        tabs=TABS,
        items=items,
        q=q or "",
        requests={r.case_id: r for r in requests},
        names=lookups.region_names(session, [c.street_code for c in items]),
        department=lookups.unit_names(session, [department_id]).get(department_id, ""),
        now=utcnow(),
    )


@router.post("/inbox/requests/{request_id}/reply")
async def reply(request: Request, request_id: int, user: HandlerForm) -> Response:
    """Reply to the citizen (the first reply marks the request responded)."""
    posted = await read_form(request)
    back = safe_next(posted.get("next"), "/inbox")
    text = posted.get("text")
    if not text:
        return redirect(back, t(request, "Write the reply first."), "error")

    def work(session: Session) -> HotlineRequest:
        return hotline_service.record_reply(
            session, actor=user.actor, request_id=request_id, text=text[:2000]
        )

    _done, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    return redirect(back, t(request, "Reply recorded."))
