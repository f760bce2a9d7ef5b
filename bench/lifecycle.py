"""Throughput of the case service: report → register → dispatch → handle → check → close.

Runs the real service functions (one transaction per action, audit chain included) against a
fresh database and prints cases/s and actions/s. Compare backends as ratios within one run.

    .venv/bin/python bench/lifecycle.py --cases 300
    .venv/bin/python bench/lifecycle.py --cases 300 --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

import cityops.models  # noqa: F401
from cityops.auth.actor import SYSTEM
from cityops.auth.service import actor_of, create_org_unit, create_user, ensure_district
from cityops.cases import service
from cityops.cases.lifecycle import Action
from cityops.cases.schemas import ACTION_BODIES, CaseReport
from cityops.catalog.service import ensure_default_catalog
from cityops.config import Settings
from cityops.db import Base, make_engine, make_sessionmaker, unit_of_work

PASSWORD = "Bench-pass-2026"
STEPS = [
    (Action.REGISTER, "shift_lead", {}),
    (Action.DISPATCH, "dispatcher", {"department_id": None}),
    (Action.HANDLE, "department_handler", {"result": "已处理"}),
    (Action.CHECK, "inspector", {"verdict": "pass"}),
    (Action.CLOSE, "shift_lead", {}),
]


def run(url: str, cases: int) -> dict[str, float]:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    settings = Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()), audit_key="bench")
    factory = make_sessionmaker(engine, settings)
    with unit_of_work(factory) as s:
        ensure_district(s, code="110106", name="丰台区")
        ensure_default_catalog(s, district_code="110106")
        dept = create_org_unit(
            s,
            actor=SYSTEM,
            district_code="110106",
            kind="department",
            code="water",
            name="区水务局",
            dept_type="water",
        )
        actors = {}
        for role in ("inspector", "shift_lead", "dispatcher", "department_handler"):
            user = create_user(
                s,
                actor=SYSTEM,
                username=f"{role}-{uuid.uuid4().hex[:6]}",
                password=PASSWORD,
                display_name=role,
                roles=[role],
                district_code="110106",
                scope_department_id=dept.id if role == "department_handler" else None,
            )
            actors[role] = actor_of(user)
    report = CaseReport(
        kind="event", minor_code="0102", description="暴露垃圾", lon=116.29, lat=39.84
    )
    started = time.perf_counter()
    actions = 0
    for _ in range(cases):
        with unit_of_work(factory) as s:
            case = service.report_case(s, actor=actors["inspector"], data=report).case
            case_id, version = case.id, case.version
        actions += 1
        for action, role, fields in STEPS:
            body = {k: (dept.id if k == "department_id" else v) for k, v in fields.items()}
            with unit_of_work(factory) as s:
                case = service.act(
                    s,
                    actor=actors[role],
                    case_id=case_id,
                    action=action,
                    body=ACTION_BODIES[action](expected_version=version, **body),
                )
                version = case.version
            actions += 1
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"cases_per_s": cases / elapsed, "actions_per_s": actions / elapsed, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument(
        "--postgres", help="PostgreSQL URL to compare with (a scratch schema is used)"
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.cases)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            sep = "&" if "?" in args.postgres else "?"
            results["postgresql"] = run(
                f"{args.postgres}{sep}options=-csearch_path%3D{schema}", args.cases
            )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    for name, r in results.items():
        print(
            f"{name:10s} {args.cases} cases, {r['seconds']:.1f} s: "
            f"{r['cases_per_s']:.1f} cases/s, {r['actions_per_s']:.1f} actions/s"
        )
    if len(results) == 2:
        ratio = results["postgresql"]["actions_per_s"] / results["sqlite"]["actions_per_s"]
        print(f"postgresql / sqlite actions per second: {ratio:.2f}")


if __name__ == "__main__":
    main()
