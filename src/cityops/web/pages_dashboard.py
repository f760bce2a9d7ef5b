"""The leader dashboard (大屏): map by case density, heat of open cases, live counters (SSE),
trends, top classes, on-time and three-rate charts by street and department."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from cityops.deps import SessionDep
from cityops.errors import CityopsError
from cityops.hotline import rates
from cityops.hotline.enums import RateGroup
from cityops.timeutil import to_local, utcnow
from cityops.web import stats
from cityops.web.actions import read_session
from cityops.web.render import render
from cityops.web.session import PageUser, PageUserDep

router = APIRouter(include_in_schema=False)

#: Seconds between live counter updates, and how long one stream lives before the browser's
#: EventSource reconnects (keeps proxies and server shutdowns from holding connections).
SSE_INTERVAL = 5.0
SSE_LIFETIME = 300.0


@router.get("/dashboard")
def dashboard(request: Request, user: PageUserDep) -> Response:
    """The page; its scripts fetch ``/dashboard/data`` and listen to ``/dashboard/stream``."""
    settings = request.app.state.settings
    return render(
        request, "dashboard.html", user, tile_url=getattr(settings, "map_tile_url", None) or ""
    )


def _rates(session: Any, user: PageUser, by: RateGroup) -> list[dict[str, Any]]:
    now = utcnow()
    start = to_local(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    try:
        found = rates.three_rates(
            session, actor=user.actor, by=by, period_from=start, period_to=now
        )
    except CityopsError:
        return []
    return [row.model_dump() for row in found.rows if row.key is not None][:20]


@router.get("/dashboard/data")
def dashboard_data(
    user: PageUserDep, session: SessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Any:
    """Every figure of the dashboard for the last ``days`` days, as JSON."""
    since = utcnow() - timedelta(days=days)
    return {
        "counters": stats.counters(session, actor=user.actor),
        "trend": stats.trend(session, actor=user.actor, days=min(days, 90)),
        "top_classes": stats.top_classes(session, actor=user.actor, since=since),
        "on_time_street": stats.on_time(session, actor=user.actor, since=since, by="street"),
        "on_time_department": stats.on_time(
            session, actor=user.actor, since=since, by="department"
        ),
        "rates_street": _rates(session, user, RateGroup.STREET),
        "rates_department": _rates(session, user, RateGroup.DEPARTMENT),
        "heat": stats.heat_points(session, actor=user.actor),
        "anomalies": stats.anomalies(session, actor=user.actor),
        "hotspots": stats.hotspots(session, actor=user.actor, days=days),
    }


@router.get("/dashboard/stream")
async def dashboard_stream(request: Request, user: PageUserDep) -> StreamingResponse:
    """Server-sent events: the live counters every few seconds."""

    def read() -> dict[str, int]:
        with read_session(request) as session:
            return stats.counters(session, actor=user.actor)

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        ends = loop.time() + SSE_LIFETIME
        yield "retry: 3000\n\n"
        while loop.time() < ends and not await request.is_disconnected():
            counters = await run_in_threadpool(read)
            yield f"event: counters\ndata: {json.dumps(counters)}\n\n"
            await asyncio.sleep(SSE_INTERVAL)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
