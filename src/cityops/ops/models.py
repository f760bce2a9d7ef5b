"""Tables of ``ops`` (webhooks); importing this module also registers the Open311 tables, so
``cityops.models`` needs one line for both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime
from cityops.open311 import models as open311_models
from cityops.timeutil import utcnow

__all__ = ["WebhookCursor", "WebhookDelivery", "WebhookSubscription", "open311_models"]


class WebhookSubscription(Base):
    """Another bureau's endpoint, told about case events of some types in some areas."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(1024))
    #: The HMAC key shared with the receiver; kept in clear because signing needs it.
    secret: Mapped[str] = mapped_column(String(128))
    #: Case actions (``report``, ``dispatch``, ``close`` …); empty means every action.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Region code prefixes (street, community, grid); empty means the whole district.
    area_prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription: the delivery log, retried with backoff, replayable."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    #: ``pending`` (to send at ``next_attempt_at``), ``delivered`` or ``failed`` (gave up).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )


class WebhookCursor(Base):
    """How far the fan-out has read the case event log (one row, id 1)."""

    __tablename__ = "webhook_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
