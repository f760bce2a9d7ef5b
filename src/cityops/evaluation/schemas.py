"""What evaluation answers: rows per subject with counts, rates, composite and rank."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SubjectRow(BaseModel):
    """One subject (a department, street or inspector) over the period."""

    key: str
    name: str | None
    rank: int | None = None
    #: Counted measures (and ``area_km2`` for streets), keyed by measure name.
    counts: dict[str, int | float]
    #: Rates from the configured formulas, plus the hotline's three rates where they apply.
    rates: dict[str, float | None]
    composite: float | None


class EvaluationRead(BaseModel):
    subject: str
    period: str
    period_from: datetime
    period_to: datetime
    as_of: datetime
    #: Chinese label of every count and rate name, for tables and workbooks.
    labels: dict[str, str]
    #: The composite's terms as configured, e.g. ``{"on_time_rate": 0.5, …}``.
    weights: dict[str, float]
    rows: list[SubjectRow]
    total: SubjectRow


class DrillRead(BaseModel):
    """The cases behind one figure: a count's cases, or a rate's numerator and denominator."""

    subject: str
    key: str
    indicator: str
    measure: str
    case_ids: list[int]
    denominator: str | None = None
    denominator_case_ids: list[int] | None = None


class SelfEvalLine(BaseModel):
    level1: str
    level2: str
    level3: str
    target_text: str
    target: float | None
    actual: float | None
    actual_text: str
    weight: float
    score: float | None
    reason: str


class SelfEvaluationRead(BaseModel):
    title: str
    project: str
    period: str
    period_from: datetime
    period_to: datetime
    lines: list[SelfEvalLine]
    #: Sum of the scores the platform could compute (rows left to the office are not included).
    computed_score: float
    computed_weight: float
