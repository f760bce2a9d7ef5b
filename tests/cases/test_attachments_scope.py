"""Uploads are checked by their bytes; the data scope holds on lists, details and actions."""

from __future__ import annotations

from sqlalchemy import func, select

from cityops.cases.models import Attachment

from .test_http_walk import REPORT

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


def _files(root):
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_text_file_renamed_jpg_is_refused(client, make_user, login, settings, session):
    headers = login(make_user("inspector"))
    r = client.post(
        "/api/v1/attachments",
        headers=headers,
        files={"file": ("photo.jpg", b"just some text, not a photo", "image/jpeg")},
    )
    assert r.status_code == 415 and r.json()["field"] == "file"
    assert _files(settings.attachments_dir) == []
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_empty_and_oversized_uploads_are_refused(client, make_user, login, settings, app):
    headers = login(make_user("inspector"))
    r = client.post(
        "/api/v1/attachments", headers=headers, files={"file": ("a.png", b"", "image/png")}
    )
    assert r.status_code == 422
    app.state.settings.max_upload_bytes = 1000  # the same settings object the sessions carry
    r = client.post(
        "/api/v1/attachments",
        headers=headers,
        files={"file": ("big.png", PNG + bytes(2000), "image/png")},
    )
    assert r.status_code == 413
    assert _files(settings.attachments_dir) == []


def test_photo_is_stored_by_hash_and_linked_to_the_report(client, make_user, login, settings):
    headers = login(make_user("inspector"))
    up = client.post(
        "/api/v1/attachments",
        headers=headers,
        files={"file": ("IMG_0001.HEIC", PNG, "application/octet-stream")},
    )
    assert up.status_code == 201, up.text
    meta = up.json()
    assert meta["content_type"] == "image/png"  # from the bytes, not the name
    case = client.post(
        "/api/v1/cases", json=REPORT | {"attachment_ids": [meta["id"]]}, headers=headers
    ).json()
    detail = client.get(f"/api/v1/cases/{case['id']}", headers=headers).json()
    assert detail["attachments"][0]["event_id"] is not None
    assert client.get(f"/api/v1/attachments/{meta['id']}", headers=headers).content == PNG
    # The same upload cannot be attached twice.
    r = client.post(
        "/api/v1/cases", json=REPORT | {"attachment_ids": [meta["id"]]}, headers=headers
    )
    assert r.status_code == 422 and r.json()["field"] == "attachment_ids"
    stored = _files(settings.attachments_dir)
    assert len(stored) == 1 and stored[0].name == meta["sha256"]


def test_data_scope_on_list_detail_and_action(client, make_user, login, department, session):
    from cityops.auth.actor import SYSTEM
    from cityops.auth.service import create_org_unit

    other = create_org_unit(
        session,
        actor=SYSTEM,
        district_code="110106",
        kind="department",
        code="greening",
        name="区园林绿化局",
        dept_type="greening",
    )
    session.commit()
    reporter = login(make_user("inspector"))
    bystander = login(make_user("inspector", scope_areas=["110106001"]))
    dispatcher = login(make_user("dispatcher"))
    ours = login(make_user("department_handler", scope_department_id=department.id))
    theirs = login(make_user("department_handler", scope_department_id=other.id))
    lead = login(make_user("shift_lead"))

    case = client.post("/api/v1/cases", json=REPORT, headers=reporter).json()
    url = f"/api/v1/cases/{case['id']}"
    assert (
        client.post(f"{url}/register", json={"expected_version": 1}, headers=lead).status_code
        == 200
    )
    r = client.post(
        f"{url}/dispatch",
        json={"expected_version": 2, "department_id": department.id},
        headers=dispatcher,
    )
    assert r.status_code == 200

    assert client.get(url, headers=reporter).status_code == 200  # own report
    assert client.get(url, headers=ours).status_code == 200
    for outsider in (bystander, theirs):
        assert client.get(url, headers=outsider).status_code == 403
        assert client.get("/api/v1/cases", headers=outsider).json()["items"] == []
    r = client.post(
        f"{url}/handle", json={"expected_version": 3, "result": "已处理"}, headers=theirs
    )
    assert r.status_code == 403
    assert client.get(url, headers=lead).json()["status"] == "dispatched"
    assert [c["id"] for c in client.get("/api/v1/cases", headers=ours).json()["items"]] == [
        case["id"]
    ]


def test_list_filters_and_cursor(client, make_user, login, department):
    inspector = login(make_user("inspector"))
    lead = login(make_user("shift_lead"))
    ids = []
    for i in range(7):
        body = REPORT | {
            "description": f"暴露垃圾 第{i}处",
            "minor_code": "0102" if i % 2 else "0103",
        }
        ids.append(client.post("/api/v1/cases", json=body, headers=inspector).json()["id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/cases", params=params, headers=lead).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
    only = client.get("/api/v1/cases", params={"minor_code": "0103"}, headers=lead).json()["items"]
    assert len(only) == 4
    text = client.get("/api/v1/cases", params={"q": "第3处"}, headers=lead).json()["items"]
    assert [c["id"] for c in text] == [ids[3]]
    assert client.get("/api/v1/cases", params={"overdue": True}, headers=lead).json()["items"] == []
    r = client.get("/api/v1/cases", params={"status": "lost"}, headers=lead)
    assert r.status_code == 422 and r.json()["field"] == "status"
