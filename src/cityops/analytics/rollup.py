"""Incremental roll-ups of case events, written in the same transaction as the events.

Every counted action adds one to a measure (``models.MEASURES``) in one cell of each grain. A
cell's dimensions are the case's as they are right after the action, except that a return is
counted for the department that returned the case. Because the writers (``cases.service`` and
``cases.bulk``) add to the roll-ups in the transaction that writes the event, the roll-ups are
exactly the events' counts at every commit; ``rebuild`` recomputes them from the events alone.

Grains are chosen so each dashboard figure reads a few hundred rows at most: a grain with fewer
dimensions has fewer cells per day. Every single dimension and every pair has its own grain;
``cube`` holds all of them for the rest. Grids are counted per month, in total and by class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.orm import Session

from cityops.analytics import cells
from cityops.analytics.models import MEASURES, CaseStat
from cityops.cases.lifecycle import Action
from cityops.cases.models import Case, CaseEvent
from cityops.timeutil import to_local

DIMENSIONS = ("street_code", "kind", "minor_code", "source", "department_id", "area_code")
#: A grain counting by class counts by kind too (see ``models.CaseStat.kind``).
_CLASS = ("kind", "minor_code")


@dataclass(frozen=True)
class Grain:
    """A set of dimensions counted per day (or per month when ``monthly``); ``area`` says
    whether ``area_code`` holds the grid or the community."""

    dims: tuple[str, ...]
    monthly: bool = False
    area: str | None = None


GRAINS: dict[str, Grain] = {
    "day": Grain(()),
    "class": Grain(_CLASS),
    "street": Grain(("street_code",)),
    "department": Grain(("department_id",)),
    "source": Grain(("source",)),
    "community": Grain(("area_code",), area="community"),
    "street_source": Grain(("street_code", "source")),
    "source_dept": Grain(("source", "department_id")),
    "class_source": Grain((*_CLASS, "source")),
    "street_dept": Grain(("street_code", "department_id")),
    "street_class": Grain(("street_code", *_CLASS)),
    "class_dept": Grain((*_CLASS, "department_id")),
    "cube": Grain(("street_code", *_CLASS, "source", "department_id")),
    "grid_total": Grain(("area_code",), monthly=True, area="grid"),
    "grid_month": Grain(("area_code", *_CLASS), monthly=True, area="grid"),
}

#: The measure each counted action adds to; other actions (assign, verify, suspend …) are not
#: counted here.
ACTION_MEASURE: dict[str, str] = {
    Action.REPORT.value: "reported",
    Action.REGISTER.value: "registered",
    Action.REJECT.value: "rejected",
    Action.DISPATCH.value: "dispatched",
    Action.RETURN.value: "returned",
    Action.HANDLE.value: "handled",
    Action.REWORK.value: "reworked",
    Action.CLOSE.value: "closed",
    Action.VOID.value: "voided",
    Action.MERGE.value: "merged",
    Action.APPROVE_EXTENSION.value: "extended",
    Action.URGE.value: "urged",
    Action.REOPEN.value: "reopened",
}


@dataclass(frozen=True)
class EventFacts:
    """What the roll-ups need to know about one event."""

    district_code: str
    at: datetime
    action: str
    street_code: str | None
    kind: str | None
    minor_code: str | None
    source: str | None
    department_id: int | None
    community_code: str | None
    grid_code: str | None
    on_time: bool | None = None


def _picker(grain: Grain) -> Any:
    """Picks a grain's key columns (``DIMENSIONS`` order) from an event's value row
    (see ``Tally.add``), an unused column getting its empty value."""
    empty_text, empty_id = len(_VALUE_ROW), len(_VALUE_ROW) + 1
    positions = []
    for column in DIMENSIONS:
        if column == "area_code":
            positions.append(_VALUE_ROW.index(grain.area) if grain.area else empty_text)
        elif column in grain.dims:
            positions.append(_VALUE_ROW.index(column))
        else:
            positions.append(empty_id if column == "department_id" else empty_text)
    return itemgetter(*positions)


#: An event's values in the order ``_picker`` reads them.
_VALUE_ROW = ("street_code", "kind", "minor_code", "source", "department_id", "grid", "community")
#: For each grain: its name, whether it counts by month, and its key picker.
_PLAN = [(name, grain.monthly, _picker(grain)) for name, grain in GRAINS.items()]
_POSITION = {m: i for i, m in enumerate(MEASURES)}
_ON_TIME = _POSITION["handled_on_time"]
ROW_NAMES = ("district_code", "grain", "period", *DIMENSIONS, *MEASURES)


class Tally:
    """Counts accumulated in memory, then added to ``case_stats`` in one statement.

    This sits in the simulator's inner loop (every event of a bulk batch): counts live in one
    flat dict of ints keyed by (cell key, measure), so counting allocates no containers for the
    garbage collector to walk."""

    def __init__(self) -> None:
        self.counts: dict[tuple[Any, ...], int] = {}

    def __len__(self) -> int:
        """Counters held (cells × measures): what bounds the tally's memory."""
        return len(self.counts)

    def add(self, facts: EventFacts) -> None:
        measure = ACTION_MEASURE.get(facts.action)
        if measure is None:
            return
        values = (
            facts.street_code or "", facts.kind or "", facts.minor_code or "",
            facts.source or "", facts.department_id or 0, facts.grid_code or "",
            facts.community_code or "", "", 0,
        )  # fmt: skip
        self._count(facts.district_code, facts.at, measure, bool(facts.on_time), values)

    def add_case(self, case: Any, action: str, at: datetime, payload: Mapping[str, Any]) -> None:
        """Count an event from the case as it is right after the action (a return counts for
        the department that returned the case, named in the payload)."""
        measure = ACTION_MEASURE.get(action)
        if measure is None:
            return
        department = case.department_id
        if measure == "returned":
            department = payload.get("from_department_id")
        values = (
            case.street_code or "", case.kind or "", case.minor_code or "", case.source or "",
            department or 0, case.grid_code or "", case.community_code or "", "", 0,
        )  # fmt: skip
        on_time = measure == "handled" and bool(case.handled_on_time)
        self._count(case.district_code, at, measure, on_time, values)

    def _count(
        self, district: str, at: datetime, measure: str, on_time: bool, values: tuple[Any, ...]
    ) -> None:
        position = _POSITION[measure]
        on_time = on_time and measure == "handled"
        day = to_local(at).date()
        month = day.replace(day=1)
        counts = self.counts
        get = counts.get
        for name, monthly, pick in _PLAN:
            key = (district, name, month if monthly else day, *pick(values), position)
            counts[key] = get(key, 0) + 1
            if on_time:
                key = (*key[:-1], _ON_TIME)
                counts[key] = get(key, 0) + 1

    def cells(self) -> list[tuple[Any, ...]]:
        """The cells as ``case_stats`` values (``ROW_NAMES`` order), in no particular order
        (``write_cells`` orders them as every writer locks them)."""
        found: dict[tuple[Any, ...], list[int]] = {}
        for key, n in self.counts.items():
            cell = found.get(key[:-1])
            if cell is None:
                cell = found[key[:-1]] = [0] * len(MEASURES)
            cell[key[-1]] += n
        return [(*key, *cell) for key, cell in found.items()]

    def clear(self) -> None:
        self.counts.clear()


_KEY_COLUMNS = ("district_code", "grain", "period", *DIMENSIONS)
_TABLE = cast(Table, CaseStat.__table__)
#: PostgreSQL's ORDER BY for cells in Python's order of their key tuples (text by code point).
KEY_ORDER = cells.key_order(_TABLE, _KEY_COLUMNS)


def write(db: Session | Connection, tally: Tally) -> None:
    """Add the tally's counts to ``case_stats`` (insert or increment each cell)."""
    write_cells(db, tally.cells())
    tally.clear()


def write_cells(db: Session | Connection, rows: list[tuple[Any, ...]]) -> None:
    """Add cells (``Tally.cells``) to ``case_stats``."""
    cells.add(db, _TABLE, _KEY_COLUMNS, MEASURES, rows)


def record_case(
    session: Session, case: Any, action: str, at: datetime, payload: Mapping[str, Any]
) -> None:
    """Count one event of ``case`` in the caller's transaction."""
    tally = Tally()
    tally.add_case(case, action, at, payload)
    write(session, tally)


def record(session: Session, facts: Iterable[EventFacts]) -> None:
    """Count events in the caller's transaction."""
    tally = Tally()
    for item in facts:
        tally.add(item)
    write(session, tally)


def replay(
    rows: Iterable[tuple[int, str, Mapping[str, Any] | None, datetime, Any]],
    cases: Mapping[int, Any],
) -> Iterable[EventFacts]:
    """Facts of events read back from ``case_events`` (ordered by case and seq).

    ``rows`` are (case_id, action, payload, at, due_at); ``cases`` gives each case's immutable
    attributes (district, street, grid, source). The class and department are followed through
    the events that change them, exactly as the writers change them on the case.
    """
    klass: dict[int, tuple[str | None, str | None]] = {}
    department: dict[int, int | None] = {}
    for case_id, action, payload, at, due_at in rows:
        payload = payload or {}
        case = cases[case_id]
        if action == Action.REPORT.value:
            klass[case_id] = (payload.get("kind"), payload.get("minor_code"))
            department[case_id] = None
        elif action == Action.REGISTER.value and (payload.get("minor_code") or payload.get("kind")):
            kind, minor = klass.get(case_id, (None, None))
            klass[case_id] = (payload.get("kind", kind), payload.get("minor_code", minor))
        elif action == Action.DISPATCH.value:
            department[case_id] = payload.get("department_id")
        dept = department.get(case_id)
        if action == Action.RETURN.value:
            dept = payload.get("from_department_id")
            department[case_id] = None
        on_time: bool | None = None
        if action == Action.HANDLE.value:
            on_time = payload.get("on_time")
            if on_time is None and due_at is not None:  # events written before "on_time"
                on_time = at <= due_at
        yield EventFacts(
            district_code=case.district_code,
            at=at,
            action=action,
            street_code=case.street_code,
            kind=klass.get(case_id, (None, None))[0],
            minor_code=klass.get(case_id, (None, None))[1],
            source=case.source,
            department_id=dept,
            community_code=case.community_code,
            grid_code=case.grid_code,
            on_time=on_time,
        )


def rebuild(
    session: Session | Connection, *, district_code: str | None = None, chunk: int = 100_000
) -> int:
    """Recompute the roll-ups from ``case_events``; return the number of events read."""
    stats = cast(Table, CaseStat.__table__)
    wipe = delete(stats)
    cases_q = select(
        Case.id, Case.district_code, Case.street_code, Case.community_code, Case.grid_code,
        Case.source,
    )  # fmt: skip
    events_q = select(
        CaseEvent.case_id, CaseEvent.action, CaseEvent.payload, CaseEvent.at, CaseEvent.due_at
    ).order_by(CaseEvent.case_id, CaseEvent.seq)
    if district_code:
        wipe = wipe.where(stats.c.district_code == district_code)
        cases_q = cases_q.where(Case.district_code == district_code)
        events_q = events_q.where(CaseEvent.district_code == district_code)
    session.execute(wipe)
    cases = {row.id: row for row in session.execute(cases_q)}
    tally = Tally()
    read = 0
    rows = session.execute(events_q.execution_options(yield_per=chunk))
    for facts in replay(((r[0], r[1], r[2], r[3], r[4]) for r in rows), cases):
        tally.add(facts)
        read += 1
        if read % chunk == 0:
            write(session, tally)
    write(session, tally)
    return read
