"""Command-centre queues, case search, the case page, and taking actions from forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityops.auth.models import AuditEntry
from cityops.auth.roles import Role
from cityops.cases import queries
from cityops.cases.attachments import storage_path
from cityops.cases.lifecycle import CLOCK_RUNNING, RULES, Action, Status
from cityops.cases.models import Attachment, Case, CaseEvent
from cityops.cases.schemas import CaseRead
from cityops.catalog.routing import suggest_department
from cityops.db import settings_of
from cityops.deps import SessionDep
from cityops.dispatch.duplicates import proposals_for_case
from cityops.errors import CityopsError, NotFound
from cityops.geo import service as geo_service
from cityops.hotline import service as hotline_service
from cityops.timeutil import utcnow
from cityops.web import lookups
from cityops.web.actions import attempt, perform, read_form
from cityops.web.i18n import N_
from cityops.web.pages_auth import safe_next
from cityops.web.render import redirect, render, t
from cityops.web.session import FormUserDep, PageError, PageUserDep

router = APIRouter(include_in_schema=False)

CENTRE = (Role.OPERATOR, Role.SHIFT_LEAD, Role.DISPATCHER)
#: Roles that read the audit trail on the case page.
AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)
PAGE = 50


@dataclass(frozen=True)
class Queue:
    key: str
    label: str  # msgid
    statuses: tuple[Status, ...] = ()
    overdue: bool | None = None
    due_soon: bool = False
    unverified_only: bool = False


QUEUES: tuple[Queue, ...] = (
    Queue("verify", N_("To verify"), (Status.REPORTED, Status.VERIFYING), unverified_only=True),
    Queue("register", N_("To register"), (Status.REPORTED, Status.VERIFIED)),
    Queue("dispatch", N_("To dispatch"), (Status.REGISTERED,)),
    Queue("returned", N_("Returned"), (Status.RETURNED,)),
    Queue("extension", N_("Extension requests"), (Status.EXTENSION_REQUESTED,)),
    Queue("check", N_("To check"), (Status.HANDLED, Status.CHECKING, Status.CHECK_FAILED)),
    Queue("close", N_("To close"), (Status.CHECKED,)),
    Queue("due_soon", N_("Due soon"), tuple(CLOCK_RUNNING), overdue=False, due_soon=True),
    Queue("overdue", N_("Overdue"), tuple(CLOCK_RUNNING), overdue=True),
)
QUEUE_BY_KEY = {q.key: q for q in QUEUES}


def _filter(queue: Queue, q: str | None, region: str | None, kind: str | None) -> Any:
    extra = []
    if queue.unverified_only:
        # Inspectors' own reports need no verification; everyone else's may.
        extra.append(Case.source != "inspector")
    return queries.CaseFilter(
        status=[s.value for s in queue.statuses],
        overdue=queue.overdue,
        q=q or None,
        region=region or None,
        kind=kind or None,
        extra=extra,
    )


def _rows(
    session: Session, user: Any, queue: Queue, flt: Any, cursor: str | None
) -> tuple[list[CaseRead], str | None]:
    if queue.due_soon:
        # "Due soon" is a share of each case's own budget: take the running cases nearest
        # their deadline and keep those the clock calls due soon.
        items, _next = queries.list_cases(session, actor=user.actor, flt=flt, limit=200)
        soon = [c for c in items if c.sla.state == "due_soon"]
        soon.sort(key=lambda c: c.sla.remaining_seconds or 0)
        return soon[:PAGE], None
    return queries.list_cases(session, actor=user.actor, flt=flt, cursor=cursor, limit=PAGE)


def _counts(session: Session, user: Any) -> dict[str, int]:
    """How many cases wait in each queue (capped at 200 per queue for the tab labels)."""
    counts = {}
    for queue in QUEUES:
        if queue.due_soon:
            items, _ = queries.list_cases(
                session, actor=user.actor, flt=_filter(queue, None, None, None), limit=200
            )
            counts[queue.key] = sum(1 for c in items if c.sla.state == "due_soon")
            continue
        stmt = queries.filtered(user.actor, _filter(queue, None, None, None), utcnow())
        counts[queue.key] = len(session.scalars(stmt.with_only_columns(Case.id).limit(200)).all())
    return counts


def _row_context(session: Session, user: Any, items: list[CaseRead]) -> dict[str, Any]:
    names = lookups.region_names(
        session, [c.street_code for c in items] + [c.community_code for c in items]
    )
    suggestions = {}
    now = utcnow()
    for case in items:
        if "dispatch" in case.allowed_actions:
            suggestions[case.id] = suggest_department(
                session,
                district_code=user.actor.district_code,
                kind=case.kind,
                minor_code=case.minor_code,
                street_code=case.street_code,
                community_code=case.community_code,
                grid_code=case.grid_code,
                at=now,
                lon=case.lon,
                lat=case.lat,
            )
    departments = lookups.unit_names(session, [c.department_id for c in items])
    return {"names": names, "suggestions": suggestions, "departments_by_id": departments}


@router.get("/queues")
def queues_page(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    tab: Annotated[str, Query(max_length=20)] = "register",
    q: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[str | None, Query(max_length=15)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The command centre's work queues, with actions on each row."""
    if not user.has(*CENTRE, Role.LEADER):
        raise PageError(403, t(request, "The queues are for the command centre."))
    queue = QUEUE_BY_KEY.get(tab, QUEUES[1])
    try:
        flt = _filter(queue, q, region, kind)
        items, next_cursor = _rows(session, user, queue, flt, cursor)
    except CityopsError as exc:
        items, next_cursor = [], None
        request.state.error = exc.message
    now = utcnow()
    return render(
        request,
        "queues.html",
        user,
        queues=QUEUES,
        queue=queue,
        counts=_counts(session, user),
        items=items,
        next_cursor=next_cursor,
        q=q or "",
        region=region or "",
        kind=kind or "",
        now=now,
        error=getattr(request.state, "error", None),
        department_options=lookups.department_options(session, user.actor.district_code),
        inspector_options=lookups.inspector_options(session, user.actor.district_code),
        **_row_context(session, user, items),
    )


@router.get("/cases")
def search_page(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=24)] = None,
    region: Annotated[str | None, Query(max_length=15)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Every case the user may see, newest first, with search and filters."""
    error = None
    try:
        flt = queries.CaseFilter(
            status=[status] if status else (), q=q or None, region=region or None
        )
        items, next_cursor = queries.list_cases(
            session, actor=user.actor, flt=flt, cursor=cursor, limit=PAGE
        )
    except CityopsError as exc:
        items, next_cursor, error = [], None, exc.message
    return render(
        request,
        "cases.html",
        user,
        items=items,
        next_cursor=next_cursor,
        q=q or "",
        status=status or "",
        region=region or "",
        statuses=[s.value for s in Status],
        error=error,
        now=utcnow(),
        names=lookups.region_names(session, [c.street_code for c in items]),
    )


def _geometry(session: Session, code: str | None) -> dict[str, Any] | None:
    if not code:
        return None
    try:
        region = geo_service.get_region(session, code=code)
    except CityopsError:
        return None
    return {"code": region.code, "name": region.name, "geometry": region.geometry}


def case_context(session: Session, user: Any, case_id: int) -> dict[str, Any]:
    """Everything the case page shows, read through the cases and hotline services."""
    detail = queries.case_detail(session, actor=user.actor, case_id=case_id)
    actor_ids = [e.actor_id for e in detail.events] + [detail.assignee_id]
    photos_by_event: dict[int | None, list[Any]] = {}
    seq_of_event = dict(
        session.execute(
            select(CaseEvent.id, CaseEvent.seq).where(CaseEvent.case_id == detail.id)
        ).all()
    )
    for attachment in detail.attachments:
        seq = seq_of_event.get(attachment.event_id) if attachment.event_id else None
        photos_by_event.setdefault(seq, []).append(attachment)
    merged_flt = queries.CaseFilter(extra=[Case.merged_into_id == detail.id])
    merged, _ = queries.list_cases(session, actor=user.actor, flt=merged_flt, limit=50)
    merged_into = None
    if detail.merged_into_id:
        try:
            merged_into = queries.get_case(session, actor=user.actor, case_id=detail.merged_into_id)
        except CityopsError:
            merged_into = None
    requests, _ = hotline_service.list_requests(
        session,
        actor=user.actor,
        flt=hotline_service.RequestFilter(case_id=detail.id),
        limit=20,
    )
    audit: list[AuditEntry] = []
    if user.has(*AUDIT_ROLES):
        audit = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "case", AuditEntry.object_id == str(detail.id))
                .order_by(AuditEntry.id)
            )
        )
    suggestion = None
    if "dispatch" in detail.allowed_actions:
        suggestion = suggest_department(
            session,
            district_code=user.actor.district_code,
            kind=detail.kind,
            minor_code=detail.minor_code,
            street_code=detail.street_code,
            community_code=detail.community_code,
            grid_code=detail.grid_code,
            at=utcnow(),
            lon=detail.lon,
            lat=detail.lat,
        )
    return {
        "case": detail,
        "names": lookups.region_names(
            session, [detail.street_code, detail.community_code, detail.grid_code]
        ),
        "people": lookups.user_names(session, actor_ids),
        "department_name": lookups.unit_names(session, [detail.department_id]).get(
            detail.department_id or 0
        ),
        "photos_by_event": photos_by_event,
        "merged": merged,
        "merged_into": merged_into,
        "requests": requests,
        "audit": audit,
        "suggestion": suggestion,
        "rules": RULES,
        "map_data": {
            "point": [detail.lon, detail.lat],
            "grid": _geometry(session, detail.grid_code),
            "community": _geometry(session, detail.community_code),
        },
        "department_options": lookups.department_options(session, user.actor.district_code)
        if {"dispatch"} & set(detail.allowed_actions)
        else [],
        "inspector_options": lookups.inspector_options(
            session, user.actor.district_code, [detail.grid_code, detail.community_code]
        )
        if {"assign_verify", "assign_check"} & set(detail.allowed_actions)
        else [],
        "class_options": lookups.class_options(session, user.actor.district_code)
        if "register" in detail.allowed_actions
        else [],
        "now": utcnow(),
        "duplicates": proposals_for_case(session, actor=user.actor, case_id=detail.id, limit=5)
        if "merge" in detail.allowed_actions
        else [],
        "can_reply": user.has(Role.DEPARTMENT_HANDLER),
    }


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: int, user: PageUserDep, session: SessionDep) -> Response:
    """One case: state, deadline, timeline with photos, map, related cases, actions."""
    try:
        context = case_context(session, user, case_id)
    except CityopsError as exc:
        raise PageError(exc.status_code, exc.message) from exc
    return render(request, "case.html", user, **context)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/cases/{case_id}/act/{action}")
async def act(request: Request, case_id: int, action: str, user: FormUserDep) -> Response:
    """Take one lifecycle action from a form (photos allowed); back to ``next`` or the case."""
    posted = await read_form(request)
    try:
        chosen = Action(action)
    except ValueError as exc:
        raise PageError(404, f"no action {action!r}") from exc
    if chosen is Action.REPORT or chosen not in RULES:
        raise PageError(404, f"no action {action!r}")
    if posted.get("class") and ":" in posted.get("class"):
        kind, _, minor = posted.get("class").partition(":")
        posted.fields.setdefault("kind", kind)
        posted.fields.setdefault("minor_code", minor)

    def work(session: Session) -> Case:
        return perform(session, user.actor, case_id, chosen, posted)

    case, error = await run_in_threadpool(attempt, request, work)
    if _wants_json(request):
        if error:
            return JSONResponse({"ok": False, "message": error}, status_code=409)
        assert case is not None
        return JSONResponse({"ok": True, "status": case.status, "number": case.number})
    back = safe_next(posted.get("next"), f"/cases/{case_id}")
    if error:
        return redirect(back, error, "error")
    assert case is not None
    label = t(
        request,
        "Done: %(action)s on case %(number)s.",
        action=_label(request, chosen),
        number=case.number,
    )
    return redirect(back, label)


def _label(request: Request, action: Action) -> str:
    from cityops.web.i18n import environment, locale_of

    module: Any = environment(locale_of(request)).get_template("_labels.html").module
    return str(module.action(action.value)).strip()


@router.post("/queues/urge")
async def bulk_urge(request: Request, user: FormUserDep) -> Response:
    """Urge (督办) every checked case with one note; each case is its own action and event."""
    posted = await read_form(request)
    back = safe_next(posted.get("next"), "/queues?tab=overdue")
    ids = [int(v) for v in posted.lists.get("case_id", []) if v.isdigit()][:200]
    note = posted.get("note")
    if not ids or not note:
        return redirect(back, t(request, "Tick cases and write a note to urge them."), "error")

    def work(session: Session) -> tuple[int, list[str]]:
        done, failed = 0, []
        for case_id in ids:
            try:
                with session.begin_nested():
                    case = queries.get_case(session, actor=user.actor, case_id=case_id)
                    posted.fields["expected_version"] = str(case.version)
                    perform(session, user.actor, case_id, Action.URGE, posted)
                done += 1
            except CityopsError as exc:
                failed.append(exc.message)
            except Exception as exc:  # a lifecycle refusal on one case must not stop the rest
                failed.append(getattr(exc, "message", str(exc)))
        return done, failed

    result, error = await run_in_threadpool(attempt, request, work)
    if error or result is None:
        return redirect(back, error or "", "error")
    done, failed = result
    message = t(request, "Urged %(n)s cases.", n=done)
    if failed:
        message += " " + t(request, "Not urged: %(n)s.", n=len(failed)) + " " + failed[0]
    return redirect(back, message, "error" if failed and not done else "ok")


@router.get("/photos/{attachment_id}")
def photo(attachment_id: int, user: PageUserDep, session: SessionDep) -> Response:
    """A photo, under the same rule as the API's download: yours, or on a case you may see."""
    row = session.get(Attachment, attachment_id)
    if row is None or row.district_code != user.actor.district_code:
        raise PageError(404, "no such photo")
    if row.uploaded_by_id != user.actor.id:
        if row.case_id is None:
            raise PageError(404, "no such photo")
        try:
            queries.get_case(session, actor=user.actor, case_id=row.case_id)
        except (NotFound, CityopsError) as exc:
            raise PageError(403, exc.message) from exc
    path = storage_path(settings_of(session).attachments_dir, row.sha256)
    response = FileResponse(path, media_type=row.content_type)
    response.headers["cache-control"] = "private, max-age=86400"
    return response
