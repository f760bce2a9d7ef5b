"""Routing: which department a case of a class, at a place and time, goes to — and why.

Rules are tried by priority (then id); the first whose class, area and time window all match
wins. Without a match the catalogue's default department type decides (street-level types go
to the street office of the case's street); failing that, the command centre's manual queue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.auth.models import OrgUnit
from cityops.catalog import departments
from cityops.catalog.files import KINDS
from cityops.catalog.models import RoutingRule
from cityops.catalog.service import find_class
from cityops.errors import InvalidInput, NotFound
from cityops.timeutil import ensure_aware, to_local, utcnow

DEMO_RULES_FILE = Path(__file__).parent / "data" / "demo_routing_rules.yaml"
MANUAL_QUEUE = "command centre's manual queue"
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DAY_NAMES = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}
_LEVELS = {6: "district", 9: "street", 12: "community", 15: "grid"}
RULE_FIELDS = (
    "priority",
    "kind",
    "major_code",
    "minor_code",
    "area_prefixes",
    "time_start",
    "time_end",
    "weekdays",
    "department_id",
    "note",
    "active",
)


@dataclass(frozen=True)
class RoutingSuggestion:
    """Where a case should go; ``department_id`` None means the manual queue."""

    department_id: int | None
    department_name: str | None
    rule_id: int | None
    reason: str  # e.g. "rule 12: minor class 0102 in street 110106007 → 区水务局"


@dataclass(frozen=True)
class RuleCheck:
    """One rule as ``explain`` saw it: matched, or the first condition that did not."""

    rule_id: int
    priority: int
    matched: bool
    detail: str


@dataclass(frozen=True)
class Explanation:
    suggestion: RoutingSuggestion
    checks: tuple[RuleCheck, ...]


@dataclass(frozen=True)
class _Place:
    kind: str
    minor_code: str
    codes: tuple[str, ...]  # the case's region codes, most specific first
    street_code: str | None
    local: datetime


#: Reads remembered across suggestions (see ``suggest_department``'s ``memo``).
Memo = dict[tuple[Any, ...], Any]
_T = TypeVar("_T")


def _memoised(memo: Memo | None, key: tuple[Any, ...], read: Callable[[], _T]) -> _T:
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return cast(_T, memo[key])


# --- rules: validation and CRUD --------------------------------------------------------------


def _clean(session: Session, district_code: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate rule fields (any subset); errors name the field."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in RULE_FIELDS:
            raise InvalidInput(f"unknown rule field {name!r}", field=name)
        if isinstance(value, str):
            value = value.strip() or None
        out[name] = value
    if "priority" in out and (not isinstance(out["priority"], int) or out["priority"] < 0):
        raise InvalidInput("priority must be a whole number ≥ 0", field="priority")
    if out.get("kind") is not None and out["kind"] not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)} or empty", field="kind")
    for name, digits in (("major_code", 2), ("minor_code", 4)):
        code = out.get(name)
        if code is not None and not re.fullmatch(rf"\d{{{digits}}}", str(code)):
            raise InvalidInput(f"{name} must be {digits} digits, got {code!r}", field=name)
    if "area_prefixes" in out:
        prefixes = list(out["area_prefixes"] or [])
        for prefix in prefixes:
            if not isinstance(prefix, str) or not re.fullmatch(r"\d{1,15}", prefix):
                raise InvalidInput(
                    f"area prefixes are region codes of 1 to 15 digits, got {prefix!r}",
                    field="area_prefixes",
                )
        out["area_prefixes"] = sorted(set(prefixes), key=prefixes.index)
    for name in ("time_start", "time_end"):
        if out.get(name) is not None and not _TIME.match(str(out[name])):
            raise InvalidInput(f"{name} must be HH:MM (00:00–23:59)", field=name)
    if "weekdays" in out:
        days = list(out["weekdays"] or [])
        if any(not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 7 for d in days):
            raise InvalidInput("weekdays are ISO numbers 1 (Mon) to 7 (Sun)", field="weekdays")
        out["weekdays"] = sorted(set(days))
    if out.get("department_id") is not None:
        unit = departments.get_department(
            session, district_code=district_code, department_id=out["department_id"]
        )
        if not unit.active:
            raise InvalidInput(f"department {unit.name} is inactive", field="department_id")
    if "active" in out and not isinstance(out["active"], bool):
        raise InvalidInput("active must be true or false", field="active")
    return out


def _check_whole(rule: RoutingRule) -> None:
    if (rule.time_start is None) != (rule.time_end is None):
        field = "time_end" if rule.time_end is None else "time_start"
        raise InvalidInput("a time window needs both time_start and time_end", field=field)
    if rule.time_start is not None and rule.time_start == rule.time_end:
        raise InvalidInput("time_start and time_end must differ", field="time_end")
    if rule.major_code and rule.minor_code and not rule.minor_code.startswith(rule.major_code):
        raise InvalidInput(
            f"minor code {rule.minor_code} is not in major class {rule.major_code}",
            field="minor_code",
        )


def _snapshot(rule: RoutingRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


def create_rule(
    session: Session, *, actor: Actor, district_code: str, values: Mapping[str, Any]
) -> RoutingRule:
    """Add a rule; ``values`` holds any of ``RULE_FIELDS`` (absent ones mean "any")."""
    clean = _clean(session, district_code, values)
    rule = RoutingRule(district_code=district_code, **clean)
    rule.priority = clean.get("priority", 100)
    rule.area_prefixes = clean.get("area_prefixes") or []
    rule.weekdays = clean.get("weekdays") or []
    rule.active = clean.get("active", True)
    _check_whole(rule)
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="routing_rule.create",
        object_type="routing_rule",
        object_id=rule.id,
        detail=_snapshot(rule),
    )
    return rule


def get_rule(session: Session, *, district_code: str, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None or rule.district_code != district_code:
        raise NotFound(f"no routing rule {rule_id}", field="rule_id")
    return rule


def update_rule(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    rule_id: int,
    changes: Mapping[str, Any],
) -> RoutingRule:
    """Change the given fields of a rule (None clears a condition to "any")."""
    rule = get_rule(session, district_code=district_code, rule_id=rule_id)
    clean = _clean(session, district_code, changes)
    before = _snapshot(rule)
    for name, value in clean.items():
        if name in ("area_prefixes", "weekdays"):
            value = value or []
        elif name in ("priority", "active") and value is None:
            raise InvalidInput(f"{name} cannot be empty", field=name)
        setattr(rule, name, value)
    _check_whole(rule)
    rule.updated_at = utcnow()
    session.flush()
    after = _snapshot(rule)
    audit.record(
        session,
        actor=actor,
        action="routing_rule.update",
        object_type="routing_rule",
        object_id=rule.id,
        detail={k: [before[k], after[k]] for k in RULE_FIELDS if before[k] != after[k]},
    )
    return rule


def delete_rule(session: Session, *, actor: Actor, district_code: str, rule_id: int) -> None:
    rule = get_rule(session, district_code=district_code, rule_id=rule_id)
    detail = _snapshot(rule)
    session.delete(rule)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="routing_rule.delete",
        object_type="routing_rule",
        object_id=rule_id,
        detail=detail,
    )


def list_rules(
    session: Session, *, district_code: str, include_inactive: bool = True
) -> Sequence[RoutingRule]:
    """Rules in the order they are tried."""
    query = select(RoutingRule).where(RoutingRule.district_code == district_code)
    if not include_inactive:
        query = query.where(RoutingRule.active.is_(True))
    return session.scalars(query.order_by(RoutingRule.priority, RoutingRule.id)).all()


def load_rules_file(
    session: Session,
    *,
    actor: Actor,
    district_code: str,
    path: Path | None = None,
    replace: bool = False,
) -> list[RoutingRule]:
    """Add the rules of a YAML file (default: the demo rules); one audit entry for the load.

    Rules name their department by ``department_code`` (null: the manual queue). With
    ``replace`` the district's existing rules are deleted first.
    """
    source = path or DEMO_RULES_FILE
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"not valid YAML: {exc}", field="file") from None
    items = doc.get("rules") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise InvalidInput("YAML must hold a list under 'rules'", field="rules")
    rules = []
    for row, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"rule {row}: must be a mapping", field="rules", row=row)
        values = {k: v for k, v in item.items() if k != "department_code"}
        try:
            code = item.get("department_code")
            if code is not None:
                values["department_id"] = departments.department_by_code(
                    session, district_code=district_code, code=str(code)
                ).id
            clean = _clean(session, district_code, values)
            rule = RoutingRule(district_code=district_code, **clean)
            rule.priority = clean.get("priority", 100)
            rule.area_prefixes = clean.get("area_prefixes") or []
            rule.weekdays = clean.get("weekdays") or []
            rule.active = clean.get("active", True)
            _check_whole(rule)
        except (InvalidInput, NotFound) as exc:
            raise InvalidInput(f"rule {row}: {exc.message}", field=exc.field, row=row) from None
        rules.append(rule)
    if replace:
        for old in list_rules(session, district_code=district_code):
            session.delete(old)
        session.flush()
    session.add_all(rules)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="routing_rule.load",
        object_type="routing_rule",
        detail={"source": str(source), "rules": [r.id for r in rules], "replace": replace},
    )
    return rules


# --- matching --------------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _area_label(prefix: str) -> str:
    return f"{_LEVELS.get(len(prefix), 'area')} {prefix}"


def _mismatch(rule: RoutingRule, place: _Place) -> str | None:
    """Why ``rule`` does not match, or None when it does."""
    major = place.minor_code[:2]
    if rule.kind is not None and rule.kind != place.kind:
        return f"kind is {place.kind}, rule wants {rule.kind}"
    if rule.major_code is not None and rule.major_code != major:
        return f"major class is {major}, rule wants {rule.major_code}"
    if rule.minor_code is not None and rule.minor_code != place.minor_code:
        return f"minor class is {place.minor_code}, rule wants {rule.minor_code}"
    if rule.area_prefixes and _matched_prefix(rule, place) is None:
        where = place.codes[0] if place.codes else "no known area"
        return f"place ({where}) is outside {', '.join(rule.area_prefixes)}"
    if rule.weekdays and place.local.isoweekday() not in rule.weekdays:
        return f"{_DAY_NAMES[place.local.isoweekday()]} is not among the rule's days"
    if rule.time_start is not None and rule.time_end is not None:
        now = place.local.hour * 60 + place.local.minute
        start, end = _minutes(rule.time_start), _minutes(rule.time_end)
        inside = start <= now < end if start < end else (now >= start or now < end)
        if not inside:
            return f"{place.local:%H:%M} is outside {rule.time_start}–{rule.time_end}"
    return None


def _matched_prefix(rule: RoutingRule, place: _Place) -> str | None:
    # The longest prefix that matches names the place best in the explanation.
    hits = [p for p in rule.area_prefixes if any(c.startswith(p) for c in place.codes)]
    return max(hits, key=len) if hits else None


def _conditions(rule: RoutingRule, place: _Place) -> str:
    """The rule's conditions in words, for the reason text."""
    parts = []
    if rule.minor_code is not None:
        parts.append(f"minor class {rule.minor_code}")
    elif rule.major_code is not None:
        parts.append(f"major class {rule.major_code}")
    else:
        parts.append("any class")
    if rule.kind is not None:
        parts[0] = f"{rule.kind} {parts[0]}"
    prefix = _matched_prefix(rule, place) if rule.area_prefixes else None
    if prefix is not None:
        parts.append(f"in {_area_label(prefix)}")
    if rule.weekdays:
        parts.append("on " + ", ".join(_DAY_NAMES[d] for d in rule.weekdays))
    if rule.time_start is not None:
        parts.append(f"between {rule.time_start} and {rule.time_end}")
    return " ".join(parts)


def _place(
    kind: str,
    minor_code: str,
    street_code: str | None,
    community_code: str | None,
    grid_code: str | None,
    at: datetime,
) -> _Place:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not re.fullmatch(r"\d{4}", minor_code or ""):
        raise InvalidInput(f"minor_code must be 4 digits, got {minor_code!r}", field="minor_code")
    try:
        local = to_local(ensure_aware(at))
    except ValueError:
        raise InvalidInput("at must carry a time zone", field="at") from None
    codes = tuple(c for c in (grid_code, community_code, street_code) if c)
    street = street_code or next((c[:9] for c in codes if len(c) >= 9), None)
    return _Place(kind=kind, minor_code=minor_code, codes=codes, street_code=street, local=local)


def _fallback(
    session: Session, district_code: str, place: _Place, memo: Memo | None = None
) -> RoutingSuggestion:
    """No rule matched: the class's default department type, else the manual queue."""
    spec = _memoised(
        memo,
        ("class", district_code, place.kind, place.minor_code),
        lambda: find_class(
            session, district_code=district_code, kind=place.kind, minor_code=place.minor_code
        ),
    )
    subject = f"{place.kind} minor class {place.minor_code}"
    if spec is None:
        return RoutingSuggestion(
            None,
            None,
            None,
            f"no rule matched; {subject} is not in the active catalogue → {MANUAL_QUEUE}",
        )
    subject += f" ({spec.minor_name})"
    if spec.dept_type is None:
        return RoutingSuggestion(
            None,
            None,
            None,
            f"no rule matched; {subject} has no default department type → {MANUAL_QUEUE}",
        )
    why = f"no rule matched; default department type {spec.dept_type!r} of {subject}"
    dept_type = spec.dept_type
    unit = _memoised(
        memo,
        ("unit", district_code, dept_type, place.street_code, place.codes),
        lambda: _unit_of_type(session, district_code, dept_type, place),
    )
    if unit is None:
        where = (
            f" for street {place.street_code or '(unknown)'}"
            if spec.dept_type in departments.STREET_LEVEL_TYPES
            else ""
        )
        return RoutingSuggestion(
            None,
            None,
            None,
            f"{why}, but no active department of that type{where} → {MANUAL_QUEUE}",
        )
    if spec.dept_type in departments.STREET_LEVEL_TYPES:
        why += f" in street {place.street_code}"
    return RoutingSuggestion(unit.id, unit.name, None, f"{why} → {unit.name}")


def _unit_of_type(
    session: Session, district_code: str, dept_type: str, place: _Place
) -> OrgUnit | None:
    query = select(OrgUnit).where(
        OrgUnit.district_code == district_code,
        OrgUnit.kind.in_(departments.DEPARTMENT_KINDS),
        OrgUnit.dept_type == dept_type,
        OrgUnit.active.is_(True),
    )
    if dept_type in departments.STREET_LEVEL_TYPES:
        if place.street_code is None:
            return None
        return session.scalar(query.where(OrgUnit.region_code == place.street_code).limit(1))
    units = session.scalars(query.order_by(OrgUnit.code)).all()
    # A unit serving the case's region (e.g. a utility's branch) beats a district-wide one.
    local = [
        u for u in units if u.region_code and any(c.startswith(u.region_code) for c in place.codes)
    ]
    if local:
        return max(local, key=lambda u: len(u.region_code or ""))
    wide = [u for u in units if not u.region_code]
    return wide[0] if wide else None


def _candidate_rules(
    session: Session, district_code: str, place: _Place, memo: Memo | None = None
) -> Sequence[RoutingRule]:
    return _memoised(
        memo,
        ("rules", district_code, place.kind, place.minor_code),
        lambda: _query_candidate_rules(session, district_code, place),
    )


def _query_candidate_rules(
    session: Session, district_code: str, place: _Place
) -> Sequence[RoutingRule]:
    return session.scalars(
        select(RoutingRule)
        .where(
            RoutingRule.district_code == district_code,
            RoutingRule.active.is_(True),
            or_(RoutingRule.kind.is_(None), RoutingRule.kind == place.kind),
            or_(RoutingRule.major_code.is_(None), RoutingRule.major_code == place.minor_code[:2]),
            or_(RoutingRule.minor_code.is_(None), RoutingRule.minor_code == place.minor_code),
        )
        .order_by(RoutingRule.priority, RoutingRule.id)
    ).all()


def _suggest_from_rule(session: Session, rule: RoutingRule, place: _Place) -> RoutingSuggestion:
    target = MANUAL_QUEUE
    name = None
    if rule.department_id is not None:
        unit = session.get(OrgUnit, rule.department_id)
        name = unit.name if unit else None
        target = name or f"department {rule.department_id}"
    return RoutingSuggestion(
        rule.department_id, name, rule.id, f"rule {rule.id}: {_conditions(rule, place)} → {target}"
    )


def _usable(session: Session, rule: RoutingRule) -> bool:
    # A rule pointing at a department switched off since must not send cases there.
    if rule.department_id is None:
        return True
    unit = session.get(OrgUnit, rule.department_id)
    return unit is not None and unit.active


def _from_area(
    session: Session, district_code: str, place: _Place, lon: float | None, lat: float | None
) -> RoutingSuggestion | None:
    """The responsibility area (责任网格) answering for the point and class, if any."""
    if lon is None or lat is None:
        return None
    from cityops.geo.areas import areas_at

    for area in areas_at(
        session, district_code=district_code, lon=lon, lat=lat, class_code=place.minor_code
    ):
        unit = None
        if area.org_unit_id is not None:
            unit = session.get(OrgUnit, area.org_unit_id)
        elif area.org_unit_code:
            unit = session.scalar(
                select(OrgUnit).where(
                    OrgUnit.district_code == district_code, OrgUnit.code == area.org_unit_code
                )
            )
        if unit is not None and unit.active and unit.district_code == district_code:
            how = "its polygon" if area.matched_by == "polygon" else f"region {area.matched_by}"
            return RoutingSuggestion(
                unit.id,
                unit.name,
                None,
                f"no rule matched; responsibility area {area.name!r} covers {place.kind} minor "
                f"class {place.minor_code} here (by {how}) → {unit.name}",
            )
    return None


def suggest_department(
    session: Session,
    *,
    district_code: str,
    kind: str,
    minor_code: str,
    street_code: str | None,
    community_code: str | None,
    grid_code: str | None,
    at: datetime,
    lon: float | None = None,
    lat: float | None = None,
    memo: Memo | None = None,
) -> RoutingSuggestion:
    """The department for a case: first matching rule, else the responsibility area at the
    point (when given), else the class's default department type, else the manual queue.

    ``memo`` (a dict kept by the caller) remembers the rules, classes and departments read, for
    many suggestions in a row while none of them changes (a simulation run); the decisions
    are the same."""
    place = _place(kind, minor_code, street_code, community_code, grid_code, at)
    for rule in _candidate_rules(session, district_code, place, memo):
        if _mismatch(rule, place) is None and _usable(session, rule):
            return _suggest_from_rule(session, rule, place)
    return _from_area(session, district_code, place, lon, lat) or _fallback(
        session, district_code, place, memo
    )


def explain(
    session: Session,
    *,
    district_code: str,
    kind: str,
    minor_code: str,
    street_code: str | None = None,
    community_code: str | None = None,
    grid_code: str | None = None,
    at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> Explanation:
    """The suggestion plus every active rule up to the winner and why each did or did not match."""
    place = _place(kind, minor_code, street_code, community_code, grid_code, at or utcnow())
    checks = []
    for rule in list_rules(session, district_code=district_code, include_inactive=False):
        why_not = _mismatch(rule, place)
        if why_not is None and not _usable(session, rule):
            why_not = "its department is inactive"
        if why_not is not None:
            checks.append(RuleCheck(rule.id, rule.priority, False, why_not))
            continue
        suggestion = _suggest_from_rule(session, rule, place)
        checks.append(RuleCheck(rule.id, rule.priority, True, suggestion.reason))
        return Explanation(suggestion, tuple(checks))
    fallback = _from_area(session, district_code, place, lon, lat) or _fallback(
        session, district_code, place
    )
    return Explanation(fallback, tuple(checks))
