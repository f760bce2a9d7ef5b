"""A district's hotline policy: the two deadlines and the weights of the three rates.

Defaults (documented in docs/hotline.md): contact the citizen within 24 natural hours,
resolve within 7 natural days (168 h); "basically satisfied" counts 0.8 of "satisfied"; the
composite score weighs response 0.1, resolution 0.45, satisfaction 0.45 (evaluation.md).
Natural time is the default because the public promise is stated in hours and days on the
calendar; a district may switch either deadline to working time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.auth import audit
from cityops.auth.actor import Actor
from cityops.errors import InvalidInput
from cityops.hotline.models import HotlinePolicy
from cityops.timeutil import utcnow
from cityops.workcal import DeadlineKind, WorkCalendar, compute_due


@dataclass(frozen=True)
class Policy:
    response_hours: float = 24.0
    response_kind: str = DeadlineKind.NATURAL.value
    resolution_hours: float = 168.0
    resolution_kind: str = DeadlineKind.NATURAL.value
    basic_weight: float = 0.8
    weight_response: float = 0.1
    weight_resolution: float = 0.45
    weight_satisfaction: float = 0.45

    def validate(self) -> Policy:
        for name in ("response_hours", "resolution_hours"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 24 * 365):
                raise InvalidInput(f"{name} must be between 0 and 8760 hours", field=name)
        for name in ("response_kind", "resolution_kind"):
            if getattr(self, name) not in {k.value for k in DeadlineKind}:
                raise InvalidInput(f"{name} must be 'working' or 'natural'", field=name)
        for name in ("basic_weight", "weight_response", "weight_resolution", "weight_satisfaction"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise InvalidInput(f"{name} must be between 0 and 1", field=name)
        total = self.weight_response + self.weight_resolution + self.weight_satisfaction
        if abs(total - 1) > 1e-6:
            raise InvalidInput(
                f"the three weights must add up to 1 (they add up to {total:g})",
                field="weight_response",
            )
        return self


DEFAULT_POLICY = Policy()
_FIELDS = [f.name for f in fields(Policy)]


def get_policy(session: Session, *, district_code: str) -> Policy:
    """The district's policy, or the defaults when none was saved."""
    row = session.get(HotlinePolicy, district_code)
    if row is None:
        return DEFAULT_POLICY
    return Policy(**{name: getattr(row, name) for name in _FIELDS})


def set_policy(session: Session, *, actor: Actor, changes: dict[str, Any]) -> Policy:
    """Change some fields of the actor's district policy (audited)."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown policy field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    old = get_policy(session, district_code=actor.district_code)
    new = replace(old, **changes).validate()
    row = session.get(HotlinePolicy, actor.district_code)
    if row is None:
        row = HotlinePolicy(district_code=actor.district_code)
        session.add(row)
    for name, value in asdict(new).items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    row.updated_by_id = actor.id or None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="hotline.policy",
        object_type="hotline_policy",
        object_id=actor.district_code,
        detail={"before": asdict(old), "after": asdict(new)},
    )
    return new


def due_times(cal: WorkCalendar, policy: Policy, start: datetime) -> tuple[datetime, datetime]:
    """(response due, resolution due) for a request received at ``start``, in UTC."""
    response = compute_due(cal, start, policy.response_hours, DeadlineKind(policy.response_kind))
    resolution = compute_due(
        cal, start, policy.resolution_hours, DeadlineKind(policy.resolution_kind)
    )
    return response.astimezone(UTC), resolution.astimezone(UTC)
