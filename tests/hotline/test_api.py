"""The hotline over HTTP: masking, refusals that name the field, data scope, knowledge base,
callbacks (one and imported), rates and policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cityops.cases.models import Case
from cityops.hotline.models import HotlineCallback, HotlineRequest

from .conftest import POINT_A

CALL = {
    "type": "complaint",
    "caller_name": "张三",
    "caller_phone": "13812341234",
    "text": "幸福小区门口垃圾桶满溢发臭",
    "lon": POINT_A[0],
    "lat": POINT_A[1],
    "kind": "event",
    "minor_code": "0102",
}


def count(session: Any, model: Any) -> int:
    """Rows in a table, read in a transaction that ends at once (SQLite: the test session's
    transactions take the write lock, which would block the app's next write)."""
    try:
        return int(session.scalar(select(func.count()).select_from(model)))
    finally:
        session.rollback()


def take(client: Any, headers: dict[str, str], **kw: Any) -> dict[str, Any]:
    r = client.post("/api/v1/hotline/calls", headers=headers, json=CALL | kw)
    assert r.status_code == 201, r.text
    return r.json()


def test_phone_and_name_are_masked_without_the_contacts_permission(client, login, make_user):
    plain = login(make_user("operator"))
    granted = login(make_user("operator", permissions=["contacts"]))
    lead = login(make_user("shift_lead"))
    taken = take(client, plain)
    request_id = taken["request"]["id"]
    assert taken["request"]["caller_phone"] == "138****1234"
    for headers, phone, name in (
        (plain, "138****1234", "张*"),
        (granted, "13812341234", "张三"),
        (lead, "13812341234", "张三"),
    ):
        listed = client.get("/api/v1/hotline/calls", headers=headers).json()["items"]
        detail = client.get(f"/api/v1/hotline/calls/{request_id}", headers=headers).json()
        assert (listed[0]["caller_phone"], listed[0]["caller_name"]) == (phone, name)
        assert (detail["caller_phone"], detail["caller_name"]) == (phone, name)
        export = client.get("/api/v1/hotline/calls/export.csv", headers=headers)
        assert export.status_code == 200 and phone in export.text
    export = client.get("/api/v1/hotline/calls/export.csv", headers=plain).text
    assert "13812341234" not in export
    # An exact phone finds the caller's calls without the list revealing it.
    found = client.get("/api/v1/hotline/calls", headers=plain, params={"q": "13812341234"})
    assert [i["id"] for i in found.json()["items"]] == [request_id]


def test_bad_input_is_422_naming_the_field_and_nothing_is_written(
    client, login, make_user, session
):
    headers = login(make_user("operator"))
    for body, field in (
        (CALL | {"minor_code": None}, "minor_code"),
        (CALL | {"minor_code": "12"}, "minor_code"),
        (CALL | {"caller_phone": "call me"}, "caller_phone"),
        (CALL | {"type": "rumour"}, "type"),
        (CALL | {"text": ""}, "text"),
        ({k: v for k, v in CALL.items() if k != "lat"}, ""),
        (CALL | {"region_code": "110106777"}, "region_code"),
    ):
        r = client.post("/api/v1/hotline/calls", headers=headers, json=body)
        assert r.status_code == 422, (body, r.text)
        if field:
            assert r.json()["field"] == field, r.json()
    assert count(session, HotlineRequest) == 0 and count(session, Case) == 0
    r = client.post("/api/v1/hotline/calls/1/callback", headers=headers, json={"resolved": True})
    assert r.status_code == 422 and "satisfaction" in r.json()["detail"]
    r = client.get("/api/v1/hotline/rates", headers=headers, params={"period": "2026-13"})
    assert r.status_code == 422 and r.json()["field"] == "period"


def test_outside_the_data_scope_is_403_and_not_listed(
    client, login, make_user, department, session
):
    from cityops.auth.actor import SYSTEM
    from cityops.auth.service import create_org_unit

    operator = login(make_user("operator"))
    request_id = take(client, operator)["request"]["id"]
    other_unit = create_org_unit(
        session,
        actor=SYSTEM,
        district_code="110106",
        kind="department",
        code="parks",
        name="区园林局",
    )
    session.commit()
    stranger = login(make_user("department_handler", scope_department_id=other_unit.id))
    far_inspector = login(make_user("inspector", scope_areas=["110106999"]))
    for headers in (stranger, far_inspector):
        r = client.get(f"/api/v1/hotline/calls/{request_id}", headers=headers)
        assert r.status_code == 403 and r.json()["field"] == "request_id"
        assert client.get("/api/v1/hotline/calls", headers=headers).json()["items"] == []
    r = client.post(
        f"/api/v1/hotline/calls/{request_id}/reply", headers=stranger, json={"text": "好的"}
    )
    assert r.status_code == 403
    # Taking calls is for operators and shift leads.
    r = client.post("/api/v1/hotline/calls", headers=far_inspector, json=CALL)
    assert r.status_code == 403


def test_knowledge_base_crud_search_and_consultation(client, login, make_user, session):
    lead = login(make_user("shift_lead"))
    operator = login(make_user("operator"))
    article = {
        "title": "居住证办理流程",
        "body": "持身份证和租房合同到社区服务站办理。",
        "keywords": "居住证 暂住证",
        "category": "户籍",
    }
    assert client.post("/api/v1/hotline/kb", headers=operator, json=article).status_code == 403
    created = client.post("/api/v1/hotline/kb", headers=lead, json=article)
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    again = client.post("/api/v1/hotline/kb", headers=lead, json=article)
    assert again.status_code == 422 and again.json()["field"] == "title"
    client.post(
        "/api/v1/hotline/kb",
        headers=lead,
        json={"title": "垃圾分类时间", "body": "每天 7 点到 9 点投放。", "keywords": "垃圾"},
    )
    hits = client.get("/api/v1/hotline/kb/search", headers=operator, params={"q": "居住证怎么办"})
    assert [h["id"] for h in hits.json()] == [article_id] and hits.json()[0]["score"] > 0
    taken = take(
        client, operator, type="consultation", text="居住证怎么办", kb_article_id=article_id
    )
    assert taken["request"]["status"] == "answered" and taken["request"]["case_id"] is None
    assert count(session, Case) == 0
    patched = client.patch(
        f"/api/v1/hotline/kb/{article_id}", headers=lead, json={"keywords": "居住证 办证"}
    )
    assert patched.json()["keywords"] == "居住证 办证"
    assert client.delete(f"/api/v1/hotline/kb/{article_id}", headers=lead).json()["active"] is False
    hits = client.get("/api/v1/hotline/kb/search", headers=operator, params={"q": "居住证"})
    assert hits.json() == []
    assist = client.post("/api/v1/hotline/assist", headers=operator, json={"text": "垃圾投放时间"})
    body = assist.json()
    assert [a["title"] for a in body["articles"]] == ["垃圾分类时间"]
    # No model trained in this test database: an empty suggestion that says why.
    assert body["suggestion"]["classes"] == [] and "train" in body["suggestion"]["message"]


def test_reply_callback_import_and_rates_over_http(client, login, make_user, department, session):
    operator_user = make_user("operator")
    operator = login(operator_user)
    lead = login(make_user("shift_lead"))
    dispatcher = login(make_user("dispatcher"))
    handler = login(make_user("department_handler", scope_department_id=department.id))
    taken = [take(client, operator, text=f"{i}号楼垃圾满溢") for i in range(2)]
    for t in taken:
        case_id = t["request"]["case_id"]
        case = client.post(
            f"/api/v1/cases/{case_id}/register", headers=lead, json={"expected_version": 1}
        ).json()
        r = client.post(
            f"/api/v1/cases/{case_id}/dispatch",
            headers=dispatcher,
            json={"expected_version": case["version"], "department_id": department.id},
        )
        assert r.status_code == 200, r.text
        r = client.post(
            f"/api/v1/hotline/calls/{t['request']['id']}/reply",
            headers=handler,
            json={"text": "已联系市民"},
        )
        assert r.status_code == 200 and r.json()["status"] == "replied", r.text
    first, second = (t["request"]["id"] for t in taken)
    r = client.post(
        f"/api/v1/hotline/calls/{first}/callback",
        headers=operator,
        json={"resolved": True, "satisfaction": "satisfied"},
    )
    assert r.status_code == 200 and r.json()["reopened"] is False, r.text
    bad = f"request_id,resolved,satisfaction\n{second},maybe,满意\n".encode()
    r = client.post(
        "/api/v1/hotline/callbacks/import",
        headers=operator,
        files={"file": ("sms.csv", bad, "text/csv")},
    )
    assert r.status_code == 422 and r.json()["field"] == "resolved"
    assert count(session, HotlineCallback) == 1
    good = f"request_id,resolved,satisfaction\n{second},是,基本满意\n".encode()
    r = client.post(
        "/api/v1/hotline/callbacks/import",
        headers=operator,
        files={"file": ("sms.csv", good, "text/csv")},
    )
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    detail = client.get(f"/api/v1/hotline/calls/{second}", headers=operator).json()
    assert detail["callbacks"][0]["source"] == "upload:sms.csv"
    # The local (Beijing) day of the call: after 16:00 UTC it is already the next day there.
    received = datetime.fromisoformat(detail["received_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    day = received.date().isoformat()
    rates = client.get(
        "/api/v1/hotline/rates",
        headers=lead,
        params={"by": "department", "period_from": day + "T00:00:00+08:00",
                "period_to": day + "T23:59:59+08:00"},
    )  # fmt: skip
    assert rates.status_code == 200, rates.text
    (row,) = rates.json()["rows"]
    # 2 replied in time; 2 rated, both resolved; (1 + 0.8) / 2 satisfied.
    assert (row["response_rate"], row["resolution_rate"], row["satisfaction_rate"]) == (
        1.0,
        1.0,
        0.9,
    )
    assert row["name"] == "区水务局"


def test_policy_defaults_and_admin_changes(client, login, make_user):
    admin = login(make_user("admin"))
    operator = login(make_user("operator"))
    policy = client.get("/api/v1/hotline/policy", headers=operator).json()
    assert (policy["response_hours"], policy["resolution_hours"], policy["basic_weight"]) == (
        24.0,
        168.0,
        0.8,
    )
    assert (
        client.patch(
            "/api/v1/hotline/policy", headers=operator, json={"basic_weight": 0.5}
        ).status_code
        == 403
    )
    r = client.patch("/api/v1/hotline/policy", headers=admin, json={"weight_response": 0.5})
    assert r.status_code == 422 and r.json()["field"] == "weight_response"
    r = client.patch(
        "/api/v1/hotline/policy",
        headers=admin,
        json={"basic_weight": 0.6, "response_kind": "working", "response_hours": 8},
    )
    assert r.status_code == 200 and r.json()["basic_weight"] == 0.6
    taken = take(client, operator)
    assert taken["request"]["response_due_at"] is not None
