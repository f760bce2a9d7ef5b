"""``cityops hotline …`` end to end against the test database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cityops import clisupport
from cityops.hotline import cli, service

from .conftest import call, dispatch, local

runner = CliRunner()


@pytest.fixture
def run(monkeypatch: Any, settings: Any, district: str) -> Any:
    """Invoke the hotline CLI on the test database; fails the test on an unexpected exit."""
    monkeypatch.setattr(clisupport, "cli_settings", lambda: settings)
    monkeypatch.setattr(cli, "console", Console(width=250))

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli.app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_kb_load_creates_then_updates_and_refuses_a_bad_file(run, tmp_path: Path):
    good = tmp_path / "kb.yaml"
    good.write_text(
        "- title: 居住证办理流程\n  body: 到社区服务站办理。\n  keywords: [居住证, 暂住证]\n"
        "- title: 垃圾分类时间\n  body: 每天 7 点到 9 点。\n",
        encoding="utf-8",
    )
    assert "2 created, 0 updated" in run("kb", "load", str(good))
    assert "0 created, 2 updated" in run("kb", "load", str(good))
    bad = tmp_path / "kb.csv"
    bad.write_text("title,body\n空的,\n", encoding="utf-8")
    assert "row 2: 'body' is empty" in run("kb", "load", str(bad), code=1)


def test_callbacks_import_and_rates(run, tmp_path, session, actors, department, make_user):
    taken = service.take_call(
        session, actor=actors["operator"], data=call(), now=local(2026, 11, 2, 9)
    )
    dispatch(session, actors, taken.case, department.id, local(2026, 11, 2, 10))
    service.record_reply(
        session,
        actor=actors["handler"],
        request_id=taken.request.id,
        text="已处理",
        now=local(2026, 11, 2, 11),
    )
    session.commit()
    results = tmp_path / "ivr.csv"
    results.write_text(
        f"case_number,resolved,satisfaction,channel\n{taken.case.number},1,2,ivr\n",
        encoding="utf-8",
    )
    assert "no active user" in run("callbacks", "import", str(results), "--as", "nobody", code=2)
    out = run("callbacks", "import", str(results), "--as", actors["operator"].username)
    assert "imported 1 callbacks; 0 cases reopened" in out
    out = run("rates", "--period", "2026-11", "--by", "department")
    assert "区水务局" in out and "100.0%" in out and "80.0%" in out  # basically satisfied: 0.8
    assert "error" in run("rates", "--period", "November", code=1)
