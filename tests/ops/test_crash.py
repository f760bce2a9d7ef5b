"""Bounded crash test: SIGKILL the real server while clients report; nothing lost or doubled.

The longer run is ``python bench/crash.py`` (see docs/reliability.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crash.py"


def _crash_module():
    spec = importlib.util.spec_from_file_location("cityops_bench_crash", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sigkilled_server_loses_and_duplicates_nothing(engine, db_url, settings, capsys):
    crash = _crash_module()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    crash.prepare(db_url, settings.data_dir, migrate=False)  # the fixture built the schema
    result = crash.run(
        database_url=db_url,
        data_dir=settings.data_dir,
        clients=4,
        cases=15,
        kills=3,
        deadline_s=120,
        log=lambda _line: None,
    )
    with capsys.disabled():
        print("\n" + result.summary())
    assert result.problems == []
    assert result.kills == 3
    assert result.acknowledged == result.attempted == 60
    assert (result.lost, result.duplicated, result.mismatched) == (0, 0, 0)
