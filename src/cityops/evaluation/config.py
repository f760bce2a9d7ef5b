"""Formulas and weights as data: the packaged ``defaults.yaml`` or a city's own copy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from cityops.errors import InvalidInput


class Subject(StrEnum):
    """What is evaluated and ranked."""

    DEPARTMENT = "department"  # 专业部门
    STREET = "street"  # 街道
    INSPECTOR = "inspector"  # 监督员


SUBJECTS = tuple(s.value for s in Subject)
#: The three rates of the hotline, joined into street and department rows by ``hotline.rates``.
HOTLINE_RATES = frozenset(
    {"response_rate", "resolution_rate", "satisfaction_rate", "hotline_composite"}
)


@dataclass(frozen=True)
class RateDef:
    """``numerator / denominator`` over counted values; ``None`` when the denominator is 0."""

    name: str
    numerator: str
    denominator: str
    label: str


@dataclass(frozen=True)
class Term:
    """One weighted term of the composite; ``invert`` uses ``1 − rate`` (e.g. rework rate)."""

    rate: str
    weight: float
    invert: bool = False


@dataclass(frozen=True)
class SubjectConfig:
    rates: tuple[RateDef, ...]
    composite: tuple[Term, ...]
    #: Subtracted from the composite per unit of a count (the composite is floored at 0).
    penalties: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SelfEvalRow:
    level1: str
    level2: str
    level3: str
    weight: float
    target_text: str
    metric: str | None = None
    target: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class SelfEvalConfig:
    title: str
    project: str
    rows: tuple[SelfEvalRow, ...]


@dataclass(frozen=True)
class EvalConfig:
    subjects: dict[str, SubjectConfig]
    self_evaluation: SelfEvalConfig


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where} must be a number", field="config")
    return float(value)


def _subject(name: str, raw: dict[str, Any]) -> SubjectConfig:
    rates = tuple(
        RateDef(
            name=key,
            numerator=str(spec["numerator"]),
            denominator=str(spec["denominator"]),
            label=str(spec.get("label", key)),
        )
        for key, spec in (raw.get("rates") or {}).items()
    )
    known = {r.name for r in rates}
    terms = []
    for i, term in enumerate(raw.get("composite") or []):
        rate = str(term["rate"])
        # Hotline rates are joined in by name; anything else must be a defined rate.
        if rate not in known | HOTLINE_RATES:
            raise InvalidInput(f"{name}.composite[{i}]: unknown rate {rate!r}", field="config")
        terms.append(
            Term(
                rate=rate,
                weight=_number(term["weight"], f"{name}.composite[{i}].weight"),
                invert=bool(term.get("invert", False)),
            )
        )
    penalties = {
        str(k): _number(v, f"{name}.penalties.{k}") for k, v in (raw.get("penalties") or {}).items()
    }
    return SubjectConfig(rates=rates, composite=tuple(terms), penalties=penalties)


def parse_config(raw: dict[str, Any]) -> EvalConfig:
    """Check and convert a loaded YAML mapping; a mistake names where it is."""
    try:
        subjects = {name: _subject(name, raw[name]) for name in SUBJECTS}
        se = raw["self_evaluation"]
        rows = tuple(
            SelfEvalRow(
                level1=str(r["level1"]),
                level2=str(r["level2"]),
                level3=str(r["level3"]),
                weight=_number(r["weight"], f"self_evaluation.rows[{i}].weight"),
                target_text=str(r.get("target_text", "")),
                metric=r.get("metric"),
                target=None if r.get("target") is None else _number(r["target"], "target"),
                unit=str(r.get("unit", "")),
            )
            for i, r in enumerate(se["rows"])
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            f"evaluation config is missing or malformed: {exc}", field="config"
        ) from exc
    return EvalConfig(
        subjects=subjects,
        self_evaluation=SelfEvalConfig(
            title=str(se.get("title", "项目支出绩效自评表")),
            project=str(se.get("project", "")),
            rows=rows,
        ),
    )


@cache
def _packaged() -> EvalConfig:
    text = (files("cityops.evaluation") / "defaults.yaml").read_text(encoding="utf-8")
    return _parse_text(text)


def load_config(path: Path | None = None) -> EvalConfig:
    """The packaged defaults (read once), or the YAML file at ``path``."""
    if path is None:
        return _packaged()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="config") from exc
    return _parse_text(text)


def _parse_text(text: str) -> EvalConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"evaluation config is not valid YAML: {exc}", field="config") from exc
    if not isinstance(raw, dict):
        raise InvalidInput("evaluation config must be a YAML mapping", field="config")
    return parse_config(raw)
