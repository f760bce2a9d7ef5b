"""The case service against the working calendar, with fixed instants across holidays."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cityops.auth.service import actor_of
from cityops.cases import service
from cityops.cases.lifecycle import Action, LifecycleError, Status
from cityops.cases.models import Case, CaseEvent
from cityops.cases.schemas import ACTION_BODIES, CaseReport
from cityops.errors import CityopsError

SH = ZoneInfo("Asia/Shanghai")
REPORT = CaseReport(kind="event", minor_code="0102", description="暴露垃圾", lon=116.29, lat=39.84)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


def _registered(session, actors, now):
    case = service.report_case(session, actor=actors["inspector"], data=REPORT, now=now).case
    service.act(
        session,
        actor=actors["shift_lead"],
        case_id=case.id,
        action=Action.REGISTER,
        body=ACTION_BODIES[Action.REGISTER](expected_version=case.version),
        now=now,
    )
    return case


def _actors(make_user, department):
    users = {r: make_user(r) for r in ("inspector", "shift_lead", "dispatcher")}
    users["department_handler"] = make_user("department_handler", scope_department_id=department.id)
    return {role: actor_of(u) for role, u in users.items()}


def body(action, case, **kw):
    return ACTION_BODIES[action](expected_version=case.version, **kw)


def test_deadline_skips_national_day_and_pauses_while_suspended(session, make_user, department):
    actors = _actors(make_user, department)
    case = _registered(session, actors, local(2026, 9, 30, 9))
    assert case.deadline_kind == "working" and case.deadline_hours == 8
    service.act(
        session,
        actor=actors["dispatcher"],
        case_id=case.id,
        action=Action.DISPATCH,
        body=body(Action.DISPATCH, case, department_id=department.id),
        now=local(2026, 9, 30, 16),
    )
    # 1.5 h left on 30 September; 1-7 October are holidays; 6.5 h more on 8 October.
    assert case.due_at == local(2026, 10, 8, 16)
    service.act(
        session,
        actor=actors["shift_lead"],
        case_id=case.id,
        action=Action.SUSPEND,
        body=body(Action.SUSPEND, case, reason="待协调产权单位"),
        now=local(2026, 10, 8, 9),
    )
    assert case.due_at is None and case.paused_remaining_s == 6 * 3600
    service.act(
        session,
        actor=actors["dispatcher"],
        case_id=case.id,
        action=Action.RESUME,
        body=body(Action.RESUME, case),
        now=local(2026, 10, 9, 16),
    )
    # Friday 16:00 + 6 working hours: 1.5 h on Friday, Saturday 10 October is a make-up
    # working day (调休), so 3.5 h there in the morning and 1 h after lunch.
    assert case.due_at == local(2026, 10, 10, 14)
    service.act(
        session,
        actor=actors["department_handler"],
        case_id=case.id,
        action=Action.HANDLE,
        body=body(Action.HANDLE, case, result="已清运"),
        now=local(2026, 10, 10, 15),
    )
    assert case.handled_on_time is False and case.status == Status.HANDLED


def test_extension_pauses_then_adds_hours(session, make_user, department):
    actors = _actors(make_user, department)
    case = _registered(session, actors, local(2026, 11, 23, 9))
    service.act(
        session,
        actor=actors["dispatcher"],
        case_id=case.id,
        action=Action.DISPATCH,
        body=body(Action.DISPATCH, case, department_id=department.id),
        now=local(2026, 11, 23, 9),
    )
    assert case.due_at == local(2026, 11, 24, 9)
    service.act(
        session,
        actor=actors["department_handler"],
        case_id=case.id,
        action=Action.REQUEST_EXTENSION,
        body=body(Action.REQUEST_EXTENSION, case, reason="需要吊车", hours=8),
        now=local(2026, 11, 23, 14),
    )
    assert case.status == Status.EXTENSION_REQUESTED and case.due_at is None
    service.act(
        session,
        actor=actors["shift_lead"],
        case_id=case.id,
        action=Action.APPROVE_EXTENSION,
        body=body(Action.APPROVE_EXTENSION, case),
        now=local(2026, 11, 24, 9),
    )
    # 4 h were left at 14:00 (3.5 h on Monday, 0.5 h on Tuesday morning); resumed Tuesday
    # 09:00 that runs to 14:00, and the approved 8 h more to Wednesday 14:00.
    assert case.due_at == local(2026, 11, 25, 14)
    assert case.extension_count == 1


def test_every_accepted_action_appends_exactly_one_event(session, make_user, department):
    """A seeded random walk through the service: events == accepted actions, versions agree."""
    actors = _actors(make_user, department)
    actors["operator"] = actor_of(make_user("operator"))
    inspector = make_user("inspector")
    actors["inspector"] = actor_of(inspector)
    rng = random.Random(20261123)
    fields = {
        "reason": "原因",
        "note": "说明",
        "result": "已处理",
        "hours": 4.0,
        "department_id": department.id,
        "assignee_id": inspector.id,
    }
    for _ in range(6):
        case = service.report_case(session, actor=actors["inspector"], data=REPORT).case
        other = service.report_case(session, actor=actors["inspector"], data=REPORT).case
        accepted = 1
        for _ in range(30):
            action = rng.choice([a for a in Action if a is not Action.REPORT])
            model = ACTION_BODIES[action]
            kw = {k: v for k, v in fields.items() if k in model.model_fields}
            if "verdict" in model.model_fields:
                kw["verdict"] = rng.choice(
                    ["confirmed", "not_found"] if action is Action.VERIFY else ["pass", "fail"]
                )
            if "target_case_id" in model.model_fields:
                kw["target_case_id"] = other.id
            actor = actors[rng.choice(list(actors))]
            try:
                with session.begin_nested():
                    service.act(
                        session,
                        actor=actor,
                        case_id=case.id,
                        action=action,
                        body=model(expected_version=case.version, **kw),
                    )
                accepted += 1
            except (LifecycleError, CityopsError):
                session.refresh(case)
        events = session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)
        )
        assert events == accepted == case.version
        last = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        ).one()
        assert last.to_status == case.status
    session.commit()
    assert session.scalar(select(func.count()).select_from(Case)) == 12


def test_a_stored_override_moves_deadlines_from_the_next_action(
    session, make_user, department, client, login
):
    """2027 is beyond the holiday library: next year's notice is entered as overrides."""
    admin = login(make_user("admin"))
    # Friday 2027-02-05 16:00 + 8 working hours; the notice makes Monday 8 February a holiday
    # and Sunday 7 February a make-up working day.
    for day, workday in (("2027-02-07", True), ("2027-02-08", False)):
        r = client.put(
            f"/api/v1/calendar/overrides/{day}",
            json={"workday": workday, "name": "春节调休"},
            headers=admin,
        )
        assert r.status_code == 200, r.text
    listed = client.get("/api/v1/calendar/overrides", headers=admin).json()
    assert [(o["day"], o["workday"]) for o in listed] == [
        ("2027-02-07", True),
        ("2027-02-08", False),
    ]
    operator = login(make_user("operator"))
    r = client.put(
        "/api/v1/calendar/overrides/2027-02-09", json={"workday": False}, headers=operator
    )
    assert r.status_code == 403

    actors = _actors(make_user, department)
    session.expire_all()
    case = _registered(session, actors, local(2027, 2, 5, 9))
    service.act(
        session,
        actor=actors["dispatcher"],
        case_id=case.id,
        action=Action.DISPATCH,
        body=body(Action.DISPATCH, case, department_id=department.id),
        now=local(2027, 2, 5, 16),
    )
    # 1.5 h on Friday, 6.5 h on the make-up Sunday: 08:30-12:00 and 13:00-16:00.
    assert case.due_at == local(2027, 2, 7, 16)
    session.commit()
    r = client.delete("/api/v1/calendar/overrides/2027-02-07", headers=admin)
    assert r.status_code == 204
    assert client.delete("/api/v1/calendar/overrides/2027-02-07", headers=admin).status_code == 404
