"""Reading cases: one case with its history, and filtered lists with cursor pagination."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.cases.clock import sla_state
from cityops.cases.lifecycle import CLOCK_RUNNING, Status, allowed_actions
from cityops.cases.models import Attachment, Case, CaseEvent, CaseReporter
from cityops.cases.schemas import (
    AttachmentRead,
    CaseDetail,
    CaseRead,
    EventRead,
    ReporterRead,
    SlaRead,
)
from cityops.cases.scope import can_see, visible
from cityops.cases.service import calendar_for
from cityops.db import settings_of
from cityops.errors import Forbidden, InvalidInput, NotFound
from cityops.timeutil import utcnow
from cityops.workcal import WorkCalendar

MAX_PAGE = 200


def mask_phone(phone: str | None) -> str | None:
    """138****1234: enough to recognise a caller, not enough to call them."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_name(name: str | None) -> str | None:
    """张** — the family name only."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def get_case(session: Session, *, actor: Actor, case_id: int) -> Case:
    """The case, if it exists and lies within the actor's data scope."""
    case = session.get(Case, case_id)
    if case is None or case.district_code != actor.district_code:
        raise NotFound(f"no case with id {case_id}", field="case_id")
    if not can_see(case, actor):
        raise Forbidden("this case is outside your data scope", field="case_id")
    return case


def to_read(
    session: Session,
    case: Case,
    actor: Actor,
    now: datetime | None = None,
    cal: WorkCalendar | None = None,
) -> CaseRead:
    settings = settings_of(session)
    state, left = sla_state(
        case,
        cal=cal or calendar_for(session),
        now=now or utcnow(),
        due_soon_fraction=settings.due_soon_fraction,
    )
    sla = SlaRead(
        state=state,
        deadline_kind=case.deadline_kind,
        deadline_hours=case.deadline_hours,
        due_at=case.due_at,
        remaining_seconds=left,
    )
    actions = [a.value for a in allowed_actions(Status(case.status), actor.roles)]
    return CaseRead(
        **{name: getattr(case, name) for name in _CASE_FIELDS}, sla=sla, allowed_actions=actions
    )


_CASE_FIELDS = [name for name in CaseRead.model_fields if name not in {"sla", "allowed_actions"}]


def case_detail(session: Session, *, actor: Actor, case_id: int) -> CaseDetail:
    case = get_case(session, actor=actor, case_id=case_id)
    base = to_read(session, case, actor)
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
    ).all()
    reporters = session.scalars(
        select(CaseReporter).where(CaseReporter.case_id == case.id).order_by(CaseReporter.id)
    ).all()
    attachments = session.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
    ).all()
    full = actor.sees_contacts
    return CaseDetail(
        **base.model_dump(),
        events=[EventRead.model_validate(e) for e in events],
        reporters=[
            ReporterRead(
                source=r.source,
                name=r.name if full else mask_name(r.name),
                phone=r.phone if full else mask_phone(r.phone),
                reported_at=r.reported_at,
                original_case_id=r.original_case_id,
            )
            for r in reporters
        ],
        attachments=[AttachmentRead.model_validate(a) for a in attachments],
    )


@dataclass
class CaseFilter:
    status: Sequence[str] = ()
    kind: str | None = None
    minor_code: str | None = None
    source: str | None = None
    department_id: int | None = None
    assignee_id: int | None = None
    #: A district, street, community or grid code.
    region: str | None = None
    overdue: bool | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    q: str | None = None
    extra: list[ColumnElement[bool]] = field(default_factory=list)


def encode_cursor(case_id: int) -> str:
    return base64.urlsafe_b64encode(f"c:{case_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "c":
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this API gave out", field="cursor") from exc


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _region_clause(code: str) -> ColumnElement[bool]:
    column = {
        6: Case.district_code,
        9: Case.street_code,
        12: Case.community_code,
        15: Case.grid_code,
    }.get(len(code))
    if column is None or not code.isdigit():
        raise InvalidInput("region must be a 6, 9, 12 or 15 digit region code", field="region")
    return column == code


def filtered(actor: Actor, flt: CaseFilter, now: datetime) -> Select[Case]:
    stmt = select(Case).where(visible(actor))
    if flt.status:
        unknown = set(flt.status) - {s.value for s in Status}
        if unknown:
            raise InvalidInput(f"unknown status {sorted(unknown)[0]!r}", field="status")
        stmt = stmt.where(Case.status.in_(list(flt.status)))
    for column, value in (
        (Case.kind, flt.kind),
        (Case.minor_code, flt.minor_code),
        (Case.source, flt.source),
        (Case.department_id, flt.department_id),
        (Case.assignee_id, flt.assignee_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.region:
        stmt = stmt.where(_region_clause(flt.region))
    running = Case.status.in_([s.value for s in CLOCK_RUNNING])
    if flt.overdue is True:
        stmt = stmt.where(running, Case.due_at < now)
    elif flt.overdue is False:
        stmt = stmt.where(or_(~running, Case.due_at.is_(None), Case.due_at >= now))
    if flt.reported_from is not None:
        stmt = stmt.where(Case.reported_at >= flt.reported_from)
    if flt.reported_to is not None:
        stmt = stmt.where(Case.reported_at < flt.reported_to)
    if flt.q:
        pattern = f"%{_escape_like(flt.q.strip())}%"
        stmt = stmt.where(
            or_(
                Case.number == flt.q.strip(),
                Case.description.ilike(pattern, escape="\\"),
                Case.address.ilike(pattern, escape="\\"),
            )
        )
    for clause in flt.extra:
        stmt = stmt.where(clause)
    return stmt


def list_cases(
    session: Session,
    *,
    actor: Actor,
    flt: CaseFilter,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[CaseRead], str | None]:
    """A page of visible cases, newest first; the cursor continues after the last one."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    now = utcnow()
    stmt = filtered(actor, flt, now)
    if cursor:
        stmt = stmt.where(Case.id < decode_cursor(cursor))
    rows = session.scalars(stmt.order_by(Case.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    page = rows[:limit]
    cal = calendar_for(session)
    items = [to_read(session, case, actor, now, cal) for case in page]
    return items, encode_cursor(page[-1].id) if more and page else None
