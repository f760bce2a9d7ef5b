"""One case walked through its whole life over the HTTP API, with deadlines checked."""

from __future__ import annotations

from datetime import datetime, timedelta

from cityops.cases.clock import work_calendar
from cityops.workcal import DeadlineKind, compute_due

REPORT = {
    "kind": "event",
    "minor_code": "0102",  # 暴露垃圾 exposed garbage
    "description": "丰台区看丹路与育仁南路交口东北角有暴露垃圾，约两立方米",
    "address": "看丹路与育仁南路交口",
    "lon": 116.2870,
    "lat": 39.8400,
    "reporter_name": "王小明",
    "reporter_phone": "13812341234",
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_case_walks_from_report_to_close(client, make_user, department, login, settings):
    inspector = login(make_user("inspector"))
    operator = login(make_user("operator"))
    shift_lead = login(make_user("shift_lead"))
    dispatcher = login(make_user("dispatcher"))
    handler = login(make_user("department_handler", scope_department_id=department.id))
    checker = make_user("inspector")
    checker_headers = login(checker)
    cal = work_calendar(settings.working_hours, settings.timezone, settings.calendar_overrides)

    r = client.post(
        "/api/v1/cases", json=REPORT | {"client_request_id": "walk-1"}, headers=inspector
    )
    assert r.status_code == 201, r.text
    case = r.json()
    case_id, version = case["id"], case["version"]
    assert case["status"] == "reported"
    assert case["number"].startswith("110106") and len(case["number"]) == 20
    assert case["class_name"] == "暴露垃圾"

    def do(action: str, headers: dict[str, str], **body: object) -> dict:
        nonlocal version
        resp = client.post(
            f"/api/v1/cases/{case_id}/{action}",
            json={"expected_version": version, **body},
            headers=headers,
        )
        assert resp.status_code == 200, f"{action}: {resp.text}"
        data = resp.json()
        assert data["version"] == version + 1
        version = data["version"]
        return data

    assert do("verify", inspector, verdict="confirmed")["status"] == "verified"
    registered = do("register", shift_lead)
    assert registered["status"] == "registered"
    assert registered["sla"]["deadline_hours"] > 0
    assert registered["sla"]["due_at"] is None  # the clock starts at dispatch

    first = do("dispatch", dispatcher, department_id=department.id)
    assert first["status"] == "dispatched" and first["sla"]["state"] in ("on_time", "due_soon")
    returned = do("return", handler, reason="不属于本部门职责")
    assert returned["status"] == "returned" and returned["sla"]["due_at"] is None
    second = do("dispatch", dispatcher, department_id=department.id)
    handled = do("handle", handler, result="已清运完毕")
    assert handled["handled_on_time"] is True
    do("assign_check", operator, assignee_id=checker.id)
    failed = do("check", checker_headers, verdict="fail", note="仍有少量残留")
    assert failed["status"] == "check_failed"
    assert failed["sla"]["due_at"] == second["sla"]["due_at"]  # rework keeps the clock running
    reworked = do("rework", dispatcher)
    assert reworked["status"] == "dispatched" and reworked["rework_count"] == 1
    do("handle", handler, result="残留已清理")
    do("assign_check", operator, assignee_id=checker.id)  # each check is a new task
    assert do("check", checker_headers, verdict="pass")["status"] == "checked"
    closed = do("close", shift_lead)
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed["allowed_actions"] == ["reopen"]  # only a callback's "not solved" reopens

    detail = client.get(f"/api/v1/cases/{case_id}", headers=shift_lead).json()
    actions = [e["action"] for e in detail["events"]]
    assert actions == [
        "report",
        "verify",
        "register",
        "dispatch",
        "return",
        "dispatch",
        "handle",
        "assign_check",
        "check",
        "rework",
        "handle",
        "assign_check",
        "check",
        "close",
    ]
    assert [e["seq"] for e in detail["events"]] == list(range(1, len(actions) + 1))
    statuses = [e["to_status"] for e in detail["events"]]
    assert statuses[-1] == "closed" and statuses[8] == "check_failed"

    # Deadlines move as the working-time rules say: each dispatch starts a new one.
    hours = detail["sla"]["deadline_hours"]
    kind = DeadlineKind(detail["sla"]["deadline_kind"])
    for event in (e for e in detail["events"] if e["action"] == "dispatch"):
        expected = compute_due(cal, _at(event["at"]), hours, kind)
        assert abs(_at(event["due_at"]) - expected) < timedelta(seconds=1)
    by_action = {e["action"]: e for e in detail["events"]}
    assert by_action["return"]["due_at"] is None
    assert by_action["rework"]["due_at"] == detail["events"][5]["due_at"]

    # The shift lead sees the reporter's phone (contact role); a leader sees it masked.
    assert detail["reporters"][0]["phone"] == "13812341234"
    leader = login(make_user("leader"))
    masked = client.get(f"/api/v1/cases/{case_id}", headers=leader).json()
    assert masked["reporters"][0]["phone"] == "138****1234"
    assert masked["reporters"][0]["name"] == "王**"


def test_wrong_role_and_wrong_state_are_refused(client, make_user, department, login):
    inspector = login(make_user("inspector"))
    dispatcher = login(make_user("dispatcher"))
    case = client.post("/api/v1/cases", json=REPORT, headers=inspector).json()
    url = f"/api/v1/cases/{case['id']}"
    r = client.post(f"{url}/register", json={"expected_version": 1}, headers=dispatcher)
    assert r.status_code == 403 and "shift_lead" in r.json()["detail"]
    r = client.post(
        f"{url}/dispatch",
        json={"expected_version": 1, "department_id": department.id},
        headers=dispatcher,
    )
    assert r.status_code == 409 and "reported" in r.json()["detail"]
    detail = client.get(url, headers=dispatcher).json()
    assert [e["action"] for e in detail["events"]] == ["report"]  # refusals leave no trace


def test_stale_version_gets_409_with_current_state(client, make_user, login):
    inspector = login(make_user("inspector"))
    lead = login(make_user("shift_lead"))
    case = client.post("/api/v1/cases", json=REPORT, headers=inspector).json()
    url = f"/api/v1/cases/{case['id']}"
    assert (
        client.post(f"{url}/register", json={"expected_version": 1}, headers=lead).status_code
        == 200
    )
    r = client.post(f"{url}/reject", json={"expected_version": 1, "reason": "重复"}, headers=lead)
    assert r.status_code == 409
    body = r.json()
    assert body["field"] == "expected_version"
    assert body["current_status"] == "registered" and body["current_version"] == 2


def test_resending_a_report_returns_the_same_case(client, make_user, login):
    inspector = login(make_user("inspector"))
    body = REPORT | {"client_request_id": "phone-42-0001"}
    first = client.post("/api/v1/cases", json=body, headers=inspector)
    again = client.post("/api/v1/cases", json=body, headers=inspector)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["number"] == again.json()["number"]
    page = client.get("/api/v1/cases", headers=inspector).json()
    assert len(page["items"]) == 1
    # Another request id is another case, with the next serial.
    other = client.post(
        "/api/v1/cases", json=REPORT | {"client_request_id": "phone-42-0002"}, headers=inspector
    ).json()
    assert int(other["number"][-6:]) == int(first.json()["number"][-6:]) + 1


def test_bad_input_names_the_field_and_writes_nothing(client, make_user, login):
    inspector = login(make_user("inspector"))
    lead = login(make_user("shift_lead"))
    cases = [
        (REPORT | {"lon": 200}, "lon"),
        (REPORT | {"minor_code": "9999"}, "minor_code"),
        (REPORT | {"minor_code": "01x2"}, "minor_code"),
        ({k: v for k, v in REPORT.items() if k != "description"}, "description"),
        (REPORT | {"kind": "weather"}, "kind"),
        (REPORT | {"unexpected": 1}, "unexpected"),
        (REPORT | {"attachment_ids": [12345]}, "attachment_ids"),
    ]
    for body, field in cases:
        r = client.post("/api/v1/cases", json=body, headers=inspector)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["field"] == field, r.text
    r = client.post(
        "/api/v1/cases",
        content=b"{not json",
        headers=inspector | {"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert client.get("/api/v1/cases", headers=lead).json()["items"] == []
    case = client.post("/api/v1/cases", json=REPORT, headers=inspector).json()
    r = client.post(
        f"/api/v1/cases/{case['id']}/reject", json={"expected_version": 1}, headers=lead
    )
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.get("/api/v1/cases/999999", headers=lead)
    assert r.status_code == 404 and r.json()["field"] == "case_id"
    r = client.get("/api/v1/cases", params={"cursor": "garbage!"}, headers=lead)
    assert r.status_code == 422 and r.json()["field"] == "cursor"


def test_contacts_are_masked_unless_the_user_may_see_them(client, make_user, login):
    inspector = login(make_user("inspector"))
    case = client.post("/api/v1/cases", json=REPORT, headers=inspector).json()
    url = f"/api/v1/cases/{case['id']}"
    plain = login(make_user("operator"))
    callback = login(make_user("operator", permissions=["contacts"]))
    masked = client.get(url, headers=plain).json()["reporters"][0]
    full = client.get(url, headers=callback).json()["reporters"][0]
    assert (masked["name"], masked["phone"]) == ("王**", "138****1234")
    assert (full["name"], full["phone"]) == ("王小明", "13812341234")
