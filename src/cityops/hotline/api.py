"""Routes of the hotline API (mounted under ``/api/v1`` behind authentication): calls,
replies, callbacks, the knowledge base, the three rates and the policy."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, UploadFile

from cityops.auth.actor import Actor
from cityops.auth.roles import Role
from cityops.deps import CurrentUser, SessionDep, WriteSessionDep, require_roles
from cityops.dispatch.duplicates import propose_duplicates
from cityops.dispatch.duplicates import to_read as duplicate_read
from cityops.errors import InvalidInput, PayloadTooLarge
from cityops.hotline import knowledge, policy, rates, service
from cityops.hotline.enums import RateGroup, RequestStatus, RequestType
from cityops.hotline.schemas import (
    ArticleCreate,
    ArticleHit,
    ArticleRead,
    ArticleUpdate,
    AssistQuery,
    AssistRead,
    CallbackCreate,
    CallbackRead,
    CallbackResult,
    CallCreate,
    CallTaken,
    ImportResult,
    PolicyRead,
    PolicyUpdate,
    RatesRead,
    ReplyCreate,
    RequestDetail,
    RequestPage,
    RequestRead,
)

router = APIRouter(prefix="/hotline", tags=["hotline"])

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "outside your data scope, or your role may not do this"},
    404: {"description": "no such request"},
    409: {"description": "not possible in the request's or case's current state"},
    422: {"description": "invalid input; `field` names it"},
}
KbEditor = Annotated[Actor, Depends(require_roles(Role.ADMIN, Role.SHIFT_LEAD))]
Admin = Annotated[Actor, Depends(require_roles(Role.ADMIN))]
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput("give a time zone, e.g. 2026-11-23T08:00:00+08:00", field=field)
    return value


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidInput("cursor is not one this API gave out", field="cursor")
    return int(value)


# --- calls ----------------------------------------------------------------------------------


@router.post("/calls", response_model=CallTaken, status_code=201, responses=ERRORS)
def take_call(
    body: CallCreate, actor: CurrentUser, session: WriteSessionDep, response: Response
) -> CallTaken:
    """Take a call (operators, shift leads). A consultation with `kb_article_id` or `answer` is
    closed at once; any other request becomes a case (needs `kind`, `minor_code` and a place).
    Resending the same `client_request_id` returns the first request with 200."""
    taken = service.take_call(session, actor=actor, data=body)
    session.commit()
    if not taken.created:
        response.status_code = 200
    read = service.read_request(session, actor=actor, request_id=taken.request.id)
    return CallTaken(
        request=read,
        created=taken.created,
        duplicates=[duplicate_read(p) for p in taken.duplicates],
        suggestion=service.suggestion_for(session, body.text),
    )


@router.post("/assist", response_model=AssistRead)
def assist(body: AssistQuery, actor: CurrentUser, session: SessionDep) -> AssistRead:
    """While a call is being typed: class/department suggestions, knowledge articles and (with
    class and place) open cases it may duplicate."""
    duplicates = []
    if body.kind and body.minor_code and body.lon is not None and body.lat is not None:
        found = propose_duplicates(
            session,
            actor=actor,
            kind=body.kind.value,
            minor_code=body.minor_code,
            lon=body.lon,
            lat=body.lat,
            text=body.text,
        )
        duplicates = [duplicate_read(p) for p in found]
    hits = knowledge.search(session, district_code=actor.district_code, query=body.text, limit=5)
    return AssistRead(
        suggestion=service.suggestion_for(session, body.text),
        articles=[_hit(h) for h in hits],
        duplicates=duplicates,
    )


def _filter(
    type: RequestType | None = None,
    status: RequestStatus | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    street_code: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    case_id: int | None = None,
    q: Annotated[str | None, Query(max_length=100, description="text or exact phone")] = None,
) -> service.RequestFilter:
    return service.RequestFilter(
        type=type.value if type else None,
        status=status.value if status else None,
        received_from=_aware(received_from, "received_from"),
        received_to=_aware(received_to, "received_to"),
        street_code=street_code,
        case_id=case_id,
        q=q,
    )


Filter = Annotated[service.RequestFilter, Depends(_filter)]


@router.get("/calls", response_model=RequestPage)
def list_calls(
    actor: CurrentUser,
    session: SessionDep,
    flt: Filter,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> RequestPage:
    """Requests within your data scope, newest first; contacts masked unless you may see them."""
    items, after = service.list_requests(
        session, actor=actor, flt=flt, after_id=_cursor(cursor), limit=limit
    )
    return RequestPage(items=items, next_cursor=str(after) if after else None)


@router.get("/calls/export.csv", response_class=Response)
def export_calls(actor: CurrentUser, session: SessionDep, flt: Filter) -> Response:
    """The same list as CSV (contacts masked unless you may see them)."""
    body = service.export_csv(session, actor=actor, flt=flt)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="hotline-requests.csv"'},
    )


@router.get("/calls/{request_id}", response_model=RequestDetail, responses=ERRORS)
def call_detail(request_id: int, actor: CurrentUser, session: SessionDep) -> RequestDetail:
    """One request with its callbacks."""
    return service.request_detail(session, actor=actor, request_id=request_id)


@router.post("/calls/{request_id}/reply", response_model=RequestRead, responses=ERRORS)
def reply(
    request_id: int, body: ReplyCreate, actor: CurrentUser, session: WriteSessionDep
) -> RequestRead:
    """The department's reply to the citizen (handlers of the case's department)."""
    service.record_reply(session, actor=actor, request_id=request_id, text=body.text)
    session.commit()
    return service.read_request(session, actor=actor, request_id=request_id)


@router.post("/calls/{request_id}/callback", response_model=CallbackResult, responses=ERRORS)
def callback(
    request_id: int, body: CallbackCreate, actor: CurrentUser, session: WriteSessionDep
) -> CallbackResult:
    """A callback's result (operators, shift leads); "not resolved" reopens a closed case."""
    outcome = service.record_callback(session, actor=actor, request_id=request_id, data=body)
    session.commit()
    return CallbackResult(
        request=service.read_request(session, actor=actor, request_id=request_id),
        callback=CallbackRead.model_validate(outcome.callback),
        reopened=outcome.reopened,
        not_reopened=outcome.not_reopened,
    )


@router.post("/callbacks/import", response_model=ImportResult, responses=ERRORS)
def import_callbacks(
    file: UploadFile, actor: CurrentUser, session: WriteSessionDep
) -> ImportResult:
    """Import SMS/IVR callback results (CSV, UTF-8); all rows or none (a bad row → 422)."""
    raw = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge("the file is over 5 MB; split it", field="file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text", field="file") from exc
    summary = service.import_callbacks(
        session, actor=actor, text=text, source=f"upload:{file.filename or 'callbacks.csv'}"
    )
    session.commit()
    return ImportResult(
        imported=summary.imported, reopened=summary.reopened, not_reopened=summary.not_reopened
    )


# --- knowledge base -------------------------------------------------------------------------


def _hit(hit: knowledge.Hit) -> ArticleHit:
    return ArticleHit(**ArticleRead.model_validate(hit.article).model_dump(), score=hit.score)


@router.get("/kb", response_model=list[ArticleRead])
def list_articles(
    actor: CurrentUser,
    session: SessionDep,
    category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ArticleRead]:
    """Knowledge articles of your district (retired ones included, marked inactive)."""
    rows = knowledge.list_articles(
        session, district_code=actor.district_code, category=category, limit=limit
    )
    return [ArticleRead.model_validate(a) for a in rows]


@router.get("/kb/search", response_model=list[ArticleHit])
def search_articles(
    actor: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[ArticleHit]:
    """Active articles matching the question, best first (title > keywords > body)."""
    hits = knowledge.search(session, district_code=actor.district_code, query=q, limit=limit)
    return [_hit(h) for h in hits]


@router.get("/kb/{article_id}", response_model=ArticleRead, responses=ERRORS)
def get_article(article_id: int, actor: CurrentUser, session: SessionDep) -> ArticleRead:
    return ArticleRead.model_validate(
        knowledge.get_article(session, district_code=actor.district_code, article_id=article_id)
    )


@router.post("/kb", response_model=ArticleRead, status_code=201, responses=ERRORS)
def create_article(body: ArticleCreate, actor: KbEditor, session: WriteSessionDep) -> ArticleRead:
    """Add an article (admins, shift leads)."""
    article = knowledge.create_article(session, actor=actor, **body.model_dump())
    session.commit()
    return ArticleRead.model_validate(article)


@router.patch("/kb/{article_id}", response_model=ArticleRead, responses=ERRORS)
def update_article(
    article_id: int, body: ArticleUpdate, actor: KbEditor, session: WriteSessionDep
) -> ArticleRead:
    """Change an article (admins, shift leads); `active: false` retires it from search."""
    article = knowledge.update_article(
        session, actor=actor, article_id=article_id, changes=body.model_dump(exclude_unset=True)
    )
    session.commit()
    return ArticleRead.model_validate(article)


@router.delete("/kb/{article_id}", response_model=ArticleRead, responses=ERRORS)
def retire_article(article_id: int, actor: KbEditor, session: WriteSessionDep) -> ArticleRead:
    """Retire an article: kept (requests answered from it still point to it), never found."""
    article = knowledge.update_article(
        session, actor=actor, article_id=article_id, changes={"active": False}
    )
    session.commit()
    return ArticleRead.model_validate(article)


# --- rates and policy -----------------------------------------------------------------------


@router.get("/rates", response_model=RatesRead, responses=ERRORS)
def three_rates(
    actor: CurrentUser,
    session: SessionDep,
    by: RateGroup = RateGroup.STREET,
    period: Annotated[
        str | None, Query(description="2026, 2026-Q4, 2026-11, 2026-W47 or 2026-11-23")
    ] = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> RatesRead:
    """Response, resolution and satisfaction rates (三率) per street or department, over the
    requests within your data scope received in the period."""
    if period is not None:
        start, end = rates.parse_period(period)
    elif period_from is not None and period_to is not None:
        start = _aware(period_from, "period_from") or period_from
        end = _aware(period_to, "period_to") or period_to
    else:
        raise InvalidInput("give period, or period_from and period_to", field="period")
    return rates.three_rates(session, actor=actor, by=by, period_from=start, period_to=end)


@router.get("/policy", response_model=PolicyRead)
def get_policy(actor: CurrentUser, session: SessionDep) -> PolicyRead:
    """The district's hotline deadlines and rate weights (defaults until an admin sets them)."""
    return PolicyRead(**asdict(policy.get_policy(session, district_code=actor.district_code)))


@router.patch("/policy", response_model=PolicyRead, responses=ERRORS)
def set_policy(body: PolicyUpdate, actor: Admin, session: WriteSessionDep) -> PolicyRead:
    """Change the district's hotline deadlines or weights (admins; weights must add up to 1)."""
    new = policy.set_policy(session, actor=actor, changes=body.model_dump(exclude_none=True))
    session.commit()
    return PolicyRead(**asdict(new))
