"""``cityops dispatch evaluate`` end to end on a CSV in a temporary directory."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from cityops.dispatch.cli import app

from .conftest import make_corpus

runner = CliRunner()


def _corpus_csv(tmp_path: Path) -> Path:
    texts, labels = make_corpus(per_label=12, seed=3)
    path = tmp_path / "labelled.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "label"])
        writer.writerows((i, t, y) for i, (t, y) in enumerate(zip(texts, labels, strict=True)))
    return path


def test_evaluate_prints_the_figures(tmp_path: Path):
    path = _corpus_csv(tmp_path)
    args = ["evaluate", str(path), "--text-col", "text", "--label-col", "label", "--folds", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for needle in ("documents: 48", "accuracy:", "macro-F1:", "top-3 accuracy:", "seed 42"):
        assert needle in result.output
    # Same seed, same figures (the time line aside).
    again = runner.invoke(app, args)
    strip = lambda out: [line for line in out.splitlines() if not line.startswith("time")]  # noqa: E731
    assert strip(again.output) == strip(result.output)


def test_evaluate_with_a_bad_column_names_it(tmp_path: Path):
    path = _corpus_csv(tmp_path)
    result = runner.invoke(
        app, ["evaluate", str(path), "--text-col", "description", "--label-col", "label"]
    )
    assert result.exit_code == 1
    assert "'description' (--text-col) not found" in result.output
    assert "id, text, label" in result.output


def test_suggest_without_a_model_says_how_to_train(tmp_path: Path, monkeypatch):
    from cityops.clisupport import cli_settings

    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path / "data"))
    cli_settings.cache_clear()
    try:
        result = runner.invoke(app, ["suggest", "井盖破损"])
    finally:
        cli_settings.cache_clear()
    assert result.exit_code == 0
    assert "cityops dispatch train" in result.output
