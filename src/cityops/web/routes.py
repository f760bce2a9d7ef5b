"""The console's router: every page module's routes, in one ``APIRouter``."""

from __future__ import annotations

from fastapi import APIRouter

from cityops.web import (
    pages_admin,
    pages_auth,
    pages_cases,
    pages_dashboard,
    pages_department,
    pages_hotline,
    pages_inspector,
    pages_intake,
    pages_map,
)

#: The page modules, each with its own ``router``.
PAGE_MODULES = (
    pages_auth,
    pages_map,
    pages_cases,
    pages_intake,
    pages_department,
    pages_inspector,
    pages_dashboard,
    pages_hotline,
    pages_admin,
)

router = APIRouter(include_in_schema=False)
for module in PAGE_MODULES:
    router.include_router(module.router)
