"""Learned suggestions: train from closed cases, store the models, suggest for a new text.

Two models, one per target: the minor class (``kind:minor_code``, e.g. ``event:0102``) and the
department (``department_id``). They are files under ``<data dir>/dispatch/``, not tables;
training only reads the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.models import OrgUnit
from cityops.cases.lifecycle import Status
from cityops.cases.models import Case
from cityops.db import settings_of
from cityops.dispatch.schemas import (
    ClassSuggestionRead,
    DepartmentSuggestionRead,
    SuggestResponse,
)
from cityops.dispatch.textclf import (
    ClassifierConfig,
    Suggestion,
    TextClassifier,
    load_model,
    save_model,
)
from cityops.errors import InvalidInput
from cityops.timeutil import utcnow

Target = Literal["minor_class", "department"]
TARGETS: tuple[Target, ...] = ("minor_class", "department")

#: Told to callers when a target has no model yet.
NO_MODEL_MESSAGE = "no suggestion model has been trained yet: run 'cityops dispatch train'"

__all__ = [
    "NO_MODEL_MESSAGE",
    "TARGETS",
    "DispatchSuggestions",
    "Suggestion",
    "TrainResult",
    "class_label",
    "current_model",
    "model_path",
    "parse_class_label",
    "suggest",
    "suggest_dispatch",
    "train_from_cases",
]


def model_path(data_dir: Path, target: Target) -> Path:
    """Where the model of ``target`` lives."""
    return data_dir / "dispatch" / f"{target}.pickle"


def class_label(kind: str, minor_code: str) -> str:
    """The label of a minor class: kind and code, since codes repeat across kinds."""
    return f"{kind}:{minor_code}"


def parse_class_label(label: str) -> tuple[str, str]:
    """``(kind, minor_code)`` of a label made by :func:`class_label`."""
    kind, _, code = label.partition(":")
    return kind, code


@dataclass(frozen=True)
class TrainResult:
    """What training one target did."""

    target: Target
    cases: int
    classes: int
    path: Path | None
    #: Labels left out for having fewer than ``min_class_cases`` cases (label → count).
    dropped: dict[str, int] = field(default_factory=dict)
    #: Why no model was written, when none was.
    skipped: str | None = None


def _closed_cases(
    session: Session, *, district_code: str | None, limit: int
) -> list[tuple[str, str, str, str, int | None]]:
    stmt = (
        select(Case.description, Case.kind, Case.minor_code, Case.class_name, Case.department_id)
        .where(Case.status == Status.CLOSED.value)
        .order_by(Case.closed_at.desc(), Case.id.desc())  # the most recent practice first
        .limit(limit)
    )
    if district_code:
        stmt = stmt.where(Case.district_code == district_code)
    return [(d, k, m, n, dep) for d, k, m, n, dep in session.execute(stmt)]


def train_from_cases(
    *,
    session: Session,
    data_dir: Path,
    config: ClassifierConfig | None = None,
    district_code: str | None = None,
    min_class_cases: int = 2,
    limit: int = 200_000,
) -> list[TrainResult]:
    """Train and store both models from closed cases (description → class, → department)."""
    if min_class_cases < 1:
        raise InvalidInput("min_class_cases must be at least 1", field="min_class_cases")
    rows = [r for r in _closed_cases(session, district_code=district_code, limit=limit) if r[0]]
    names: dict[str, str] = {}
    for _d, kind, code, name, _dep in reversed(rows):  # the latest name of a class wins
        names[class_label(kind, code)] = name
    datasets: dict[Target, tuple[list[str], list[str]]] = {
        "minor_class": ([r[0] for r in rows], [class_label(r[1], r[2]) for r in rows]),
        "department": (
            [r[0] for r in rows if r[4] is not None],
            [str(r[4]) for r in rows if r[4] is not None],
        ),
    }
    results = []
    for target in TARGETS:
        texts, labels = datasets[target]
        counts = Counter(labels)
        dropped = {label: c for label, c in sorted(counts.items()) if c < min_class_cases}
        keep = [i for i, label in enumerate(labels) if label not in dropped]
        texts = [texts[i] for i in keep]
        labels = [labels[i] for i in keep]
        if len(set(labels)) < 2:
            results.append(
                TrainResult(
                    target=target,
                    cases=len(labels),
                    classes=len(set(labels)),
                    path=None,
                    dropped=dropped,
                    skipped=f"needs closed cases of at least two {target} labels "
                    f"with {min_class_cases} or more cases each",
                )
            )
            continue
        model = TextClassifier(config).fit(texts, labels)
        model.meta = {
            "target": target,
            "cases": len(labels),
            "trained_at": utcnow().isoformat(),
            "district_code": district_code,
            "names": {label: names[label] for label in model.classes if label in names},
        }
        path = model_path(data_dir, target)
        save_model(model, path)
        results.append(
            TrainResult(
                target=target,
                cases=len(labels),
                classes=len(model.classes),
                path=path,
                dropped=dropped,
            )
        )
    return results


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> TextClassifier:
    # Keyed on the file's mtime, so a retrained model is picked up without a restart.
    return load_model(Path(path))


def current_model(data_dir: Path, target: Target) -> TextClassifier | None:
    """The stored model of ``target``, or None when none has been trained."""
    path = model_path(data_dir, target)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    return _load_cached(str(path), mtime)


def suggest(
    session_or_model: Session | TextClassifier | None,
    text: str,
    k: int = 3,
    *,
    target: Target = "minor_class",
) -> list[Suggestion]:
    """The ``k`` best labels for ``text``, each with confidence and explanation.

    Give a fitted model, or a session (the stored model of ``target`` under the data dir of the
    session's settings is used). Empty when there is no model or no text.
    """
    model: TextClassifier | None
    if isinstance(session_or_model, Session):
        model = current_model(settings_of(session_or_model).data_dir, target)
    else:
        model = session_or_model
    if model is None or not text.strip():
        return []
    return model.top_k(text, k=k)


@dataclass(frozen=True)
class DispatchSuggestions:
    """Minor-class and department suggestions for one text."""

    classes: list[Suggestion]
    departments: list[Suggestion]
    #: Class label → class name, as last seen in training.
    class_names: dict[str, str] = field(default_factory=dict)
    #: Set when a model is missing, so callers can say why the lists are empty.
    message: str | None = None
    trained_at: datetime | None = None


def suggest_dispatch(*, data_dir: Path, text: str, k: int = 3) -> DispatchSuggestions:
    """Suggest both the minor class and the department for ``text`` from the stored models."""
    class_model = current_model(data_dir, "minor_class")
    department_model = current_model(data_dir, "department")
    pairs = (("minor_class", class_model), ("department", department_model))
    missing = [target for target, model in pairs if model is None]
    message = f"{NO_MODEL_MESSAGE} (missing: {', '.join(missing)})" if missing else None
    trained = next((m.meta.get("trained_at") for m in (class_model, department_model) if m), None)
    return DispatchSuggestions(
        classes=suggest(class_model, text, k),
        departments=suggest(department_model, text, k),
        class_names=dict(class_model.meta.get("names", {})) if class_model else {},
        message=message,
        trained_at=datetime.fromisoformat(trained) if trained else None,
    )


def named_suggestions(
    session: Session, *, data_dir: Path, text: str, k: int = 3
) -> SuggestResponse:
    """``suggest_dispatch`` as an answer for people: class and department names included."""
    found = suggest_dispatch(data_dir=data_dir, text=text, k=k)
    ids = [int(s.label) for s in found.departments if s.label.isdigit()]
    names = (
        dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all())
        if ids
        else {}
    )
    classes = []
    for s in found.classes:
        kind, code = parse_class_label(s.label)
        classes.append(
            ClassSuggestionRead(
                kind=kind,
                minor_code=code,
                class_name=found.class_names.get(s.label),
                confidence=s.confidence,
                top_features=list(s.top_features),
            )
        )
    departments = [
        DepartmentSuggestionRead(
            department_id=int(s.label),
            name=names.get(int(s.label)),
            confidence=s.confidence,
            top_features=list(s.top_features),
        )
        for s in found.departments
        if s.label.isdigit()
    ]
    return SuggestResponse(
        classes=classes, departments=departments, message=found.message, trained_at=found.trained_at
    )
