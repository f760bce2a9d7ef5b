"""Routes of evaluation (mounted under ``/api/v1`` behind authentication): indicators and
ranking per subject type and period, the cases behind a figure, the self-evaluation table, and
the workbooks. Everything is counted within the caller's data scope (``cases.scope.visible``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from cityops.deps import CurrentUser, SessionDep
from cityops.evaluation.config import Subject
from cityops.evaluation.export import evaluation_workbook, self_evaluation_workbook, to_bytes
from cityops.evaluation.indicators import drill, evaluate, resolve_period
from cityops.evaluation.schemas import DrillRead, EvaluationRead, SelfEvaluationRead
from cityops.evaluation.selfeval import self_evaluation

router = APIRouter(prefix="/evaluation", tags=["evaluation"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PeriodQ = Annotated[
    str,
    Query(
        max_length=32,
        description="2025, 2025-Q3, 2025-09, 2025-W38, 2025-09-18 or 2025-07-01..2025-08-15",
    ),
]
AsOfQ = Annotated[
    datetime | None,
    Query(description="when 'now' is for overdue and pending counts (default: period end)"),
]
AvailabilityQ = Annotated[
    float | None,
    Query(ge=0, le=1, description="platform availability from monitoring, e.g. 0.9995"),
]


def _download(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/self-evaluation", response_model=SelfEvaluationRead)
def read_self_evaluation(
    session: SessionDep, actor: CurrentUser, period: PeriodQ, availability: AvailabilityQ = None
) -> SelfEvaluationRead:
    """The 项目支出绩效自评表 lines, quantitative rows filled from the data."""
    return self_evaluation(
        session, actor=actor, period=resolve_period(period), availability=availability
    )


@router.get("/self-evaluation.xlsx", response_class=Response)
def download_self_evaluation(
    session: SessionDep, actor: CurrentUser, period: PeriodQ, availability: AvailabilityQ = None
) -> Response:
    """The 项目支出绩效自评表 as an Excel workbook."""
    table = self_evaluation(
        session, actor=actor, period=resolve_period(period), availability=availability
    )
    return _download(to_bytes(self_evaluation_workbook(table)), f"self-evaluation-{period}.xlsx")


@router.get("/report.xlsx", response_class=Response)
def download_report(
    session: SessionDep,
    actor: CurrentUser,
    period: PeriodQ,
    subject: Subject | None = None,
    as_of: AsOfQ = None,
) -> Response:
    """The evaluation workbook: one sheet per subject type (or only ``subject``)."""
    p = resolve_period(period, as_of=as_of)
    subjects = [subject] if subject is not None else list(Subject)
    results = [evaluate(session, actor=actor, subject=s.value, period=p) for s in subjects]
    return _download(to_bytes(evaluation_workbook(results)), f"evaluation-{period}.xlsx")


@router.get("/{subject}", response_model=EvaluationRead)
def read_evaluation(
    session: SessionDep, actor: CurrentUser, subject: Subject, period: PeriodQ, as_of: AsOfQ = None
) -> EvaluationRead:
    """Indicators, composite score and rank of every subject of this type with data."""
    return evaluate(
        session, actor=actor, subject=subject.value, period=resolve_period(period, as_of=as_of)
    )


@router.get("/{subject}/drill", response_model=DrillRead)
def read_drill(
    session: SessionDep,
    actor: CurrentUser,
    subject: Subject,
    period: PeriodQ,
    indicator: Annotated[str, Query(max_length=64, description="a count or rate name")],
    key: Annotated[str, Query(max_length=32, description="department id, street code, user id")],
    as_of: AsOfQ = None,
) -> DrillRead:
    """The case ids behind one figure (a rate gives its numerator's and denominator's)."""
    return drill(
        session,
        actor=actor,
        subject=subject.value,
        indicator=indicator,
        key=key,
        period=resolve_period(period, as_of=as_of),
    )
