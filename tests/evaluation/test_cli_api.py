"""``cityops evaluate …`` and ``/api/v1/evaluation`` end to end on the data set of conftest."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from rich.console import Console
from typer.testing import CliRunner

from cityops import clisupport
from cityops.evaluation import cli

from .conftest import STREET_A, STREET_B

runner = CliRunner()


@pytest.fixture
def run(monkeypatch: Any, settings: Any, district: str) -> Any:
    monkeypatch.setattr(clisupport, "cli_settings", lambda: settings)
    monkeypatch.setattr(cli, "cli_settings", lambda: settings)
    monkeypatch.setattr(cli, "console", Console(width=200))

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli.app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_cli_run_writes_the_workbook(run, world, tmp_path: Path):
    out = tmp_path / "out.xlsx"
    text = run("run", "--period", "2025-Q3", "--xlsx", str(out), "--subject", "street")
    # Q3 adds c5 (reported in August, still open) to street A: 0.4 × 2/3 + 0.6 × 1/3.
    assert "甲街道" in text and "46.67" in text
    book = load_workbook(out)
    assert book.sheetnames == ["街道评价", "权重说明"]
    assert book["街道评价"]["C4"].value == STREET_A
    everything = run("run", "--period", "2025-09")
    assert "区水务局" in everything and "监督员二" in everything


def test_cli_self_eval_and_refusals(run, world, tmp_path: Path):
    out = tmp_path / "self.xlsx"
    text = run("self-eval", "--period", "2025-09", "--xlsx", str(out), "--availability", "0.9995")
    assert "42.64" in text
    assert load_workbook(out)["绩效自评表"]["A1"].value == "项目支出绩效自评表"
    assert "period" in run("run", "--period", "2025-13", code=1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("department: [", encoding="utf-8")
    assert "config" in run("run", "--period", "2025-09", "--config", str(bad), code=1)


def test_api_ranking_drill_and_scope(client, login, world, make_user):
    lead = make_user("shift_lead", username="lead_api")
    headers = login(lead)
    response = client.get(
        "/api/v1/evaluation/street", params={"period": "2025-09"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["key"], r["rank"]) for r in body["rows"]] == [(STREET_A, 1), (STREET_B, 2)]
    assert body["rows"][0]["rates"]["closure_rate"] == 1.0
    drilled = client.get(
        "/api/v1/evaluation/department/drill",
        params={"period": "2025-09", "indicator": "returns", "key": str(world.water)},
        headers=headers,
    )
    assert drilled.status_code == 200 and drilled.json()["case_ids"] == [world.cases["c6"]]
    # A worker scoped to street A sees street A only.
    scoped = login(make_user("operator", username="scoped_api", scope_areas=[STREET_A]))
    mine = client.get("/api/v1/evaluation/street", params={"period": "2025-09"}, headers=scoped)
    assert [r["key"] for r in mine.json()["rows"]] == [STREET_A]
    assert client.get("/api/v1/evaluation/street", params={"period": "2025-09"}).status_code == 401
    assert (
        client.get(
            "/api/v1/evaluation/street", params={"period": "nope"}, headers=headers
        ).status_code
        == 422
    )
    assert (
        client.get("/api/v1/evaluation/nobody", params={"period": "2025-09"}, headers=headers)
    ).status_code == 422


def test_api_downloads(client, login, world, make_user):
    headers = login(make_user("leader", username="leader_api"))
    report = client.get(
        "/api/v1/evaluation/report.xlsx", params={"period": "2025-09"}, headers=headers
    )
    assert report.status_code == 200, report.text
    assert load_workbook(BytesIO(report.content)).sheetnames[:3] == [
        "部门评价", "街道评价", "监督员评价",
    ]  # fmt: skip
    table = client.get(
        "/api/v1/evaluation/self-evaluation",
        params={"period": "2025-09", "availability": 0.9995},
        headers=headers,
    )
    assert table.status_code == 200 and table.json()["computed_score"] == 42.64
    xlsx = client.get(
        "/api/v1/evaluation/self-evaluation.xlsx", params={"period": "2025-09"}, headers=headers
    )
    assert xlsx.status_code == 200
    assert load_workbook(BytesIO(xlsx.content))["绩效自评表"]["A1"].value == "项目支出绩效自评表"
