"""The live feed, driven tick by tick with an injected clock (no sleeping, no thread)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseEvent
from cityops.config import Settings
from cityops.db import make_sessionmaker
from cityops.simulate import engine as simulation
from cityops.simulate.live import LiveFeed


def test_live_feed_reports_and_moves_cases_through_the_services(
    sim_settings: Settings, fresh: Callable[[], None], engine: Engine, sim_session: Session
) -> None:
    run = simulation.run(
        sim_settings, preset="tiny", seed=2, period_from=date(2025, 6, 2),
        period_to=date(2025, 6, 4),
    )  # fmt: skip
    before_cases = sim_session.scalar(select(func.count(Case.id)))
    before_events = sim_session.scalar(select(func.count(CaseEvent.id)))
    feed = LiveFeed(
        make_sessionmaker(engine, sim_settings), district_code="110199", seed=2, preset="tiny"
    )
    now = datetime(2025, 6, 5, 2, 0, tzinfo=UTC)
    done: list[str] = []
    for tick in range(12):
        done += feed.step(now + timedelta(seconds=4 * tick))
    sim_session.rollback()  # end the read snapshot taken before the feed ran
    assert run.errors == 0
    assert sim_session.scalar(select(func.count(Case.id))) > (before_cases or 0)
    assert (sim_session.scalar(select(func.count(CaseEvent.id))) or 0) > (before_events or 0) + 12
    assert not [line for line in done if "refused" in line]
