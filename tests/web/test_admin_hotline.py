"""Admin (departments, calendar, catalogue), hotline callbacks and the knowledge base editor,
over HTTP without a browser, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .conftest import DISTRICT, csrf_of, form_login, seed_replied_request


def _csrf(client: Any, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text[:500]
    return csrf_of(page.text)


# --- departments ----------------------------------------------------------------------------


def test_admin_creates_a_department(web_client: Any, world: Any, session: Session) -> None:
    from cityops.catalog.departments import department_by_code

    form_login(web_client, "admin")
    token = _csrf(web_client, "/admin?tab=departments")
    made = web_client.post(
        "/admin/departments",
        data={
            "csrf": token,
            "code": "water-test",
            "name": "区水务测试所",
            "name_en": "Water test office",
            "kind": "department",
            "dept_type": "water_test",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    page = web_client.get("/admin?tab=departments")
    assert 'data-department="water-test"' in page.text and "区水务测试所" in page.text
    assert "已创建" in page.text
    unit = department_by_code(session, district_code=DISTRICT, code="water-test")
    assert unit.dept_type == "water_test" and unit.name_en == "Water test office"


def test_a_bad_department_is_a_message(web_client: Any, world: Any) -> None:
    form_login(web_client, "admin")
    token = _csrf(web_client, "/admin?tab=departments")
    bad = web_client.post(
        "/admin/departments",
        data={"csrf": token, "code": "x1", "name": "坏类型", "dept_type": "Not Valid"},
    )
    assert bad.status_code == 200 and "dept_type" in bad.text
    office = web_client.post(
        "/admin/departments",
        data={
            "csrf": token,
            "code": "x2",
            "name": "没有街道的办事处",
            "kind": "street_office",
            "dept_type": "street",
        },
    )
    assert "street office needs" in office.text
    again = web_client.post(
        "/admin/departments",
        data={"csrf": token, "code": "x3", "name": "重复", "dept_type": "dup"},
    )
    assert again.status_code == 200
    dup = web_client.post(
        "/admin/departments",
        data={"csrf": token, "code": "x3", "name": "重复", "dept_type": "dup"},
    )
    assert "already exists" in dup.text


def test_department_post_needs_admin_and_csrf(web_client: Any, world: Any) -> None:
    form_login(web_client, "admin")
    refused = web_client.post(
        "/admin/departments",
        data={"code": "nocsrf", "name": "无令牌", "dept_type": "x"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    web_client.cookies.clear()
    form_login(web_client, "shiftlead")
    token = _csrf(web_client, "/queues")
    other = web_client.post(
        "/admin/departments",
        data={"csrf": token, "code": "lead", "name": "值班长建的", "dept_type": "x"},
        follow_redirects=False,
    )
    assert other.status_code == 403


# --- calendar -------------------------------------------------------------------------------


def test_calendar_shows_the_overrides_file_and_the_next_60_days(
    settings: Any, engine: Any, world: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from cityops import web
    from cityops.app import create_app
    from cityops.timeutil import to_local, utcnow

    today = to_local(utcnow()).date()
    # A Saturday made a working day and the next weekday made a holiday, by the file.
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    monday = saturday + timedelta(days=2)
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(
        f"date,kind\n{saturday.isoformat()},workday\n{monday.isoformat()},holiday\n",
        encoding="utf-8",
    )
    app = create_app(settings.model_copy(update={"calendar_overrides": overrides}))
    web.install(app)
    with TestClient(app) as client:
        form_login(client, "admin")
        page = client.get("/admin?tab=calendar").text
    assert str(overrides) in page and "date,kind" in page
    assert 'id="calendar-error"' not in page
    assert page.count("data-day=") == 60
    assert f'data-day="{saturday.isoformat()}" data-kind="makeup"' in page
    assert f'data-day="{monday.isoformat()}" data-kind="holiday"' in page
    assert "调休上班日" in page


def test_calendar_without_a_file(web_client: Any, world: Any) -> None:
    form_login(web_client, "admin")
    page = web_client.get("/admin?tab=calendar&lang=en").text
    assert page.count("data-day=") == 60
    assert "CITYOPS_CALENDAR_OVERRIDES" in page
    assert 'data-kind="workday"' in page and 'data-kind="rest"' in page


def test_admin_stores_and_deletes_a_calendar_override(web_client: Any, world: Any) -> None:
    from cityops.timeutil import to_local, utcnow

    form_login(web_client, "admin")
    token = _csrf(web_client, "/admin?tab=calendar")
    today = to_local(utcnow()).date()
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    bad = web_client.post("/admin/calendar", data={"csrf": token, "day": "tomorrow"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text
    saved = web_client.post(
        "/admin/calendar",
        data={"csrf": token, "day": saturday.isoformat(), "kind": "workday", "name": "调休"},
    )
    assert saved.status_code == 200 and "已保存调整日" in saved.text
    assert f'data-day="{saturday.isoformat()}" data-kind="makeup"' in saved.text
    assert 'id="calendar-stored"' in saved.text
    gone = web_client.post(f"/admin/calendar/{saturday.isoformat()}/delete", data={"csrf": token})
    assert "已删除调整日" in gone.text
    assert f'data-day="{saturday.isoformat()}" data-kind="rest"' in gone.text


# --- catalogue ------------------------------------------------------------------------------


def test_catalogue_download_upload_and_activate(
    web_client: Any, world: Any, session: Session
) -> None:
    from cityops.catalog import service as catalog_service

    form_login(web_client, "admin")
    token = _csrf(web_client, "/admin?tab=catalog")
    before = catalog_service.active_version(session, district_code=DISTRICT)
    assert before is not None
    label = before.label
    session.rollback()  # end the read (SQLite: an open read blocks the page's write)
    csv_text = web_client.get("/admin/catalog/export?format=csv")
    assert csv_text.status_code == 200
    assert "attachment" in csv_text.headers["content-disposition"]
    assert "0102" in csv_text.text
    yaml_text = web_client.get("/admin/catalog/export?format=yaml")
    assert yaml_text.status_code == 200 and "0102" in yaml_text.text
    upload = web_client.post(
        "/admin/catalog",
        data={"csrf": token, "label": "web-v2"},  # not activated: the box is unticked
        files={"file": ("catalog.csv", csv_text.content, "text/csv")},
        follow_redirects=False,
    )
    assert upload.status_code == 303
    page = web_client.get("/admin?tab=catalog").text
    assert 'data-version="web-v2"' in page and "已导入" in page
    assert catalog_service.active_version(session, district_code=DISTRICT).label == label  # type: ignore[union-attr]
    session.rollback()
    done = web_client.post(
        "/admin/catalog/activate",
        data={"csrf": token, "label": "web-v2"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert catalog_service.active_version(session, district_code=DISTRICT).label == "web-v2"  # type: ignore[union-attr]
    session.rollback()
    back = web_client.get(f"/admin/catalog/export?format=csv&label={label}")
    assert back.status_code == 200
    assert web_client.get("/admin/catalog/export?label=nope").status_code == 404


def test_a_bad_catalogue_upload_stores_nothing(
    web_client: Any, world: Any, session: Session
) -> None:
    from cityops.catalog import service as catalog_service

    form_login(web_client, "admin")
    token = _csrf(web_client, "/admin?tab=catalog")
    count = len(catalog_service.list_versions(session, district_code=DISTRICT))
    session.rollback()
    bad = web_client.post(
        "/admin/catalog",
        data={"csrf": token, "activate": "1"},
        files={"file": ("catalog.csv", b"kind,major_code\nevent,99\n", "text/csv")},
    )
    assert bad.status_code == 200 and 'class="flash error"' in bad.text
    wrong = web_client.post(
        "/admin/catalog",
        data={"csrf": token},
        files={"file": ("catalog.xlsx", b"PK\x03\x04", "application/octet-stream")},
    )
    assert "CSV" in wrong.text
    assert len(catalog_service.list_versions(session, district_code=DISTRICT)) == count


# --- callbacks ------------------------------------------------------------------------------


def test_callback_list_masks_contacts_and_records_a_result(
    web_client: Any, world: Any, session: Session
) -> None:
    from cityops.hotline.models import HotlineRequest

    request_id = seed_replied_request(session, world)
    form_login(web_client, "operator")
    page = web_client.get("/callbacks")
    assert page.status_code == 200
    assert f'data-request="{request_id}"' in page.text
    assert "139****9000" in page.text and "13900139000" not in page.text
    done = web_client.post(
        f"/callbacks/{request_id}",
        data={
            "csrf": csrf_of(page.text),
            "reached": "1",
            "channel": "phone",
            "resolved": "1",
            "satisfaction": "basically_satisfied",
            "note": "市民认可",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = web_client.get("/callbacks")
    assert f'data-request="{request_id}"' not in after.text and "回访结果已记录" in after.text
    called = web_client.get("/callbacks?status=called_back").text
    assert f'data-request="{request_id}"' in called and "基本满意" in called
    row = session.scalar(select(HotlineRequest).where(HotlineRequest.id == request_id))
    assert row is not None and row.resolved is True and row.satisfaction == "basically_satisfied"


def test_shift_lead_sees_contacts_and_a_half_filled_form_is_refused(
    web_client: Any, world: Any, session: Session
) -> None:
    request_id = seed_replied_request(session, world, phone="13700137000")
    form_login(web_client, "shiftlead")
    page = web_client.get("/callbacks")
    assert "13700137000" in page.text
    refused = web_client.post(
        f"/callbacks/{request_id}",
        data={"csrf": csrf_of(page.text), "reached": "1", "resolved": "0"},
    )
    assert refused.status_code == 200 and "satisfaction" in refused.text
    not_reached = web_client.post(
        f"/callbacks/{request_id}",
        data={"csrf": csrf_of(page.text), "reached": "0", "channel": "phone"},
    )
    assert not_reached.status_code == 200
    # Not reached: still due for a callback.
    assert f'data-request="{request_id}"' in web_client.get("/callbacks").text


def test_callbacks_import_from_csv(web_client: Any, world: Any, session: Session) -> None:
    first = seed_replied_request(session, world, phone="13600136000")
    second = seed_replied_request(session, world, phone="13500135000")
    form_login(web_client, "operator")
    token = _csrf(web_client, "/callbacks")
    bad = web_client.post(
        "/callbacks/import",
        data={"csrf": token},
        files={"file": ("r.csv", f"request_id,resolved\n{first},maybe\n".encode(), "text/csv")},
    )
    assert bad.status_code == 200 and "row 2" in bad.text
    text = f"request_id,resolved,satisfaction,channel\n{first},是,满意,sms\n{second},1,2,ivr\n"
    good = web_client.post(
        "/callbacks/import",
        data={"csrf": token},
        files={"file": ("r.csv", text.encode("utf-8-sig"), "text/csv")},
        follow_redirects=False,
    )
    assert good.status_code == 303
    page = web_client.get("/callbacks?status=called_back").text
    assert f'data-request="{first}"' in page and f'data-request="{second}"' in page
    assert "已导入2条回访结果" in page


def test_callbacks_need_an_operator(web_client: Any, world: Any) -> None:
    form_login(web_client, "departmenthandler")
    assert web_client.get("/callbacks").status_code == 403
    assert web_client.get("/kb").status_code == 403


# --- knowledge base -------------------------------------------------------------------------


def test_kb_create_search_edit_and_retire(web_client: Any, world: Any) -> None:
    form_login(web_client, "shiftlead")
    token = _csrf(web_client, "/kb")
    made = web_client.post(
        "/kb",
        data={
            "csrf": token,
            "title": "居住证办理地点",
            "category": "户籍",
            "keywords": "居住证 办理",
            "body": "携带身份证到所在街道派出所办理。",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    url = made.headers["location"]
    assert url.startswith("/kb/")
    found = web_client.get("/kb?q=怎么办理居住证").text
    assert "居住证办理地点" in found
    edited = web_client.post(
        url,
        data={
            "csrf": token,
            "title": "居住证办理地点和材料",
            "category": "户籍",
            "keywords": "居住证",
            "body": "携带身份证和租房合同到派出所办理。",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    article = web_client.get(url).text
    assert "租房合同" in article and "居住证办理地点和材料" in article
    dup = web_client.post("/kb", data={"csrf": token, "title": "居住证办理地点和材料", "body": "x"})
    assert "exists already" in dup.text
    empty = web_client.post("/kb", data={"csrf": token, "title": "", "body": "x"})
    assert empty.status_code == 200 and "title" in empty.text
    retired = web_client.post(url, data={"csrf": token, "do": "retire"}, follow_redirects=False)
    assert retired.status_code == 303
    assert "已停用" in web_client.get(url).text
    assert "已停用" in web_client.get("/kb?q=居住证").text


def test_operators_read_the_kb_but_do_not_edit(web_client: Any, world: Any) -> None:
    form_login(web_client, "operator")
    page = web_client.get("/kb")
    assert page.status_code == 200 and 'id="new-article"' not in page.text
    refused = web_client.post(
        "/kb", data={"csrf": csrf_of(page.text), "title": "t", "body": "b"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert web_client.get("/kb/999999").status_code == 404


def test_admin_renames_and_disables_a_department(
    web_client: Any, world: Any, session: Session
) -> None:
    from cityops.auth.models import OrgUnit

    form_login(web_client, "admin")
    token = _csrf(web_client, "/admin?tab=departments")
    unit = session.scalars(select(OrgUnit).where(OrgUnit.kind == "company")).first()
    assert unit is not None
    session.commit()  # the test's session must not hold SQLite's write lock while the app writes
    saved = web_client.post(
        f"/admin/departments/{unit.id}",
        data={"csrf": token, "name": "改名后的单位", "dept_type": unit.dept_type or "power"},
    )
    assert saved.status_code == 200 and "已保存部门" in saved.text and "改名后的单位" in saved.text
    off = web_client.post(
        f"/admin/departments/{unit.id}/active", data={"csrf": token, "active": "no"}
    )
    assert "已保存部门" in off.text
    session.expire_all()
    assert session.get(OrgUnit, unit.id).active is False
