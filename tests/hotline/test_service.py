"""The hotline's use cases on both databases: intake, replies, callbacks, the three rates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cityops.auth.models import AuditEntry
from cityops.cases.lifecycle import Status
from cityops.cases.models import Case, CaseEvent, CaseReporter
from cityops.errors import Conflict, Forbidden, InvalidInput
from cityops.hotline import knowledge, rates, service
from cityops.hotline.enums import RateGroup
from cityops.hotline.models import HotlineCallback, HotlineRequest
from cityops.hotline.schemas import CallbackCreate

from .conftest import POINT_A, POINT_B, STREET_A, STREET_B, call, close, dispatch, local


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_consultation_answered_from_the_knowledge_base_is_closed_without_a_case(session, actors):
    article = knowledge.create_article(
        session,
        actor=actors["shift_lead"],
        title="居住证办理流程",
        body="持身份证和租房合同到社区服务站办理，10 个工作日内领取。",
        keywords="居住证 暂住证 办证",
        category="户籍",
    )
    hits = knowledge.search(session, district_code="110106", query="怎么办理居住证？")
    assert hits and hits[0].article.id == article.id
    taken = service.take_call(
        session,
        actor=actors["operator"],
        data=call(type="consultation", text="请问居住证怎么办理", kb_article_id=article.id),
        now=local(2026, 11, 2, 9),
    )
    session.commit()
    req = taken.request
    assert req.status == "answered" and req.case_id is None and taken.case is None
    assert req.answer == article.body and req.closed_at == local(2026, 11, 2, 9)
    assert count(session, Case) == 0


def test_a_complaint_becomes_a_hotline_case_with_both_deadlines(session, actors):
    taken = service.take_call(
        session, actor=actors["operator"], data=call(), now=local(2026, 11, 2, 9)
    )
    session.commit()
    case, req = taken.case, taken.request
    assert case is not None and case.source == "hotline" and case.status == "reported"
    assert case.reported_by_id == actors["operator"].id and case.description == req.text
    reporter = session.scalars(select(CaseReporter).where(CaseReporter.case_id == case.id)).one()
    assert (reporter.name, reporter.phone, reporter.source) == ("张三", "13812341234", "hotline")
    # Defaults: contact within 24 natural hours, resolve within 7 natural days.
    assert req.response_due_at == local(2026, 11, 3, 9)
    assert req.resolution_due_at == local(2026, 11, 9, 9)
    assert req.status == "open" and req.case_id == case.id


def test_bad_input_names_the_field_and_writes_nothing(session, actors):
    audit_before = count(session, AuditEntry)
    with pytest.raises(InvalidInput) as missing_class:
        service.take_call(session, actor=actors["operator"], data=call(minor_code=None))
    assert missing_class.value.field == "minor_code"
    with pytest.raises(InvalidInput) as unknown_class:
        service.take_call(session, actor=actors["operator"], data=call(minor_code="9999"))
    assert unknown_class.value.field == "minor_code"
    with pytest.raises(InvalidInput) as no_place:
        service.take_call(session, actor=actors["operator"], data=call(lon=None, lat=None))
    assert no_place.value.field == "lon"
    with pytest.raises(Forbidden):
        service.take_call(session, actor=actors["inspector"], data=call())
    session.rollback()
    assert count(session, HotlineRequest) == 0 and count(session, Case) == 0
    assert count(session, AuditEntry) == audit_before


def test_resending_a_call_returns_the_first_request(session, actors):
    first = service.take_call(session, actor=actors["operator"], data=call(client_request_id="c-1"))
    again = service.take_call(session, actor=actors["operator"], data=call(client_request_id="c-1"))
    assert again.created is False and again.request.id == first.request.id
    assert count(session, HotlineRequest) == 1 and count(session, Case) == 1


def test_only_the_case_department_replies_and_the_first_reply_is_the_response(
    session, actors, department, make_user
):
    from cityops.auth.service import actor_of, create_org_unit

    taken = service.take_call(
        session, actor=actors["operator"], data=call(), now=local(2026, 11, 2, 9)
    )
    with pytest.raises(Forbidden):  # not dispatched to them (yet): outside their scope
        service.record_reply(
            session, actor=actors["handler"], request_id=taken.request.id, text="收到"
        )
    dispatch(session, actors, taken.case, department.id, local(2026, 11, 2, 10))
    other_unit = create_org_unit(
        session,
        actor=actors["shift_lead"],
        district_code="110106",
        kind="department",
        code="sanitation",
        name="区环卫中心",
    )
    other = actor_of(make_user("department_handler", scope_department_id=other_unit.id))
    with pytest.raises(Forbidden):
        service.record_reply(session, actor=other, request_id=taken.request.id, text="不归我们")
    req = service.record_reply(
        session,
        actor=actors["handler"],
        request_id=taken.request.id,
        text="已联系市民，明早清运",
        now=local(2026, 11, 2, 11),
    )
    service.record_reply(
        session,
        actor=actors["handler"],
        request_id=req.id,
        text="已清运完毕",
        now=local(2026, 11, 3, 11),
    )
    assert req.status == "replied" and req.reply_text == "已清运完毕"
    assert req.responded_at == local(2026, 11, 2, 11)  # the first reply counts


def test_callback_not_resolved_reopens_the_closed_case(session, actors, department):
    taken = service.take_call(
        session, actor=actors["operator"], data=call(), now=local(2026, 11, 2, 9)
    )
    case = taken.case
    with pytest.raises(Conflict):  # nothing to ask the citizen about yet
        service.record_callback(
            session,
            actor=actors["operator"],
            request_id=taken.request.id,
            data=CallbackCreate(resolved=True, satisfaction="satisfied"),
        )
    dispatch(session, actors, case, department.id, local(2026, 11, 2, 10))
    close(session, actors, case, local(2026, 11, 3, 10))
    assert case.status == Status.CLOSED
    outcome = service.record_callback(
        session,
        actor=actors["operator"],
        request_id=taken.request.id,
        data=CallbackCreate(resolved=False, satisfaction="dissatisfied", note="垃圾又堆满了"),
        now=local(2026, 11, 4, 10),
    )
    session.commit()
    assert outcome.reopened and outcome.callback.reopened
    assert case.status == Status.DISPATCHED and case.closed_at is None
    history = session.scalars(
        select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
    ).all()
    assert history[-1] == "reopen" and "close" in history
    req = session.get(HotlineRequest, taken.request.id)
    assert (req.status, req.resolved, req.satisfaction) == ("reopened", False, "dissatisfied")
    # The reopened case has a fresh handling deadline from the callback.
    assert case.due_at is not None and case.due_at > local(2026, 11, 4, 10)


def test_callback_import_checks_every_row_before_writing(session, actors, department):
    requests = []
    for i in range(2):
        taken = service.take_call(
            session, actor=actors["operator"], data=call(text=f"第{i}号楼垃圾满溢")
        )
        dispatch(session, actors, taken.case, department.id, local(2026, 11, 2, 10))
        service.record_reply(
            session, actor=actors["handler"], request_id=taken.request.id, text="已处理"
        )
        requests.append(taken)
    first, second = requests
    bad = (
        "request_id,resolved,satisfaction\n"
        f"{first.request.id},是,满意\n"
        f"{second.request.id},是,还行吧\n"
    )
    with pytest.raises(InvalidInput) as refused:
        service.import_callbacks(session, actor=actors["operator"], text=bad, source="t.csv")
    assert refused.value.field == "satisfaction" and "row 3" in refused.value.message
    assert count(session, HotlineCallback) == 0
    good = (
        "case_number,resolved,satisfaction,channel\n"
        f"{first.case.number},1,1,ivr\n"
        f"{second.case.number},否,基本满意,sms\n"
    )
    summary = service.import_callbacks(session, actor=actors["operator"], text=good, source="t.csv")
    assert summary.imported == 2 and summary.reopened == 0
    # "Not resolved" on a case still being handled is recorded but reopens nothing.
    assert len(summary.not_reopened) == 1
    assert (first.request.satisfaction, second.request.satisfaction) == (
        "satisfied",
        "basically_satisfied",
    )


def test_the_three_rates_on_a_hand_built_month(session, actors, department, streets):
    """Eleven requests in November 2026, worked out by hand.

    | # | street | reply        | callback                         |
    |---|--------|--------------|----------------------------------|
    | 1 | A      | +2 h         | resolved, satisfied              |
    | 2 | A      | +2 h         | resolved, satisfied              |
    | 3 | A      | +2 h         | resolved, basically satisfied    |
    | 4 | A      | +2 h         | not resolved, dissatisfied       |
    | 5 | A      | +2 h         | not reached (rates nothing)      |
    | 6 | A      | +30 h (late) | —                                |
    | 7 | B      | +2 h         | resolved, satisfied              |
    | 8 | B      | +2 h         | not resolved, basically satisfied|
    | 9 | B      | +2 h         | —                                |
    |10 | B      | never        | —                                |
    |11 | B      | not yet due at as_of (30 Nov 23:00 + 24 h) — pending |
    Also outside the counts: a consultation answered at intake and a request in December.

    Response: in time 1-5, 7-9 = 8 of 10 counted (11 pending) → 80 %.
    Resolution: rated 1-4, 7, 8 = 6; resolved 1, 2, 3, 7 = 4 → 66.67 %.
    Satisfaction: (3 satisfied + 0.8 × 2 basically) / 6 = 4.6 / 6 → 76.67 %.
    Composite: 0.1 × 0.8 + 0.45 × 4/6 + 0.45 × 4.6/6 = 0.08 + 0.30 + 0.345 = 0.725.
    Street A: 5/6 = 83.33 %; 3/4 = 75 %; (2 + 0.8) / 4 = 70 %.
    Street B: 3/4 = 75 % (10 late, 11 pending); 1/2 = 50 %; (1 + 0.8) / 2 = 90 %.
    The department's handler sees only cases dispatched to it: 1-10, so 8/10 again.
    """
    received = local(2026, 11, 2, 9)
    plan = [
        ("A", 2, (True, "satisfied")),
        ("A", 2, (True, "satisfied")),
        ("A", 2, (True, "basically_satisfied")),
        ("A", 2, (False, "dissatisfied")),
        ("A", 2, "unreached"),
        ("A", 30, None),
        ("B", 2, (True, "satisfied")),
        ("B", 2, (False, "basically_satisfied")),
        ("B", 2, None),
        ("B", None, None),
    ]
    for street, reply_after, result in plan:
        lon, lat = POINT_A if street == "A" else POINT_B
        taken = service.take_call(
            session, actor=actors["operator"], data=call(lon=lon, lat=lat), now=received
        )
        dispatch(session, actors, taken.case, department.id, received + timedelta(minutes=30))
        if reply_after is not None:
            service.record_reply(
                session,
                actor=actors["handler"],
                request_id=taken.request.id,
                text="已联系",
                now=received + timedelta(hours=reply_after),
            )
        if result == "unreached":
            data = CallbackCreate(reached=False, channel="ivr")
        elif result is not None:
            data = CallbackCreate(resolved=result[0], satisfaction=result[1])
        else:
            continue
        service.record_callback(
            session,
            actor=actors["operator"],
            request_id=taken.request.id,
            data=data,
            now=received + timedelta(days=3),
        )
    pending = service.take_call(
        session, actor=actors["operator"], data=call(lon=POINT_B[0], lat=POINT_B[1]),
        now=local(2026, 11, 30, 23),
    )  # fmt: skip
    assert pending.request.street_code == STREET_B
    service.take_call(
        session,
        actor=actors["operator"],
        data=call(type="consultation", answer="工作日 9 点到 17 点"),
        now=received,
    )
    service.take_call(session, actor=actors["operator"], data=call(), now=local(2026, 12, 1, 9))
    session.commit()

    start, end = rates.parse_period("2026-11")
    assert (start, end) == (local(2026, 11, 1), local(2026, 12, 1))
    by_street = rates.three_rates(
        session,
        actor=actors["shift_lead"],
        by=RateGroup.STREET,
        period_from=start,
        period_to=end,
        as_of=local(2026, 12, 1, 8),
    )
    total = by_street.total
    assert (total.requests, total.response_pending, total.responded_in_time) == (11, 1, 8)
    assert total.response_rate == 0.8
    assert (total.rated, total.resolved) == (6, 4) and total.resolution_rate == 0.6667
    assert (total.satisfied, total.basically_satisfied, total.dissatisfied) == (3, 2, 1)
    assert total.satisfaction_rate == 0.7667
    assert total.composite == 0.725
    rows = {row.key: row for row in by_street.rows}
    assert set(rows) == {STREET_A, STREET_B} and rows[STREET_A].name == "甲街道"
    a, b = rows[STREET_A], rows[STREET_B]
    assert (a.response_rate, a.resolution_rate, a.satisfaction_rate) == (0.8333, 0.75, 0.7)
    assert (b.response_rate, b.resolution_rate, b.satisfaction_rate) == (0.75, 0.5, 0.9)

    by_department = rates.three_rates(
        session,
        actor=actors["handler"],  # sees only its own department's cases: 1-10
        by=RateGroup.DEPARTMENT,
        period_from=start,
        period_to=end,
        as_of=local(2026, 12, 1, 8),
    )
    (row,) = by_department.rows
    assert row.key == str(department.id) and row.name == "区水务局"
    assert (row.requests, row.response_pending, row.response_rate) == (10, 0, 0.8)
    assert row.composite == 0.725
