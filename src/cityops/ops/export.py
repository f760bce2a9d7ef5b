"""Bulk CSV export of cases or case events reported/happened in a period, for data sharing.

Streams in id order (constant memory over millions of rows). No personal data: reporters are
not exported, and phone numbers, ID numbers and e-mails typed into descriptions are masked.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.cases.models import Case, CaseEvent
from cityops.cases.scope import visible
from cityops.errors import InvalidInput
from cityops.open311.service import scrub

CASE_COLUMNS = [
    "number", "district_code", "source", "kind", "major_code", "minor_code", "class_name",
    "urgency", "status", "description", "address", "lon", "lat", "street_code",
    "community_code", "grid_code", "department_id", "reported_at", "registered_at",
    "dispatched_at", "handled_at", "closed_at", "due_at", "handled_on_time", "rework_count",
    "return_count", "urge_count", "extension_count",
]  # fmt: skip
EVENT_COLUMNS = [
    "case_number", "seq", "action", "from_status", "to_status", "actor_role", "at", "due_at",
]  # fmt: skip
_BATCH = 2000


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def _rows(
    session: Session,
    what: str,
    district: str,
    start: datetime,
    end: datetime,
    actor: Actor | None,
) -> Iterator[list[Any]]:
    # Over the API the actor's data scope applies; the CLI (an operator on the server) has none.
    scope = visible(actor) if actor is not None else Case.id.is_not(None)
    last = 0
    while True:
        if what == "cases":
            batch = session.scalars(
                select(Case)
                .where(
                    Case.district_code == district,
                    Case.reported_at >= start,
                    Case.reported_at < end,
                    Case.id > last,
                    scope,
                )
                .order_by(Case.id)
                .limit(_BATCH)
            ).all()
            for case in batch:
                values = {c: getattr(case, c) for c in CASE_COLUMNS}
                values["description"] = scrub(case.description)
                values["address"] = scrub(case.address)
                yield [_cell(values[c]) for c in CASE_COLUMNS]
            ids = [c.id for c in batch]
        else:
            rows = session.execute(
                select(CaseEvent, Case.number)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(
                    CaseEvent.district_code == district,
                    CaseEvent.at >= start,
                    CaseEvent.at < end,
                    CaseEvent.id > last,
                    scope,
                )
                .order_by(CaseEvent.id)
                .limit(_BATCH)
            ).all()
            for event, number in rows:
                yield [number] + [_cell(getattr(event, c)) for c in EVENT_COLUMNS[1:]]
            ids = [event.id for event, _ in rows]
        if len(ids) < _BATCH:
            return
        last = ids[-1]
        session.expunge_all()  # keep memory flat over long exports


def export_csv(
    session: Session,
    *,
    what: str,
    district_code: str,
    start: datetime,
    end: datetime,
    out: TextIO,
    actor: Actor | None = None,
) -> int:
    """Write ``cases`` or ``events`` of ``[start, end)`` as CSV to ``out``; return the row count."""
    if what not in ("cases", "events"):
        raise InvalidInput("what must be cases or events", field="what")
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("give the period with a time zone", field="start")
    if end <= start:
        raise InvalidInput("the period ends before it starts", field="end")
    writer = csv.writer(out)
    writer.writerow(CASE_COLUMNS if what == "cases" else EVENT_COLUMNS)
    count = 0
    for row in _rows(session, what, district_code, start, end, actor):
        writer.writerow(row)
        count += 1
    return count
