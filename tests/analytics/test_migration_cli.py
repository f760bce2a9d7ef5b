"""An existing database gets its roll-ups and evaluation cohorts when upgraded; the CLI
rebuilds and reports them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops import clisupport
from cityops.analytics.models import CaseCohort, CaseStat
from cityops.auth.models import District
from cityops.cases.models import Case, CaseEvent
from cityops.cli import app as cli
from cityops.db import make_engine
from cityops.migrate import upgrade

SH = ZoneInfo("Asia/Shanghai")
BEFORE_ROLLUPS = "2a1211a163e3"


@pytest.fixture
def fresh_url(backend: str, db_url: str, tmp_path: Any) -> Iterator[str]:
    """An empty database of its own (the fixtures' tables would hide the migrations)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"rollup_{uuid.uuid4().hex[:10]}"
    admin = make_engine(db_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield db_url.rsplit("%3D", 1)[0] + f"%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _old_case(conn: Any) -> None:
    """One case with its events, written as a version without roll-ups would have."""
    t = datetime(2026, 11, 2, 9, tzinfo=SH)
    conn.execute(insert(District.__table__).values(code="110106", name="丰台区"))
    case_id = conn.execute(
        insert(Case.__table__).returning(Case.__table__.c.id),
        {
            "district_code": "110106", "number": "11010620261102000001", "source": "hotline",
            "kind": "event", "major_code": "01", "minor_code": "0102", "class_name": "暴露垃圾",
            "catalog_version": "v1", "urgency": "normal", "description": "路边堆放垃圾",
            "lon": 116.3, "lat": 39.85, "street_code": "110106001", "status": "handled",
            "reported_at": t, "updated_at": t, "version": 4, "rework_count": 0,
            "return_count": 0, "urge_count": 0, "extension_count": 0,
        },
    ).scalar_one()  # fmt: skip
    due = datetime(2026, 11, 3, 9, tzinfo=SH)
    steps = [
        ("report", None, "reported", {"kind": "event", "minor_code": "0102"}, None),
        ("register", "reported", "registered", {"minor_code": "0104"}, None),
        ("dispatch", "registered", "dispatched", {"department_id": 9}, due),
        ("handle", "dispatched", "handled", {"result": "已清理"}, due),
    ]
    for seq, (action, source, target, payload, due_at) in enumerate(steps, start=1):
        conn.execute(
            insert(CaseEvent.__table__),
            {
                "case_id": case_id, "district_code": "110106", "seq": seq, "action": action,
                "from_status": source, "to_status": target, "payload": payload,
                "at": t.replace(hour=9 + seq), "due_at": due_at,
            },
        )  # fmt: skip


def test_upgrade_fills_rollups_and_the_cli_rebuilds_them(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    upgrade(fresh_url, BEFORE_ROLLUPS)
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            _old_case(conn)
        upgrade(fresh_url)
        with Session(engine) as session:
            day = session.scalars(select(CaseStat).where(CaseStat.grain == "day")).one()
            assert (day.reported, day.registered, day.dispatched) == (1, 1, 1)
            assert (day.handled, day.handled_on_time) == (1, 1)  # handled before it was due
            classes = session.execute(
                select(CaseStat.minor_code, CaseStat.reported, CaseStat.registered).where(
                    CaseStat.grain == "class"
                )
            ).all()
            # Reported as 0102, registered after reclassification as 0104.
            assert sorted(classes) == [("0102", 1, 0), ("0104", 0, 1)]
            [(department, handled)] = session.execute(
                select(CaseStat.department_id, CaseStat.handled).where(
                    CaseStat.grain == "department", CaseStat.handled > 0
                )
            ).all()
            assert (department, handled) == (9, 1)
            # The cohorts come from the case row: reported in street 110106001, not registered.
            street = session.scalars(select(CaseCohort).where(CaseCohort.cohort == "street")).one()
            assert (street.subject, street.period, street.n, street.valid) == (
                "110106001", date(2026, 11, 2), 1, 0,
            )  # fmt: skip
            session.execute(CaseStat.__table__.delete())
            session.execute(CaseCohort.__table__.delete())
            session.commit()
        monkeypatch.setenv("CITYOPS_DATABASE_URL", fresh_url)
        monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path / "data"))
        clisupport.cli_settings.cache_clear()
        rebuilt = CliRunner().invoke(cli, ["analytics", "rebuild", "--district", "110106"])
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "4 events" in rebuilt.output and "cohorts rebuilt from 1 cases" in rebuilt.output
        with Session(engine) as session:
            assert session.scalar(select(CaseStat.handled).where(CaseStat.grain == "day")) == 1
            assert session.scalar(select(CaseCohort.n).where(CaseCohort.cohort == "street")) == 1
        quiet = CliRunner().invoke(
            cli, ["analytics", "anomalies", "--district", "110106", "--day", "2026-11-02"]
        )
        assert quiet.exit_code == 0 and "no anomalies" in quiet.output, quiet.output
        bad = CliRunner().invoke(cli, ["analytics", "anomalies", "--day", "2 Nov"])
        assert bad.exit_code != 0 and "--day" in bad.output
    finally:
        clisupport.cli_settings.cache_clear()
        engine.dispose()
