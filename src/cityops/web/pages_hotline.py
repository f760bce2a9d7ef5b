"""Hotline back office: callbacks (回访) and the knowledge base editor.

Callbacks go through ``hotline.service`` (``list_requests``, ``record_callback``,
``import_callbacks``) and articles through ``hotline.knowledge``, with the API's request
models; contacts come masked from ``list_requests`` unless the actor may see them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from cityops.auth.roles import Role
from cityops.deps import SessionDep
from cityops.errors import NotFound
from cityops.hotline import knowledge
from cityops.hotline import service as hotline_service
from cityops.hotline.enums import CallbackChannel, RequestStatus, Satisfaction
from cityops.hotline.schemas import ArticleCreate, ArticleUpdate, CallbackCreate
from cityops.web import lookups
from cityops.web.actions import Posted, attempt, error_text, read_form
from cityops.web.render import redirect, render, t
from cityops.web.session import PageError, PageUser, roles_form, roles_page

router = APIRouter(include_in_schema=False)

CALLERS = (Role.OPERATOR, Role.SHIFT_LEAD)
KB_READERS = (Role.OPERATOR, Role.SHIFT_LEAD, Role.ADMIN)
KB_EDITORS = (Role.SHIFT_LEAD, Role.ADMIN)
CallbackPage = Annotated[PageUser, Depends(roles_page(*CALLERS))]
CallbackForm = Annotated[PageUser, Depends(roles_form(*CALLERS))]
KbPage = Annotated[PageUser, Depends(roles_page(*KB_READERS))]
KbForm = Annotated[PageUser, Depends(roles_form(*KB_EDITORS))]

#: Request states the callbacks page lists; "replied" is the work list (due for a callback).
CALLBACK_TABS = (
    RequestStatus.REPLIED.value,
    RequestStatus.CALLED_BACK.value,
    RequestStatus.REOPENED.value,
)
MAX_IMPORT_BYTES = 5 * 1024 * 1024
PAGE_SIZE = 100


# --- callbacks ------------------------------------------------------------------------------


@router.get("/callbacks")
def callbacks(
    request: Request,
    user: CallbackPage,
    session: SessionDep,
    status: Annotated[str, Query(max_length=16)] = RequestStatus.REPLIED.value,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Handled hotline requests whose citizen is to be called back, and the recent results."""
    status = status if status in CALLBACK_TABS else RequestStatus.REPLIED.value
    flt = hotline_service.RequestFilter(status=status, q=q.strip() or None)
    items, more = hotline_service.list_requests(session, actor=user.actor, flt=flt, limit=PAGE_SIZE)
    if status == RequestStatus.REPLIED.value:
        # Longest waiting first: the order the callback desk works in.
        items.sort(key=lambda r: (r.replied_at or r.received_at, r.id))
    return render(
        request,
        "callbacks.html",
        user,
        items=items,
        more=more is not None,
        status=status,
        tabs=CALLBACK_TABS,
        q=q,
        channels=[c.value for c in CallbackChannel],
        satisfactions=[s.value for s in Satisfaction],
        units=lookups.unit_names(session, [r.department_id for r in items]),
    )


def _callback_body(posted: Posted) -> CallbackCreate:
    reached = posted.get("reached", "1") != "0"
    values: dict[str, Any] = {
        "channel": posted.get("channel") or CallbackChannel.PHONE.value,
        "reached": reached,
    }
    if reached:
        if posted.get("resolved") in ("1", "0"):
            values["resolved"] = posted.get("resolved") == "1"
        if posted.get("satisfaction"):
            values["satisfaction"] = posted.get("satisfaction")
    if posted.get("note"):
        values["note"] = posted.get("note")
    return CallbackCreate.model_validate(values)


def _back(posted: Posted) -> str:
    target = posted.get("next")
    return target if target.startswith("/callbacks") else "/callbacks"


@router.post("/callbacks/{request_id:int}")
async def record_callback(request: Request, request_id: int, user: CallbackForm) -> Response:
    """Record one callback's result; "not resolved" reopens a closed case (the service does)."""
    posted = await read_form(request)
    back = _back(posted)
    try:
        body = _callback_body(posted)
    except ValidationError as exc:
        return redirect(back, error_text(request, exc), "error")

    def work(session: Session) -> Any:
        return hotline_service.record_callback(
            session, actor=user.actor, request_id=request_id, data=body
        )

    outcome, error = await run_in_threadpool(attempt, request, work)
    if error or outcome is None:
        return redirect(back, error or "", "error")
    if outcome.reopened:
        message = t(request, "Callback recorded; the case was reopened.")
    elif outcome.not_reopened:
        message = t(
            request,
            "Callback recorded; the case was not reopened (%(why)s).",
            why=outcome.not_reopened,
        )
    else:
        message = t(request, "Callback recorded.")
    return redirect(back, message)


@router.post("/callbacks/import")
async def import_callbacks(request: Request, user: CallbackForm) -> Response:
    """Import SMS/IVR results from a CSV; every row is checked before any is recorded."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return redirect("/callbacks", t(request, "Choose a UTF-8 CSV file under 5 MB."), "error")
    raw = await upload.read(MAX_IMPORT_BYTES + 1)
    try:
        if len(raw) > MAX_IMPORT_BYTES:
            raise UnicodeDecodeError("utf-8", raw[:1], 0, 1, "too large")
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return redirect("/callbacks", t(request, "Choose a UTF-8 CSV file under 5 MB."), "error")
    source = f"upload:{upload.filename}"[:128]

    def work(session: Session) -> Any:
        return hotline_service.import_callbacks(session, actor=user.actor, text=text, source=source)

    summary, error = await run_in_threadpool(attempt, request, work)
    if error or summary is None:
        return redirect("/callbacks", error or "", "error")
    message = t(
        request,
        "%(n)s callbacks imported, %(r)s cases reopened.",
        n=summary.imported,
        r=summary.reopened,
    )
    if summary.not_reopened:
        message += " " + "; ".join(summary.not_reopened[:5])
    return redirect("/callbacks", message)


# --- knowledge base -------------------------------------------------------------------------


@router.get("/kb")
def kb(
    request: Request,
    user: KbPage,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Articles of the district: search (best first) or the whole list, retired ones marked."""
    district = user.actor.district_code
    scores: dict[int, float] = {}
    if q.strip():
        hits = knowledge.search(
            session, district_code=district, query=q, limit=100, active_only=False
        )
        articles = [h.article for h in hits]
        scores = {h.article.id: h.score for h in hits}
        if category:
            articles = [a for a in articles if a.category == category]
    else:
        articles = list(
            knowledge.list_articles(
                session, district_code=district, category=category or None, limit=500
            )
        )
    every = knowledge.list_articles(session, district_code=district, limit=500)
    categories = sorted({a.category for a in every if a.category})
    return render(
        request,
        "kb.html",
        user,
        articles=articles,
        scores=scores,
        q=q,
        category=category,
        categories=categories,
        editor=user.has(*KB_EDITORS),
    )


@router.get("/kb/{article_id:int}")
def kb_article(request: Request, article_id: int, user: KbPage, session: SessionDep) -> Response:
    """One article, with the edit form for editors."""
    try:
        article = knowledge.get_article(
            session, district_code=user.actor.district_code, article_id=article_id
        )
    except NotFound as exc:
        raise PageError(404, exc.message) from exc
    return render(
        request,
        "kb_article.html",
        user,
        article=article,
        editor=user.has(*KB_EDITORS),
        editor_name=lookups.user_names(session, [article.updated_by_id]).get(
            article.updated_by_id or 0, ""
        ),
    )


def _article_values(posted: Posted) -> dict[str, Any]:
    return {
        "title": posted.get("title"),
        "body": posted.get("body"),
        "keywords": posted.get("keywords"),
        "category": posted.get("category") or None,
    }


@router.post("/kb")
async def create_article(request: Request, user: KbForm) -> Response:
    """Add an article (admins, shift leads), validated as the API validates it."""
    posted = await read_form(request)
    try:
        body = ArticleCreate.model_validate(_article_values(posted))
    except ValidationError as exc:
        return redirect("/kb", error_text(request, exc), "error")

    def work(session: Session) -> Any:
        return knowledge.create_article(session, actor=user.actor, **body.model_dump()).id

    made, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect("/kb", error, "error")
    return redirect(f"/kb/{made}", t(request, "Article saved."))


@router.post("/kb/{article_id:int}")
async def update_article(request: Request, article_id: int, user: KbForm) -> Response:
    """Change an article, or retire/restore it (``do=retire`` / ``do=restore``)."""
    posted = await read_form(request)
    back = f"/kb/{article_id}"
    what = posted.get("do")
    try:
        if what in ("retire", "restore"):
            body = ArticleUpdate(active=what == "restore")
        else:
            body = ArticleUpdate.model_validate(_article_values(posted))
    except ValidationError as exc:
        return redirect(back, error_text(request, exc), "error")

    def work(session: Session) -> Any:
        return knowledge.update_article(
            session,
            actor=user.actor,
            article_id=article_id,
            changes=body.model_dump(exclude_unset=True),
        ).id

    _done, error = await run_in_threadpool(attempt, request, work)
    if error:
        return redirect(back, error, "error")
    return redirect(back, t(request, "Article saved."))
