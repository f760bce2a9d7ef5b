"""The roll-up table: counts of case events per period and dimension set ("grain")."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base

#: What each counted action adds to; one column each in ``case_stats``.
MEASURES = (
    "reported",
    "registered",
    "rejected",
    "dispatched",
    "returned",
    "handled",
    "handled_on_time",
    "reworked",
    "closed",
    "voided",
    "merged",
    "extended",
    "urged",
    "reopened",
)


GRID_MONTH_ONLY = "grain = 'grid_month'"


class CaseStat(Base):
    """One cell of a roll-up: a grain, a period and the values of that grain's dimensions.

    Dimensions a grain does not use hold '' or 0 (never NULL) so the unique key matches.
    """

    __tablename__ = "case_stats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6))
    grain: Mapped[str] = mapped_column(String(16))
    #: The local day, or the first day of the local month for monthly grains.
    period: Mapped[date] = mapped_column(Date)
    street_code: Mapped[str] = mapped_column(String(9), default="")
    #: The class is (kind, minor code): component 0101 and event 0101 are different classes.
    kind: Mapped[str] = mapped_column(String(16), default="")
    minor_code: Mapped[str] = mapped_column(String(4), default="")
    source: Mapped[str] = mapped_column(String(16), default="")
    department_id: Mapped[int] = mapped_column(Integer, default=0)
    #: A unit grid's code (monthly grid grain) or a community's (daily community grain).
    area_code: Mapped[str] = mapped_column(String(15), default="")

    reported: Mapped[int] = mapped_column(Integer, default=0)
    registered: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    dispatched: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handled_on_time: Mapped[int] = mapped_column(Integer, default=0)
    reworked: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    voided: Mapped[int] = mapped_column(Integer, default=0)
    merged: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[int] = mapped_column(Integer, default=0)
    urged: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        # The key doubles as the index every roll-up query uses: grain and period first.
        UniqueConstraint(
            "district_code",
            "grain",
            "period",
            "street_code",
            "kind",
            "minor_code",
            "source",
            "department_id",
            "area_code",
            name="uq_case_stats_cell",
        ),
        # Recurring problems (``analytics.queries.recurring``) read each month's largest grid ×
        # class cells, then the months of the pairs they name: only that grain needs these.
        Index(
            "ix_case_stats_grid_month_reported",
            "district_code",
            "period",
            "reported",
            sqlite_where=text(GRID_MONTH_ONLY),
            postgresql_where=text(GRID_MONTH_ONLY),
        ),
        Index(
            "ix_case_stats_grid_month_pair",
            "district_code",
            "area_code",
            "kind",
            "minor_code",
            "period",
            "reported",
            sqlite_where=text(GRID_MONTH_ONLY),
            postgresql_where=text(GRID_MONTH_ONLY),
        ),
    )


#: What a case (or, for ``verified``/``checked``, an event) adds to its cohort cell.
COHORT_MEASURES = (
    "n",
    "valid",
    "on_time",
    "reworked",
    "extended",
    "extensions",
    "verified",
    "checked",
)


class CaseCohort(Base):
    """One cell of the evaluation's cohort roll-up (see ``analytics.cohorts``).

    ``subject`` is the department id, street code, inspector (user) id or grid code the cell
    counts for; ``outcome`` is the local day the cohort's outcome happened (handled for
    departments, closed for streets), ``9999-12-31`` while it has not.
    """

    __tablename__ = "case_cohorts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6))
    cohort: Mapped[str] = mapped_column(String(16))
    period: Mapped[date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[date] = mapped_column(Date)

    n: Mapped[int] = mapped_column(Integer, default=0)
    valid: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    reworked: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[int] = mapped_column(Integer, default=0)
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    verified: Mapped[int] = mapped_column(Integer, default=0)
    checked: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        # Doubles as the index of every evaluation read: cohort and period first.
        UniqueConstraint(
            "district_code", "cohort", "period", "subject", "outcome", name="uq_case_cohorts_cell"
        ),
    )
