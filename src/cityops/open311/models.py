"""Tables of Open311: the api keys of citizens' apps and one row per submitted request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime
from cityops.timeutil import utcnow


class Open311ApiKey(Base):
    """A client app allowed to submit requests; only the key's SHA-256 is stored."""

    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the key, so an admin can tell keys apart without the secret.
    key_prefix: Mapped[str] = mapped_column(String(12))
    #: The system user every request of this app is reported by (the reporter actor).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Open311Submission(Base):
    """One POSTed service request: its token, its case, and what only Open311 carries."""

    __tablename__ = "open311_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6))
    #: Handed to the client for ``tokens/{token}``; random, so ids cannot be enumerated by it.
    token: Mapped[str] = mapped_column(String(43), unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    service_code: Mapped[str] = mapped_column(String(8))
    #: Attribute values as validated against the service definition.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    media_url: Mapped[str | None] = mapped_column(String(1024))
    # Contact and device data stay private: no public read ever returns them.
    email: Mapped[str | None] = mapped_column(String(254))
    device_id: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
