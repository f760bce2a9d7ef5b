"""Request and response models of the catalogue, departments and routing API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Kind = Literal["component", "event"]
MinorCode = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
MajorCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
AreaPrefix = Annotated[str, StringConstraints(pattern=r"^\d{1,15}$")]
HhMm = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Weekday = Annotated[int, Field(ge=1, le=7)]


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    label: str
    active: bool
    created_at: datetime
    source: str
    class_count: int


class VersionCreate(BaseModel):
    """A catalogue file's text (CSV or YAML, as exported) to load as a new version."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "yaml"]
    content: Annotated[str, StringConstraints(min_length=1, max_length=5_000_000)]
    label: Annotated[str | None, StringConstraints(min_length=1, max_length=32)] = None
    activate: bool = True


class ClassRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    major_code: str
    major_name: str
    major_name_en: str | None
    minor_code: str
    minor_name: str
    name_en: str | None
    registration_criteria: str | None
    closing_criteria: str | None
    normal_deadline_hours: float
    normal_deadline_kind: str
    urgent_deadline_hours: float
    urgent_deadline_kind: str
    dept_type: str | None
    active: bool
    defaults_note: str | None


class ClassPage(BaseModel):
    version: VersionRead
    items: list[ClassRead]


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    name_en: str | None
    kind: str
    dept_type: str | None
    region_code: str | None
    active: bool


class DepartmentUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
        | None
    ) = None
    name_en: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None
    dept_type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    region_code: Annotated[str, StringConstraints(pattern=r"^\d{9}$")] | None = None
    active: bool | None = None


class RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Annotated[int, Field(ge=0)] = 100
    kind: Kind | None = None
    major_code: MajorCode | None = None
    minor_code: MinorCode | None = None
    area_prefixes: list[AreaPrefix] = []
    time_start: HhMm | None = None
    time_end: HhMm | None = None
    weekdays: list[Weekday] = []
    #: None: the command centre's manual queue.
    department_id: int | None = None
    note: Annotated[str | None, StringConstraints(max_length=256)] = None
    active: bool = True


class RuleCreate(RuleBase):
    pass


class RuleUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears a condition to "any"."""

    model_config = ConfigDict(extra="forbid")

    priority: Annotated[int, Field(ge=0)] | None = None
    kind: Kind | None = None
    major_code: MajorCode | None = None
    minor_code: MinorCode | None = None
    area_prefixes: list[AreaPrefix] | None = None
    time_start: HhMm | None = None
    time_end: HhMm | None = None
    weekdays: list[Weekday] | None = None
    department_id: int | None = None
    note: Annotated[str | None, StringConstraints(max_length=256)] = None
    active: bool | None = None


class RuleRead(RuleBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    updated_at: datetime


class ExplainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    minor_code: MinorCode
    street_code: Annotated[str, StringConstraints(pattern=r"^\d{9}$")] | None = None
    community_code: Annotated[str, StringConstraints(pattern=r"^\d{12}$")] | None = None
    grid_code: Annotated[str, StringConstraints(pattern=r"^\d{15}$")] | None = None
    #: WGS84 position: lets responsibility areas (责任网格) answer when no rule matches.
    lon: float | None = Field(default=None, ge=73.0, le=136.0)
    lat: float | None = Field(default=None, ge=3.0, le=54.0)
    #: When the case comes in (with a time zone); default: now.
    at: datetime | None = None


class RuleCheckRead(BaseModel):
    rule_id: int
    priority: int
    matched: bool
    detail: str


class SuggestionRead(BaseModel):
    department_id: int | None
    department_name: str | None
    rule_id: int | None
    reason: str


class ExplainRead(BaseModel):
    suggestion: SuggestionRead
    checks: list[RuleCheckRead]
