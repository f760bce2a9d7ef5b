"""Open311 GeoReport v2 over the app: formats, errors, submissions, filters, PII, limits."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from sqlalchemy import select

from cityops.auth.actor import Actor
from cityops.auth.models import User
from cityops.auth.service import actor_of
from cityops.cases import service as case_service
from cityops.cases.lifecycle import Action
from cityops.cases.models import Attachment, Case, CaseReporter
from cityops.cases.schemas import ACTION_BODIES
from cityops.open311.ratelimit import Limits
from cityops.timeutil import utcnow

from .conftest import open311_app

SCHEMA_DIR = Path(os.environ.get("CITYOPS_SHARED_DIR", "/work/shared")) / "data/open311-schema"
BASE = "/open311/v2"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
POINT = {"lat": "39.8400", "long": "116.2870"}


def _validator(name: str) -> Draft7Validator:
    """A validator for one of the published GeoReport v2 schemas (their refs resolved)."""
    registry = Registry().with_resources(
        (p.name, Resource(contents=json.loads(p.read_text()), specification=DRAFT7))
        for p in SCHEMA_DIR.glob("*.json")
    )
    schema = json.loads((SCHEMA_DIR / name).read_text())
    return Draft7Validator(schema, registry=registry)


needs_schemas = pytest.mark.skipif(
    not SCHEMA_DIR.is_dir(), reason="Open311 schemas not found (set CITYOPS_SHARED_DIR)"
)


def _post(client, key: str | None, fmt: str = "json", **fields):
    data = {"service_code": "E0102", "description": "路口有暴露垃圾", **POINT, **fields}
    if key is not None:
        data["api_key"] = key
    return client.post(f"{BASE}/requests.{fmt}", data=data)


@needs_schemas
def test_services_and_definitions_match_the_published_schemas(client, district):
    r = client.get(f"{BASE}/services.json")
    assert r.status_code == 200, r.text
    services = r.json()
    assert len(services) > 100
    _validator("services.json").validate(services)
    codes = {s["service_code"] for s in services}
    assert {"E0102", "C0101"} <= codes
    definition = client.get(f"{BASE}/services/C0101.json").json()
    _validator("service-definition.json").validate(definition)
    assert [a["code"] for a in definition["attributes"]] == ["hazard", "asset_number"]

    xml = ET.fromstring(client.get(f"{BASE}/services.xml").content)
    assert xml.tag == "services" and len(xml.findall("service")) == len(services)
    assert xml.find("service/metadata").text == "true"
    xdef = ET.fromstring(client.get(f"{BASE}/services/E0102.xml").content)
    assert xdef.tag == "service_definition"
    assert [v.findtext("key") for v in xdef.findall("attributes/attribute/values/value")] == [
        "yes",
        "no",
    ]


def test_errors_are_in_the_spec_format(client, api_key):
    r = client.get(f"{BASE}/services/E9999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = client.get(f"{BASE}/services/E9999.xml")
    error = ET.fromstring(r.content)
    assert r.status_code == 404 and error.tag == "errors"
    assert error.findtext("error/code") == "404" and "E9999" in error.findtext("error/description")
    r = _post(client, None)
    assert r.status_code == 403 and "api_key" in r.json()[0]["description"]
    assert _post(client, "o311_wrong").status_code == 403
    r = client.post(f"{BASE}/requests.json", data={"api_key": api_key})  # no service_code
    assert r.status_code == 400 and r.json()[0]["description"].startswith("service_code")
    r = _post(client, api_key, service_code="E9999")
    assert r.status_code == 400 and "E9999" in r.json()[0]["description"]
    r = _post(client, api_key, lat="", long="")
    assert r.status_code == 400 and "location" in r.json()[0]["description"]
    r = _post(client, api_key, **{"attribute[hazard]": "maybe"})
    assert r.status_code == 400 and "hazard" in r.json()[0]["description"]
    r = _post(client, api_key, **{"attribute[colour]": "red"})
    assert r.status_code == 400
    r = _post(client, api_key, jurisdiction_id="110105")
    assert r.status_code == 400 and "jurisdiction" in r.json()[0]["description"]
    r = client.get(f"{BASE}/requests.json", params={"jurisdiction_id": "999999"})
    assert r.status_code == 400
    r = client.get(f"{BASE}/services.csv")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    # Security headers reach the Open311 answers too.
    assert r.headers["x-content-type-options"] == "nosniff"


@needs_schemas
def test_a_submission_becomes_a_public_case_and_reads_back_without_pii(
    client, api_key, session, district
):
    r = _post(
        client,
        api_key,
        description="垃圾堆在路口，联系我 13812345678 或 wang@example.com",
        address_string="看丹路与育仁南路交口",
        first_name="小明",
        last_name="王",
        phone="13812345678",
        email="wang@example.com",
        device_id="device-1",
        account_id="acct-9",
        media_url="https://img.example.org/p/1.jpg",
        **{"attribute[hazard]": "yes"},
    )
    assert r.status_code == 200, r.text
    [ack] = r.json()
    assert ack["service_request_id"].startswith(district) and ack["token"]
    assert ack["account_id"] == "acct-9"

    case = session.scalar(select(Case).where(Case.number == ack["service_request_id"]))
    assert case.source == "public" and case.status == "reported"  # verified like any report
    assert "hazard: yes" in case.description
    reporter = session.scalar(select(CaseReporter).where(CaseReporter.case_id == case.id))
    assert reporter.phone == "13812345678" and reporter.name == "王 小明"
    session.rollback()

    one = client.get(f"{BASE}/requests/{ack['service_request_id']}.json")
    assert one.status_code == 200
    _validator("requests.json").validate(one.json())
    [item] = one.json()
    assert item["status"] == "open" and item["service_code"] == "E0102"
    assert item["media_url"] == "https://img.example.org/p/1.jpg"
    assert item["requested_datetime"].endswith("+08:00")
    text = json.dumps(one.json(), ensure_ascii=False)
    for secret in ("13812345678", "wang@example.com", "小明", "device-1", "acct-9"):
        assert secret not in text, secret
    assert "138****5678" in item["description"]

    listed = client.get(f"{BASE}/requests.json").json()
    assert [i["service_request_id"] for i in listed] == [ack["service_request_id"]]
    token = client.get(f"{BASE}/tokens/{ack['token']}.json").json()
    assert token == [{"service_request_id": ack["service_request_id"], "token": ack["token"]}]
    xml = ET.fromstring(client.get(f"{BASE}/tokens/{ack['token']}.xml").content)
    assert xml.findtext("request/service_request_id") == ack["service_request_id"]
    assert client.get(f"{BASE}/tokens/nope.json").status_code == 404


def test_media_upload_is_attached_to_the_case(client, api_key, session):
    r = client.post(
        f"{BASE}/requests.xml",
        data={"api_key": api_key, "service_code": "C0101", **POINT},
        files={"media": ("photo.png", PNG, "image/png")},
    )
    assert r.status_code == 200, r.text
    number = ET.fromstring(r.content).findtext("request/service_request_id")
    case = session.scalar(select(Case).where(Case.number == number))
    attachment = session.scalar(select(Attachment).where(Attachment.case_id == case.id))
    assert attachment is not None and attachment.content_type == "image/png"
    session.rollback()  # the test's session writes (BEGIN IMMEDIATE on SQLite): let go
    r = client.post(
        f"{BASE}/requests.json",
        data={"api_key": api_key, "service_code": "C0101", **POINT},
        files={"media": ("fake.png", b"not an image", "image/png")},
    )
    assert r.status_code == 415 and r.json()[0]["code"] == 415


def _act(session, actor: Actor, case: Case, action: Action, **body):
    model = ACTION_BODIES[action]
    case_service.act(
        session,
        actor=actor,
        case_id=case.id,
        action=action,
        body=model(expected_version=case.version, **body),
    )
    session.commit()
    session.refresh(case)
    session.rollback()  # end the refresh's transaction, which holds SQLite's write lock


def test_status_agency_and_expected_time_follow_the_case(
    client, api_key, session, make_user, department
):
    ack = _post(client, api_key).json()[0]
    number = ack["service_request_id"]
    case = session.scalar(select(Case).where(Case.number == number))
    lead = actor_of(make_user("shift_lead"))
    _act(session, lead, case, Action.REGISTER)
    _act(session, lead, case, Action.DISPATCH, department_id=department.id)
    [item] = client.get(f"{BASE}/requests/{number}.json").json()
    assert item["status"] == "open" and item["agency_responsible"] == "区水务局"
    assert item["expected_datetime"] and "处置中" in item["status_notes"]
    _act(session, lead, case, Action.VOID, reason="重复上报")
    [item] = client.get(f"{BASE}/requests/{number}.json").json()
    assert item["status"] == "closed" and item["expected_datetime"] is None

    closed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert [i["service_request_id"] for i in closed] == [number]
    assert client.get(f"{BASE}/requests.json", params={"status": "open"}).json() == []


def test_request_filters_of_the_spec(client, api_key):
    first = _post(client, api_key).json()[0]["service_request_id"]
    second = _post(client, api_key, service_code="C0101").json()[0]["service_request_id"]
    get = lambda **params: client.get(f"{BASE}/requests.json", params=params)  # noqa: E731
    assert [i["service_request_id"] for i in get(service_code="C0101").json()] == [second]
    ids = get(service_request_id=f"{first},{second}", service_code="E9999").json()
    assert {i["service_request_id"] for i in ids} == {first, second}  # ids override filters
    now = utcnow()
    window = {"start_date": (now - timedelta(hours=1)).isoformat(), "end_date": now.isoformat()}
    assert len(get(**window).json()) == 2
    old = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-02-01T00:00:00+08:00"}
    assert get(**old).json() == []
    r = get(start_date="2020-01-01T00:00:00Z", end_date="2020-06-01T00:00:00Z")
    assert r.status_code == 400 and "90 days" in r.json()[0]["description"]
    assert get(start_date="yesterday").status_code == 400
    assert get(status="pending").status_code == 400
    xml = ET.fromstring(client.get(f"{BASE}/requests.xml").content)
    assert xml.tag == "service_requests" and len(xml.findall("request")) == 2


def test_rate_limits_per_address_and_per_key(settings, engine, api_key):
    from fastapi.testclient import TestClient

    app = open311_app(settings, Limits(ip_per_minute=1, ip_burst=3, key_per_minute=1, key_burst=1))
    with TestClient(app) as client:
        assert _post(client, api_key).status_code == 200
        r = _post(client, api_key)  # the key's bucket (burst 1) is empty
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "api_key" in r.json()[0]["description"]
        assert client.get(f"{BASE}/services.json").status_code == 200
        r = client.get(f"{BASE}/services.xml")  # the fourth request from this address
        assert r.status_code == 429 and ET.fromstring(r.content).findtext("error/code") == "429"


def test_admin_issues_and_revokes_keys(client, make_user, login, session):
    admin = login(make_user("admin"))
    operator = login(make_user("operator"))
    assert client.post("/api/v1/open311/keys", json={"name": "app"}).status_code == 401
    r = client.post("/api/v1/open311/keys", json={"name": "app"}, headers=operator)
    assert r.status_code == 403
    r = client.post("/api/v1/open311/keys", json={"name": "随手拍"}, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["key"].startswith(created["key_prefix"])
    listed = client.get("/api/v1/open311/keys", headers=admin).json()
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    assert _post(client, created["key"]).status_code == 200
    r = client.post(f"/api/v1/open311/keys/{created['id']}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert _post(client, created["key"]).status_code == 403
    # The key's system user is the reporter; it is disabled, so no one can log in as it.
    reporter = session.get(User, created["user_id"])
    assert reporter.active is False and reporter.roles == ["operator"]
