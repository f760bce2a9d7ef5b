"""The catalogue over HTTP: reads for any user, writes for admins only, errors name fields."""

from __future__ import annotations

import pytest

from cityops.catalog import departments, service

BASE = "/api/v1/catalog"


@pytest.fixture
def loaded(session, district, admin):
    service.ensure_default_catalog(session, district_code=district)
    departments.load_demo_departments(session, actor=admin, district_code=district)
    session.commit()
    return district


@pytest.fixture
def admin_headers(make_user, login, loaded):
    return login(make_user("admin"))


@pytest.fixture
def operator_headers(make_user, login, loaded):
    return login(make_user("operator"))


def test_classes_versions_departments_for_any_user(client, operator_headers):
    classes = client.get(f"{BASE}/classes", headers=operator_headers)
    assert classes.status_code == 200, classes.text
    body = classes.json()
    assert body["version"]["label"] == "default-1"
    assert len(body["items"]) == 142
    events = client.get(f"{BASE}/classes?kind=event", headers=operator_headers).json()
    assert {c["kind"] for c in events["items"]} == {"event"}
    versions = client.get(f"{BASE}/versions", headers=operator_headers).json()
    assert [v["label"] for v in versions] == ["default-1"]
    depts = client.get(f"{BASE}/departments?dept_type=water", headers=operator_headers).json()
    assert [d["name"] for d in depts] == ["区水务局"]
    missing = client.get(f"{BASE}/classes?version=nope", headers=operator_headers)
    assert missing.status_code == 404
    assert missing.json()["field"] == "version"


def test_routes_need_a_token(client, loaded):
    assert client.get(f"{BASE}/classes").status_code == 401
    assert client.post(f"{BASE}/routing/explain", json={}).status_code == 401


def test_rule_writes_need_admin(client, operator_headers):
    assert client.get(f"{BASE}/routing/rules", headers=operator_headers).status_code == 403
    created = client.post(f"{BASE}/routing/rules", json={"minor_code": "0102"},
                          headers=operator_headers)  # fmt: skip
    assert created.status_code == 403
    upload = client.post(f"{BASE}/versions", json={"format": "csv", "content": "x"},
                         headers=operator_headers)  # fmt: skip
    assert upload.status_code == 403


def test_rule_crud_and_explain(client, admin_headers):
    [water] = client.get(f"{BASE}/departments?dept_type=water", headers=admin_headers).json()
    created = client.post(
        f"{BASE}/routing/rules",
        json={"priority": 5, "minor_code": "0102", "area_prefixes": ["110106007"],
              "department_id": water["id"]},
        headers=admin_headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    body = {"kind": "component", "minor_code": "0102", "grid_code": "110106007003012",
            "at": "2025-03-05T10:00:00+08:00"}  # fmt: skip
    explained = client.post(f"{BASE}/routing/explain", json=body, headers=admin_headers).json()
    assert explained["suggestion"] == {
        "department_id": water["id"],
        "department_name": "区水务局",
        "rule_id": rule_id,
        "reason": f"rule {rule_id}: minor class 0102 in street 110106007 → 区水务局",
    }
    patched = client.patch(f"{BASE}/routing/rules/{rule_id}", json={"area_prefixes": None},
                           headers=admin_headers)  # fmt: skip
    assert patched.status_code == 200 and patched.json()["area_prefixes"] == []
    rules = client.get(f"{BASE}/routing/rules", headers=admin_headers).json()
    assert [r["id"] for r in rules] == [rule_id]
    assert (
        client.delete(f"{BASE}/routing/rules/{rule_id}", headers=admin_headers).status_code == 204
    )
    assert client.get(f"{BASE}/routing/rules/{rule_id}", headers=admin_headers).status_code == 404
    fallback = client.post(f"{BASE}/routing/explain", json=body, headers=admin_headers).json()
    assert fallback["suggestion"]["rule_id"] is None
    assert fallback["checks"] == []


def test_rule_errors_name_the_field(client, admin_headers):
    bad = client.post(f"{BASE}/routing/rules", json={"department_id": 99999},
                      headers=admin_headers)  # fmt: skip
    assert bad.status_code == 404 and bad.json()["field"] == "department_id"
    half = client.post(f"{BASE}/routing/rules", json={"time_start": "22:00"},
                       headers=admin_headers)  # fmt: skip
    assert half.status_code == 422 and half.json()["field"] == "time_end"


def test_upload_and_activate_versions(client, admin_headers, operator_headers):
    csv_text = service.DEFAULT_CATALOG_FILE.read_text(encoding="utf-8")
    edited = csv_text.replace(",暴露垃圾,Exposed garbage,", ",暴露垃圾,Exposed rubbish,")
    made = client.post(
        f"{BASE}/versions", json={"format": "csv", "content": edited, "label": "v2"},
        headers=admin_headers,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["active"] is True
    classes = client.get(f"{BASE}/classes?kind=event", headers=operator_headers).json()
    names = {c["minor_code"]: c["name_en"] for c in classes["items"]}
    assert names["0102"] == "Exposed rubbish"
    back = client.post(f"{BASE}/versions/default-1/activate", headers=admin_headers)
    assert back.status_code == 200 and back.json()["active"] is True
    bad = client.post(
        f"{BASE}/versions",
        json={"format": "csv", "content": csv_text.replace(",8,working,", ",-1,working,", 1)},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "normal_deadline_hours" and bad.json()["row"] == 1


def test_admin_renames_and_deactivates_a_department(client, session, make_user, login, department):
    """Changes are audited; deactivating waits until no open case is left with the department."""
    from sqlalchemy import select

    from cityops.auth.models import AuditEntry
    from cityops.auth.service import actor_of
    from cityops.cases import service as case_service
    from cityops.cases.lifecycle import Action
    from cityops.cases.schemas import ACTION_BODIES, CaseReport

    service.ensure_default_catalog(session, district_code=department.district_code)
    session.commit()
    admin = login(make_user("admin"))
    url = f"/api/v1/catalog/departments/{department.id}"
    r = client.patch(url, json={"name": "区水务局（河长办）", "dept_type": "water"}, headers=admin)
    assert r.status_code == 200 and r.json()["name"] == "区水务局（河长办）"
    assert client.patch(url, json={"dept_type": "Water!"}, headers=admin).json()["field"] == (
        "dept_type"
    )
    operator = login(make_user("operator"))
    assert client.patch(url, json={"active": False}, headers=operator).status_code == 403

    inspector, lead = actor_of(make_user("inspector")), actor_of(make_user("shift_lead"))
    dispatcher = actor_of(make_user("dispatcher"))
    report = CaseReport(
        kind="event", minor_code="0102", description="暴露垃圾", lon=116.29, lat=39.84
    )
    case = case_service.report_case(session, actor=inspector, data=report).case
    case_service.act(
        session,
        actor=lead,
        case_id=case.id,
        action=Action.REGISTER,
        body=ACTION_BODIES[Action.REGISTER](expected_version=1),
    )
    case_service.act(
        session,
        actor=dispatcher,
        case_id=case.id,
        action=Action.DISPATCH,
        body=ACTION_BODIES[Action.DISPATCH](expected_version=2, department_id=department.id),
    )
    session.commit()
    refused = client.patch(url, json={"active": False}, headers=admin)
    assert refused.status_code == 409 and refused.json()["open_cases"] == 1
    case_service.act(
        session,
        actor=lead,
        case_id=case.id,
        action=Action.VOID,
        body=ACTION_BODIES[Action.VOID](expected_version=3, reason="录入错误"),
    )
    session.commit()
    assert client.patch(url, json={"active": False}, headers=admin).json()["active"] is False
    names = [d["name"] for d in client.get("/api/v1/catalog/departments", headers=admin).json()]
    assert "区水务局（河长办）" not in names
    session.expire_all()
    updates = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "org_unit.update")
    ).all()
    assert len(updates) == 2
