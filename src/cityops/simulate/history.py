"""Fill the last days of a district fast (bulk mode), for the demo."""

from __future__ import annotations

from datetime import timedelta

from cityops.config import Settings
from cityops.simulate import engine
from cityops.timeutil import to_local, utcnow


def simulate_recent(
    settings: Settings, *, days: int = 90, preset: str = "demo", seed: int = 1
) -> engine.RunResult:
    """Simulate the ``days`` local days before today (today's feed is the live one's)."""
    today = to_local(utcnow()).date()
    return engine.run(
        settings,
        preset=preset,
        seed=seed,
        period_from=today - timedelta(days=days),
        period_to=today - timedelta(days=1),
        bulk=True,
    )
