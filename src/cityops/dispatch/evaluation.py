"""Seeded, stratified k-fold evaluation of the text classifier on any labelled file.

Each fold's model is trained on the other folds only (tuning, when asked, runs an inner CV inside
that training part), so no figure ever sees its own test documents.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cityops.dispatch.textclf import ClassifierConfig, Doc, TextClassifier
from cityops.errors import InvalidInput


@dataclass(frozen=True)
class LabelledData:
    """Documents and their labels read from a file."""

    docs: list[Doc]
    labels: list[str]
    #: Rows left out because their text or label was empty.
    skipped: int = 0


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise InvalidInput(f"no such file: {path}", field="file")
    suffix = path.suffix.lower()
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError:
        text = raw.decode("gb18030")  # what Chinese Excel and many government exports use
    if suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if suffix == ".json":
        data = json.loads(text)
        if not isinstance(data, list):
            raise InvalidInput(f"{path.name}: expected a JSON list of objects", field="file")
        return data
    return list(csv.DictReader(text.splitlines()))


def load_labelled(
    path: Path, *, text_col: str, label_col: str, title_col: str | None = None
) -> LabelledData:
    """Read ``text_col`` (and ``title_col``) → ``label_col`` from CSV, JSON or JSON Lines."""
    rows = _read_rows(path)
    columns: list[str] = []
    for row in rows[:1]:
        columns = list(row.keys())
    wanted = [("--text-col", text_col), ("--label-col", label_col)]
    if title_col:
        wanted.append(("--title-col", title_col))
    for option, name in wanted:
        if rows and name not in columns:
            raise InvalidInput(
                f"column {name!r} ({option}) not found in {path.name}; "
                f"its columns are: {', '.join(columns)}",
                field=option.lstrip("-"),
            )
    docs: list[Doc] = []
    labels: list[str] = []
    skipped = 0
    for row in rows:
        body = str(row.get(text_col) or "").strip()
        title = str(row.get(title_col) or "").strip() if title_col else ""
        label = str(row.get(label_col) or "").strip()
        if not label or not (body or title):
            skipped += 1
            continue
        docs.append((title, body) if title_col else body)
        labels.append(label)
    return LabelledData(docs=docs, labels=labels, skipped=skipped)


def read_taxonomy(path: Path) -> list[list[str]]:
    """Rows of a level-per-column taxonomy CSV (header skipped), e.g. 一级/二级/三级分类."""
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    return [[cell.strip() for cell in row] for row in rows[1:] if row]


@dataclass(frozen=True)
class Scores:
    """Accuracy, macro-averaged F1 and top-k accuracy of one set of predictions."""

    accuracy: float
    macro_f1: float
    top_k_accuracy: float
    per_class_f1: dict[str, float]


def score(
    y_true: Sequence[str], y_pred: Sequence[str], ranked: Sequence[Sequence[str]], k: int = 3
) -> Scores:
    """Figures from predictions; ``ranked`` holds each document's labels, most probable first.

    Macro-F1 averages F1 over every label seen in truth or prediction (as scikit-learn does);
    a class never predicted and never true cannot occur.
    """
    n = len(y_true)
    if n == 0 or len(y_pred) != n or len(ranked) != n:
        raise InvalidInput("score needs as many predictions as true labels, and at least one")
    accuracy = sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / n
    top_k = sum(t in list(r)[:k] for t, r in zip(y_true, ranked, strict=True)) / n
    per_class: dict[str, float] = {}
    for label in sorted(set(y_true) | set(y_pred)):
        tp = sum(t == label and p == label for t, p in zip(y_true, y_pred, strict=True))
        fp = sum(t != label and p == label for t, p in zip(y_true, y_pred, strict=True))
        fn = sum(t == label and p != label for t, p in zip(y_true, y_pred, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = f1
    macro = sum(per_class.values()) / len(per_class)
    return Scores(accuracy=accuracy, macro_f1=macro, top_k_accuracy=top_k, per_class_f1=per_class)


def confused_pairs(
    y_true: Sequence[str], y_pred: Sequence[str], limit: int = 5
) -> list[tuple[str, str, int]]:
    """The most frequent (true, predicted) mistakes, most frequent first, ties by name."""
    counts = Counter((t, p) for t, p in zip(y_true, y_pred, strict=True) if t != p)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(t, p, c) for (t, p), c in ranked[:limit]]


@dataclass(frozen=True)
class EvaluationReport:
    """What ``cityops dispatch evaluate`` prints."""

    n: int
    classes: list[str]
    folds: int
    seed: int
    k: int
    accuracy: float
    macro_f1: float
    top_k_accuracy: float
    fold_accuracy: list[float]
    per_class_f1: dict[str, float]
    confused: list[tuple[str, str, int]]
    #: Classes left out because they have fewer examples than folds (label → count).
    excluded: dict[str, int] = field(default_factory=dict)
    #: What the fold models actually used (first fold), e.g. the tuned C.
    chosen: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def fold_indices(
    labels: Sequence[str], *, folds: int, seed: int
) -> list[tuple[list[int], list[int]]]:
    """``(train, test)`` index lists of a shuffled stratified split: each class spread evenly."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        ([int(i) for i in train], [int(i) for i in test])
        for train, test in splitter.split(np.zeros(len(labels)), list(labels))
    ]


def cross_validate(
    docs: Sequence[Doc],
    labels: Sequence[str],
    *,
    config: ClassifierConfig | None = None,
    folds: int = 5,
    seed: int = 42,
    k: int = 3,
    prior: Sequence[tuple[Doc, str]] = (),
) -> EvaluationReport:
    """Stratified, shuffled ``folds``-fold CV seeded by ``seed``; same seed, same figures."""
    if folds < 2:
        raise InvalidInput("cross-validation needs at least 2 folds", field="folds")
    started = time.perf_counter()
    # The model's own randomness (calibration folds) follows the evaluation seed too.
    config = replace(config or ClassifierConfig(), seed=seed)
    counts = Counter(labels)
    excluded = {label: c for label, c in sorted(counts.items()) if c < folds}
    keep = [i for i, y in enumerate(labels) if y not in excluded]
    docs = [docs[i] for i in keep]
    y = [str(labels[i]) for i in keep]
    if len(set(y)) < 2:
        raise InvalidInput(
            f"need at least two labels with {folds} or more examples each to cross-validate"
        )
    predicted: list[str] = [""] * len(y)
    ranked: list[list[str]] = [[] for _ in y]
    fold_accuracy: list[float] = []
    chosen: list[dict[str, Any]] = []
    for train, test in fold_indices(y, folds=folds, seed=seed):
        model = TextClassifier(config).fit(
            [docs[i] for i in train], [y[i] for i in train], prior=prior
        )
        chosen.append(dict(model.chosen))
        proba = model.predict_proba([docs[i] for i in test])
        classes = model.classes
        for row, i in zip(proba, test, strict=True):
            order = np.argsort(-row, kind="stable")
            ranked[i] = [classes[j] for j in order]
            predicted[i] = ranked[i][0]
        fold_accuracy.append(float(np.mean([predicted[i] == y[i] for i in test])))
    scores = score(y, predicted, ranked, k=k)
    return EvaluationReport(
        n=len(y),
        classes=sorted(set(y)),
        folds=folds,
        seed=seed,
        k=k,
        accuracy=scores.accuracy,
        macro_f1=scores.macro_f1,
        top_k_accuracy=scores.top_k_accuracy,
        fold_accuracy=fold_accuracy,
        per_class_f1=scores.per_class_f1,
        confused=confused_pairs(y, predicted),
        excluded=excluded,
        chosen=chosen,
        seconds=time.perf_counter() - started,
    )


def format_report(report: EvaluationReport) -> str:
    """A plain-text summary for the terminal and the benchmark log."""
    folds = ", ".join(f"{a:.3f}" for a in report.fold_accuracy)
    lines = [
        f"documents: {report.n}  classes: {len(report.classes)}  "
        f"folds: {report.folds} (stratified, seed {report.seed})",
        f"accuracy:        {report.accuracy:.3f}   (per fold: {folds})",
        f"macro-F1:        {report.macro_f1:.3f}",
        f"top-{report.k} accuracy:  {report.top_k_accuracy:.3f}",
        "F1 per class:    "
        + ", ".join(f"{label} {f1:.2f}" for label, f1 in report.per_class_f1.items()),
    ]
    if report.confused:
        lines.append("most confused (true → predicted: count):")
        lines.extend(f"  {t} → {p}: {c}" for t, p, c in report.confused)
    if report.excluded:
        left = ", ".join(f"{label} ({c})" for label, c in report.excluded.items())
        lines.append(f"left out, fewer examples than folds: {left}")
    if report.chosen:
        first = report.chosen[0]
        lines.append(
            "model (fold 1): "
            + ", ".join(f"{key}={first[key]}" for key in ("c", "char_ngram_max", "min_df"))
            + f", fields={'+'.join(first['fields'])}, calibrated={first['calibrated']}"
        )
    lines.append(f"time: {report.seconds:.1f} s")
    return "\n".join(lines)
