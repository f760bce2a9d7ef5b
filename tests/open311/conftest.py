"""Fixtures of the Open311 tests: the app with Open311 mounted, an api key, a live server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cityops.config import Settings
from cityops.open311 import api as open311_api
from cityops.open311.ratelimit import Limits

#: Generous limits so functional tests never meet the rate limiter by accident.
TEST_LIMITS = Limits(ip_per_minute=60_000, ip_burst=10_000, key_per_minute=60_000, key_burst=10_000)


def open311_app(settings: Settings, limits: Limits = TEST_LIMITS) -> Any:
    """``create_app`` with Open311 mounted (a no-op once the factory mounts it itself)."""
    from cityops.app import create_app

    app = create_app(settings)
    if not open311_api.is_installed(app):
        open311_api.install(app)
    app.state.open311_limits = limits
    return app


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Any:
    return open311_app(settings)


@pytest.fixture
def api_key(session: Session, district: str) -> str:
    """A fresh api key of a test app (its system user is the reporter)."""
    from dataclasses import replace

    from cityops.auth.actor import SYSTEM
    from cityops.open311.service import create_api_key

    key, _row = create_api_key(
        session,
        actor=replace(SYSTEM, district_code=district),
        district_code=district,
        name="随手拍",
    )
    session.commit()
    return key


@pytest.fixture
def open311_server(settings: Settings, engine: Engine) -> Iterator[str]:
    """The app with Open311, served by uvicorn on a free loopback port; yields the base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(open311_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.05):  # poll for readiness, bounded by the thread staying alive
        if server.started:
            started.set()
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
