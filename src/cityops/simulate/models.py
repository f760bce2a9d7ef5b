"""The table of simulation runs: what was asked, and how far it got (for resuming)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime
from cityops.timeutil import utcnow


class SimulationRun(Base):
    """One ``cityops simulate run``: seed, preset, period and the last simulated instant."""

    __tablename__ = "simulation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    preset: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(Integer)
    bulk: Mapped[bool] = mapped_column(Boolean, default=True)
    period_from: Mapped[datetime] = mapped_column(UTCDateTime)
    period_to: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Everything before this instant is written; a resumed run continues from here.
    simulated_to: Mapped[datetime] = mapped_column(UTCDateTime)
    #: running | interrupted | done | failed
    status: Mapped[str] = mapped_column(String(16), default="running")
    cases: Mapped[int] = mapped_column(Integer, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
