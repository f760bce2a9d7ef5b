"""Routing: first match wins, area prefixes, time windows, fallbacks, and the reason given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from cityops.auth.models import AuditEntry, OrgUnit
from cityops.catalog import departments, routing, service
from cityops.errors import InvalidInput, NotFound

# 2025-03-05 was a Wednesday; 10:00 in Beijing is 02:00 UTC.
WED_10 = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
WED_23 = datetime(2025, 3, 5, 15, 0, tzinfo=UTC)
SAT_10 = datetime(2025, 3, 8, 2, 0, tzinfo=UTC)
STREET = "110106007"
COMMUNITY = "110106007003"
GRID = "110106007003012"


@pytest.fixture
def city(session, district, admin):
    """The default catalogue and the demo departments."""
    service.ensure_default_catalog(session, district_code=district)
    departments.load_demo_departments(session, actor=admin, district_code=district)
    session.commit()
    return {u.code: u for u in departments.list_departments(session, district_code=district)}


def _suggest(
    session,
    district,
    *,
    kind="component",
    minor="0102",
    street=STREET,
    community=COMMUNITY,
    grid=GRID,
    at=WED_10,
):
    return routing.suggest_department(
        session,
        district_code=district,
        kind=kind,
        minor_code=minor,
        street_code=street,
        community_code=community,
        grid_code=grid,
        at=at,
    )


def _rule(session, district, admin, **values):
    return routing.create_rule(session, actor=admin, district_code=district, values=values)


def test_demo_departments_cover_every_default_type(session, backend, city):
    types = {u.dept_type for u in city.values()}
    needed = {s.dept_type for s in service.default_specs()}
    assert needed <= types
    assert city["street-110106007"].kind == "street_office"
    assert len([u for u in city.values() if u.kind == "street_office"]) == 26


def test_load_demo_departments_is_idempotent(session, backend, city, district, admin):
    again = departments.load_demo_departments(session, actor=admin, district_code=district)
    assert again == []
    assert len(departments.list_departments(session, district_code=district)) == len(city)


def test_first_matching_rule_wins_and_explains(session, backend, district, admin, city):
    first = _rule(
        session,
        district,
        admin,
        priority=10,
        minor_code="0102",
        area_prefixes=[STREET],
        department_id=city["swj"].id,
    )
    _rule(session, district, admin, priority=20, minor_code="0102", department_id=city["cgw"].id)
    result = _suggest(session, district)
    assert result.department_id == city["swj"].id
    assert result.rule_id == first.id
    assert result.department_name == "区水务局"
    assert result.reason == f"rule {first.id}: minor class 0102 in street {STREET} → 区水务局"


def test_priority_not_insertion_order_decides(session, backend, district, admin, city):
    _rule(session, district, admin, priority=50, minor_code="0102", department_id=city["cgw"].id)
    early = _rule(
        session, district, admin, priority=5, kind="component", department_id=city["zjw"].id
    )
    result = _suggest(session, district)
    assert (result.rule_id, result.department_name) == (early.id, "区住建委")
    assert result.reason.startswith(f"rule {early.id}: component any class")


def test_area_prefix_must_match(session, backend, district, admin, city):
    rule = _rule(
        session,
        district,
        admin,
        minor_code="0102",
        area_prefixes=["110106008"],
        department_id=city["cgw"].id,
    )
    assert _suggest(session, district).rule_id is None
    # A responsibility area given as its grids: the grid code decides.
    routing.update_rule(
        session,
        actor=admin,
        district_code=district,
        rule_id=rule.id,
        changes={"area_prefixes": ["110106008001001", GRID]},
    )
    result = _suggest(session, district)
    assert result.rule_id == rule.id
    assert f"in grid {GRID}" in result.reason
    # Only a street known: a community-level prefix cannot be confirmed.
    routing.update_rule(
        session,
        actor=admin,
        district_code=district,
        rule_id=rule.id,
        changes={"area_prefixes": [COMMUNITY]},
    )
    assert _suggest(session, district, community=None, grid=None).rule_id is None
    assert _suggest(session, district, street=None, community=None).rule_id == rule.id


def test_time_window_and_weekdays(session, backend, district, admin, city):
    night = _rule(
        session,
        district,
        admin,
        priority=1,
        kind="event",
        major_code="04",
        time_start="22:00",
        time_end="06:00",
        department_id=None,
    )
    weekend = _rule(
        session,
        district,
        admin,
        priority=2,
        minor_code="0402",
        weekdays=[6, 7],
        department_id=city["cgw"].id,
    )
    at_night = _suggest(session, district, kind="event", minor="0402", at=WED_23)
    assert (at_night.rule_id, at_night.department_id) == (night.id, None)
    assert at_night.reason == (
        f"rule {night.id}: event major class 04 between 22:00 and 06:00 → "
        "command centre's manual queue"
    )
    on_saturday = _suggest(session, district, kind="event", minor="0402", at=SAT_10)
    assert (on_saturday.rule_id, on_saturday.department_name) == (weekend.id, "区城管委")
    assert "on Sat, Sun" in on_saturday.reason
    weekday = _suggest(session, district, kind="event", minor="0402", at=WED_10)
    assert weekday.rule_id is None
    assert weekday.department_name == "北京自来水集团丰台分公司"


def test_fallback_to_default_department_type(session, backend, district, city):
    result = _suggest(session, district)
    assert (result.rule_id, result.department_id) == (None, city["swj"].id)
    assert result.reason == (
        "no rule matched; default department type 'water' of component minor class 0102 "
        "(污水井盖) → 区水务局"
    )


def test_street_level_type_goes_to_the_street_office(session, backend, district, city):
    result = _suggest(
        session, district, kind="event", minor="0102", street=None, community=None, grid=GRID
    )
    assert result.department_id == city["street-110106007"].id
    assert f"in street {STREET}" in result.reason
    unknown_place = _suggest(
        session, district, kind="event", minor="0102", street=None, community=None, grid=None
    )
    assert unknown_place.department_id is None
    assert "for street (unknown)" in unknown_place.reason


def test_fallback_to_manual_queue(session, backend, district):
    service.ensure_default_catalog(session, district_code=district)
    # No departments registered at all.
    result = _suggest(session, district)
    assert result == routing.RoutingSuggestion(
        None,
        None,
        None,
        "no rule matched; default department type 'water' of component minor class 0102 "
        "(污水井盖), but no active department of that type → command centre's manual queue",
    )
    unknown = _suggest(session, district, kind="event", minor="0999")
    assert unknown.department_id is None
    assert "not in the active catalogue" in unknown.reason


def test_rule_to_an_inactive_department_is_skipped(session, backend, district, admin, city):
    rule = _rule(session, district, admin, minor_code="0102", department_id=city["cgw"].id)
    city["cgw"].active = False
    session.flush()
    assert _suggest(session, district).department_id == city["swj"].id
    checks = routing.explain(
        session,
        district_code=district,
        kind="component",
        minor_code="0102",
        grid_code=GRID,
        at=WED_10,
    ).checks
    assert checks == (routing.RuleCheck(rule.id, 100, False, "its department is inactive"),)


def test_explain_lists_rules_up_to_the_winner(session, backend, district, admin, city):
    miss = _rule(session, district, admin, priority=1, kind="event", department_id=None)
    hit = _rule(session, district, admin, priority=2, major_code="01", department_id=city["gd"].id)
    later = _rule(session, district, admin, priority=3, department_id=city["cgw"].id)
    result = routing.explain(
        session,
        district_code=district,
        kind="component",
        minor_code="0105",
        grid_code=GRID,
        at=WED_10,
    )
    assert [c.rule_id for c in result.checks] == [miss.id, hit.id]
    assert result.checks[0].detail == "kind is component, rule wants event"
    assert result.checks[1].matched
    assert result.suggestion.rule_id == hit.id
    assert later.id not in [c.rule_id for c in result.checks]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "thing"}, "kind"),
        ({"minor_code": "12"}, "minor_code"),
        ({"major_code": "02", "minor_code": "0102"}, "minor_code"),
        ({"area_prefixes": ["11a"]}, "area_prefixes"),
        ({"time_start": "25:00", "time_end": "06:00"}, "time_start"),
        ({"time_start": "22:00"}, "time_end"),
        ({"weekdays": [0]}, "weekdays"),
        ({"department_id": 99999}, "department_id"),
        ({"priority": -1}, "priority"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_rule_names_the_field(session, backend, district, admin, city, values, field):
    with pytest.raises((InvalidInput, NotFound)) as err:
        _rule(session, district, admin, **values)
    assert err.value.field == field


def test_rule_writes_are_audited_and_delete_works(session, backend, district, admin, city):
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    rule = _rule(session, district, admin, minor_code="0102", department_id=city["cgw"].id)
    routing.update_rule(
        session, actor=admin, district_code=district, rule_id=rule.id, changes={"priority": 7}
    )
    routing.delete_rule(session, actor=admin, district_code=district, rule_id=rule.id)
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.id > before).order_by(AuditEntry.id)
    ).all()
    assert actions[-3:] == ["routing_rule.create", "routing_rule.update", "routing_rule.delete"]
    with pytest.raises(NotFound):
        routing.get_rule(session, district_code=district, rule_id=rule.id)


def test_demo_rules_load_from_file(session, backend, district, admin, city):
    rules = routing.load_rules_file(session, actor=admin, district_code=district)
    session.commit()
    assert len(rules) == 4
    result = _suggest(
        session, district, kind="event", minor="0102", street="110106012", community=None, grid=None
    )
    assert result.department_name == "区市政市容委"
    again = routing.load_rules_file(session, actor=admin, district_code=district, replace=True)
    assert len(routing.list_rules(session, district_code=district)) == len(again) == 4


def test_rules_file_error_names_the_rule(session, backend, district, admin, city, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - {minor_code: '0102', department_code: swj}\n"
        "  - {minor_code: '0102', department_code: nosuch}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as err:
        routing.load_rules_file(session, actor=admin, district_code=district, path=path)
    assert err.value.field == "department_code"
    assert err.value.extra["row"] == 2
    assert session.scalar(select(func.count()).select_from(OrgUnit)) == len(city)
    assert routing.list_rules(session, district_code=district) == []


def test_naive_time_refused(session, backend, district, city):
    with pytest.raises(InvalidInput) as err:
        _suggest(session, district, at=datetime(2025, 3, 5, 10, 0))
    assert err.value.field == "at"


def test_responsibility_area_answers_before_the_default_type(
    session, backend, district, admin, city
):
    """A park office's area takes manhole covers inside the park; outside, the default applies."""
    from shapely.geometry import box

    from cityops.geo.areas import AreaInput, replace_areas

    park = box(116.28, 39.83, 116.30, 39.85)
    replace_areas(
        session,
        actor=admin,
        district_code=district,
        items=[AreaInput("世界花卉大观园", "ylj", None, ("0102",), (), park)],
        source="test",
    )
    session.commit()

    def where(lon, lat):
        return routing.suggest_department(
            session,
            district_code=district,
            kind="component",
            minor_code="0102",
            street_code=STREET,
            community_code=COMMUNITY,
            grid_code=GRID,
            at=WED_10,
            lon=lon,
            lat=lat,
        )

    inside = where(116.29, 39.84)
    assert (inside.rule_id, inside.department_id) == (None, city["ylj"].id)
    assert "responsibility area '世界花卉大观园'" in inside.reason
    assert where(116.35, 39.84).department_id == city["swj"].id  # outside: default type
    # Another class is not the area's business.
    other = routing.suggest_department(
        session,
        district_code=district,
        kind="component",
        minor_code="0301",
        street_code=STREET,
        community_code=COMMUNITY,
        grid_code=GRID,
        at=WED_10,
        lon=116.29,
        lat=39.84,
    )
    assert other.department_id != city["ylj"].id
    # A matching rule still comes first.
    rule = _rule(session, district, admin, minor_code="0102", department_id=city["szsrw"].id)
    session.commit()
    assert where(116.29, 39.84).rule_id == rule.id


def test_memoised_reads_give_the_same_suggestions(session, backend, district, admin, city):
    _rule(session, district, admin, priority=1, kind="event", major_code="04",
          time_start="22:00", time_end="06:00", department_id=None)  # fmt: skip
    _rule(session, district, admin, priority=2, minor_code="0402", weekdays=[6, 7],
          department_id=city["cgw"].id)  # fmt: skip
    _rule(session, district, admin, priority=3, minor_code="0102", area_prefixes=[STREET],
          department_id=city["cgw"].id)  # fmt: skip
    session.commit()
    asks = [
        {"kind": kind, "minor_code": minor, "street_code": street, "at": at}
        for kind, minor in (("event", "0402"), ("component", "0102"), ("event", "0102"),
                            ("event", "0999"))
        for street in (STREET, "110106001", None)
        for at in (WED_10, WED_23, SAT_10)
    ]  # fmt: skip
    common = {"district_code": district, "community_code": None, "grid_code": None}
    plain = [routing.suggest_department(session, **common, **ask) for ask in asks]
    memo: routing.Memo = {}
    remembered = [routing.suggest_department(session, **common, **ask, memo=memo) for ask in asks]
    assert remembered == plain
    assert len({s.department_id for s in plain}) >= 3  # the asks reach different answers
    statements = []
    bind = session.get_bind()

    def count(*_args):
        statements.append(1)

    event.listen(bind, "before_cursor_execute", count)
    try:
        again = [routing.suggest_department(session, **common, **ask, memo=memo) for ask in asks]
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert again == plain
    assert statements == []
