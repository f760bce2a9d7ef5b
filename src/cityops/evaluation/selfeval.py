"""The quantitative rows of the project performance self-evaluation (项目支出绩效自评表).

Filled from the data for the period (usually a year):

* case volume (年度案卷数量) = cases reported, merged duplicates excluded;
* acceptance rate (接件率) = of those, cases decided at intake (registered or rejected, i.e. no
  longer reported / verifying / verified) / cases reported;
* reply rate (回复率) = 12345 requests that became cases and were replied to / such requests;
* on-time handling rate (按时处置率) = cases handled on time / cases handled in the period;
* satisfaction rate (满意率) = the hotline's satisfaction rate (``hotline.rates``);
* platform availability (系统可用率) is not in the database: the caller passes the monitored
  figure, or the row stays empty with the reason stated.

Score of a quantitative row = weight × min(1, actual / target); rows without a metric are left
for the office to fill in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.cases.lifecycle import Status
from cityops.cases.models import Case
from cityops.cases.scope import visible
from cityops.evaluation.config import EvalConfig, SelfEvalRow, load_config
from cityops.evaluation.indicators import UNDECIDED, Period
from cityops.evaluation.schemas import SelfEvalLine, SelfEvaluationRead
from cityops.hotline.enums import RateGroup
from cityops.hotline.models import HotlineRequest
from cityops.hotline.rates import three_rates
from cityops.hotline.service import visible_requests

METRICS = (
    "case_volume",
    "acceptance_rate",
    "reply_rate",
    "on_time_handling_rate",
    "satisfaction_rate",
    "availability",
)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def metrics(
    session: Session, *, actor: Actor, period: Period, availability: float | None = None
) -> dict[str, float | None]:
    """The figures the self-evaluation's quantitative rows are filled with."""
    reported = (Case.reported_at >= period.start) & (Case.reported_at < period.end)
    handled = (
        Case.handled_at.is_not(None)
        & (Case.handled_at >= period.start)
        & (Case.handled_at < period.end)
    )
    cases = session.execute(
        select(
            _count(reported & (Case.status != Status.MERGED.value)).label("volume"),
            _count(reported & Case.status.not_in(UNDECIDED)).label("decided"),
            _count(reported).label("reported"),
            _count(handled & Case.handled_on_time.is_not(None)).label("handled"),
            _count(handled & Case.handled_on_time.is_(True)).label("on_time"),
        ).where(visible(actor), reported | handled)
    ).one()
    r = HotlineRequest
    hotline = session.execute(
        select(
            func.count(r.id).label("requests"),
            _count(r.responded_at.is_not(None)).label("replied"),
        )
        .select_from(r)
        .join(Case, Case.id == r.case_id)
        .where(visible_requests(actor), r.received_at >= period.start, r.received_at < period.end)
    ).one()
    rates = three_rates(
        session,
        actor=actor,
        by=RateGroup.STREET,
        period_from=period.start,
        period_to=period.end,
        as_of=period.as_of,
    )
    return {
        "case_volume": float(cases.volume),
        "acceptance_rate": _ratio(int(cases.decided), int(cases.reported)),
        "reply_rate": _ratio(int(hotline.replied), int(hotline.requests)),
        "on_time_handling_rate": _ratio(int(cases.on_time), int(cases.handled)),
        "satisfaction_rate": rates.total.satisfaction_rate,
        "availability": availability,
    }


def _text(row: SelfEvalRow, value: float | None) -> str:
    if value is None:
        return ""
    if row.metric == "case_volume":
        return f"{int(value)}{row.unit}"
    return f"{value * 100:.2f}%"


def _line(row: SelfEvalRow, values: dict[str, float | None]) -> SelfEvalLine:
    actual = values.get(row.metric) if row.metric else None
    score: float | None = None
    reason = ""
    if row.metric is None:
        reason = ""  # a qualitative row: the office fills in actual, score and reason
    elif actual is None:
        reason = "未提供监测数据" if row.metric == "availability" else "本期无可计算的数据"
    elif row.target:
        score = round(row.weight * min(1.0, actual / row.target), 2)
        if actual < row.target:
            reason = f"未达年度目标（目标{_text(row, row.target)}，实际{_text(row, actual)}）"
    return SelfEvalLine(
        level1=row.level1,
        level2=row.level2,
        level3=row.level3,
        target_text=row.target_text,
        target=row.target,
        actual=actual,
        actual_text=_text(row, actual),
        weight=row.weight,
        score=score,
        reason=reason,
    )


def self_evaluation(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    availability: float | None = None,
    config: EvalConfig | None = None,
) -> SelfEvaluationRead:
    """The self-evaluation table's lines, quantitative ones computed for ``period``."""
    cfg = (config or load_config()).self_evaluation
    values = metrics(session, actor=actor, period=period, availability=availability)
    lines = [_line(row, values) for row in cfg.rows]
    scored = [line for line in lines if line.score is not None]
    return SelfEvaluationRead(
        title=cfg.title,
        project=cfg.project,
        period=period.label,
        period_from=period.start,
        period_to=period.end,
        lines=lines,
        computed_score=round(sum(line.score or 0.0 for line in scored), 2),
        computed_weight=sum(line.weight for line in scored),
    )
