"""Cohort roll-ups for the evaluation, kept exact by taking away and adding contributions.

The evaluation counts cases by a cohort day (the day a department got the case, the day it
was reported) and by what is true of them now: handled, on time, reworked, valid, closed. A
case's state changes long after its cohort day, so unlike the event roll-ups (``rollup``) a
cell does not only grow: every writer takes away what the case contributed before the action
and adds what it contributes after, in the transaction that changes the case. "Handled before
the period ends" depends on the period asked, so cells are also keyed by the local day of the
outcome (handled for departments, closed for streets; ``NEVER`` until then): a period's count
is the cells whose cohort day lies in it and, for those measures, whose outcome lies before
its end. The cost of a month's evaluation then follows the number of subjects and days, not
the number of cases.

Cohorts (the ``subject`` in brackets):
  * ``department`` (department id): cases by the day of their current dispatch; ``n``;
    ``on_time`` and ``reworked`` of the handled ones; ``extended`` and ``extensions``;
  * ``street`` (street code): cases by report day; ``n``; ``valid`` (registered, not merged
    away or voided); ``on_time`` of the closed ones (the outcome is set for valid closed cases);
  * ``inspector`` (user id): inspectors' reports by report day; ``n``, ``valid``;
  * ``grid`` (grid code): reports by the other sources by report day (problems an inspector
    missed); ``n``;
  * ``actor`` (user id): ``verified`` and ``checked`` events by the day they were made (events
    never change, so these cells only grow).

``rebuild`` recomputes the table from the cases and events alone; a property test checks the
kept cells equal it after random action sequences, and the evaluation gives the same figures
from these cells as from the cases table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.orm import Session

from cityops.analytics import cells
from cityops.analytics.models import COHORT_MEASURES, CaseCohort
from cityops.cases.enums import Source
from cityops.cases.lifecycle import Action, Status
from cityops.cases.models import Case, CaseEvent
from cityops.timeutil import to_local

#: The outcome of a case whose outcome has not happened (later than any period's end).
NEVER = date(9999, 12, 31)
#: Sources other than the inspectors: a problem they report in a grid is one its inspector
#: missed.
OTHER_SOURCES = frozenset(
    {Source.HOTLINE.value, Source.PUBLIC.value, Source.SENSOR.value, Source.LEADER.value}
)
#: States that do not count as a valid registered case (duplicates merged away, voided).
NOT_VALID = frozenset({Status.MERGED.value, Status.VOIDED.value})
#: Events counted per actor, and the measure each adds to.
ACTOR_EVENTS = {Action.VERIFY.value: "verified", Action.CHECK.value: "checked"}

_KEYS = ("district_code", "cohort", "period", "subject", "outcome")
_TABLE = cast(Table, CaseCohort.__table__)
_POSITION = {m: i for i, m in enumerate(COHORT_MEASURES)}
_WIDTH = len(COHORT_MEASURES)
_INSPECTOR = Source.INSPECTOR.value

Cell = tuple[tuple[Any, ...], tuple[int, ...]]


def _day(moment: datetime) -> date:
    return to_local(moment).date()


def contributions(case: Any) -> list[Cell]:
    """What ``case`` (a ``Case``, a bulk ``CaseState`` or a row with the same attributes)
    adds to each of its cohort cells, as (key, measures in ``COHORT_MEASURES`` order)."""
    district = case.district_code
    reported = _day(case.reported_at)
    valid = int(case.registered_at is not None and case.status not in NOT_VALID)
    found: list[Cell] = []
    if case.street_code is not None:
        closed = valid and case.closed_at is not None
        outcome = _day(case.closed_at) if closed else NEVER
        on_time = int(bool(closed and case.handled_on_time is True))
        found.append(
            ((district, "street", reported, case.street_code, outcome),
             (1, valid, on_time, 0, 0, 0, 0, 0))
        )  # fmt: skip
    source = case.source
    if source == _INSPECTOR:
        if case.reported_by_id is not None:
            found.append(
                ((district, "inspector", reported, str(case.reported_by_id), NEVER),
                 (1, valid, 0, 0, 0, 0, 0, 0))
            )  # fmt: skip
    elif source in OTHER_SOURCES and case.grid_code is not None:
        found.append(
            ((district, "grid", reported, case.grid_code, NEVER), (1, 0, 0, 0, 0, 0, 0, 0))
        )
    if case.dispatched_at is not None and case.department_id is not None:
        handled = case.handled_at is not None
        extensions = case.extension_count or 0
        found.append(
            ((district, "department", _day(case.dispatched_at), str(case.department_id),
              _day(case.handled_at) if handled else NEVER),
             (1, 0, int(handled and case.handled_on_time is True),
              int(handled and (case.rework_count or 0) > 0), int(extensions > 0), extensions,
              0, 0))
        )  # fmt: skip
    return found


class CohortTally:
    """Changes to cohort cells accumulated in memory, written by ``write``."""

    def __init__(self) -> None:
        self.counts: dict[tuple[Any, ...], list[int]] = {}

    def _cell(self, key: tuple[Any, ...]) -> list[int]:
        cell = self.counts.get(key)
        if cell is None:
            cell = self.counts[key] = [0] * _WIDTH
        return cell

    def add(self, parts: Iterable[Cell], sign: int = 1) -> None:
        for key, values in parts:
            cell = self._cell(key)
            for i, v in enumerate(values):
                if v:
                    cell[i] += sign * v

    def change(self, before: Iterable[Cell], after: Iterable[Cell]) -> None:
        """A case that contributed ``before`` now contributes ``after``."""
        self.add(before, -1)
        self.add(after)

    def add_event(
        self, district_code: str, at: datetime, action: str, actor_id: int | None
    ) -> None:
        measure = ACTOR_EVENTS.get(action)
        if measure is None or not actor_id:
            return
        cell = self._cell((district_code, "actor", _day(at), str(actor_id), NEVER))
        cell[_POSITION[measure]] += 1

    def cells(self) -> list[tuple[Any, ...]]:
        """Rows of ``case_cohorts`` (keys, then measures) that change, in no order."""
        return [(*key, *values) for key, values in self.counts.items() if any(values)]

    def clear(self) -> None:
        self.counts.clear()


def write(db: Session | Connection, tally: CohortTally) -> None:
    """Add the tally's changes to ``case_cohorts``."""
    write_cells(db, tally.cells())
    tally.clear()


def write_cells(db: Session | Connection, rows: list[tuple[Any, ...]]) -> None:
    cells.add(db, _TABLE, _KEYS, COHORT_MEASURES, rows)


def record_report(session: Session, case: Case) -> None:
    """Count a new case in the caller's transaction."""
    tally = CohortTally()
    tally.add(contributions(case))
    write(session, tally)


def record_action(
    session: Session,
    before: list[Cell],
    case: Case,
    action: str,
    actor_id: int | None,
    at: datetime,
) -> None:
    """Move a case from the cells it contributed ``before`` to its cells now, and count the
    event for its actor, in the caller's transaction."""
    tally = CohortTally()
    tally.change(before, contributions(case))
    tally.add_event(case.district_code, at, action, actor_id)
    write(session, tally)


#: The case columns ``contributions`` reads.
_CASE_COLUMNS = (
    Case.district_code, Case.reported_at, Case.registered_at, Case.status, Case.street_code,
    Case.closed_at, Case.handled_on_time, Case.source, Case.reported_by_id, Case.grid_code,
    Case.dispatched_at, Case.department_id, Case.handled_at, Case.extension_count,
    Case.rework_count,
)  # fmt: skip


def rebuild(
    db: Session | Connection, *, district_code: str | None = None, chunk: int = 100_000
) -> int:
    """Recompute ``case_cohorts`` from the cases and their verify/check events; return the
    number of cases read."""
    wipe = delete(_TABLE)
    cases_q = select(*_CASE_COLUMNS)
    events_q = select(
        CaseEvent.district_code, CaseEvent.at, CaseEvent.action, CaseEvent.actor_id
    ).where(CaseEvent.action.in_(list(ACTOR_EVENTS)), CaseEvent.actor_id.is_not(None))
    if district_code:
        wipe = wipe.where(_TABLE.c.district_code == district_code)
        cases_q = cases_q.where(Case.district_code == district_code)
        events_q = events_q.where(CaseEvent.district_code == district_code)
    db.execute(wipe)
    tally = CohortTally()
    read = 0
    for row in db.execute(cases_q.execution_options(yield_per=chunk)):
        tally.add(contributions(row))
        read += 1
        if read % chunk == 0:
            write(db, tally)
    for district, at, action, actor_id in db.execute(events_q.execution_options(yield_per=chunk)):
        tally.add_event(district, at, action, actor_id)
    write(db, tally)
    return read
