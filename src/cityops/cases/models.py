"""Tables of the case domain: cases, their append-only events, reporters and attachments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cityops.db import Base, UTCDateTime
from cityops.timeutil import utcnow


class Case(Base):
    """A case (案卷 / 工单): one problem from report to close."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    #: Human number: district code + local date + daily serial, e.g. 11010620261123000042.
    number: Mapped[str] = mapped_column(String(24), unique=True)
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    major_code: Mapped[str] = mapped_column(String(2))
    minor_code: Mapped[str] = mapped_column(String(4))
    class_name: Mapped[str] = mapped_column(String(64))
    catalog_version: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(256))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    street_code: Mapped[str | None] = mapped_column(String(9))
    community_code: Mapped[str | None] = mapped_column(String(12))
    grid_code: Mapped[str | None] = mapped_column(String(15))

    status: Mapped[str] = mapped_column(String(24))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    #: The inspector holding the current verify or check task.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verify_result: Mapped[str | None] = mapped_column(String(16))

    # The deadline rule the case was registered under is copied here, so a later change of
    # the catalogue never moves an existing case's deadline.
    deadline_kind: Mapped[str | None] = mapped_column(String(8))
    deadline_hours: Mapped[float | None] = mapped_column(Float)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Seconds of budget left while the clock is paused (suspended, extension pending).
    paused_remaining_s: Mapped[float | None] = mapped_column(Float)
    pending_extension_hours: Mapped[float | None] = mapped_column(Float)
    handled_on_time: Mapped[bool | None] = mapped_column(Boolean)

    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", lazy="raise", viewonly=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's own hook)
    __table_args__ = (
        UniqueConstraint("reported_by_id", "client_request_id"),
        Index("ix_cases_district_status", "district_code", "status"),
        Index("ix_cases_department_status", "department_id", "status"),
        Index("ix_cases_due_at", "due_at"),
        Index("ix_cases_reported_at", "reported_at"),
        Index("ix_cases_dispatched_at", "dispatched_at"),
        Index("ix_cases_street_reported", "street_code", "reported_at"),
        Index("ix_cases_community_code", "community_code"),
        Index("ix_cases_grid_code", "grid_code"),
        Index("ix_cases_minor_code", "minor_code"),
    )


class CaseEvent(Base):
    """One accepted action on a case; rows are only ever inserted."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: The case's due time after this event (so history shows how the deadline moved).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="events")

    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        # Evaluation counts one kind of action over a period (dispatches, checks …).
        Index("ix_case_events_action_at", "action", "at"),
    )


class CaseReporter(Base):
    """Everyone who reported the problem; merges move reporters, so callbacks reach them all."""

    __tablename__ = "case_reporters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    district_code: Mapped[str] = mapped_column(String(6))
    source: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The case this reporter first came with, when it was merged in.
    original_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class Attachment(Base):
    """A photo, stored once by content hash under the data dir and linked to a case event."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str | None] = mapped_column(String(256))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))


class CalendarOverride(Base):
    """A day whose working status overrides the holiday library (调休 notices, local rest days)."""

    __tablename__ = "calendar_overrides"

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(64))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseCounter(Base):
    """The last serial used per district and local day, for human case numbers."""

    __tablename__ = "case_counters"

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
