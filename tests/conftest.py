"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

``CITYOPS_TEST_DATABASE_URL`` points at a PostgreSQL server (``.ci/run`` sets it). Each pytest
worker gets its own schema there, created once; tables are emptied between tests.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

import cityops.models  # noqa: F401  (registers every table on Base.metadata)
from cityops.config import Settings
from cityops.db import Base, make_engine, make_sessionmaker, writer_bind

PG_URL = os.environ.get("CITYOPS_TEST_DATABASE_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="PostgreSQL not configured: set CITYOPS_TEST_DATABASE_URL"
        ),
    ),
]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Engine, str]]]:
    """Engines created lazily, once per backend per worker, with the schema built."""
    made: dict[str, tuple[Engine, str]] = {}
    yield made
    for name, (engine, url) in made.items():
        if name == "postgresql":
            schema = url.rsplit("%3D", 1)[1]
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def _engine_for(
    backend: str, made: dict[str, tuple[Engine, str]], tmp: pytest.TempPathFactory
) -> tuple[Engine, str]:
    if backend in made:
        return made[backend]
    if backend == "sqlite":
        url = f"sqlite:///{tmp.mktemp('db') / 'cityops.db'}"
        engine = make_engine(url)
    else:
        assert PG_URL is not None
        schema = re.sub(r"\W", "_", f"t_{_worker()}_{uuid.uuid4().hex[:8]}")
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = _pg_schema_url(PG_URL, schema)
        engine = make_engine(url)
    Base.metadata.create_all(engine)
    made[backend] = (engine, url)
    return made[backend]


def _empty_tables(engine: Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with writer_bind(engine).begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: ``sqlite`` or ``postgresql``."""
    return str(request.param)


@pytest.fixture
def db_url(
    backend: str,
    _engines: dict[str, tuple[Engine, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    return _engine_for(backend, _engines, tmp_path_factory)[1]


@pytest.fixture
def engine(
    backend: str,
    _engines: dict[str, tuple[Engine, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Engine:
    """An engine on an empty schema of the backend under test."""
    eng, _url = _engine_for(backend, _engines, tmp_path_factory)
    _empty_tables(eng)
    return eng


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        audit_key="test-audit-key",
        # The cost of argon2 is not under test; hashing at production cost would dominate the run.
        argon2_time_cost=1,
        argon2_memory_kib=8 * 1024,
    )


@pytest.fixture
def session_factory(engine: Engine, settings: Settings) -> sessionmaker[Session]:
    return make_sessionmaker(engine, settings)


@pytest.fixture
def session(session_factory: sessionmaker[Session], engine: Engine) -> Iterator[Session]:
    """A write session; tests commit what they want other sessions to see."""
    with session_factory(bind=writer_bind(engine)) as s:
        yield s


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    # Database tests are the slow ones; run them spread over workers first.
    items.sort(key=lambda item: "backend" not in getattr(item, "fixturenames", ()))


# --- the app over real HTTP semantics (TestClient runs the ASGI app in-process) ------------

DEMO_PASSWORD = "Passw0rd-demo"


@pytest.fixture
def demo_password() -> str:
    """The password ``make_user`` gives every user."""
    return DEMO_PASSWORD


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Any:
    from cityops.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def district(session: Session) -> str:
    """The Fengtai district with the default catalogue loaded; its code."""
    from cityops.auth.service import ensure_district
    from cityops.catalog.service import ensure_default_catalog

    ensure_district(session, code="110106", name="丰台区", name_en="Fengtai")
    ensure_default_catalog(session, district_code="110106")
    session.commit()
    return "110106"


@pytest.fixture
def make_user(session: Session, district: str) -> Any:
    """Create a user with roles (and optional scope); returns the ``User``."""
    from cityops.auth.actor import SYSTEM
    from cityops.auth.service import create_user

    counter = iter(range(1, 10_000))

    def make(*roles: str, username: str | None = None, **kw: Any) -> Any:
        user = create_user(
            session,
            actor=SYSTEM,
            username=username or f"{roles[0]}{next(counter)}",
            password=DEMO_PASSWORD,
            display_name=kw.pop("display_name", "测试用户"),
            roles=list(roles),
            district_code=district,
            **kw,
        )
        session.commit()
        return user

    return make


@pytest.fixture
def department(session: Session, district: str) -> Any:
    """A department that can receive cases (区水务局)."""
    from cityops.auth.actor import SYSTEM
    from cityops.auth.service import create_org_unit

    unit = create_org_unit(
        session,
        actor=SYSTEM,
        district_code=district,
        kind="department",
        code="water",
        name="区水务局",
        dept_type="water",
    )
    session.commit()
    return unit


@pytest.fixture
def login(client: Any) -> Any:
    """Log a user in over the API; returns the Authorization headers."""

    def do(user: Any) -> dict[str, str]:
        response = client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return do


@pytest.fixture
def live_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    import socket
    import threading

    import uvicorn

    from cityops.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.05):  # poll for readiness, not a timing assumption
        if server.started:
            started.set()
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
