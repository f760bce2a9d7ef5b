"""Catalogue fixtures: a district, and a cold resolve cache per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.auth.roles import Role
from cityops.auth.service import ensure_district
from cityops.catalog import service

DISTRICT = "110106"


@pytest.fixture(autouse=True)
def _cold_cache() -> Iterator[None]:
    service.clear_cache()
    yield
    service.clear_cache()


@pytest.fixture
def district(session: Session) -> str:
    ensure_district(session, code=DISTRICT, name="丰台区", name_en="Fengtai")
    session.commit()
    return DISTRICT


@pytest.fixture
def admin() -> Actor:
    return Actor(
        id=0,
        username="admin-test",
        display_name="Admin",
        district_code=DISTRICT,
        roles=frozenset({Role.ADMIN}),
        scope_areas=(),
        scope_department_id=None,
    )
