"""Bulk mode ≡ per-action mode: the same inputs give the same case, event and reporter rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.actor import SYSTEM
from cityops.auth.models import AuditEntry
from cityops.auth.service import actor_of
from cityops.cases import service
from cityops.cases.bulk import Batch, event_digest, load_states
from cityops.cases.lifecycle import Action, InvalidTransition, RoleNotAllowed
from cityops.cases.models import Case, CaseEvent, CaseReporter
from cityops.cases.schemas import ACTION_BODIES, CaseReport
from cityops.errors import Conflict, Forbidden, InvalidInput

T0 = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)  # Monday 09:30 in Beijing

# (minutes after T0, action, role, body) per case; "dept" and "insp" are filled in.
SCENARIOS: list[list[tuple[int, Action, str, dict[str, Any]]]] = [
    [
        (10, Action.REGISTER, "lead", {}),
        (20, Action.DISPATCH, "disp", {"department_id": "dept"}),
        (300, Action.HANDLE, "handler", {"result": "已处理"}),
        (320, Action.ASSIGN_CHECK, "op", {"assignee_id": "insp"}),
        (400, Action.CHECK, "insp", {"verdict": "fail"}),
        (410, Action.REWORK, "disp", {}),
        (2000, Action.HANDLE, "handler", {"result": "已返工"}),
        (2010, Action.CHECK, "insp", {"verdict": "pass"}),
        (2020, Action.CLOSE, "lead", {}),
    ],
    [
        (5, Action.ASSIGN_VERIFY, "op", {"assignee_id": "insp"}),
        (60, Action.VERIFY, "insp", {"verdict": "confirmed"}),
        (70, Action.REGISTER, "lead", {}),
        (80, Action.DISPATCH, "disp", {"department_id": "dept"}),
        (90, Action.REQUEST_EXTENSION, "handler", {"reason": "缺材料", "hours": 8}),
        (200, Action.APPROVE_EXTENSION, "lead", {}),
        (260, Action.URGE, "disp", {"note": "请加快"}),
        (3000, Action.HANDLE, "handler", {"result": "已处理"}),
    ],
    [
        (15, Action.REGISTER, "lead", {}),
        (25, Action.DISPATCH, "disp", {"department_id": "dept"}),
        (35, Action.RETURN, "handler", {"reason": "非本单位"}),
        (45, Action.DISPATCH, "disp", {"department_id": "dept"}),
        (55, Action.SUSPEND, "lead", {"reason": "待资金"}),
        (20000, Action.RESUME, "disp", {}),
        (20100, Action.HANDLE, "handler", {"result": "已处理"}),
        (20200, Action.CHECK, "insp", {"verdict": "pass"}),
        (20300, Action.CLOSE, "lead", {}),
        (21000, Action.REOPEN, "op", {"reason": "回访未解决"}),
        (22000, Action.VOID, "lead", {"reason": "测试作废"}),
    ],
]


@pytest.fixture
def people(session: Session, make_user: Any, department: Any) -> dict[str, Any]:
    return {
        "op": actor_of(make_user("operator")),
        "lead": actor_of(make_user("shift_lead")),
        "disp": actor_of(make_user("dispatcher")),
        "insp": actor_of(make_user("inspector")),
        "handler": actor_of(make_user("department_handler", scope_department_id=department.id)),
        "dept": department.id,
    }


def _report(n: int) -> CaseReport:
    return CaseReport(
        client_request_id=f"t-{n}",
        kind="event" if n != 1 else "component",
        minor_code="0102",
        description=f"测试案卷{n}",
        lon=116.3 + n / 1000,
        lat=39.85,
        reporter_name="张三",
    )


def _body(action: Action, values: dict[str, Any], people: dict[str, Any], version: int) -> Any:
    filled = {k: (people["insp"].id if v == "insp" else people["dept"] if v == "dept" else v)
              for k, v in values.items()}  # fmt: skip
    return ACTION_BODIES[action](expected_version=version, **filled)


def _rows(session: Session) -> tuple[list[Any], list[Any], list[Any]]:
    skip = {"id"}
    cases = [
        {c.name: getattr(row, c.name) for c in Case.__table__.c if c.name not in skip}
        for row in session.scalars(select(Case).order_by(Case.number))
    ]
    numbers = dict(session.execute(select(Case.id, Case.number)).all())
    events = [
        (numbers[e.case_id], e.seq, e.action, e.from_status, e.to_status, e.actor_id,
         e.actor_role, e.payload, e.at, e.due_at)
        for e in session.scalars(select(CaseEvent))
    ]  # fmt: skip
    reporters = [
        (numbers[r.case_id], r.source, r.user_id, r.name, r.phone, r.reported_at)
        for r in session.scalars(select(CaseReporter))
    ]
    return cases, sorted(events, key=str), sorted(reporters, key=str)


def _run_service(session: Session, people: dict[str, Any]) -> None:
    ids = []
    for n in range(len(SCENARIOS)):
        rep = service.report_case(session, actor=people["insp"], data=_report(n), now=T0)
        ids.append(rep.case.id)
    steps = sorted((m, n, i) for n, sc in enumerate(SCENARIOS) for i, (m, *_r) in enumerate(sc))
    for minutes, n, i in steps:
        _m, action, who, values = SCENARIOS[n][i]
        case = session.get(Case, ids[n])
        assert case is not None
        service.act(session, actor=people[who], case_id=case.id, action=action,
                    body=_body(action, values, people, case.version),
                    now=T0 + timedelta(minutes=minutes))  # fmt: skip
    session.commit()


def _run_bulk(session: Session, people: dict[str, Any], *, flush_every: int = 0) -> Batch:
    batch = Batch(session, district_code="110106", audit_actor=SYSTEM)
    states = [batch.report(actor=people["insp"], data=_report(n), now=T0)
              for n in range(len(SCENARIOS))]  # fmt: skip
    steps = sorted((m, n, i) for n, sc in enumerate(SCENARIOS) for i, (m, *_r) in enumerate(sc))
    for k, (minutes, n, i) in enumerate(steps):
        _m, action, who, values = SCENARIOS[n][i]
        state = states[n]
        batch.act(actor=people[who], case=state, action=action,
                  body=_body(action, values, people, state.version),
                  now=T0 + timedelta(minutes=minutes))  # fmt: skip
        if flush_every and k % flush_every == flush_every - 1:
            batch.flush()
    batch.flush()
    session.commit()
    return batch


def test_service_register_reclassify_keeps_seq_dense(
    session: Session, people: dict[str, Any]
) -> None:
    case = service.report_case(session, actor=people["insp"], data=_report(0), now=T0).case
    service.act(session, actor=people["lead"], case_id=case.id, action=Action.REGISTER,
                body=_body(Action.REGISTER, {"urgency": "urgent"}, people, 1), now=T0)  # fmt: skip
    assert case.version == 2


def _reset_cases(session: Session) -> None:
    from cityops.cases.models import CaseCounter

    for model in (CaseEvent, CaseReporter, Case, CaseCounter):
        session.query(model).delete()
    session.commit()


@pytest.mark.parametrize("flush_every", [0, 4])
def test_bulk_writes_what_act_writes(
    session: Session, people: dict[str, Any], flush_every: int
) -> None:
    _run_service(session, people)
    expected = _rows(session)
    _reset_cases(session)
    _run_bulk(session, people, flush_every=flush_every)
    got = _rows(session)
    for g, e in zip(got[0], expected[0], strict=True):
        assert {k: v for k, v in g.items() if g[k] != e[k]} == {
            k: v for k, v in e.items() if g[k] != e[k]
        }
    assert got[1] == expected[1]
    assert got[2] == expected[2]
    assert len(expected[1]) == 3 + sum(len(s) for s in SCENARIOS)


def test_one_audit_entry_per_flush_with_event_digest(
    session: Session, people: dict[str, Any]
) -> None:
    before = session.query(AuditEntry).count()
    _run_bulk(session, people)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.id > before)).all()
    assert [e.action for e in entries] == ["case.bulk"]
    numbers = dict(session.execute(select(Case.id, Case.number)).all())
    rows = [
        {c.name: getattr(e, c.name) for c in CaseEvent.__table__.c}
        for e in session.scalars(select(CaseEvent).order_by(CaseEvent.id))
    ]
    assert f'"events_sha256":"{event_digest(rows, numbers)}"' in entries[0].detail


def test_bulk_refuses_like_act(session: Session, people: dict[str, Any]) -> None:
    batch = Batch(session, district_code="110106", audit_actor=SYSTEM)
    state = batch.report(actor=people["insp"], data=_report(0), now=T0)
    with pytest.raises(InvalidTransition):
        batch.act(actor=people["lead"], case=state, action=Action.CLOSE,
                  body=_body(Action.CLOSE, {}, people, 1), now=T0)  # fmt: skip
    with pytest.raises(RoleNotAllowed):
        batch.act(actor=people["disp"], case=state, action=Action.REGISTER,
                  body=_body(Action.REGISTER, {}, people, 1), now=T0)  # fmt: skip
    with pytest.raises(Conflict):
        batch.act(actor=people["lead"], case=state, action=Action.REGISTER,
                  body=_body(Action.REGISTER, {}, people, 7), now=T0)  # fmt: skip
    batch.act(actor=people["lead"], case=state, action=Action.REGISTER,
              body=_body(Action.REGISTER, {}, people, 1), now=T0)  # fmt: skip
    body = _body(Action.DISPATCH, {"department_id": 999_999}, people, 2)
    with pytest.raises(InvalidInput):
        batch.act(actor=people["disp"], case=state, action=Action.DISPATCH, body=body, now=T0)
    assert state.status == "registered" and state.version == 2
    body = _body(Action.DISPATCH, {"department_id": "dept"}, people, 2)
    batch.act(actor=people["disp"], case=state, action=Action.DISPATCH, body=body, now=T0)
    # A handler of another department is outside the case's scope.
    other = replace(people["handler"], scope_department_id=-1)
    with pytest.raises(Forbidden):
        batch.act(actor=other, case=state, action=Action.HANDLE,
                  body=_body(Action.HANDLE, {"result": "x"}, people, 3), now=T0)  # fmt: skip


def test_stored_cases_continue_and_stale_versions_conflict(
    session: Session, people: dict[str, Any]
) -> None:
    batch = Batch(session, district_code="110106", audit_actor=SYSTEM)
    state = batch.report(actor=people["insp"], data=_report(0), now=T0)
    batch.flush()
    session.commit()
    loaded = load_states(session, [state.id or 0])[state.id or 0]
    assert loaded.row() == state.row()
    # Someone else acts through the service meanwhile: the batch's copy is stale.
    service.act(session, actor=people["lead"], case_id=state.id or 0, action=Action.REGISTER,
                body=_body(Action.REGISTER, {}, people, 1), now=T0)  # fmt: skip
    session.commit()
    batch.act(actor=people["lead"], case=state, action=Action.REJECT,
              body=_body(Action.REJECT, {"reason": "x"}, people, 1), now=T0)  # fmt: skip
    with pytest.raises(Conflict):
        batch.flush()
    session.rollback()


def test_digest_lines_built_from_parts_equal_event_digest() -> None:
    from cityops.cases.bulk import _PAYLOAD_ENCODER, _digest_line, _fast_digest_line

    rows = [
        ("110106", 1, "report", None, "reported", None, None, {}, T0, None),
        ("110106", 7, "handle", "dispatched", "handled", 42, "department_handler",
         {"result": "已处理 \"引号\"\n\t\\ é", "b": [1, 2.5, None, True], "a": {"z": 1, "y": 2}},
         T0, T0 + timedelta(hours=3)),
    ]  # fmt: skip
    for row in rows:
        text = _PAYLOAD_ENCODER.encode(row[7])
        assert _fast_digest_line("1101062025030300001", row, text).encode() == (
            _digest_line("1101062025030300001", row) + b"\n"
        )


def test_text_survives_the_copy_format(session: Session, people: dict[str, Any]) -> None:
    """Tabs, newlines, backslashes, a literal \\N and Chinese come back as written (COPY's
    text format on PostgreSQL, executemany on SQLite)."""
    tricky = "井盖\t破损\n\\N 在 C:\\路口\r\n末尾\\"
    batch = Batch(session, district_code="110106", audit_actor=SYSTEM)
    data = _report(0).model_copy(update={"description": tricky, "address": "\\N"})
    state = batch.report(actor=people["insp"], data=data, now=T0)
    batch.act(actor=people["lead"], case=state, action=Action.REJECT,
              body=_body(Action.REJECT, {"reason": tricky}, people, 1), now=T0)  # fmt: skip
    batch.flush()
    session.commit()
    case = session.get(Case, state.id)
    assert case is not None
    assert (case.description, case.address, case.status) == (tricky, "\\N", state.status)
    payloads = [e.payload for e in session.scalars(select(CaseEvent).order_by(CaseEvent.seq))]
    assert payloads[-1]["reason"] == tricky
