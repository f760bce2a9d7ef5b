"""Request and response models of the hotline API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cityops.cases.enums import Kind, Urgency
from cityops.cases.schemas import MinorCode, Phone
from cityops.dispatch.duplicates import DuplicateProposalRead
from cityops.dispatch.schemas import ClassSuggestionRead, DepartmentSuggestionRead
from cityops.hotline.enums import CallbackChannel, RequestType, Satisfaction

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{3}){0,3}$")]


class CallCreate(BaseModel):
    """A call taken by an operator. A consultation with ``kb_article_id`` or ``answer`` is
    closed at once; anything else becomes a case and needs a class and a place."""

    model_config = ConfigDict(extra="forbid")

    client_request_id: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")] | None
    ) = None
    type: RequestType
    caller_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = (
        None
    )
    caller_phone: Phone | None = None
    text: Text
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)] | None = None
    lon: float | None = Field(default=None, ge=73.0, le=136.0, description="WGS84 longitude")
    lat: float | None = Field(default=None, ge=3.0, le=54.0, description="WGS84 latitude")
    region_code: RegionCode | None = Field(
        default=None, description="street/community/grid code when no map point was taken"
    )
    kind: Kind | None = None
    minor_code: MinorCode | None = None
    urgency: Urgency = Urgency.NORMAL
    kb_article_id: int | None = None
    answer: Text | None = None

    @model_validator(mode="after")
    def _point_is_whole(self) -> CallCreate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class ReplyCreate(BaseModel):
    """The department's reply to the citizen (答复)."""

    model_config = ConfigDict(extra="forbid")

    text: Text


class CallbackCreate(BaseModel):
    """A callback's result (回访). When the citizen was reached both ratings are required."""

    model_config = ConfigDict(extra="forbid")

    channel: CallbackChannel = CallbackChannel.PHONE
    reached: bool = True
    resolved: bool | None = None
    satisfaction: Satisfaction | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    at: datetime | None = Field(default=None, description="when it happened (with zone); now")

    @model_validator(mode="after")
    def _ratings(self) -> CallbackCreate:
        if self.reached and (self.resolved is None or self.satisfaction is None):
            missing = "resolved" if self.resolved is None else "satisfaction"
            raise ValueError(f"a callback that reached the citizen needs '{missing}'")
        if not self.reached and (self.resolved is not None or self.satisfaction is not None):
            raise ValueError("a callback that did not reach the citizen rates nothing")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-23T08:00:00+08:00")
        return self


class CallbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    reached: bool
    resolved: bool | None
    satisfaction: str | None
    note: str | None
    at: datetime
    recorded_by_id: int | None
    source: str | None
    reopened: bool


class RequestRead(BaseModel):
    """A hotline request; caller name and phone are masked unless you may see contacts."""

    id: int
    type: str
    status: str
    caller_name: str | None
    caller_phone: str | None
    text: str
    address: str | None
    lon: float | None
    lat: float | None
    region_code: str | None
    street_code: str | None
    kb_article_id: int | None
    answer: str | None
    case_id: int | None
    case_number: str | None
    case_status: str | None
    department_id: int | None
    operator_id: int | None
    received_at: datetime
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    responded_at: datetime | None
    reply_text: str | None
    replied_at: datetime | None
    closed_at: datetime | None
    resolved: bool | None
    satisfaction: str | None
    called_back_at: datetime | None
    callback_count: int
    version: int


class RequestDetail(RequestRead):
    callbacks: list[CallbackRead]


class SuggestionRead(BaseModel):
    """What the learned models suggest; empty lists with ``message`` when there is no model."""

    classes: list[ClassSuggestionRead]
    departments: list[DepartmentSuggestionRead]
    message: str | None


class CallTaken(BaseModel):
    """The answer to taking a call: the request, and duplicates of the case it became."""

    request: RequestRead
    created: bool
    duplicates: list[DuplicateProposalRead]
    suggestion: SuggestionRead


class RequestPage(BaseModel):
    items: list[RequestRead]
    next_cursor: str | None


class AssistQuery(BaseModel):
    """Text being typed by an operator, with class and place when known."""

    model_config = ConfigDict(extra="forbid")

    text: Text
    kind: Kind | None = None
    minor_code: MinorCode | None = None
    lon: float | None = Field(default=None, ge=73.0, le=136.0)
    lat: float | None = Field(default=None, ge=3.0, le=54.0)


class ArticleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: LongText
    keywords: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None


class ArticleCreate(ArticleBase):
    pass


class ArticleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: LongText | None = None
    keywords: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    active: bool | None = None


class ArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    keywords: str
    category: str | None
    active: bool
    updated_at: datetime


class ArticleHit(ArticleRead):
    score: float


class AssistRead(BaseModel):
    suggestion: SuggestionRead
    articles: list[ArticleHit]
    duplicates: list[DuplicateProposalRead]


class PolicyRead(BaseModel):
    response_hours: float
    response_kind: str
    resolution_hours: float
    resolution_kind: str
    basic_weight: float
    weight_response: float
    weight_resolution: float
    weight_satisfaction: float


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response_hours: float | None = None
    response_kind: Annotated[str, StringConstraints(pattern="^(working|natural)$")] | None = None
    resolution_hours: float | None = None
    resolution_kind: Annotated[str, StringConstraints(pattern="^(working|natural)$")] | None = None
    basic_weight: float | None = Field(default=None, ge=0, le=1)
    weight_response: float | None = Field(default=None, ge=0, le=1)
    weight_resolution: float | None = Field(default=None, ge=0, le=1)
    weight_satisfaction: float | None = Field(default=None, ge=0, le=1)


class RateRow(BaseModel):
    """The three rates of one street or department (or ``key`` None: everything visible)."""

    key: str | None
    name: str | None
    requests: int
    #: Not yet replied and not yet due: left out of the response rate until they are.
    response_pending: int
    responded_in_time: int
    response_rate: float | None
    rated: int
    resolved: int
    resolution_rate: float | None
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    satisfaction_rate: float | None
    composite: float | None


class RatesRead(BaseModel):
    by: str
    period_from: datetime
    period_to: datetime
    as_of: datetime
    policy: PolicyRead
    rows: list[RateRow]
    total: RateRow


class ImportResult(BaseModel):
    imported: int
    reopened: int
    not_reopened: list[str] = Field(description="rows whose case could not be reopened, and why")


class CallbackResult(BaseModel):
    request: RequestRead
    callback: CallbackRead
    reopened: bool
    not_reopened: str | None = Field(
        default=None, description="why a 'not resolved' callback did not reopen the case"
    )
