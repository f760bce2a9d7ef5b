"""Duplicate proposals (并案): open cases that a new report probably describes again.

Two independent signals, each a bounded SQL query on indexed columns, never a scan of all
cases:

* **place and class** — an open case of the same kind and minor class within a distance and a
  time window of the report (per class, default 50 m / 72 h). A bounding box around the point
  is the SQL prefilter (``minor_code`` index, then ``lon``/``lat``/``reported_at`` conditions);
  the exact haversine distance is checked in Python on the few rows that pass.
* **near-identical text** — an open case in the same street (``street_code, reported_at``
  index) within the text window whose description has a character-bigram Dice similarity of
  at least the threshold (default 0.8). When the district has no geography loaded (no street
  is known) a radius around the point stands in for the street.

Windows are data: ``<data dir>/dispatch/duplicates.yaml`` (see docs/hotline.md) overrides the
defaults per minor class. Proposals are suggestions; merging is the lifecycle's ``merge``
action (``cases.service.act(..., Action.MERGE, MergeBody(target_case_id=...))``), which keeps
every reporter with their contact.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.cases.enums import Kind
from cityops.cases.lifecycle import OPEN
from cityops.cases.models import Case
from cityops.cases.queries import get_case
from cityops.cases.scope import visible
from cityops.db import settings_of
from cityops.deps import CurrentUser, SessionDep
from cityops.errors import InvalidInput
from cityops.geo.service import OutsideJurisdiction, locate
from cityops.timeutil import ensure_aware, utcnow

EARTH_RADIUS_M = 6_371_008.8
#: Metres per degree of latitude (and of longitude at the equator).
M_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0
#: At most this many candidate rows per signal are read; the SQL orders by recency first.
MAX_CANDIDATES = 500

__all__ = [
    "DEFAULT_RULE",
    "DuplicateProposal",
    "DuplicateRule",
    "DuplicateRules",
    "haversine_m",
    "load_rules",
    "propose_duplicates",
    "router",
    "rules_for",
    "text_similarity",
]


# ---------------------------------------------------------------------------------------------
# Rules (data)


@dataclass(frozen=True)
class DuplicateRule:
    """How close in space and time, and how similar in text, a duplicate must be."""

    distance_m: float = 50.0
    window_hours: float = 72.0
    #: Dice similarity of character bigrams, 0…1.
    text_threshold: float = 0.8
    #: How far back near-identical text is looked for.
    text_window_hours: float = 168.0
    #: Used for the text signal only when no street is known (no geography loaded).
    text_radius_m: float = 1000.0

    def __post_init__(self) -> None:
        for name in ("distance_m", "window_hours", "text_window_hours", "text_radius_m"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidInput(f"{name} must be a positive number, got {value!r}", field=name)
        if not 0 < self.text_threshold <= 1:
            raise InvalidInput("text_threshold must be in (0, 1]", field="text_threshold")


DEFAULT_RULE = DuplicateRule()


@dataclass(frozen=True)
class DuplicateRules:
    """A default rule and per-class overrides keyed by minor code (or ``kind:minor_code``)."""

    default: DuplicateRule = DEFAULT_RULE
    by_class: Mapping[str, DuplicateRule] = field(default_factory=dict)

    def rule_for(self, kind: str, minor_code: str) -> DuplicateRule:
        return self.by_class.get(f"{kind}:{minor_code}") or self.by_class.get(
            minor_code, self.default
        )


_RULE_FIELDS = frozenset(DuplicateRule.__dataclass_fields__)


def _rule(values: Any, base: DuplicateRule, where: str) -> DuplicateRule:
    if not isinstance(values, dict):
        raise InvalidInput(f"{where}: expected a mapping of rule fields", field="duplicates")
    unknown = set(values) - _RULE_FIELDS
    if unknown:
        raise InvalidInput(f"{where}: unknown field {sorted(unknown)[0]!r}", field="duplicates")
    return replace(base, **{k: float(v) for k, v in values.items()})


def parse_rules(data: Any) -> DuplicateRules:
    """Rules from a mapping: ``{default: {...}, classes: {"0102": {...}, "event:0501": {...}}}``."""
    if data is None:
        return DuplicateRules()
    if not isinstance(data, dict):
        raise InvalidInput("duplicate rules must be a mapping", field="duplicates")
    default = _rule(data.get("default") or {}, DEFAULT_RULE, "default")
    classes = data.get("classes") or {}
    if not isinstance(classes, dict):
        raise InvalidInput("'classes' must map minor codes to rules", field="duplicates")
    # A class override starts from the file's default, so it need name only what differs.
    by_class = {str(code): _rule(v, default, f"class {code}") for code, v in classes.items()}
    return DuplicateRules(default=default, by_class=by_class)


def load_rules(path: Path) -> DuplicateRules:
    """Rules from a YAML file."""
    return parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")))


def rules_path(data_dir: Path) -> Path:
    return data_dir / "dispatch" / "duplicates.yaml"


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> DuplicateRules:
    # Keyed on mtime so an edited file applies without a restart.
    return load_rules(Path(path))


def rules_for(session: Session) -> DuplicateRules:
    """The rules file under the data dir of the session's settings, or the defaults."""
    path = rules_path(settings_of(session).data_dir)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return DuplicateRules()
    return _load_cached(str(path), mtime)


# ---------------------------------------------------------------------------------------------
# Geometry and text


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bbox(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a box that contains the circle."""
    dlat = radius_m / M_PER_DEG
    # cos() shrinks towards the poles; clamp so the box never degenerates (China is < 54°N).
    dlon = radius_m / (M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def _normalise(text: str) -> str:
    # Full-width to half-width and case-folded; punctuation and spaces carry no meaning here.
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).casefold())


def _bigrams(text: str) -> set[str]:
    norm = _normalise(text)
    if len(norm) < 2:
        return {norm} if norm else set()
    return {norm[i : i + 2] for i in range(len(norm) - 1)}


def text_similarity(a: str, b: str) -> float:
    """Dice coefficient of the two texts' character-bigram sets (1.0 = same bigrams)."""
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


# ---------------------------------------------------------------------------------------------
# Proposals


@dataclass
class DuplicateProposal:
    """An open case the report may duplicate, with why."""

    case_id: int
    number: str
    status: str
    kind: str
    minor_code: str
    class_name: str
    description: str
    street_code: str | None
    distance_m: float
    #: Hours the case was reported before the new report (negative: after it).
    hours_earlier: float
    similarity: float | None
    #: 0…1; same-class proposals closer in space and time, and more similar texts, rank higher.
    score: float
    reasons: list[str]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def _hours_phrase(hours: float) -> str:
    span = abs(hours)
    amount = f"{round(span * 60)} min" if span < 1 else f"{span:.1f}".removesuffix(".0") + " h"
    return f"{amount} {'earlier' if hours >= 0 else 'later'}"


def _proposal(case: Case, lon: float, lat: float, at: datetime) -> DuplicateProposal:
    hours = (at - case.reported_at).total_seconds() / 3600
    return DuplicateProposal(
        case_id=case.id,
        number=case.number,
        status=case.status,
        kind=case.kind,
        minor_code=case.minor_code,
        class_name=case.class_name,
        description=case.description,
        street_code=case.street_code,
        distance_m=round(haversine_m(lon, lat, case.lon, case.lat), 1),
        hours_earlier=round(hours, 2),
        similarity=None,
        score=0.0,
        reasons=[],
    )


def _open_cases(actor: Actor, exclude_case_id: int | None) -> Any:
    stmt = (
        select(Case)
        .where(visible(actor))
        .where(Case.status.in_([s.value for s in OPEN]))
        # A report can only be a duplicate of a case still around to be merged into.
        .where(Case.merged_into_id.is_(None))
    )
    if exclude_case_id is not None:
        stmt = stmt.where(Case.id != exclude_case_id)
    return stmt


def propose_duplicates(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    minor_code: str,
    lon: float,
    lat: float,
    text: str,
    at: datetime | None = None,
    exclude_case_id: int | None = None,
    rules: DuplicateRules | None = None,
    limit: int = 10,
) -> list[DuplicateProposal]:
    """Open cases the report may duplicate, best first, each with its reasons."""
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidInput("longitude must be between -180 and 180", field="lon")
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidInput("latitude must be between -90 and 90", field="lat")
    if not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100", field="limit")
    at = ensure_aware(at) if at is not None else utcnow()
    rule = (rules or rules_for(session)).rule_for(kind, minor_code)
    found: dict[int, DuplicateProposal] = {}

    # 1. Same class, near in space and time.
    window = timedelta(hours=rule.window_hours)
    min_lon, min_lat, max_lon, max_lat = bbox(lon, lat, rule.distance_m)
    near = session.scalars(
        _open_cases(actor, exclude_case_id)
        .where(Case.minor_code == minor_code, Case.kind == kind)
        .where(Case.lon.between(min_lon, max_lon), Case.lat.between(min_lat, max_lat))
        .where(Case.reported_at.between(at - window, at + window))
        .order_by(Case.reported_at.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    for case in near:
        p = _proposal(case, lon, lat, at)
        if p.distance_m > rule.distance_m:
            continue  # inside the box, outside the circle
        p.score = (
            1
            - 0.5 * (p.distance_m / rule.distance_m)
            - 0.5 * min(1.0, abs(p.hours_earlier) / rule.window_hours)
        )
        p.reasons.append(
            f"same class {minor_code}, {p.distance_m:.0f} m, {_hours_phrase(p.hours_earlier)}"
        )
        found[case.id] = p

    # 2. Near-identical text in the same street (or, without geography, nearby).
    if text.strip():
        try:
            codes = locate(session, district_code=actor.district_code, lon=lon, lat=lat)
        except OutsideJurisdiction:
            codes = None  # a point just outside the maps still has neighbours to compare
        street = codes.street_code if codes else None
        text_window = timedelta(hours=rule.text_window_hours)
        stmt = _open_cases(actor, exclude_case_id).where(
            Case.reported_at.between(at - text_window, at + text_window)
        )
        if street:
            stmt = stmt.where(Case.street_code == street)
            where = f"street {street}"
        else:
            t_min_lon, t_min_lat, t_max_lon, t_max_lat = bbox(lon, lat, rule.text_radius_m)
            stmt = stmt.where(
                Case.lon.between(t_min_lon, t_max_lon), Case.lat.between(t_min_lat, t_max_lat)
            )
            where = f"within {rule.text_radius_m:.0f} m"
        for case in session.scalars(stmt.order_by(Case.reported_at.desc()).limit(MAX_CANDIDATES)):
            similarity = text_similarity(text, case.description)
            if similarity < rule.text_threshold:
                continue
            if not street and haversine_m(lon, lat, case.lon, case.lat) > rule.text_radius_m:
                continue
            p = found.get(case.id) or _proposal(case, lon, lat, at)
            p.similarity = round(similarity, 3)
            p.reasons.append(f"near-identical text (similarity {similarity:.2f}) in {where}")
            # Both signals together are stronger than either alone.
            p.score = min(1.0, max(p.score, similarity) + (0.25 if case.id in found else 0.0))
            found[case.id] = p

    ranked = sorted(found.values(), key=lambda p: (-len(p.reasons), -p.score, p.distance_m))
    return ranked[:limit]


def proposals_for_case(
    session: Session, *, actor: Actor, case_id: int, limit: int = 10
) -> list[DuplicateProposal]:
    """Proposals for an existing case (itself excluded), e.g. before registration."""
    case = get_case(session, actor=actor, case_id=case_id)
    return propose_duplicates(
        session,
        actor=actor,
        kind=case.kind,
        minor_code=case.minor_code,
        lon=case.lon,
        lat=case.lat,
        text=case.description,
        at=case.reported_at,
        exclude_case_id=case.id,
        limit=limit,
    )


# ---------------------------------------------------------------------------------------------
# HTTP (mounted under /api/v1 behind authentication)


class DuplicateQuery(BaseModel):
    """A report being taken in: its class, place, text and time."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    minor_code: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
    lon: float = Field(ge=73.0, le=136.0)
    lat: float = Field(ge=3.0, le=54.0)
    text: Annotated[str, StringConstraints(max_length=2000)] = ""
    at: datetime | None = Field(default=None, description="report time with zone; default now")
    exclude_case_id: int | None = None
    limit: int = Field(default=10, ge=1, le=100)


class DuplicateProposalRead(BaseModel):
    case_id: int
    number: str
    status: str
    kind: str
    minor_code: str
    class_name: str
    description: str
    street_code: str | None
    distance_m: float
    hours_earlier: float
    similarity: float | None
    score: float
    reasons: list[str]
    reason: str


def to_read(p: DuplicateProposal) -> DuplicateProposalRead:
    return DuplicateProposalRead(**{**p.__dict__, "reason": p.reason})


router = APIRouter(prefix="/dispatch", tags=["dispatch"])


@router.post("/duplicates", response_model=list[DuplicateProposalRead])
def duplicates(
    body: DuplicateQuery, actor: CurrentUser, session: SessionDep
) -> list[DuplicateProposalRead]:
    """Open cases (within your data scope) that a report may duplicate, best first (并案)."""
    if body.at is not None and body.at.tzinfo is None:
        raise InvalidInput("give a time zone, e.g. 2026-11-23T08:00:00+08:00", field="at")
    found = propose_duplicates(
        session,
        actor=actor,
        kind=body.kind.value,
        minor_code=body.minor_code,
        lon=body.lon,
        lat=body.lat,
        text=body.text,
        at=body.at,
        exclude_case_id=body.exclude_case_id,
        limit=body.limit,
    )
    return [to_read(p) for p in found]


@router.get("/cases/{case_id}/duplicates", response_model=list[DuplicateProposalRead])
def case_duplicates(
    case_id: int, actor: CurrentUser, session: SessionDep, limit: int = 10
) -> list[DuplicateProposalRead]:
    """Open cases that an existing case may duplicate (itself excluded)."""
    found = proposals_for_case(session, actor=actor, case_id=case_id, limit=limit)
    return [to_read(p) for p in found]
