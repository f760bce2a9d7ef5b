"""Tables of the hotline: requests (one per call), callbacks, knowledge articles, the policy."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime
from cityops.timeutil import utcnow


class HotlineRequest(Base):
    """One call to 12345 (诉求): who called, what about, and what became of it."""

    __tablename__ = "hotline_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # Stored in full (the department must call back); shown masked unless the actor may see it.
    caller_name: Mapped[str | None] = mapped_column(String(64))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(256))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    #: The region the caller named when no map point was taken.
    region_code: Mapped[str | None] = mapped_column(String(15))
    #: The street the request is counted under in the three rates (from the case or region).
    street_code: Mapped[str | None] = mapped_column(String(9))
    #: A consultation answered at intake: the article used and what was said.
    kb_article_id: Mapped[int | None] = mapped_column(ForeignKey("hotline_kb_articles.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The first reply to the citizen: this is what the response rate measures.
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_text: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The latest rated callback, copied here so the rates are one GROUP BY over this table.
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_count: Mapped[int] = mapped_column(Integer, default=0)

    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    # A read-only mapping (SQLAlchemy copies it): the version column makes concurrent writes
    # to one request fail with StaleDataError (409) instead of one silently winning.
    __mapper_args__ = MappingProxyType({"version_id_col": version})
    __table_args__ = (
        UniqueConstraint("operator_id", "client_request_id"),
        Index("ix_hotline_requests_district_received", "district_code", "received_at"),
        Index("ix_hotline_requests_street_received", "street_code", "received_at"),
        Index("ix_hotline_requests_case_id", "case_id"),
        Index("ix_hotline_requests_caller_phone", "caller_phone"),
    )


class HotlineCallback(Base):
    """One callback attempt (回访) by phone, SMS or IVR; rows are only ever inserted."""

    __tablename__ = "hotline_callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("hotline_requests.id"), index=True)
    district_code: Mapped[str] = mapped_column(String(6))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    channel: Mapped[str] = mapped_column(String(8))
    #: False when nobody answered; such a callback rates nothing.
    reached: Mapped[bool] = mapped_column(Boolean, default=True)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The file an imported result came from.
    source: Mapped[str | None] = mapped_column(String(256))
    #: Whether this callback reopened the case.
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)


class KnowledgeArticle(Base):
    """A knowledge-base article (知识库) operators answer consultations from."""

    __tablename__ = "hotline_kb_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: Space- or comma-separated words that should find the article.
    keywords: Mapped[str] = mapped_column(String(500), default="")
    category: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (UniqueConstraint("district_code", "title"),)


class HotlinePolicy(Base):
    """A district's hotline deadlines and rate weights; absent means the documented defaults."""

    __tablename__ = "hotline_policies"

    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), primary_key=True)
    response_hours: Mapped[float] = mapped_column(Float)
    response_kind: Mapped[str] = mapped_column(String(8))
    resolution_hours: Mapped[float] = mapped_column(Float)
    resolution_kind: Mapped[str] = mapped_column(String(8))
    #: How much a "basically satisfied" counts in the satisfaction rate (0…1).
    basic_weight: Mapped[float] = mapped_column(Float)
    weight_response: Mapped[float] = mapped_column(Float)
    weight_resolution: Mapped[float] = mapped_column(Float)
    weight_satisfaction: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
