"""Use cases that write cases: report (intake) and every lifecycle action.

Each function works inside the caller's transaction and flushes; one accepted action changes
the case (with its ``version`` checked), appends exactly one ``CaseEvent`` and one audit entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cityops.analytics import cohorts, rollup
from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.auth.models import OrgUnit, User
from cityops.auth.roles import Role
from cityops.cases import effects, lifecycle
from cityops.cases.clock import apply_clock, work_calendar
from cityops.cases.lifecycle import Action, Status
from cityops.cases.models import (
    Attachment,
    CalendarOverride,
    Case,
    CaseCounter,
    CaseEvent,
    CaseReporter,
)
from cityops.cases.schemas import ActionBase, CaseReport
from cityops.cases.scope import can_see
from cityops.catalog.service import resolve_class
from cityops.db import settings_of
from cityops.errors import Conflict, Forbidden, InvalidInput, NotFound
from cityops.geo.service import locate
from cityops.timeutil import to_local, utcnow
from cityops.workcal import WorkCalendar

#: Org unit kinds a case can be dispatched to.
DISPATCHABLE_KINDS = frozenset({"department", "street_office", "company"})
#: Actions a department handler may take only on cases dispatched to their own department.
DEPARTMENT_ACTIONS = frozenset({Action.RETURN, Action.REQUEST_EXTENSION, Action.HANDLE})


@dataclass(frozen=True)
class Reported:
    case: Case
    #: False when the client request id had been seen: the earlier case is returned.
    created: bool


def calendar_for(session: Session) -> WorkCalendar:
    """The working calendar in force: settings, the overrides file and the stored overrides."""
    settings = settings_of(session)
    rows = session.execute(
        select(CalendarOverride.day, CalendarOverride.workday).where(
            CalendarOverride.district_code == settings.district_code
        )
    ).all()
    stored = frozenset((day, workday) for day, workday in rows)
    return work_calendar(
        settings.working_hours, settings.timezone, settings.calendar_overrides, stored
    )


def set_calendar_override(
    session: Session, *, actor: Actor, day: date, workday: bool, name: str | None = None
) -> CalendarOverride:
    """Declare a day a working day or a rest day for the deadline clock (audited).

    Deadlines already computed keep their due time; the new rule applies from the next
    action on each case, as a change of the State Council notice would.
    """
    row = session.get(CalendarOverride, (actor.district_code, day))
    if row is None:
        row = CalendarOverride(district_code=actor.district_code, day=day)
        session.add(row)
    row.workday, row.name = workday, name
    row.updated_by_id, row.updated_at = actor.id or None, utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="calendar.override",
        object_type="calendar",
        object_id=day.isoformat(),
        detail={"workday": workday, "name": name},
    )
    return row


def delete_calendar_override(session: Session, *, actor: Actor, day: date) -> None:
    row = session.get(CalendarOverride, (actor.district_code, day))
    if row is None:
        raise NotFound(f"no override for {day.isoformat()}", field="day")
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="calendar.override_delete",
        object_type="calendar",
        object_id=day.isoformat(),
    )


def list_calendar_overrides(session: Session, *, district_code: str) -> list[CalendarOverride]:
    return list(
        session.scalars(
            select(CalendarOverride)
            .where(CalendarOverride.district_code == district_code)
            .order_by(CalendarOverride.day)
        )
    )


def _next_number(session: Session, district_code: str, now: datetime) -> str:
    """District code + local date + a daily serial, taken atomically from ``case_counters``."""
    day = to_local(now).date()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(CaseCounter)
        .values(district_code=district_code, day=day, last=1)
        .on_conflict_do_update(
            index_elements=["district_code", "day"], set_={"last": CaseCounter.last + 1}
        )
        .returning(CaseCounter.last)
    )
    serial = session.execute(stmt).scalar_one()
    return f"{district_code}{day:%Y%m%d}{serial:06d}"


def _claim_attachments(
    session: Session, actor: Actor, ids: list[int], case: Case, event: CaseEvent
) -> None:
    """Link the actor's own, still unlinked uploads to the case event."""
    if not ids:
        return
    rows = session.scalars(select(Attachment).where(Attachment.id.in_(ids))).all()
    found = {row.id: row for row in rows}
    for attachment_id in ids:
        row = found.get(attachment_id)
        if row is None or row.uploaded_by_id != actor.id:
            raise InvalidInput(f"no upload {attachment_id} of yours", field="attachment_ids")
        if row.case_id is not None:
            raise InvalidInput(
                f"upload {attachment_id} is already attached to a case", field="attachment_ids"
            )
        row.case_id = case.id
        row.event_id = event.id


def _event(
    case: Case,
    *,
    action: Action,
    source: Status | None,
    actor: Actor,
    role: Role | None,
    payload: dict[str, Any],
    now: datetime,
) -> CaseEvent:
    return CaseEvent(
        case_id=case.id,
        district_code=case.district_code,
        seq=case.version,
        action=action.value,
        from_status=source.value if source else None,
        to_status=case.status,
        actor_id=actor.id or None,
        actor_role=role.value if role else None,
        payload=payload,
        at=now,
        due_at=case.due_at,
    )


def _existing_report(session: Session, actor: Actor, client_request_id: str) -> Case | None:
    return session.scalar(
        select(Case).where(
            Case.reported_by_id == actor.id, Case.client_request_id == client_request_id
        )
    )


def report_case(
    session: Session, *, actor: Actor, data: CaseReport, now: datetime | None = None
) -> Reported:
    """Take in a new problem; resending the same ``client_request_id`` returns the first case."""
    if data.client_request_id:
        earlier = _existing_report(session, actor, data.client_request_id)
        if earlier is not None:
            return Reported(earlier, created=False)
    transition = lifecycle.apply(None, Action.REPORT, actor.roles, data.model_dump())
    now = now or utcnow()
    rule = resolve_class(
        session,
        district_code=actor.district_code,
        kind=data.kind.value,
        minor_code=data.minor_code,
        urgency=data.urgency.value,
    )
    codes = locate(session, district_code=actor.district_code, lon=data.lon, lat=data.lat)
    try:
        with session.begin_nested():
            case = Case(
                district_code=actor.district_code,
                # The real number is taken just before the audit entry: the day's counter row
                # is locked from then until commit, so concurrent reports wait only that long.
                number=f"~{uuid.uuid4().hex[:23]}",
                client_request_id=data.client_request_id,
                source=data.source.value,
                urgency=data.urgency.value,
                description=data.description,
                address=data.address,
                lon=data.lon,
                lat=data.lat,
                street_code=codes.street_code if codes else None,
                community_code=codes.community_code if codes else None,
                grid_code=codes.grid_code if codes else None,
                status=transition.target.value,
                reported_by_id=actor.id or None,
                reported_at=now,
                updated_at=now,
            )
            effects.snapshot_class(case, rule)
            session.add(case)
            session.flush()
    except IntegrityError:
        # Two copies of one report raced; the other one won and is the case.
        if data.client_request_id:
            earlier = _existing_report(session, actor, data.client_request_id)
            if earlier is not None:
                return Reported(earlier, created=False)
        raise
    session.add(
        CaseReporter(
            case_id=case.id,
            district_code=case.district_code,
            source=case.source,
            user_id=actor.id or None,
            name=data.reporter_name,
            phone=data.reporter_phone,
            reported_at=now,
        )
    )
    payload = {"source": case.source, "kind": case.kind, "minor_code": case.minor_code}
    if data.client_request_id:
        payload["client_request_id"] = data.client_request_id
    event = _event(
        case,
        action=Action.REPORT,
        source=None,
        actor=actor,
        role=transition.role,
        payload=payload,
        now=now,
    )
    session.add(event)
    session.flush()
    rollup.record_case(session, case, event.action, now, payload)
    cohorts.record_report(session, case)
    _claim_attachments(session, actor, data.attachment_ids, case, event)
    number = _next_number(session, case.district_code, now)
    # A Core UPDATE: an ORM change would bump the version, and the version must equal the
    # number of events.
    cases = cast(Table, Case.__table__)
    session.execute(update(cases).where(cases.c.id == case.id).values(number=number))
    set_committed_value(case, "number", number)
    audit.record(
        session,
        actor=actor,
        action="case.report",
        object_type="case",
        object_id=case.id,
        detail={"number": case.number, "seq": event.seq},
    )
    return Reported(case, created=True)


def get_case_for_update(session: Session, case_id: int) -> Case:
    """The case row, locked until commit on PostgreSQL (SQLite writers are serialised anyway)."""
    case = session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None:
        raise NotFound(f"no case with id {case_id}", field="case_id")
    return case


def _check_department(session: Session, district_code: str, department_id: int) -> OrgUnit:
    unit = session.get(OrgUnit, department_id)
    if unit is None or unit.district_code != district_code:
        raise InvalidInput(f"no department with id {department_id}", field="department_id")
    if unit.kind not in DISPATCHABLE_KINDS or not unit.active:
        raise InvalidInput(f"{unit.name} ({unit.kind}) cannot receive cases", field="department_id")
    return unit


def _check_inspector(session: Session, district_code: str, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.district_code != district_code or not user.active:
        raise InvalidInput(f"no active user with id {user_id}", field="assignee_id")
    if Role.INSPECTOR.value not in user.roles:
        raise InvalidInput(f"{user.display_name} is not an inspector", field="assignee_id")
    return user


def _merge_into(session: Session, case: Case, target_id: int) -> dict[str, Any]:
    if target_id == case.id:
        raise InvalidInput("a case cannot be merged into itself", field="target_case_id")
    target = session.get(Case, target_id, with_for_update=True)
    if target is None or target.district_code != case.district_code:
        raise InvalidInput(f"no case with id {target_id}", field="target_case_id")
    if Status(target.status) in lifecycle.TERMINAL:
        raise InvalidInput(
            f"case {target.number} is {target.status}; merge into an open case",
            field="target_case_id",
        )
    reporters = session.scalars(select(CaseReporter).where(CaseReporter.case_id == case.id)).all()
    for reporter in reporters:
        reporter.case_id = target.id
        reporter.original_case_id = reporter.original_case_id or case.id
    case.merged_into_id = target.id
    return {
        "target_case_id": target.id,
        "target_number": target.number,
        "reporters_moved": len(reporters),
    }


def _effects(
    session: Session, case: Case, action: Action, body: ActionBase, now: datetime
) -> tuple[dict[str, Any], float | None]:
    """Look up and check what the action names, then apply its effects (``effects.apply``)."""
    values = body.model_dump(exclude_none=True)
    rule = unit = None
    if action in (Action.ASSIGN_VERIFY, Action.ASSIGN_CHECK):
        _check_inspector(session, case.district_code, values["assignee_id"])
    elif action is Action.REGISTER:
        # The deadline rule in force at registration is the one the case keeps.
        rule = resolve_class(
            session,
            district_code=case.district_code,
            kind=values.get("kind", case.kind),
            minor_code=values.get("minor_code", case.minor_code),
            urgency=values.get("urgency", case.urgency),
        )
    elif action is Action.DISPATCH:
        unit = _check_department(session, case.district_code, values["department_id"])
    extra, extension_hours = effects.apply(case, action, values, now, rule=rule, unit=unit)
    if action is Action.MERGE:
        extra |= _merge_into(session, case, values["target_case_id"])
    return extra, extension_hours


def act(
    session: Session,
    *,
    actor: Actor,
    case_id: int,
    action: Action,
    body: ActionBase,
    now: datetime | None = None,
) -> Case:
    """Take one lifecycle action on a case: all of it happens, or nothing does."""
    if action is Action.REPORT:
        raise InvalidInput("use report_case to report", field="action")
    case = get_case_for_update(session, case_id)
    if not can_see(case, actor):
        raise Forbidden("this case is outside your data scope", field="case_id")
    if case.version != body.expected_version:
        raise Conflict(
            f"case {case.number} changed since you loaded it (now version {case.version}, "
            f"{case.status}); reload and try again",
            field="expected_version",
            current_status=case.status,
            current_version=case.version,
        )
    payload = body.model_dump(exclude={"expected_version", "attachment_ids"}, exclude_none=True)
    source = Status(case.status)
    transition = lifecycle.apply(source, action, actor.roles, payload)
    if action in DEPARTMENT_ACTIONS and case.department_id != actor.scope_department_id:
        raise Forbidden(
            "only the department the case was dispatched to may do this", field="case_id"
        )
    if (
        action in (Action.VERIFY, Action.CHECK)
        and case.assignee_id is not None
        and case.assignee_id != actor.id
    ):
        raise Forbidden("this task is assigned to another inspector", field="case_id")
    now = now or utcnow()
    counted_before = cohorts.contributions(case)
    # Lookups inside the effects (class rules, departments, users) must not flush a half-changed
    # case: each flush bumps the version, and the event's seq must equal the version.
    with session.no_autoflush:
        extra, extension_hours = _effects(session, case, action, body, now)
        settings = settings_of(session)
        apply_clock(
            case,
            transition.clock,
            cal=calendar_for(session),
            now=now,
            pause_on_extension_request=settings.pause_during_extension_request,
            extension_hours=extension_hours,
        )
        case.status = transition.target.value
        case.updated_at = now
        effects.after_clock(case, action, extra)
    session.flush()  # bumps case.version; a concurrent writer makes this raise StaleDataError
    event = _event(
        case,
        action=action,
        source=source,
        actor=actor,
        role=transition.role,
        payload=payload | extra,
        now=now,
    )
    session.add(event)
    session.flush()
    rollup.record_case(session, case, event.action, now, event.payload)
    cohorts.record_action(session, counted_before, case, event.action, event.actor_id, now)
    _claim_attachments(session, actor, body.attachment_ids, case, event)
    audit.record(
        session,
        actor=actor,
        action=f"case.{action.value}",
        object_type="case",
        object_id=case.id,
        detail={"seq": event.seq, "to": case.status},
    )
    return case
