"""Learned-suggestion figures on the public gov-messages data set (396 messages, 7 labels).

    python bench/classifier.py ../shared/data/gov-messages [--seeds 42 0 1 2 3] [--quick]

Prints accuracy, macro-F1 and top-3 accuracy of seeded, stratified 5-fold cross-validation for
the plain baseline and each step towards the chosen configuration, with the time each took.
Exits 0 with a message when the data set is absent (it is not part of the repository).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cityops.dispatch.evaluation import (
    cross_validate,
    fold_indices,
    format_report,
    load_labelled,
    read_taxonomy,
    score,
)
from cityops.dispatch.textclf import ClassifierConfig, Doc, taxonomy_prior

Figures = tuple[float, float, float]


def baseline(docs: Sequence[Doc], labels: Sequence[str], seed: int) -> Figures:
    """Plain character 1–3-gram TF-IDF + LinearSVC on the message body (the issue's yardstick)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    bodies = [d[1] if isinstance(d, tuple) else d for d in docs]
    predicted = [""] * len(bodies)
    ranked: list[list[str]] = [[] for _ in bodies]
    for train, test in fold_indices(labels, folds=5, seed=seed):
        model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LinearSVC())
        model.fit([bodies[i] for i in train], [labels[i] for i in train])
        scores = model.decision_function([bodies[i] for i in test])
        for row, i in zip(scores, test, strict=True):
            ranked[i] = [str(model.classes_[j]) for j in np.argsort(-row)]
            predicted[i] = ranked[i][0]
    s = score(labels, predicted, ranked)
    return s.accuracy, s.macro_f1, s.top_k_accuracy


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the gov-messages directory")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 1, 2, 3])
    parser.add_argument("--quick", action="store_true", help="seed 42 only, no slow variants")
    args = parser.parse_args(argv)
    messages = args.data / "messages_labelled.csv"
    if not messages.exists():
        print(f"skipped: {messages} not found (the data set lives outside the repository)")
        return 0
    seeds: list[int] = [42] if args.quick else list(dict.fromkeys(args.seeds))

    titled = load_labelled(
        messages, text_col="留言详情", label_col="一级标签", title_col="留言主题"
    )
    docs, labels = titled.docs, titled.labels
    prior = taxonomy_prior(read_taxonomy(args.data / "label_taxonomy.csv"), set(labels))
    print(
        f"gov-messages: {len(docs)} messages, {len(set(labels))} labels; "
        f"{len(prior)} taxonomy examples; 5-fold stratified; seeds {seeds}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )

    def ours(config: ClassifierConfig, with_prior: bool) -> Callable[[int], Figures]:
        def run(seed: int) -> Figures:
            r = cross_validate(
                docs, labels, config=config, folds=5, seed=seed, prior=prior if with_prior else ()
            )
            return r.accuracy, r.macro_f1, r.top_k_accuracy

        return run

    chosen = ClassifierConfig()
    variants: list[tuple[str, Callable[[int], Figures], bool]] = [
        ("baseline: body, char 1-3 TF-IDF + LinearSVC", lambda s: baseline(docs, labels, s), True),
        ("title+body, char 1-2 sublinear, balanced, calibrated", ours(chosen, False), True),
        ("  + taxonomy prior (chosen configuration)", ours(chosen, True), True),
        ("  + jieba words", ours(ClassifierConfig(words=True), True), False),
        ("  tuned by nested CV (C, n-gram length)", ours(ClassifierConfig(tune=True), True), False),
    ]
    print(f"\n{'variant':55s} {'seeds':>5s} {'acc':>6s} {'macroF1':>8s} {'top3':>6s} {'s/run':>6s}")
    for name, run, every_seed in variants:
        if args.quick and not every_seed:
            continue
        used = seeds if every_seed else seeds[:1]
        started = time.perf_counter()
        figures = [run(seed) for seed in used]
        per_run = (time.perf_counter() - started) / len(used)
        acc, f1, top3 = (statistics.mean(f[i] for f in figures) for i in range(3))
        print(f"{name:55s} {len(used):5d} {acc:6.3f} {f1:8.3f} {top3:6.3f} {per_run:6.1f}")
        if len(used) > 1:
            seed42 = figures[used.index(42)] if 42 in used else figures[0]
            print(f"{'':55s} {'42':>5s} {seed42[0]:6.3f} {seed42[1]:8.3f} {seed42[2]:6.3f}")

    print("\nchosen configuration, seed 42, in full:")
    print(format_report(cross_validate(docs, labels, config=chosen, seed=42, prior=prior)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
