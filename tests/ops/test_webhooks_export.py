"""Signed webhooks (fan-out, retries with backoff, delivery log, replay) and CSV export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from cityops.auth.actor import SYSTEM
from cityops.auth.service import actor_of
from cityops.cases import service as case_service
from cityops.cases.lifecycle import Action
from cityops.cases.schemas import CaseReport, DispatchBody, RegisterBody
from cityops.errors import InvalidInput
from cityops.ops import webhooks
from cityops.ops.export import export_csv
from cityops.ops.models import WebhookDelivery
from cityops.timeutil import utcnow


class FakeSender:
    """Records what would be sent; answers with the queued statuses (or raises)."""

    def __init__(self, *answers: int | Exception, default: int = 200) -> None:
        self.answers = list(answers)
        self.default = default
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post(self, url, body, headers):
        self.sent.append((url, body, dict(headers)))
        answer = self.answers.pop(0) if self.answers else self.default
        if isinstance(answer, Exception):
            raise answer
        return answer


def _case(session, make_user, department, street: str | None = None):
    inspector = actor_of(make_user("inspector"))
    lead = actor_of(make_user("shift_lead"))
    report = CaseReport(
        kind="event",
        minor_code="0102",
        description="暴露垃圾，联系 13812345678",
        lon=116.287,
        lat=39.84,
        reporter_name="王小明",
        reporter_phone="13812345678",
    )
    case = case_service.report_case(session, actor=inspector, data=report).case
    if street:
        case.street_code = street  # as if the geocoder had placed it (no maps in this test)
    session.flush()
    case_service.act(
        session,
        actor=lead,
        case_id=case.id,
        action=Action.REGISTER,
        body=RegisterBody(expected_version=case.version),
    )
    case_service.act(
        session,
        actor=lead,
        case_id=case.id,
        action=Action.DISPATCH,
        body=DispatchBody(expected_version=case.version, department_id=department.id),
    )
    session.commit()
    return case


def test_webhook_delivery_is_signed_retried_logged_and_replayable(
    session, district, make_user, department
):
    admin = replace(SYSTEM, district_code=district)
    sub = webhooks.subscribe(
        session,
        actor=admin,
        name="区应急局",
        url="https://receiver.invalid/hook",
        event_types=["dispatch"],
        area_prefixes=["110106001"],
    )
    webhooks.subscribe(  # another area: must get nothing
        session,
        actor=admin,
        name="其他街道",
        url="https://other.invalid/hook",
        area_prefixes=["110106002"],
    )
    session.commit()
    case = _case(session, make_user, department, street="110106001")

    now = utcnow()
    sender = FakeSender(503, ConnectionError("refused"), 200)
    stats = webhooks.run_once(session, sender=sender, now=now)
    assert (stats.fanned_out, stats.delivered, stats.retried) == (1, 0, 1)
    url, body, headers = sender.sent[0]
    assert url == sub.url
    assert webhooks.verify_signature(
        sub.secret,
        timestamp=headers["X-Cityops-Timestamp"],
        body=body,
        signature=headers["X-Cityops-Signature"],
        now=now.timestamp(),
    )
    assert not webhooks.verify_signature(
        "wrong",
        timestamp=headers["X-Cityops-Timestamp"],
        body=body,
        signature=headers["X-Cityops-Signature"],
        now=now.timestamp(),
    )
    assert not webhooks.verify_signature(  # a capture replayed ten minutes later
        sub.secret,
        timestamp=headers["X-Cityops-Timestamp"],
        body=body,
        signature=headers["X-Cityops-Signature"],
        now=now.timestamp() + 600,
    )
    data = json.loads(body)
    assert data["event"]["action"] == "dispatch" and data["case"]["number"] == case.number
    assert "13812345678" not in body.decode() and "王小明" not in body.decode()

    # Not due yet: nothing is sent before the backoff has passed.
    assert webhooks.run_once(session, sender=sender, now=now + timedelta(seconds=10)).retried == 0
    later = now + webhooks.backoff(1)
    assert webhooks.run_once(session, sender=sender, now=later).retried == 1  # refused
    done = webhooks.run_once(session, sender=sender, now=later + webhooks.backoff(2))
    assert done.delivered == 1
    delivery = session.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert len(sender.sent) == 3

    webhooks.replay(session, actor=admin, delivery_id=delivery.id)
    assert webhooks.run_once(session, sender=sender, now=utcnow()).delivered == 1
    assert len(sender.sent) == 4 and sender.sent[3][0] == sub.url
    session.commit()


def test_a_delivery_is_given_up_after_max_attempts(session, district, make_user, department):
    admin = replace(SYSTEM, district_code=district)
    webhooks.subscribe(session, actor=admin, name="x", url="https://r.invalid/h")
    session.commit()
    _case(session, make_user, department)
    sender = FakeSender(default=500)
    now = utcnow()
    for attempt in range(webhooks.MAX_ATTEMPTS):
        webhooks.run_once(session, sender=sender, now=now)
        now += webhooks.backoff(attempt + 1)
    deliveries = session.scalars(select(WebhookDelivery)).all()
    assert {(d.status, d.attempts) for d in deliveries} == {("failed", webhooks.MAX_ATTEMPTS)}
    assert len(deliveries) == 3  # three events (report, register, dispatch), all given up
    with pytest.raises(InvalidInput):
        webhooks.subscribe(session, actor=admin, name="y", url="ftp://x", event_types=[])
    with pytest.raises(InvalidInput):
        webhooks.subscribe(session, actor=admin, name="y", url="https://x", event_types=["fly"])
    session.rollback()


def test_csv_export_of_cases_and_events_has_no_personal_data(
    session, district, make_user, department
):
    case = _case(session, make_user, department)
    start, end = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    out = io.StringIO()
    assert (
        export_csv(session, what="cases", district_code=district, start=start, end=end, out=out)
        == 1
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["number"] == case.number and rows[0]["status"] == "dispatched"
    assert "13812345678" not in out.getvalue() and "138****5678" in rows[0]["description"]
    events = io.StringIO()
    count = export_csv(
        session, what="events", district_code=district, start=start, end=end, out=events
    )
    assert count == 3
    assert [r["action"] for r in csv.DictReader(io.StringIO(events.getvalue()))] == [
        "report",
        "register",
        "dispatch",
    ]
    empty = io.StringIO()
    before = start - timedelta(days=30)
    assert (
        export_csv(
            session, what="cases", district_code=district, start=before, end=start, out=empty
        )
        == 0
    )
    with pytest.raises(InvalidInput):
        export_csv(session, what="users", district_code=district, start=start, end=end, out=empty)
    session.rollback()


def test_webhook_and_export_routes(client, make_user, department, login, session):
    admin = login(make_user("admin"))
    inspector = login(make_user("inspector"))
    body = {"name": "区应急局", "url": "https://r.invalid/h", "event_types": ["close"]}
    assert (
        client.post("/api/v1/webhooks/subscriptions", json=body, headers=inspector).status_code
        == 403
    )
    r = client.post("/api/v1/webhooks/subscriptions", json=body, headers=admin)
    assert r.status_code == 201 and len(r.json()["secret"]) > 20
    listed = client.get("/api/v1/webhooks/subscriptions", headers=admin).json()
    assert [s["name"] for s in listed] == ["区应急局"] and "secret" not in listed[0]
    assert client.get("/api/v1/webhooks/deliveries", headers=admin).json() == []
    assert client.post("/api/v1/webhooks/deliveries/7/replay", headers=admin).status_code == 404

    _case(session, make_user, department)
    period = {"from": "2000-01-01T00:00:00+08:00", "to": "2100-01-01T00:00:00+08:00"}
    r = client.get("/api/v1/exports/cases.csv", params=period, headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 2
    assert (
        client.get("/api/v1/exports/cases.csv", params=period, headers=inspector).status_code == 403
    )
    assert client.get("/api/v1/exports/users.csv", params=period, headers=admin).status_code == 422
