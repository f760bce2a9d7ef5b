"""``cityops catalog …`` end to end against the test database."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cityops import clisupport
from cityops.catalog import cli

runner = CliRunner()


@pytest.fixture
def run(monkeypatch, settings, district):
    """Invoke the catalogue CLI on the test database; fails the test on a non-zero exit."""
    monkeypatch.setattr(clisupport, "cli_settings", lambda: settings)
    # Wide enough that rich never truncates a table cell the test looks for.
    monkeypatch.setattr(cli, "console", Console(width=250))

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli.app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_load_export_versions(run, tmp_path: Path):
    assert "loaded 142 classes as version default-1 (active)" in run("load")
    out = tmp_path / "catalog.yaml"
    assert "wrote 142 classes" in run("export", str(out))
    assert "loaded 142 classes as version city-2 (active)" in run(
        "load", str(out), "--label", "city-2"
    )
    listing = run("versions")
    assert "city-2" in listing and "default-1" in listing
    assert "version default-1 is active" in run("activate", "default-1")


def test_load_refuses_a_bad_file_with_row_and_column(run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,major_code\nevent,01\n", encoding="utf-8")
    output = run("load", str(bad), code=1)
    assert "column major_name: missing" in output


def test_departments_and_rules(run, session, settings):
    run("load")
    assert "created 50 departments" in run("departments", "load-demo")
    assert "区水务局" in run("departments", "list", "--type", "water")
    assert "added rule 1" in run(
        "rules", "add", "--department", "cgw", "--minor", "0102", "--kind", "event",
        "--area", "110106012", "--priority", "5",
    )  # fmt: skip
    assert "loaded 4 rules" in run("rules", "load")
    assert "(manual queue)" in run("rules", "list")
    explained = run("rules", "explain", "--kind", "event", "--minor", "0102",
                    "--grid", "110106012001001", "--at", "2025-03-05T10:00")  # fmt: skip
    assert "rule 1: event minor class 0102 in street 110106012 → 区城管委" in explained
    night = run("rules", "explain", "--kind", "event", "--minor", "0401",
                "--street", "110106001", "--at", "2025-03-05T23:30")  # fmt: skip
    assert "between 22:00 and 06:00 → command centre's manual queue" in night
    assert "no department with code 'nosuch'" in run(
        "rules", "add", "--department", "nosuch", code=1
    )
