"""Many reports in one request: all or nothing, idempotent, counted like single reports."""

from __future__ import annotations

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
