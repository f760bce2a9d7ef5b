"""Fixtures of the ops tests: the app with the Open311 and ops routes mounted."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from cityops.config import Settings


def full_app(settings: Settings) -> Any:
    """``create_app`` plus the routes of this package (no-ops once the factory mounts them)."""
    from cityops.app import create_app
    from cityops.open311 import api as open311_api
    from cityops.open311.ratelimit import Limits
    from cityops.ops import api as ops_api

    app = create_app(settings)
    if not open311_api.is_installed(app):
        open311_api.install(app)
    if not ops_api.is_installed(app):
        ops_api.install(app)
    # Test clients send many requests from one address: lift the Open311 rate limits.
    app.state.open311_limits = Limits(ip_per_minute=1e6, ip_burst=10**6, key_per_minute=1e6)
    return app


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Any:
    return full_app(settings)
