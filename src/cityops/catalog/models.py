"""Tables of the catalogue: versions, component/event classes, and routing rules.

A version's classes are never edited in place: a change is a new load, a new version. That is
what lets a case keep the rule it was registered under and lets ``resolve_class`` cache by
version id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime
from cityops.timeutil import utcnow


class CatalogVersion(Base):
    """One loaded catalogue of a district; at most one is active at a time."""

    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    #: Copied onto cases (``cases.catalog_version`` is 32 characters).
    label: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Where the classes came from: ``packaged:default_catalog.csv``, a file name, ``api``.
    source: Mapped[str] = mapped_column(String(256))
    class_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("district_code", "label"),
        # A partial unique index (both SQLite and PostgreSQL have them) makes a second active
        # version impossible even when two loads race.
        Index(
            "uq_catalog_versions_one_active",
            "district_code",
            unique=True,
            sqlite_where=active == true(),
            postgresql_where=active == true(),
        ),
    )


class CatalogClass(Base):
    """A minor class (小类) of components or events, with its major class (大类) denormalised."""

    __tablename__ = "catalog_classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalog_versions.id", ondelete="CASCADE"))
    district_code: Mapped[str] = mapped_column(String(6))
    #: Order in the loaded file, so an export reproduces it.
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    major_code: Mapped[str] = mapped_column(String(2))
    major_name: Mapped[str] = mapped_column(String(64))
    major_name_en: Mapped[str | None] = mapped_column(String(128))
    minor_code: Mapped[str] = mapped_column(String(4))
    minor_name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(128))
    registration_criteria: Mapped[str | None] = mapped_column(Text)  # 立案标准
    closing_criteria: Mapped[str | None] = mapped_column(Text)  # 结案标准
    normal_deadline_hours: Mapped[float] = mapped_column(Float)
    normal_deadline_kind: Mapped[str] = mapped_column(String(8))
    urgent_deadline_hours: Mapped[float] = mapped_column(Float)
    urgent_deadline_kind: Mapped[str] = mapped_column(String(8))
    #: Default responsible department type (``OrgUnit.dept_type``), the routing fallback.
    dept_type: Mapped[str | None] = mapped_column(String(32))
    #: False for a retired class: kept so the version still describes old cases.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Marks values that are shipped defaults a city should review (``defaults_note`` column).
    defaults_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Minor codes are unique only within a kind: component 0101 is not event 0101.
        UniqueConstraint("version_id", "kind", "minor_code"),
    )


class RoutingRule(Base):
    """(class, area, time window) → department; rules are tried by priority, first match wins."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    #: Lower runs first; ties are broken by id.
    priority: Mapped[int] = mapped_column(Integer, default=100)
    # Class conditions; None matches any.
    kind: Mapped[str | None] = mapped_column(String(16))
    major_code: Mapped[str | None] = mapped_column(String(2))
    minor_code: Mapped[str | None] = mapped_column(String(4))
    #: Region code prefixes (street 9, community 12, grid 15 digits, or any prefix); a
    #: responsibility area is written as the list of its grids. Empty matches anywhere.
    area_prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Local (Asia/Shanghai) time of day "HH:MM"; start > end wraps past midnight.
    time_start: Mapped[str | None] = mapped_column(String(5))
    time_end: Mapped[str | None] = mapped_column(String(5))
    #: ISO weekdays 1 (Monday) … 7 (Sunday); empty matches every day.
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: None sends matching cases to the command centre's manual queue on purpose.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    note: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_routing_rules_district_priority", "district_code", "priority"),)
