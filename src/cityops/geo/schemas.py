"""Request and response models of the geo API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cityops.geo.coords import CRS

MAX_BATCH = 10_000


class RegionCodesRead(BaseModel):
    district_code: str
    street_code: str | None
    community_code: str | None
    grid_code: str | None


class BatchLocateRequest(BaseModel):
    #: ``[lon, lat]`` pairs.
    points: list[tuple[float, float]] = Field(max_length=MAX_BATCH)
    crs: CRS = CRS.WGS84


class BatchLocateItem(BaseModel):
    inside: bool
    street_code: str | None
    community_code: str | None
    grid_code: str | None


class BatchLocateRead(BaseModel):
    district_code: str
    items: list[BatchLocateItem]


class RegionSummaryRead(BaseModel):
    code: str
    level: str
    name: str
    parent_code: str | None
    synthetic: bool
    centroid_lon: float
    centroid_lat: float


class RegionDetailRead(RegionSummaryRead):
    district_code: str
    area_m2: float
    geometry: dict[str, Any]
    crs: str
    source: str


class AreaMatchRead(BaseModel):
    id: int
    name: str
    org_unit_id: int | None
    org_unit_code: str | None
    class_codes: list[str]
    matched_by: str
