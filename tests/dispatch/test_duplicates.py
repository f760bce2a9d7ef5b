"""Duplicate proposals (并案): within/outside the distance and time window, near-identical
text, per-class rules, the API, and a merge that keeps every caller's contact."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import shapely

from cityops.auth.actor import SYSTEM
from cityops.auth.service import actor_of
from cityops.cases import queries, service
from cityops.cases.lifecycle import Action
from cityops.cases.schemas import CaseReport, MergeBody, ReasonBody
from cityops.dispatch.duplicates import (
    DuplicateRule,
    DuplicateRules,
    haversine_m,
    parse_rules,
    propose_duplicates,
    text_similarity,
)
from cityops.errors import InvalidInput
from cityops.geo import service as geo_service
from cityops.geo.models import RegionLevel

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, tzinfo=SH)
LON, LAT = 116.29, 39.84
#: Metres per degree of latitude: moving north by d metres is d / M_LAT degrees.
M_LAT = math.pi * 6_371_008.8 / 180


def north(metres: float) -> float:
    return LAT + metres / M_LAT


@pytest.fixture(autouse=True)
def _fresh_geo_cache() -> None:
    geo_service.clear_cache()


@pytest.fixture
def operator(make_user: Any) -> Any:
    return actor_of(make_user("operator"))


def report(session, actor, *, lat=LAT, lon=LON, at=T0, minor="0102", text="暴露垃圾", **kw):
    data = CaseReport(kind="event", minor_code=minor, description=text, lon=lon, lat=lat, **kw)
    return service.report_case(session, actor=actor, data=data, now=at).case


def propose(session, actor, *, lat=LAT, lon=LON, at=T0, minor="0102", text="", **kw):
    return propose_duplicates(
        session, actor=actor, kind="event", minor_code=minor, lon=lon, lat=lat, text=text, at=at,
        **kw,
    )  # fmt: skip


def test_haversine_and_text_similarity() -> None:
    assert haversine_m(LON, LAT, LON, north(100)) == pytest.approx(100, abs=0.01)
    assert text_similarity("幸福小区门口垃圾桶满溢", "幸福小区门口，垃圾桶满溢！") == 1.0
    assert text_similarity("幸福小区门口垃圾桶满溢", "人民公园路灯不亮") < 0.2


def test_same_class_within_distance_and_window_is_proposed_with_its_reason(session, operator):
    case = report(session, operator)
    found = propose(session, operator, lat=north(23), at=T0 + timedelta(hours=2))
    assert [p.case_id for p in found] == [case.id]
    assert found[0].reason == "same class 0102, 23 m, 2 h earlier"
    assert found[0].distance_m == pytest.approx(23, abs=0.1)


@pytest.mark.parametrize(
    ("metres", "hours", "minor"),
    [(80, 2, "0102"), (23, 80, "0102"), (23, -80, "0102"), (23, 2, "0103")],
    ids=["too-far", "too-late", "too-early", "other-class"],
)
def test_outside_distance_window_or_class_is_not_proposed(session, operator, metres, hours, minor):
    report(session, operator)
    found = propose(
        session, operator, lat=north(metres), at=T0 + timedelta(hours=hours), minor=minor
    )
    assert found == []


def test_closed_voided_or_merged_cases_are_not_proposed(session, operator, make_user):
    lead = actor_of(make_user("shift_lead"))
    case = report(session, operator)
    service.act(
        session, actor=lead, case_id=case.id, action=Action.VOID,
        body=ReasonBody(expected_version=case.version, reason="重复录入"),
    )  # fmt: skip
    assert propose(session, operator, lat=north(10)) == []


def test_rules_per_class_override_the_defaults(session, operator):
    case = report(session, operator)
    rules = parse_rules({"classes": {"0102": {"distance_m": 100}}})
    assert rules.rule_for("event", "0102").distance_m == 100
    assert rules.rule_for("event", "0103") == DuplicateRule()
    found = propose(session, operator, lat=north(80), rules=rules)
    assert [p.case_id for p in found] == [case.id]
    with pytest.raises(InvalidInput):
        parse_rules({"classes": {"0102": {"distance": 100}}})


def test_rules_file_under_the_data_dir_applies(session, operator, settings):
    case = report(session, operator)
    path = settings.data_dir / "dispatch" / "duplicates.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("default:\n  distance_m: 120\n", encoding="utf-8")
    found = propose(session, operator, lat=north(100))
    assert [p.case_id for p in found] == [case.id]


def test_near_identical_text_is_proposed_across_classes_nearby(session, operator):
    text = "幸福小区3号楼门口垃圾桶满溢发臭，请尽快处理"
    case = report(session, operator, minor="0103", text=text, lat=north(300))
    found = propose(session, operator, text="幸福小区3号楼门口的垃圾桶满溢发臭,请尽快处理。")
    assert [p.case_id for p in found] == [case.id]
    assert found[0].similarity is not None and found[0].similarity >= 0.8
    assert "near-identical text" in found[0].reason and "within 1000 m" in found[0].reason
    assert propose(session, operator, text="人民公园东门路灯不亮") == []


def test_near_identical_text_needs_the_same_street_when_streets_are_loaded(session, operator):
    streets = [
        ("110106", RegionLevel.DISTRICT, None, shapely.box(116.28, 39.83, 116.32, 39.85)),
        ("110106001", RegionLevel.STREET, "110106", shapely.box(116.28, 39.83, 116.30, 39.85)),
        ("110106002", RegionLevel.STREET, "110106", shapely.box(116.30, 39.83, 116.32, 39.85)),
    ]
    geo_service.replace_regions(
        session,
        actor=SYSTEM,
        district_code="110106",
        levels=[RegionLevel.DISTRICT, RegionLevel.STREET],
        regions=[geo_service.RegionInput(c, lv, c, p, g) for c, lv, p, g in streets],
        source="test",
    )
    text = "幸福小区3号楼门口垃圾桶满溢发臭，请尽快处理"
    same = report(session, operator, minor="0103", text=text, lon=116.295)  # street 001
    report(session, operator, minor="0103", text=text, lon=116.305)  # street 002, 430 m east
    found = propose(session, operator, text=text, lon=116.29)
    assert [p.case_id for p in found] == [same.id]
    assert "in street 110106001" in found[0].reason


def test_both_signals_rank_first(session, operator):
    text = "幸福小区门口垃圾桶满溢发臭"
    place_only = report(session, operator, lat=north(5), text="另一处描述完全不同的问题")
    both = report(session, operator, lat=north(40), text=text)
    found = propose(session, operator, text=text, at=T0 + timedelta(hours=1))
    assert [p.case_id for p in found] == [both.id, place_only.id]
    assert len(found[0].reasons) == 2


def test_merge_keeps_every_caller_with_contact(session, make_user):
    from cityops.hotline import service as hotline
    from cityops.hotline.schemas import CallCreate

    operator = actor_of(make_user("operator"))
    lead = actor_of(make_user("shift_lead"))

    def take(name: str, phone: str, lat: float) -> Any:
        data = CallCreate(
            type="complaint", caller_name=name, caller_phone=phone, text="幸福小区门口垃圾满溢",
            kind="event", minor_code="0102", lon=LON, lat=lat,
        )  # fmt: skip
        return hotline.take_call(session, actor=operator, data=data, now=T0)

    first = take("张三", "13812341234", LAT)
    second = take("李四", "13900001111", north(20))
    assert [p.case_id for p in second.duplicates] == [first.case.id]
    merged = service.act(
        session,
        actor=operator,
        case_id=second.case.id,
        action=Action.MERGE,
        body=MergeBody(expected_version=second.case.version, target_case_id=first.case.id),
    )
    assert merged.status == "merged" and merged.merged_into_id == first.case.id
    detail = queries.case_detail(session, actor=lead, case_id=first.case.id)
    callers = {(r.name, r.phone, r.original_case_id) for r in detail.reporters}
    assert callers == {("张三", "13812341234", None), ("李四", "13900001111", second.case.id)}


def test_api_proposes_and_names_bad_fields(client, login, make_user):
    user = make_user("operator")
    headers = login(user)
    case = client.post(
        "/api/v1/cases",
        headers=headers,
        json={"kind": "event", "minor_code": "0102", "description": "暴露垃圾", "lon": LON,
              "lat": LAT},
    ).json()  # fmt: skip
    body = {"kind": "event", "minor_code": "0102", "lon": LON, "lat": north(30)}
    r = client.post("/api/v1/dispatch/duplicates", headers=headers, json=body)
    assert r.status_code == 200, r.text
    assert [p["case_id"] for p in r.json()] == [case["id"]]
    assert r.json()[0]["reason"].startswith("same class 0102, 30 m")
    bad = client.post(
        "/api/v1/dispatch/duplicates", headers=headers, json=body | {"minor_code": "12"}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "minor_code"
    r = client.get(f"/api/v1/dispatch/cases/{case['id']}/duplicates", headers=headers)
    assert r.status_code == 200 and r.json() == []


def test_only_cases_in_the_data_scope_are_proposed(session, operator, make_user):
    report(session, operator)
    outsider = actor_of(make_user("inspector", scope_areas=["110106999"]))
    assert propose(session, outsider, lat=north(10)) == []


def test_rules_validate():
    with pytest.raises(InvalidInput):
        DuplicateRule(distance_m=-1)
    assert DuplicateRules().rule_for("event", "0102") == DuplicateRule()
