"""Evaluation: figures computed right, folds stratified and seeded, files read, columns checked."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score

from cityops.dispatch.evaluation import (
    confused_pairs,
    cross_validate,
    fold_indices,
    format_report,
    load_labelled,
    score,
)
from cityops.errors import InvalidInput


def test_score_on_a_hand_computed_case():
    truth = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    ranked = [["a", "b"], ["a", "c"], ["b", "c", "a"], ["b"], ["c", "a", "b"], ["c"]]
    s = score(truth, pred, ranked, k=2)
    # 4 of 6 right.
    assert s.accuracy == pytest.approx(4 / 6)
    # a: P=2/2 R=2/3 → F1=0.8; b: P=1/2 R=1/2 → 0.5; c: P=1/2 R=1/1 → 2/3.
    assert s.per_class_f1 == pytest.approx({"a": 0.8, "b": 0.5, "c": 2 / 3})
    assert s.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # Top-2: the third document has "a" only in third place, the fifth has "b" only third.
    assert s.top_k_accuracy == pytest.approx(4 / 6)
    assert score(truth, pred, ranked, k=3).top_k_accuracy == 1.0
    # And scikit-learn agrees.
    assert s.accuracy == pytest.approx(accuracy_score(truth, pred))
    assert s.macro_f1 == pytest.approx(f1_score(truth, pred, average="macro"))


def test_a_label_only_ever_predicted_counts_as_zero_f1():
    s = score(["a", "a"], ["a", "z"], [["a"], ["z"]])
    assert s.per_class_f1 == pytest.approx({"a": 2 / 3, "z": 0.0})
    with pytest.raises(InvalidInput):
        score([], [], [])


def test_confused_pairs_most_frequent_first():
    truth = ["a", "a", "a", "b", "b", "c"]
    pred = ["b", "b", "c", "a", "b", "a"]
    assert confused_pairs(truth, pred) == [
        ("a", "b", 2),
        ("a", "c", 1),
        ("b", "a", 1),
        ("c", "a", 1),
    ]
    assert confused_pairs(truth, pred, limit=1) == [("a", "b", 2)]


def test_folds_are_stratified_seeded_and_disjoint(corpus):
    _texts, labels = corpus
    folds = fold_indices(labels, folds=4, seed=42)
    assert fold_indices(labels, folds=4, seed=42) == folds
    assert fold_indices(labels, folds=4, seed=43) != folds
    tests = [i for _train, test in folds for i in test]
    assert sorted(tests) == list(range(len(labels)))  # each document tested exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        # 24 per label over 4 folds: exactly 6 of each label in every test fold.
        assert Counter(labels[i] for i in test) == dict.fromkeys(set(labels), 6)


def test_cross_validation_is_reproducible_and_sensible(corpus):
    texts, labels = corpus
    first = cross_validate(texts, labels, folds=3, seed=1)
    again = cross_validate(texts, labels, folds=3, seed=1)
    assert (first.accuracy, first.macro_f1, first.top_k_accuracy, first.fold_accuracy) == (
        again.accuracy,
        again.macro_f1,
        again.top_k_accuracy,
        again.fold_accuracy,
    )
    assert first.n == len(texts) and len(first.fold_accuracy) == 3
    # The synthetic labels have disjoint vocabularies: the model must get nearly all right.
    assert first.accuracy >= 0.9
    assert first.top_k_accuracy >= first.accuracy
    text = format_report(first)
    assert "accuracy" in text and "macro-F1" in text and "top-3 accuracy" in text


def test_classes_with_fewer_examples_than_folds_are_left_out_and_reported(corpus):
    texts, labels = corpus
    report = cross_validate([*texts, "水管爆裂"], [*labels, "供水"], folds=3, seed=0)
    assert report.excluded == {"供水": 1}
    assert "供水" not in report.classes
    assert "fewer examples than folds" in format_report(report)
    with pytest.raises(InvalidInput, match="two labels"):
        cross_validate(texts[:4], ["x", "x", "y", "z"], folds=3)


def _write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_load_csv_json_and_jsonl(tmp_path: Path):
    rows = [
        {"主题": "井盖", "内容": "井盖破损", "类别": "市政"},
        {"主题": "", "内容": "", "类别": "市政"},  # empty: skipped
        {"主题": "噪音", "内容": "夜间施工", "类别": "噪声"},
    ]
    csv_path = _write_csv(tmp_path / "a.csv", rows)
    data = load_labelled(csv_path, text_col="内容", label_col="类别")
    assert data.docs == ["井盖破损", "夜间施工"] and data.labels == ["市政", "噪声"]
    assert data.skipped == 1
    titled = load_labelled(csv_path, text_col="内容", label_col="类别", title_col="主题")
    assert titled.docs == [("井盖", "井盖破损"), ("噪音", "夜间施工")]
    (tmp_path / "a.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    for name in ("a.json", "a.jsonl"):
        assert load_labelled(tmp_path / name, text_col="内容", label_col="类别") == data
    gbk = _write_csv(tmp_path / "gbk.csv", rows, encoding="gb18030")
    assert load_labelled(gbk, text_col="内容", label_col="类别") == data


def test_a_bad_column_name_is_named_in_the_error(tmp_path: Path):
    path = _write_csv(tmp_path / "a.csv", [{"text": "井盖破损", "label": "市政"}])
    with pytest.raises(InvalidInput, match=r"'txt' \(--text-col\) not found.*text, label") as err:
        load_labelled(path, text_col="txt", label_col="label")
    assert err.value.field == "text-col"
    with pytest.raises(InvalidInput, match="'lbl'"):
        load_labelled(path, text_col="text", label_col="lbl")
    with pytest.raises(InvalidInput, match="no such file"):
        load_labelled(tmp_path / "none.csv", text_col="text", label_col="label")
