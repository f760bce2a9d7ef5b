"""Data scope on every route: walk the route table as a user whose scope excludes one case.

* every operation with a ``{case_id}`` (detail, actions, duplicates, …) answers 403 or 404;
* the attachment of that case cannot be downloaded;
* no list or export (every GET without path parameters) mentions the case;
* the same user does reach a case inside their scope (so the refusals are about scope).
"""

from __future__ import annotations

import io
import re

from cityops.auth.service import actor_of
from cityops.cases import service as case_service
from cityops.cases.attachments import store_attachment
from cityops.cases.schemas import CaseReport

MARKER = "范围外案卷ZQX"  # appears only in the out-of-scope case
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def _body(path: str, ids: dict[str, int]) -> dict[str, object]:
    """A body every action accepts as well-formed, so the answer is about scope, not input."""
    verdict = "pass" if path.endswith("/check") else "confirmed"
    return {
        "expected_version": 1,
        "reason": "测试",
        "note": "测试",
        "result": "已处置",
        "hours": 1,
        "verdict": verdict,
        "assignee_id": ids["inspector"],
        "department_id": ids["department"],
        "target_case_id": ids["inside"],
    }


def _fit(schema: dict, operation: dict, values: dict[str, object]) -> dict[str, object] | None:
    """Only the fields the operation's JSON body declares (bodies forbid extra fields)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref", "")
    properties = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]].get("properties", {})
    return {k: v for k, v in values.items() if k in properties}


def test_every_case_route_enforces_data_scope(client, app, make_user, department, session, login):
    inspector = make_user("inspector")
    actor = actor_of(inspector)
    photo = store_attachment(session, actor=actor, stream=io.BytesIO(PNG), filename="p.png")
    report = {"kind": "event", "minor_code": "0102", "lon": 116.287, "lat": 39.84}
    outside = case_service.report_case(
        session,
        actor=actor,
        data=CaseReport(description=MARKER, attachment_ids=[photo.id], **report),
    ).case
    outsider_user = make_user("inspector", "dispatcher", "leader", scope_areas=["110106999"])
    inside = case_service.report_case(
        session, actor=actor_of(outsider_user), data=CaseReport(description="范围内", **report)
    ).case
    session.commit()
    outsider = login(outsider_user)
    ids = {"inspector": inspector.id, "department": department.id, "inside": inside.id}

    r = client.get(f"/api/v1/cases/{inside.id}", headers=outsider)
    assert r.status_code == 200  # the user can see what is theirs

    schema = app.openapi()
    checked: list[str] = []
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method in operations:
            if "{case_id}" in path:
                url = path.replace("{case_id}", str(outside.id))
                if re.search(r"\{[^}]+\}", url):
                    continue
                body = _fit(schema, operations[method], _body(path, ids))
                r = client.request(method.upper(), url, headers=outsider, json=body)
                assert r.status_code in (403, 404), (method, path, r.status_code, r.text)
                checked.append(f"{method.upper()} {path}")
            elif method == "get" and "{" not in path.replace("{what}", "cases"):
                url = path.replace("{what}", "cases")
                params = {"from": "2000-01-01T00:00:00+08:00", "to": "2100-01-01T00:00:00+08:00"}
                r = client.get(url, headers=outsider, params=params)
                assert r.status_code < 500, (path, r.status_code)
                assert MARKER not in r.text, (path, r.text[:300])
                assert outside.number not in r.text, path
                checked.append(f"GET {path}")
    r = client.get(f"/api/v1/attachments/{photo.id}", headers=outsider)
    assert r.status_code in (403, 404)
    checked.append("GET /api/v1/attachments/{attachment_id}")
    print(f"\nscope walk: {len(checked)} routes checked")
    assert sum("{case_id}" in c for c in checked) >= 20
    assert "GET /api/v1/cases" in checked
    assert "GET /api/v1/exports/{what}.csv" in checked
