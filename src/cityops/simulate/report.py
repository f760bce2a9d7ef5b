"""The shape of a simulated period, and a hash of its data (for reproducibility checks)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseEvent, CaseReporter
from cityops.hotline.enums import Satisfaction
from cityops.hotline.models import HotlineRequest
from cityops.hotline.policy import get_policy

#: Case columns that depend on who allocated ids, not on what happened.
_ID_COLUMNS = {"id", "reported_by_id", "assignee_id", "department_id", "merged_into_id"}


@dataclass(frozen=True)
class Shape:
    cases: int
    top_classes: list[tuple[str, str, int]]
    sources: dict[str, int]
    on_time_rate: float | None
    rework_rate: float | None
    return_rate: float | None
    closure_rate: float | None
    requests: int
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None


def _ratio(num: Any, den: Any) -> float | None:
    return round(float(num) / float(den), 4) if den else None


def shape(
    session: Session, *, district_code: str, period_from: datetime, period_to: datetime
) -> Shape:
    """Cases per class (top 20), on-time / rework / return rates, the hotline's three rates."""
    in_period = (
        (Case.district_code == district_code)
        & (Case.reported_at >= period_from)
        & (Case.reported_at < period_to)
    )
    top = session.execute(
        select(Case.minor_code, Case.class_name, func.count())
        .where(in_period)
        .group_by(Case.kind, Case.minor_code, Case.class_name)
        .order_by(func.count().desc(), Case.minor_code)
        .limit(20)
    ).all()
    sources = dict(
        session.execute(
            select(Case.source, func.count()).where(in_period).group_by(Case.source)
        ).all()
    )
    c = session.execute(
        select(
            func.count(),
            func.sum(case((Case.handled_on_time.is_(True), 1), else_=0)),
            func.sum(case((Case.handled_on_time.is_not(None), 1), else_=0)),
            func.sum(case((Case.rework_count > 0, 1), else_=0)),
            func.sum(case((Case.handled_at.is_not(None), 1), else_=0)),
            func.sum(case((Case.return_count > 0, 1), else_=0)),
            func.sum(case((Case.dispatched_at.is_not(None), 1), else_=0)),
            func.sum(case((Case.status == "closed", 1), else_=0)),
            func.sum(case((Case.registered_at.is_not(None), 1), else_=0)),
        ).where(in_period)
    ).one()
    total, on_time, decided, reworked, handled, returned, dispatched, closed, registered = (
        int(v or 0) for v in c
    )
    r = HotlineRequest
    policy = get_policy(session, district_code=district_code)
    h = session.execute(
        select(
            func.count(),
            func.sum(
                case((r.responded_at.is_(None) & (r.response_due_at > period_to), 1), else_=0)
            ),
            func.sum(
                case((r.responded_at.is_not(None) & (r.responded_at <= r.response_due_at), 1),
                     else_=0)
            ),
            func.sum(case((r.resolved.is_not(None), 1), else_=0)),
            func.sum(case((r.resolved.is_(True), 1), else_=0)),
            func.sum(case((r.satisfaction == Satisfaction.SATISFIED.value, 1), else_=0)),
            func.sum(
                case((r.satisfaction == Satisfaction.BASICALLY_SATISFIED.value, 1), else_=0)
            ),
        ).where(
            r.district_code == district_code,
            r.case_id.is_not(None),
            r.received_at >= period_from,
            r.received_at < period_to,
        )
    ).one()  # fmt: skip
    requests, pending, in_time, rated, resolved, satisfied, basic = (int(v or 0) for v in h)
    return Shape(
        cases=total,
        top_classes=[(code, name, int(n)) for code, name, n in top],
        sources={str(k): int(v) for k, v in sources.items()},
        on_time_rate=_ratio(on_time, decided),
        rework_rate=_ratio(reworked, handled),
        return_rate=_ratio(returned, dispatched),
        closure_rate=_ratio(closed, registered),
        requests=requests,
        response_rate=_ratio(in_time, requests - pending),
        resolution_rate=_ratio(resolved, rated),
        satisfaction_rate=_ratio(satisfied + policy.basic_weight * basic, rated),
    )


def _canon(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def data_hash(session: Session, *, district_code: str) -> str:
    """SHA-256 over the district's cases, events and reporters, keyed by case number.

    Row ids (and columns holding ids of users or departments) are left out: they depend on
    who allocated them first, not on what happened.
    """
    digest = hashlib.sha256()
    columns = [c for c in Case.__table__.c if c.name not in _ID_COLUMNS]
    rows = session.execute(
        select(*columns).where(Case.district_code == district_code).order_by(Case.number)
    ).mappings()
    for row in rows:
        digest.update(json.dumps({k: _canon(v) for k, v in row.items()}, sort_keys=True,
                                 ensure_ascii=False, default=str).encode())  # fmt: skip
    events = session.execute(
        select(
            Case.number,
            CaseEvent.seq,
            CaseEvent.action,
            CaseEvent.from_status,
            CaseEvent.to_status,
            CaseEvent.actor_role,
            CaseEvent.payload,
            CaseEvent.at,
            CaseEvent.due_at,
        )
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.district_code == district_code)
        .order_by(Case.number, CaseEvent.seq)
    ).all()
    for event in events:
        payload = {k: v for k, v in (event.payload or {}).items() if not k.endswith("_id")}
        digest.update(
            json.dumps(
                [_canon(v) for v in event[:6]] + [payload, _canon(event.at), _canon(event.due_at)],
                sort_keys=True,
                ensure_ascii=False,
                default=str,
            ).encode()
        )
    reporters = session.execute(
        select(Case.number, CaseReporter.source, CaseReporter.name, CaseReporter.phone,
               CaseReporter.reported_at)
        .join(Case, Case.id == CaseReporter.case_id)
        .where(Case.district_code == district_code)
        .order_by(Case.number, CaseReporter.reported_at)
    ).all()  # fmt: skip
    for reporter in reporters:
        digest.update(json.dumps([_canon(v) for v in reporter], default=str).encode())
    return digest.hexdigest()


def format_shape(s: Shape) -> str:
    """The shape as lines of text (the CLI prints it with rich)."""

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v * 100:.1f} %"

    lines = [f"cases: {s.cases}   sources: {s.sources}", "top classes:"]
    lines += [f"  {code} {name}: {n}" for code, name, n in s.top_classes]
    lines += [
        f"on-time rate: {pct(s.on_time_rate)}   rework rate: {pct(s.rework_rate)}   "
        f"return rate: {pct(s.return_rate)}   closure rate: {pct(s.closure_rate)}",
        f"hotline requests with cases: {s.requests}   response rate: {pct(s.response_rate)}   "
        f"resolution rate: {pct(s.resolution_rate)}   satisfaction rate: "
        f"{pct(s.satisfaction_rate)}",
    ]
    return "\n".join(lines)
