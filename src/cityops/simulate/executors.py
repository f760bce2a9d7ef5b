"""Two ways to carry out a plan's steps: per action through the services, or in bulk.

``ServiceExecutor`` calls ``cases.service`` and ``hotline.service`` exactly as the API does.
``BulkExecutor`` runs the same checks through ``cases.bulk.Batch``; hotline requests and
callbacks it keeps in memory and writes with Core executemany next to the batch, mirroring
``hotline.service.take_call`` / ``record_reply`` / ``record_callback`` (one ``hotline.bulk``
audit entry per flush; inserts by ``COPY`` on PostgreSQL). The hotline owner may later give
that its own bulk API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import SYSTEM, Actor
from cityops.auth.roles import Role
from cityops.cases import service as case_service
from cityops.cases.bulk import Batch, CaseState, copy_rows, load_states, reserve_ids
from cityops.cases.enums import Kind, Source, Urgency
from cityops.cases.lifecycle import Action, Status
from cityops.cases.models import Case
from cityops.cases.schemas import ACTION_BODIES, CaseReport, ReasonBody
from cityops.errors import Conflict, Forbidden
from cityops.geo.index import RegionCodes
from cityops.hotline import service as hotline_service
from cityops.hotline.enums import CallbackChannel, RequestStatus, RequestType, Satisfaction
from cityops.hotline.models import HotlineCallback, HotlineRequest
from cityops.hotline.policy import due_times, get_policy
from cityops.hotline.schemas import CallbackCreate, CallCreate
from cityops.simulate.model import CALL, CALLBACK, CONSULT, REPLY, REPORT, Plan, Step

REPLY_TEXT = "已联系来电人，说明处置安排，正在办理。"
_REQUESTS = cast(Any, HotlineRequest.__table__)
_CALLBACKS = cast(Any, HotlineCallback.__table__)


#: Writes what a transaction's steps did, in the given session's transaction.
Write = Callable[[Session], None]


class Executor(Protocol):
    def step(self, plan: Plan, step: Step, codes: RegionCodes | None) -> None: ...

    def prepare(self, db: Session) -> tuple[dict[str, int], Write]:
        """The counts of the steps since the last call and what is left to write for them
        (``db`` is the session that will write)."""
        ...

    def attach(self, plans: list[Plan]) -> None: ...


def _report(plan: Plan) -> CaseReport:
    return CaseReport(
        client_request_id=plan.key,
        source=Source(plan.source),
        kind=Kind(plan.kind),
        minor_code=plan.minor_code,
        urgency=Urgency(plan.urgency),
        description=plan.description,
        address=plan.address,
        lon=plan.lon,
        lat=plan.lat,
    )


def _call(plan: Plan) -> CallCreate:
    consult = plan.call_type == RequestType.CONSULTATION.value
    return CallCreate(
        client_request_id=plan.key,
        type=RequestType(plan.call_type or RequestType.COMPLAINT.value),
        caller_name=plan.caller_name,
        caller_phone=plan.caller_phone,
        text=plan.description,
        address=None if consult else plan.address,
        lon=None if consult else plan.lon,
        lat=None if consult else plan.lat,
        region_code=plan.region_code,
        kind=None if consult else Kind(plan.kind),
        minor_code=None if consult else plan.minor_code,
        urgency=Urgency(plan.urgency),
        answer=plan.answer,
    )


def _callback(step: Step) -> CallbackCreate:
    reached = bool(step.body.get("reached"))
    return CallbackCreate(
        channel=CallbackChannel.PHONE,
        reached=reached,
        resolved=step.body.get("resolved") if reached else None,
        satisfaction=Satisfaction(step.body["satisfaction"]) if reached else None,
    )


def reopen_reason(note: str | None) -> str:
    """The reason ``hotline.service.record_callback`` gives the reopen (kept identical)."""
    return ("回访未解决: " + (note or "市民表示问题未解决"))[:500]


class ServiceExecutor:
    """Per action through the services (the path the web API takes)."""

    def __init__(self, session: Session, actors: dict[int, Actor]) -> None:
        self.session = session
        self.actors = actors
        self.counts = {"cases": 0, "events": 0, "calls": 0}

    def attach(self, plans: list[Plan]) -> None:
        """Find the stored case and request of plans continued after a resume."""
        keys = [p.key for p in plans]
        cases = dict(
            self.session.execute(
                select(Case.client_request_id, Case.id).where(Case.client_request_id.in_(keys))
            ).all()
        )
        requests = dict(
            self.session.execute(
                select(HotlineRequest.client_request_id, HotlineRequest.id).where(
                    HotlineRequest.client_request_id.in_(keys)
                )
            ).all()
        )
        for plan in plans:
            plan.case = cases.get(plan.key)
            plan.request = requests.get(plan.key)

    def step(self, plan: Plan, step: Step, codes: RegionCodes | None) -> None:
        session, actor, now = self.session, self.actors[step.actor], step.t
        if step.op in (CALL, CONSULT):
            taken = hotline_service.take_call(session, actor=actor, data=_call(plan), now=now)
            plan.request = taken.request.id
            plan.case = taken.case.id if taken.case is not None else None
            self.counts["calls"] += 1
            self.counts["cases"] += taken.case is not None
            self.counts["events"] += taken.case is not None
        elif step.op == REPORT:
            reported = case_service.report_case(session, actor=actor, data=_report(plan), now=now)
            plan.case = reported.case.id
            self.counts["cases"] += 1
            self.counts["events"] += 1
        elif step.op == REPLY:
            hotline_service.record_reply(
                session, actor=actor, request_id=plan.request, text=REPLY_TEXT, now=now
            )
        elif step.op == CALLBACK:
            outcome = hotline_service.record_callback(
                session, actor=actor, request_id=plan.request, data=_callback(step), now=now
            )
            self.counts["events"] += outcome.reopened
        else:
            action = Action(step.op)
            case = session.get(Case, plan.case)
            assert case is not None
            body = ACTION_BODIES[action](expected_version=case.version, **step.body)
            case_service.act(
                session, actor=actor, case_id=case.id, action=action, body=body, now=now
            )
            self.counts["events"] += 1

    def prepare(self, db: Session) -> tuple[dict[str, int], Write]:
        """Every step was written as it ran, in the executor's session (which must be ``db``)."""
        if db is not self.session:
            raise ValueError("the per-action executor writes in its own session")
        counts, self.counts = self.counts, {"cases": 0, "events": 0, "calls": 0}
        return counts, lambda _db: None


@dataclass(eq=False)
class _Request:
    """A hotline request held in memory (the columns of ``hotline_requests``)."""

    row: dict[str, Any]
    case: CaseState | None
    id: int | None = None
    stored_version: int | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)


def _digest(rows: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


class BulkExecutor:
    """In memory through ``cases.bulk.Batch``; written at ``flush``."""

    def __init__(self, session: Session, actors: dict[int, Actor], district_code: str) -> None:
        self.session = session
        self.actors = actors
        self.district_code = district_code
        self.batch = Batch(
            session,
            district_code=district_code,
            audit_actor=replace(SYSTEM, district_code=district_code, username="simulator"),
        )
        self.policy = get_policy(session, district_code=district_code)
        self._new: list[_Request] = []
        self._touched: dict[int, _Request] = {}
        self._callbacks: list[tuple[_Request, dict[str, Any]]] = []
        self.counts = {"cases": 0, "events": 0, "calls": 0}

    def attach(self, plans: list[Plan]) -> None:
        keys = [p.key for p in plans]
        ids = dict(
            self.session.execute(
                select(Case.client_request_id, Case.id).where(Case.client_request_id.in_(keys))
            ).all()
        )
        states = load_states(self.session, list(ids.values()))
        by_key = {k: states[i] for k, i in ids.items() if i in states}
        columns = [c for c in _REQUESTS.c if c.name != "id"]
        requests = {}
        for row in self.session.execute(
            select(_REQUESTS.c.id, *columns).where(_REQUESTS.c.client_request_id.in_(keys))
        ).mappings():
            values = dict(row)
            req_id = values.pop("id")
            requests[values["client_request_id"]] = (req_id, values)
        for plan in plans:
            plan.case = by_key.get(plan.key)
            found = requests.get(plan.key)
            if found is not None:
                req = _Request(row=found[1], case=plan.case, id=found[0])
                req.stored_version = req.row["version"]
                plan.request = req

    def step(self, plan: Plan, step: Step, codes: RegionCodes | None) -> None:
        actor, now = self.actors[step.actor], step.t
        if step.op == CONSULT:
            self._take_call(plan, actor, now, None)
        elif step.op in (CALL, REPORT):
            if step.op == CALL and not actor.has(Role.OPERATOR, Role.SHIFT_LEAD):
                raise Forbidden("taking calls needs one of the roles: operator, shift_lead")
            data = _report(plan)
            if step.op == CALL:
                # take_call reports the case with the caller as its reporter.
                data = data.model_copy(
                    update={"reporter_name": plan.caller_name, "reporter_phone": plan.caller_phone}
                )
            state = self.batch.report(actor=actor, data=data, now=now, codes=codes)
            plan.case = state
            self.counts["cases"] += 1
            self.counts["events"] += 1
            if step.op == CALL:
                self._take_call(plan, actor, now, state)
        elif step.op == REPLY:
            self._reply(plan, actor, now)
        elif step.op == CALLBACK:
            self._record_callback(plan, actor, step, now)
        else:
            action = Action(step.op)
            state = plan.case
            body = ACTION_BODIES[action](expected_version=state.version, **step.body)
            self.batch.act(actor=actor, case=state, action=action, body=body, now=now)
            self.counts["events"] += 1

    # --- the hotline's three use cases, as hotline.service does them ------------------------

    def _take_call(self, plan: Plan, actor: Actor, now: datetime, case: CaseState | None) -> None:
        if not actor.has(Role.OPERATOR, Role.SHIFT_LEAD):
            raise Forbidden("taking calls needs one of the roles: operator, shift_lead")
        data = _call(plan)
        row: dict[str, Any] = {
            "district_code": actor.district_code,
            "client_request_id": data.client_request_id,
            "operator_id": actor.id or None,
            "type": data.type.value,
            "caller_name": data.caller_name or None,
            "caller_phone": data.caller_phone,
            "text": data.text,
            "address": data.address,
            "lon": data.lon,
            "lat": data.lat,
            "region_code": data.region_code,
            "street_code": None,
            "kb_article_id": None,
            "answer": None,
            "case_id": None,
            "received_at": now,
            "response_due_at": None,
            "resolution_due_at": None,
            "responded_at": None,
            "reply_text": None,
            "replied_at": None,
            "replied_by_id": None,
            "closed_at": None,
            "resolved": None,
            "satisfaction": None,
            "called_back_at": None,
            "callback_count": 0,
            "updated_at": now,
            "version": 1,
        }
        if case is None:
            row |= {"status": RequestStatus.ANSWERED.value, "answer": data.answer}
            row |= {"responded_at": now, "closed_at": now}
            if data.region_code and len(data.region_code) >= 9:
                row["street_code"] = data.region_code[:9]
        else:
            response_due, resolution_due = due_times(self.batch.cal, self.policy, now)
            region_street = (
                data.region_code[:9] if data.region_code and len(data.region_code) >= 9 else None
            )
            row |= {
                "status": RequestStatus.OPEN.value,
                "response_due_at": response_due,
                "resolution_due_at": resolution_due,
                "street_code": case.street_code or region_street,
            }
        req = _Request(row=row, case=case)
        plan.request = req
        self._new.append(req)
        self.counts["calls"] += 1

    def _touch(self, req: _Request, now: datetime) -> None:
        req.row["updated_at"] = now
        req.row["version"] += 1
        if req.id is not None:
            self._touched[req.id] = req

    def _reply(self, plan: Plan, actor: Actor, now: datetime) -> None:
        if not actor.has(Role.DEPARTMENT_HANDLER):
            raise Forbidden("replying to a request needs one of the roles: department_handler")
        req: _Request = plan.request
        case = req.case
        if case is None:
            raise Conflict("this request was answered at intake; it has no case")
        if case.department_id is None:
            raise Conflict(f"case {case.number} is {case.status} and not dispatched yet")
        if case.department_id != actor.scope_department_id:
            raise Forbidden("only the department the case was dispatched to may reply")
        row = req.row
        row |= {"reply_text": REPLY_TEXT, "replied_at": now, "replied_by_id": actor.id or None}
        if row["responded_at"] is None:
            row["responded_at"] = now
        if row["status"] in (RequestStatus.OPEN.value, RequestStatus.REOPENED.value):
            row["status"] = RequestStatus.REPLIED.value
        self._touch(req, now)

    def _record_callback(self, plan: Plan, actor: Actor, step: Step, now: datetime) -> None:
        if not actor.has(Role.OPERATOR, Role.SHIFT_LEAD):
            raise Forbidden("recording callbacks needs one of the roles: operator, shift_lead")
        req: _Request = plan.request
        case = req.case
        if case is None:
            raise Conflict("this request was answered at intake; there is no case")
        if req.row["responded_at"] is None and Status(case.status) not in (
            hotline_service.AFTER_HANDLING
        ):
            raise Conflict(f"case {case.number} is {case.status}; call back after handling")
        data = _callback(step)
        callback = {
            "district_code": req.row["district_code"],
            "channel": data.channel.value,
            "reached": data.reached,
            "resolved": data.resolved,
            "satisfaction": data.satisfaction.value if data.satisfaction else None,
            "note": data.note,
            "at": now,
            "recorded_by_id": actor.id or None,
            "source": None,
            "reopened": False,
        }
        if data.reached:
            req.row |= {
                "resolved": data.resolved,
                "satisfaction": callback["satisfaction"],
                "called_back_at": now,
                "callback_count": req.row["callback_count"] + 1,
                "status": RequestStatus.CALLED_BACK.value,
            }
            if data.resolved is False and case.status == Status.CLOSED.value:
                body = ReasonBody(expected_version=case.version, reason=reopen_reason(data.note))
                self.batch.act(actor=actor, case=case, action=Action.REOPEN, body=body, now=now)
                self.counts["events"] += 1
                callback["reopened"] = True
                req.row["status"] = RequestStatus.REOPENED.value
        self._callbacks.append((req, callback))
        self._touch(req, now)

    def prepare(self, db: Session) -> tuple[dict[str, int], Write]:
        """Take every row out of the batch and the hotline's in-memory requests (numbering
        and ids reserved on ``db``); the writing may then run while the next steps do."""
        cases = self.batch.prepare(db)
        for req in self._new:
            if req.case is not None:
                req.row["case_id"] = req.case.id
        ids = reserve_ids(db, _REQUESTS, len(self._new))
        for req, req_id in zip(self._new, ids, strict=True):
            req.id = req_id
        new_rows = [req.row | {"id": req.id} for req in self._new]
        touched = [r for r in self._touched.values() if r.stored_version is not None]
        names = [c.name for c in _REQUESTS.c if c.name not in ("id", "version")]
        updates = [
            {"b_id": r.id, "b_stored": r.stored_version, "b_version": r.row["version"]}
            | {f"b_{n}": r.row[n] for n in names}
            for r in touched
        ]
        callback_rows = [
            cb | {"request_id": req.id, "case_id": req.case.id if req.case else None}
            for req, cb in self._callbacks
        ]
        detail = {
            "requests_inserted": len(new_rows),
            "requests_updated": len(touched),
            "callbacks": len(callback_rows),
            "sha256": _digest(new_rows + callback_rows),
        }
        for req in [*self._new, *touched]:
            req.stored_version = req.row["version"]
        self._new, self._touched, self._callbacks = [], {}, []
        counts, self.counts = self.counts, {"cases": 0, "events": 0, "calls": 0}

        def write(db: Session) -> None:
            if cases is not None:
                self.batch.write(cases, db)
            copy_rows(db, _REQUESTS.name, new_rows)
            if updates:
                stmt = (
                    update(_REQUESTS)
                    .where(_REQUESTS.c.id == bindparam("b_id"))
                    .where(_REQUESTS.c.version == bindparam("b_stored"))
                    .values(
                        {n: bindparam(f"b_{n}") for n in names}
                        | {"version": bindparam("b_version")}
                    )
                )
                db.execute(stmt, updates)
            copy_rows(db, _CALLBACKS.name, callback_rows)
            if new_rows or updates or callback_rows:
                audit.record(
                    db,
                    actor=self.batch.audit_actor,
                    action="hotline.bulk",
                    object_type="hotline_request",
                    detail=detail,
                )

        return counts, write


def as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
