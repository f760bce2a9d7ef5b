"""Many reports in one request: all or nothing, idempotent, counted like single reports."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.analytics.models import CaseStat
from cityops.auth import audit
from cityops.cases.models import Case, CaseEvent, CaseReporter

URL = "/api/v1/cases/batch"


def item(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "client_request_id": f"gw-7:{n}", "source": "sensor", "kind": "event",
        "minor_code": "0102", "description": f"传感器告警 {n}", "lon": 116.29 + n / 10_000,
        "lat": 39.84, "reporter_name": "井盖传感网关",
    } | kw  # fmt: skip


def _count(session: Session, model: Any) -> int:
    n = int(session.scalar(select(func.count()).select_from(model)) or 0)
    session.commit()  # end the read: SQLite test sessions would otherwise hold the write lock
    return n


def test_a_batch_is_taken_in_once_and_counted(
    client: Any, session: Session, make_user: Any, login: Any, settings: Any
) -> None:
    headers = login(make_user("operator"))
    sent = client.post(URL, json={"items": [item(n) for n in range(3)]}, headers=headers)
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["created"] == 3
    assert [i["index"] for i in body["items"]] == [0, 1, 2]
    assert all(i["created"] and i["status"] == "reported" for i in body["items"])
    assert len({i["number"] for i in body["items"]}) == 3
    assert (_count(session, Case), _count(session, CaseEvent), _count(session, CaseReporter)) == (
        3,
        3,
        3,
    )
    assert session.scalar(select(CaseStat.reported).where(CaseStat.grain == "day")) == 3
    session.commit()
    # Resending the same batch (a retry after a lost answer) makes nothing new.
    again = client.post(URL, json={"items": [item(n) for n in range(3)]}, headers=headers)
    assert again.status_code == 200 and again.json()["created"] == 0
    assert [i["id"] for i in again.json()["items"]] == [i["id"] for i in body["items"]]
    # A batch with old and new items makes only the new ones.
    mixed = client.post(URL, json={"items": [item(2), item(3)]}, headers=headers)
    assert mixed.status_code == 201
    assert [i["created"] for i in mixed.json()["items"]] == [False, True]
    assert _count(session, Case) == 4
    assert audit.verify_chain(session, key=settings.audit_key).ok
    session.commit()


def test_a_bad_item_refuses_the_whole_batch_and_names_it(
    client: Any, session: Session, make_user: Any, login: Any
) -> None:
    headers = login(make_user("operator"))
    unknown_class = client.post(
        URL, json={"items": [item(0), item(1, minor_code="9999")]}, headers=headers
    )
    assert unknown_class.status_code == 422, unknown_class.text
    assert unknown_class.json()["field"].startswith("items[1].")
    no_key = client.post(URL, json={"items": [item(0), item(1, client_request_id=None)]},
                         headers=headers)  # fmt: skip
    assert no_key.status_code == 422
    assert no_key.json()["field"] == "items[1].client_request_id"
    repeated = client.post(URL, json={"items": [item(0), item(0)]}, headers=headers)
    assert repeated.status_code == 422 and repeated.json()["field"] == "items[1].client_request_id"
    off_the_map = client.post(URL, json={"items": [item(0), item(1, lon=200)]}, headers=headers)
    assert off_the_map.status_code == 422 and "lon" in off_the_map.text
    too_many = client.post(URL, json={"items": [item(n) for n in range(501)]}, headers=headers)
    assert too_many.status_code == 422
    assert (_count(session, Case), _count(session, CaseEvent), _count(session, CaseStat)) == (
        0,
        0,
        0,
    )


def test_roles_that_may_not_report_are_refused(
    client: Any, make_user: Any, login: Any, department: Any
) -> None:
    handler = login(make_user("department_handler", scope_department_id=department.id))
    refused = client.post(URL, json={"items": [item(0)]}, headers=handler)
    assert refused.status_code == 403, refused.text


def test_items_are_geocoded_like_single_reports(
    client: Any, session: Session, make_user: Any, login: Any
) -> None:
    from shapely.geometry import box

    from cityops.auth.actor import SYSTEM
    from cityops.geo import loading, service
    from cityops.geo.sources import Boundary

    loading.load_boundary(
        session, actor=replace(SYSTEM, district_code="110106"),
        boundary=Boundary("110106", "丰台区", box(116.28, 39.83, 116.31, 39.85), "test"),
        streets=2, communities=4, seed=0,
    )  # fmt: skip
    session.commit()
    headers = login(make_user("operator"))
    items = [item(n, lon=116.281 + n * 0.0041, lat=39.831 + n * 0.0027) for n in range(7)]
    made = client.post(URL, json={"items": items}, headers=headers)
    assert made.status_code == 201, made.text
    grids = dict(session.execute(select(Case.client_request_id, Case.grid_code)).all())
    expected = {
        i["client_request_id"]: service.locate(
            session, district_code="110106", lon=i["lon"], lat=i["lat"]
        ).grid_code
        for i in items
    }
    session.commit()
    assert grids == expected and len(set(grids.values())) == 7
    # A valid point outside the district refuses the batch and names the item.
    outside = [item(10), item(11, lon=116.35, lat=39.84)]
    refused = client.post(URL, json={"items": outside}, headers=headers)
    assert refused.status_code == 422 and refused.json()["field"] == "items[1].lon"
    assert _count(session, Case) == 7
