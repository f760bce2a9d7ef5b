"""The three rates (三率) of respond-on-receipt per street or department and period.

Counted over the requests received in the period that became cases (consultations answered at
intake are the hotline's own work, not a street's or department's):

* response rate = replied within the response limit / (requests − pending), where *pending*
  are requests not yet replied whose response limit has not passed at ``as_of``;
* resolution rate = rated resolved / rated (the latest reached callback counts);
* satisfaction rate = (satisfied + basic_weight × basically satisfied) / rated;
* composite = weight_response × response + weight_resolution × resolution
  + weight_satisfaction × satisfaction (only when all three are defined).

One GROUP BY query does the counting; the data scope of cases applies.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.auth.models import OrgUnit
from cityops.cases.models import Case
from cityops.errors import InvalidInput
from cityops.geo.models import Region
from cityops.hotline.enums import RateGroup, Satisfaction
from cityops.hotline.models import HotlineRequest
from cityops.hotline.policy import Policy, get_policy
from cityops.hotline.schemas import PolicyRead, RateRow, RatesRead
from cityops.hotline.service import Target, visible_requests
from cityops.timeutil import LOCAL_TZ, ensure_aware, utcnow

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def _next_month(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1)


def parse_period(text: str) -> tuple[datetime, datetime]:
    """[from, to) in local (Asia/Shanghai) days for ``2026``, ``2026-Q4``, ``2026-11``,
    ``2026-W47`` (ISO week) or ``2026-11-23``."""
    value = text.strip()
    try:
        if m := _DAY.match(value):
            start = date(int(m[1]), int(m[2]), int(m[3]))
            end = start + timedelta(days=1)
        elif m := _WEEK.match(value):
            start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            end = start + timedelta(days=7)
        elif m := _MONTH.match(value):
            start = date(int(m[1]), int(m[2]), 1)
            end = _next_month(start.year, start.month)
        elif m := _QUARTER.match(value):
            start = date(int(m[1]), 3 * int(m[2]) - 2, 1)
            end = _next_month(start.year, start.month + 2)
        elif m := _YEAR.match(value):
            start, end = date(int(m[1]), 1, 1), date(int(m[1]) + 1, 1, 1)
        else:
            raise ValueError(value)
    except ValueError as exc:
        raise InvalidInput(
            f"period {text!r} is not one of 2026, 2026-Q4, 2026-11, 2026-W47, 2026-11-23",
            field="period",
        ) from exc
    return _local_midnight(start), _local_midnight(end)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rate(numerator: float, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _row(key: str | None, name: str | None, counts: dict[str, int], policy: Policy) -> RateRow:
    requests = counts["requests"]
    pending = counts["pending"]
    rated = counts["rated"]
    response = _rate(counts["in_time"], requests - pending)
    resolution = _rate(counts["resolved"], rated)
    satisfaction = _rate(counts["satisfied"] + policy.basic_weight * counts["basically"], rated)
    composite = None
    if response is not None and resolution is not None and satisfaction is not None:
        composite = round(
            policy.weight_response * response
            + policy.weight_resolution * resolution
            + policy.weight_satisfaction * satisfaction,
            4,
        )
    return RateRow(
        key=key,
        name=name,
        requests=requests,
        response_pending=pending,
        responded_in_time=counts["in_time"],
        response_rate=response,
        rated=rated,
        resolved=counts["resolved"],
        resolution_rate=resolution,
        satisfied=counts["satisfied"],
        basically_satisfied=counts["basically"],
        dissatisfied=counts["dissatisfied"],
        satisfaction_rate=satisfaction,
        composite=composite,
    )


def three_rates(
    session: Session,
    *,
    actor: Actor,
    by: RateGroup,
    period_from: datetime,
    period_to: datetime,
    as_of: datetime | None = None,
) -> RatesRead:
    """The three rates per street or department for requests received in [from, to)."""
    period_from, period_to = ensure_aware(period_from), ensure_aware(period_to)
    if period_to <= period_from:
        raise InvalidInput("the period ends before it starts", field="period_to")
    as_of = ensure_aware(as_of) if as_of is not None else utcnow()
    policy = get_policy(session, district_code=actor.district_code)
    r = HotlineRequest
    key: Any = (
        r.street_code
        if by is RateGroup.STREET
        # A merged case's requests count for the department of the case they joined.
        else func.coalesce(Target.department_id, Case.department_id)
    )
    # Each measure is one SUM(CASE …) so the database does all the counting in one pass.
    measures = {
        "requests": func.count(r.id),
        "pending": _count(r.responded_at.is_(None) & (r.response_due_at > as_of)),
        "in_time": _count(r.responded_at.is_not(None) & (r.responded_at <= r.response_due_at)),
        "rated": _count(r.resolved.is_not(None)),
        "resolved": _count(r.resolved.is_(True)),
        "satisfied": _count(r.satisfaction == Satisfaction.SATISFIED.value),
        "basically": _count(r.satisfaction == Satisfaction.BASICALLY_SATISFIED.value),
        "dissatisfied": _count(r.satisfaction == Satisfaction.DISSATISFIED.value),
    }
    stmt = (
        select(key.label("key"), *(m.label(n) for n, m in measures.items()))
        .select_from(r)
        .join(Case, Case.id == r.case_id)
        .outerjoin(Target, Target.id == Case.merged_into_id)
        .where(visible_requests(actor))
        .where(r.received_at >= period_from, r.received_at < period_to)
        .group_by(key)
    )
    grouped = [
        (row.key, {n: int(getattr(row, n)) for n in measures}) for row in session.execute(stmt)
    ]
    names = _names(session, by, [k for k, _ in grouped if k is not None])
    rows = [
        _row(None if k is None else str(k), names.get(str(k)) if k is not None else None, c, policy)
        for k, c in sorted(grouped, key=lambda item: (item[0] is None, str(item[0])))
    ]
    totals = {n: sum(c[n] for _, c in grouped) for n in measures}
    return RatesRead(
        by=by.value,
        period_from=period_from,
        period_to=period_to,
        as_of=as_of,
        policy=PolicyRead(**asdict(policy)),
        rows=rows,
        total=_row(None, "total", totals, policy),
    )


def _names(session: Session, by: RateGroup, keys: list[Any]) -> dict[str, str]:
    if not keys:
        return {}
    if by is RateGroup.STREET:
        found = session.execute(select(Region.code, Region.name).where(Region.code.in_(keys)))
    else:
        found = session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(keys)))
    return {str(k): name for k, name in found}
