"""Use cases of the hotline: take a call, record the department's reply, record callbacks.

Every function works in the caller's transaction and flushes; each write appends an audit
entry. Cases are made and changed only through ``cases.service`` (``report_case``, ``act``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session, aliased

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.auth.roles import Role
from cityops.cases import service as case_service
from cityops.cases.enums import Source
from cityops.cases.lifecycle import Action, Status
from cityops.cases.models import Case
from cityops.cases.queries import mask_name, mask_phone
from cityops.cases.schemas import CaseReport, ReasonBody
from cityops.cases.scope import can_see, is_district_wide, visible
from cityops.db import settings_of
from cityops.dispatch.duplicates import DuplicateProposal, propose_duplicates
from cityops.dispatch.service import named_suggestions
from cityops.errors import Conflict, Forbidden, InvalidInput, NotFound
from cityops.geo.models import Region
from cityops.hotline import knowledge
from cityops.hotline.enums import CallbackChannel, RequestStatus, RequestType, Satisfaction
from cityops.hotline.models import HotlineCallback, HotlineRequest
from cityops.hotline.policy import due_times, get_policy
from cityops.hotline.schemas import (
    CallbackCreate,
    CallbackRead,
    CallCreate,
    RequestDetail,
    RequestRead,
    SuggestionRead,
)
from cityops.timeutil import utcnow

#: Roles that take calls and make callbacks.
OPERATOR_ROLES = (Role.OPERATOR, Role.SHIFT_LEAD)
#: Case states after the department's work, when asking the citizen makes sense.
AFTER_HANDLING = frozenset(
    {Status.HANDLED, Status.CHECKING, Status.CHECK_FAILED, Status.CHECKED, Status.CLOSED}
)
MAX_PAGE = 200

#: The case a merged case joined; requests follow their case into the merge.
Target = aliased(Case, name="target_case")


# ---------------------------------------------------------------------------------------------
# Scope and reading


def visible_requests(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: requests the actor may see (needs ``Case`` outer-joined on ``case_id``).

    A request with a case follows the case's data scope; one without (a consultation answered
    at intake) is seen by district-wide roles and the operator who took it.
    """
    in_district = HotlineRequest.district_code == actor.district_code
    if is_district_wide(actor):
        return in_district
    own = HotlineRequest.operator_id == actor.id if actor.id else None
    with_case = and_(HotlineRequest.case_id.is_not(None), visible(actor))
    return in_district & (or_(with_case, own) if own is not None else with_case)


def _joined(*columns: Any) -> Select[Any]:
    return (
        select(HotlineRequest, Case, Target.department_id, *columns)
        .outerjoin(Case, Case.id == HotlineRequest.case_id)
        .outerjoin(Target, Target.id == Case.merged_into_id)
    )


def effective_case(session: Session, case: Case | None) -> Case | None:
    """The case the request's work happens on: the merge target for a merged case."""
    if case is not None and case.merged_into_id is not None:
        return session.get(Case, case.merged_into_id)
    return case


def _can_see_request(req: HotlineRequest, case: Case | None, actor: Actor) -> bool:
    if req.district_code != actor.district_code:
        return False
    if is_district_wide(actor) or (actor.id and req.operator_id == actor.id):
        return True
    return case is not None and can_see(case, actor)


def get_request(
    session: Session, *, actor: Actor, request_id: int, for_update: bool = False
) -> HotlineRequest:
    """The request, if it exists and lies within the actor's data scope."""
    req = session.get(HotlineRequest, request_id, with_for_update=for_update or None)
    if req is None or req.district_code != actor.district_code:
        raise NotFound(f"no hotline request with id {request_id}", field="request_id")
    case = session.get(Case, req.case_id) if req.case_id else None
    if not _can_see_request(req, case, actor):
        raise Forbidden("this request is outside your data scope", field="request_id")
    return req


def to_read(
    req: HotlineRequest, case: Case | None, target_department_id: int | None, actor: Actor
) -> RequestRead:
    """The request as the actor may see it: contacts masked unless ``actor.sees_contacts``."""
    full = actor.sees_contacts
    return RequestRead(
        id=req.id,
        type=req.type,
        status=req.status,
        caller_name=req.caller_name if full else mask_name(req.caller_name),
        caller_phone=req.caller_phone if full else mask_phone(req.caller_phone),
        text=req.text,
        address=req.address,
        lon=req.lon,
        lat=req.lat,
        region_code=req.region_code,
        street_code=req.street_code,
        kb_article_id=req.kb_article_id,
        answer=req.answer,
        case_id=req.case_id,
        case_number=case.number if case else None,
        case_status=case.status if case else None,
        department_id=target_department_id or (case.department_id if case else None),
        operator_id=req.operator_id,
        received_at=req.received_at,
        response_due_at=req.response_due_at,
        resolution_due_at=req.resolution_due_at,
        responded_at=req.responded_at,
        reply_text=req.reply_text,
        replied_at=req.replied_at,
        closed_at=req.closed_at,
        resolved=req.resolved,
        satisfaction=req.satisfaction,
        called_back_at=req.called_back_at,
        callback_count=req.callback_count,
        version=req.version,
    )


def read_request(session: Session, *, actor: Actor, request_id: int) -> RequestRead:
    req = get_request(session, actor=actor, request_id=request_id)
    case = session.get(Case, req.case_id) if req.case_id else None
    target = effective_case(session, case)
    merged_into = target.department_id if target is not None and target is not case else None
    return to_read(req, case, merged_into, actor)


def request_detail(session: Session, *, actor: Actor, request_id: int) -> RequestDetail:
    """One request with its callbacks (contacts masked as for lists)."""
    base = read_request(session, actor=actor, request_id=request_id)
    callbacks = session.scalars(
        select(HotlineCallback)
        .where(HotlineCallback.request_id == request_id)
        .order_by(HotlineCallback.at, HotlineCallback.id)
    ).all()
    return RequestDetail(
        **base.model_dump(), callbacks=[CallbackRead.model_validate(c) for c in callbacks]
    )


@dataclass
class RequestFilter:
    type: str | None = None
    status: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    street_code: str | None = None
    case_id: int | None = None
    q: str | None = None
    extra: list[ColumnElement[bool]] = field(default_factory=list)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(actor: Actor, flt: RequestFilter) -> Select[Any]:
    stmt = _joined().where(visible_requests(actor))
    for column, value in (
        (HotlineRequest.type, flt.type),
        (HotlineRequest.status, flt.status),
        (HotlineRequest.street_code, flt.street_code),
        (HotlineRequest.case_id, flt.case_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.received_from is not None:
        stmt = stmt.where(HotlineRequest.received_at >= flt.received_from)
    if flt.received_to is not None:
        stmt = stmt.where(HotlineRequest.received_at < flt.received_to)
    if flt.q:
        pattern = f"%{_escape_like(flt.q.strip())}%"
        stmt = stmt.where(
            or_(
                HotlineRequest.text.ilike(pattern, escape="\\"),
                HotlineRequest.address.ilike(pattern, escape="\\"),
                # An exact phone finds a caller's earlier calls without revealing it in lists.
                HotlineRequest.caller_phone == flt.q.strip(),
            )
        )
    for clause in flt.extra:
        stmt = stmt.where(clause)
    return stmt


def list_requests(
    session: Session,
    *,
    actor: Actor,
    flt: RequestFilter,
    after_id: int | None = None,
    limit: int = 50,
) -> tuple[list[RequestRead], int | None]:
    """A page of visible requests, newest first, and the id to continue after (or None)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    stmt = _filtered(actor, flt)
    if after_id is not None:
        stmt = stmt.where(HotlineRequest.id < after_id)
    rows = session.execute(stmt.order_by(HotlineRequest.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    items = [to_read(req, case, target_dep, actor) for req, case, target_dep in page]
    return items, page[-1][0].id if len(rows) > limit and page else None


EXPORT_COLUMNS = [
    "id",
    "received_at",
    "type",
    "status",
    "caller_name",
    "caller_phone",
    "text",
    "address",
    "street_code",
    "case_number",
    "case_status",
    "department_id",
    "response_due_at",
    "responded_at",
    "resolution_due_at",
    "resolved",
    "satisfaction",
]


def export_csv(session: Session, *, actor: Actor, flt: RequestFilter, limit: int = 50_000) -> str:
    """Visible requests as CSV (UTF-8 with BOM for spreadsheet programs), contacts masked."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    stmt = _filtered(actor, flt).order_by(HotlineRequest.id).limit(limit)
    for req, case, target_dep in session.execute(stmt):
        writer.writerow(to_read(req, case, target_dep, actor).model_dump())
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Suggestions


def suggestion_for(session: Session, text: str) -> SuggestionRead:
    """Class and department suggestions from the trained models, or why there are none."""
    found = named_suggestions(session, data_dir=settings_of(session).data_dir, text=text)
    return SuggestionRead(
        classes=found.classes, departments=found.departments, message=found.message
    )


# ---------------------------------------------------------------------------------------------
# Intake


@dataclass(frozen=True)
class Taken:
    request: HotlineRequest
    case: Case | None
    #: False when the client request id had been seen: the earlier request is returned.
    created: bool
    duplicates: list[DuplicateProposal] = field(default_factory=list)


def _require(actor: Actor, roles: Sequence[Role], what: str) -> None:
    if not actor.has(*roles):
        need = ", ".join(r.value for r in roles)
        raise Forbidden(f"{what} needs one of the roles: {need}")


def _place(session: Session, actor: Actor, data: CallCreate) -> tuple[float, float, str | None]:
    """The map point for the case and the street the region names, if a region was given."""
    region_street = None
    if data.region_code is not None:
        region = session.scalar(select(Region).where(Region.code == data.region_code))
        if region is None or region.district_code != actor.district_code:
            raise InvalidInput(
                f"no region {data.region_code} in district {actor.district_code}",
                field="region_code",
            )
        region_street = data.region_code[:9] if len(data.region_code) >= 9 else None
        if data.lon is None or data.lat is None:
            return region.centroid_lon, region.centroid_lat, region_street
    if data.lon is None or data.lat is None:
        raise InvalidInput(
            "a request that becomes a case needs a place: lon and lat, or region_code",
            field="lon",
        )
    return data.lon, data.lat, region_street


def _existing(session: Session, actor: Actor, client_request_id: str) -> HotlineRequest | None:
    return session.scalar(
        select(HotlineRequest).where(
            HotlineRequest.operator_id == actor.id,
            HotlineRequest.client_request_id == client_request_id,
        )
    )


def take_call(
    session: Session, *, actor: Actor, data: CallCreate, now: datetime | None = None
) -> Taken:
    """Record a call: answer a consultation from the knowledge base, or make it a case."""
    _require(actor, OPERATOR_ROLES, "taking calls")
    if data.client_request_id:
        earlier = _existing(session, actor, data.client_request_id)
        if earlier is not None:
            known = session.get(Case, earlier.case_id) if earlier.case_id else None
            return Taken(earlier, known, created=False)
    now = now or utcnow()
    req = HotlineRequest(
        district_code=actor.district_code,
        client_request_id=data.client_request_id,
        operator_id=actor.id or None,
        type=data.type.value,
        caller_name=data.caller_name or None,
        caller_phone=data.caller_phone,
        text=data.text,
        address=data.address,
        lon=data.lon,
        lat=data.lat,
        region_code=data.region_code,
        received_at=now,
        updated_at=now,
    )
    answered = data.type is RequestType.CONSULTATION and (
        data.kb_article_id is not None or data.answer is not None
    )
    case: Case | None = None
    duplicates: list[DuplicateProposal] = []
    if answered:
        article = None
        if data.kb_article_id is not None:
            article = knowledge.get_article(
                session, district_code=actor.district_code, article_id=data.kb_article_id
            )
            if not article.active:
                raise InvalidInput("this article is retired", field="kb_article_id")
        req.kb_article_id = data.kb_article_id
        req.answer = data.answer or (article.body if article else None)
        req.status = RequestStatus.ANSWERED.value
        # Answered on the call itself: responded and closed at once, and no case.
        req.responded_at = now
        req.closed_at = now
        if data.region_code and len(data.region_code) >= 9:
            req.street_code = data.region_code[:9]
    else:
        if data.kind is None or data.minor_code is None:
            missing = "kind" if data.kind is None else "minor_code"
            raise InvalidInput(
                f"a {data.type.value} that becomes a case needs its class ('{missing}')",
                field=missing,
            )
        lon, lat, region_street = _place(session, actor, data)
        report = CaseReport(
            client_request_id=data.client_request_id,
            source=Source.HOTLINE,
            kind=data.kind,
            minor_code=data.minor_code,
            urgency=data.urgency,
            description=data.text,
            address=data.address,
            lon=lon,
            lat=lat,
            reporter_name=data.caller_name or None,
            reporter_phone=data.caller_phone,
        )
        case = case_service.report_case(session, actor=actor, data=report, now=now).case
        policy = get_policy(session, district_code=actor.district_code)
        cal = case_service.calendar_for(session)
        req.response_due_at, req.resolution_due_at = due_times(cal, policy, now)
        req.case_id = case.id
        req.street_code = case.street_code or region_street
        req.status = RequestStatus.OPEN.value
        duplicates = propose_duplicates(
            session,
            actor=actor,
            kind=case.kind,
            minor_code=case.minor_code,
            lon=lon,
            lat=lat,
            text=data.text,
            at=now,
            exclude_case_id=case.id,
        )
    session.add(req)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hotline.call",
        object_type="hotline_request",
        object_id=req.id,
        detail={"type": req.type, "status": req.status, "case_id": req.case_id},
    )
    return Taken(req, case, created=True, duplicates=duplicates)


# ---------------------------------------------------------------------------------------------
# The department's reply


def record_reply(
    session: Session, *, actor: Actor, request_id: int, text: str, now: datetime | None = None
) -> HotlineRequest:
    """The department's reply to the citizen; the first one marks the request responded.

    Only a handler of the department the case is dispatched to may reply. A merged case's
    callers are answered by the one reply to the case they were merged into.
    """
    _require(actor, (Role.DEPARTMENT_HANDLER,), "replying to a request")
    req = get_request(session, actor=actor, request_id=request_id, for_update=True)
    if req.case_id is None:
        raise Conflict("this request was answered at intake; it has no case", field="request_id")
    case = effective_case(session, session.get(Case, req.case_id))
    assert case is not None
    if case.department_id is None:
        raise Conflict(
            f"case {case.number} is {case.status} and not dispatched to a department yet",
            field="request_id",
        )
    if case.department_id != actor.scope_department_id:
        raise Forbidden(
            "only the department the case was dispatched to may reply", field="request_id"
        )
    now = now or utcnow()
    siblings = session.scalars(
        select(HotlineRequest)
        .join(Case, Case.id == HotlineRequest.case_id)
        .where(or_(Case.id == case.id, Case.merged_into_id == case.id))
        .where(HotlineRequest.id != req.id)
    ).all()
    for row in [req, *siblings]:
        row.reply_text = text
        row.replied_at = now
        row.replied_by_id = actor.id or None
        if row.responded_at is None:
            row.responded_at = now
        if row.status in (RequestStatus.OPEN.value, RequestStatus.REOPENED.value):
            row.status = RequestStatus.REPLIED.value
        row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hotline.reply",
        object_type="hotline_request",
        object_id=req.id,
        detail={"case_id": case.id, "also": [r.id for r in siblings]},
    )
    return req


# ---------------------------------------------------------------------------------------------
# Callbacks


@dataclass(frozen=True)
class CallbackOutcome:
    callback: HotlineCallback
    reopened: bool
    #: Why a "not resolved" callback did not reopen the case.
    not_reopened: str | None = None


def _check_callback_allowed(session: Session, req: HotlineRequest) -> Case:
    if req.case_id is None:
        raise Conflict(
            "this request was answered at intake; there is no case to call back about",
            field="request_id",
        )
    case = effective_case(session, session.get(Case, req.case_id))
    assert case is not None
    if req.responded_at is None and Status(case.status) not in AFTER_HANDLING:
        raise Conflict(
            f"case {case.number} is {case.status} and the citizen has had no reply yet; "
            "call back after handling",
            field="request_id",
        )
    return case


def record_callback(
    session: Session,
    *,
    actor: Actor,
    request_id: int,
    data: CallbackCreate,
    source: str | None = None,
    now: datetime | None = None,
) -> CallbackOutcome:
    """Record a callback; "not resolved" reopens a closed case (``act(REOPEN)``)."""
    _require(actor, OPERATOR_ROLES, "recording callbacks")
    req = get_request(session, actor=actor, request_id=request_id, for_update=True)
    case = _check_callback_allowed(session, req)
    now = now or utcnow()
    at = data.at or now
    callback = HotlineCallback(
        request_id=req.id,
        district_code=req.district_code,
        case_id=case.id,
        channel=data.channel.value,
        reached=data.reached,
        resolved=data.resolved,
        satisfaction=data.satisfaction.value if data.satisfaction else None,
        note=data.note,
        at=at,
        recorded_by_id=actor.id or None,
        source=source,
        reopened=False,
    )
    session.add(callback)
    reopened = False
    not_reopened = None
    if data.reached:
        req.resolved = data.resolved
        req.satisfaction = callback.satisfaction
        req.called_back_at = at
        req.callback_count += 1
        req.status = RequestStatus.CALLED_BACK.value
        if data.resolved is False:
            if case.status == Status.CLOSED.value:
                case_service.act(
                    session,
                    actor=actor,
                    case_id=case.id,
                    action=Action.REOPEN,
                    body=ReasonBody(
                        expected_version=case.version,
                        reason=("回访未解决: " + (data.note or "市民表示问题未解决"))[:500],
                    ),
                    now=now,
                )
                reopened = True
                req.status = RequestStatus.REOPENED.value
            else:
                # Still being handled or checked: the check decides, not a second reopen.
                not_reopened = f"case {case.number} is {case.status}, not closed"
    callback.reopened = reopened
    req.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hotline.callback",
        object_type="hotline_request",
        object_id=req.id,
        detail={
            "callback_id": callback.id,
            "channel": callback.channel,
            "resolved": data.resolved,
            "satisfaction": callback.satisfaction,
            "reopened": reopened,
        },
    )
    return CallbackOutcome(callback, reopened, not_reopened)


_TRUE = {"1", "yes", "y", "true", "是", "已解决", "解决"}
_FALSE = {"0", "no", "n", "false", "否", "未解决"}
_SATISFACTION = {
    "satisfied": Satisfaction.SATISFIED,
    "满意": Satisfaction.SATISFIED,
    "1": Satisfaction.SATISFIED,
    "basically_satisfied": Satisfaction.BASICALLY_SATISFIED,
    "基本满意": Satisfaction.BASICALLY_SATISFIED,
    "2": Satisfaction.BASICALLY_SATISFIED,
    "dissatisfied": Satisfaction.DISSATISFIED,
    "不满意": Satisfaction.DISSATISFIED,
    "3": Satisfaction.DISSATISFIED,
}


@dataclass(frozen=True)
class ImportSummary:
    imported: int
    reopened: int
    not_reopened: list[str]


def _row_error(number: int, column: str, message: str) -> InvalidInput:
    return InvalidInput(f"row {number}: {message}", field=column, row=number)


def _parse_row(
    session: Session, actor: Actor, number: int, row: dict[str, str | None]
) -> tuple[int, CallbackCreate]:
    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    request_id: int | None = None
    if get("request_id"):
        if not get("request_id").isdigit():
            raise _row_error(number, "request_id", "request_id must be a number")
        request_id = int(get("request_id"))
    elif get("case_number"):
        ids = session.scalars(
            select(HotlineRequest.id)
            .join(Case, Case.id == HotlineRequest.case_id)
            .where(Case.number == get("case_number"), Case.district_code == actor.district_code)
        ).all()
        if len(ids) != 1:
            problem = "no hotline request" if not ids else "several hotline requests"
            raise _row_error(number, "case_number", f"{problem} for case {get('case_number')}")
        request_id = ids[0]
    else:
        raise _row_error(number, "request_id", "give request_id or case_number")
    values: dict[str, Any] = {"channel": get("channel") or CallbackChannel.SMS.value}
    resolved, satisfaction = get("resolved").lower(), get("satisfaction").lower()
    reached = get("reached").lower()
    values["reached"] = reached not in _FALSE if reached else bool(resolved or satisfaction)
    if resolved:
        if resolved not in _TRUE | _FALSE:
            raise _row_error(number, "resolved", f"resolved must be yes or no, got {resolved!r}")
        values["resolved"] = resolved in _TRUE
    if satisfaction:
        if satisfaction not in _SATISFACTION:
            raise _row_error(
                number, "satisfaction", f"unknown satisfaction {get('satisfaction')!r}"
            )
        values["satisfaction"] = _SATISFACTION[satisfaction]
    if get("note"):
        values["note"] = get("note")
    if get("at"):
        values["at"] = get("at")
    try:
        data = CallbackCreate.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        column = ".".join(str(p) for p in first.get("loc", ())) or "row"
        raise _row_error(number, column, first.get("msg", "invalid")) from exc
    try:
        req = get_request(session, actor=actor, request_id=request_id)
        _check_callback_allowed(session, req)
    except (NotFound, Forbidden, Conflict) as exc:
        raise _row_error(number, "request_id", exc.message) from exc
    return request_id, data


def import_callbacks(
    session: Session, *, actor: Actor, text: str, source: str, now: datetime | None = None
) -> ImportSummary:
    """Record SMS/IVR callback results from CSV text; every row is checked before any is written.

    Columns: ``request_id`` or ``case_number``; ``resolved`` (yes/no, 是/否, 1/0);
    ``satisfaction`` (satisfied/basically_satisfied/dissatisfied, 满意/基本满意/不满意, or the
    IVR keys 1/2/3); optional ``channel`` (sms, ivr, phone; default sms), ``reached``, ``note``,
    ``at`` (ISO time with zone).
    """
    _require(actor, OPERATOR_ROLES, "importing callbacks")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = set(reader.fieldnames or [])
    if not header & {"request_id", "case_number"}:
        raise InvalidInput("the CSV needs a request_id or case_number column", field="file")
    parsed = [_parse_row(session, actor, number, row) for number, row in enumerate(reader, start=2)]
    if not parsed:
        raise InvalidInput("the CSV has no rows", field="file")
    reopened = 0
    skipped: list[str] = []
    for request_id, data in parsed:
        outcome = record_callback(
            session, actor=actor, request_id=request_id, data=data, source=source, now=now
        )
        reopened += outcome.reopened
        if outcome.not_reopened:
            skipped.append(f"request {request_id}: {outcome.not_reopened}")
    return ImportSummary(imported=len(parsed), reopened=reopened, not_reopened=skipped)
