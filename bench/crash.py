"""Crash test: clients report cases over HTTP while the server is SIGKILLed and restarted.

Each client reports its cases with client request ids and retries whatever was not
acknowledged (connection refused or cut, 5xx). A killer takes the server down with SIGKILL at
evenly spaced points of progress and starts it again. At the end the database must hold every
acknowledged case exactly once, under the id the client was given, and no duplicate of any
retried report.

    python bench/crash.py                         # SQLite in a temporary directory
    python bench/crash.py --database-url postgresql://postgres@127.0.0.1:5432/crash \
        --clients 8 --cases 200 --kills 10

Only loopback traffic; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PASSWORD = "Crash-test-7a"
USERNAME = "crash-inspector"


@dataclass
class CrashResult:
    backend: str
    clients: int
    attempted: int
    acknowledged: int
    retries: int
    #: Retries answered 200: the first try had committed but its answer was lost in the kill.
    replayed: int
    kills: int
    lost: int
    duplicated: int
    mismatched: int
    seconds: float
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"crash test ({self.backend}): {self.clients} clients, {self.kills} SIGKILLs, "
            f"{self.acknowledged}/{self.attempted} cases acknowledged, {self.retries} retries, "
            f"{self.replayed} committed-but-unanswered reports replayed, "
            f"lost = {self.lost}, duplicated = {self.duplicated}, "
            f"wrong id = {self.mismatched}, {self.seconds:.1f} s"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(database_url: str, data_dir: Path, *, migrate: bool) -> None:
    """Schema (when asked), the demo district's catalogue and the reporting inspector."""
    from sqlalchemy import select

    from cityops.auth.actor import SYSTEM
    from cityops.auth.models import User
    from cityops.auth.service import create_user, ensure_district
    from cityops.catalog.service import ensure_default_catalog
    from cityops.config import Settings
    from cityops.db import make_engine, make_sessionmaker, unit_of_work

    if migrate:
        from cityops.migrate import upgrade

        upgrade(database_url)
    settings = Settings(
        environment="test", database_url=database_url, data_dir=data_dir, **_cheap_hashing()
    )
    engine = make_engine(database_url)
    try:
        with unit_of_work(make_sessionmaker(engine, settings)) as session:
            ensure_district(session, code="110106", name="丰台区")
            ensure_default_catalog(session, district_code="110106")
            if session.scalar(select(User.id).where(User.username == USERNAME)) is None:
                create_user(
                    session,
                    actor=SYSTEM,
                    username=USERNAME,
                    password=PASSWORD,
                    display_name="崩溃测试",
                    roles=["inspector"],
                    district_code="110106",
                )
    finally:
        engine.dispose()


def _cheap_hashing() -> dict[str, int]:
    # The password hash cost is not under test here.
    return {"argon2_time_cost": 1, "argon2_memory_kib": 8 * 1024}


class Server:
    """``cityops serve`` as a child process that can be killed and started again."""

    def __init__(self, database_url: str, data_dir: Path, port: int, log: Path) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self.env = os.environ | {
            "CITYOPS_DATABASE_URL": database_url,
            "CITYOPS_DATA_DIR": str(data_dir),
            "CITYOPS_ENVIRONMENT": "test",
            "CITYOPS_ARGON2_TIME_COST": "1",
            "CITYOPS_ARGON2_MEMORY_KIB": str(8 * 1024),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        command = [sys.executable, "-m", "cityops.cli", "serve", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # poll for readiness, bounded
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout} s; see {self.log}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _report(client_id: int, n: int) -> dict[str, object]:
    return {
        "client_request_id": f"crash-{client_id}-{n}",
        "kind": "event",
        "minor_code": "0102",
        "description": f"崩溃测试 客户端{client_id} 第{n}件",
        "lon": 116.2870 + client_id / 1000,
        "lat": 39.8400 + n / 100000,
    }


def run(
    *,
    database_url: str,
    data_dir: Path,
    clients: int = 4,
    cases: int = 20,
    kills: int = 3,
    deadline_s: float = 300.0,
    log: Callable[[str], None] = print,
) -> CrashResult:
    """Run the crash test against a prepared database (see ``prepare``)."""
    from sqlalchemy import func, select

    from cityops.auth.models import User
    from cityops.cases.models import Case, CaseEvent
    from cityops.db import make_engine

    started = time.monotonic()
    stop_at = started + deadline_s
    server = Server(database_url, data_dir, free_port(), data_dir / "crash-server.log")
    server.start()
    login = httpx.post(
        f"{server.base}/api/v1/auth/login",
        json={"username": USERNAME, "password": PASSWORD},
        timeout=30,
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    acked: dict[str, int] = {}
    lock = threading.Lock()
    progress = threading.Condition(lock)
    retries = [0]
    replayed = [0]
    failures: list[str] = []

    def client(client_id: int) -> None:
        with httpx.Client(base_url=server.base, headers=headers, timeout=15) as http:
            for n in range(cases):
                body = _report(client_id, n)
                while True:
                    if time.monotonic() > stop_at:
                        failures.append(f"client {client_id}: deadline before case {n}")
                        return
                    try:
                        r = http.post("/api/v1/cases", json=body)
                    except httpx.HTTPError:
                        r = None  # refused, reset or cut mid-answer: not acknowledged
                    if r is not None and r.status_code in (200, 201):
                        with progress:
                            acked[str(body["client_request_id"])] = r.json()["id"]
                            replayed[0] += r.status_code == 200
                            progress.notify_all()
                        break
                    if r is not None and r.status_code < 500:
                        failures.append(f"client {client_id}: {r.status_code} {r.text[:200]}")
                        return
                    with lock:
                        retries[0] += 1
                    time.sleep(0.05)  # back off a little while the server restarts

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    total = clients * cases
    done_kills = 0
    try:
        for k in range(1, kills + 1):
            # Kill at evenly spaced points of progress, so every run kills mid-stream.
            target = total * k // (kills + 1)
            with progress:
                while len(acked) < target and time.monotonic() < stop_at:
                    if not any(t.is_alive() for t in threads):
                        break
                    progress.wait(timeout=1)
            server.kill()
            done_kills += 1
            server.start()
        for thread in threads:
            thread.join(timeout=max(1.0, stop_at - time.monotonic()))
    finally:
        server.stop()

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            reporter = conn.scalar(select(User.id).where(User.username == USERNAME))
            rows = conn.execute(
                select(Case.client_request_id, func.count(), func.min(Case.id))
                .where(Case.reported_by_id == reporter, Case.client_request_id.like("crash-%"))
                .group_by(Case.client_request_id)
            ).all()
            report_events = conn.execute(
                select(CaseEvent.case_id, func.count())
                .where(CaseEvent.action == "report")
                .group_by(CaseEvent.case_id)
                .having(func.count() > 1)
            ).all()
    finally:
        engine.dispose()
    stored = {crid: (count, case_id) for crid, count, case_id in rows}
    lost = [c for c in acked if c not in stored]
    duplicated = sum(count - 1 for count, _ in stored.values()) + len(report_events)
    mismatched = [c for c, i in acked.items() if c in stored and stored[c][1] != i]
    result = CrashResult(
        backend=make_engine(database_url).dialect.name,
        clients=clients,
        attempted=total,
        acknowledged=len(acked),
        retries=retries[0],
        replayed=replayed[0],
        kills=done_kills,
        lost=len(lost),
        duplicated=duplicated,
        mismatched=len(mismatched),
        seconds=time.monotonic() - started,
        problems=failures + [f"lost {c}" for c in lost[:10]],
    )
    log(result.summary())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cases", type=int, default=100, help="per client")
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cityops-crash-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        url = args.database_url or f"sqlite:///{Path(tmp) / 'crash.db'}"
        prepare(url, data_dir, migrate=True)
        result = run(
            database_url=url,
            data_dir=data_dir,
            clients=args.clients,
            cases=args.cases,
            kills=args.kills,
            deadline_s=args.deadline,
        )
    for problem in result.problems:
        print("problem:", problem)
    ok = (
        result.lost == 0
        and result.duplicated == 0
        and result.mismatched == 0
        and result.acknowledged == result.attempted
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
