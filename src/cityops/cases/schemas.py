"""Request and response models of the case API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cityops.cases.enums import Kind, SlaState, Source, Urgency
from cityops.cases.lifecycle import Action

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
MinorCode = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9+\- ]{5,20}$")]


class CaseReport(BaseModel):
    """A new problem (上报). ``client_request_id`` makes resending safe."""

    model_config = ConfigDict(extra="forbid")

    client_request_id: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")] | None
    ) = None
    source: Source = Source.INSPECTOR
    kind: Kind
    minor_code: MinorCode
    urgency: Urgency = Urgency.NORMAL
    description: Text
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)] | None = None
    lon: float = Field(ge=73.0, le=136.0, description="WGS84 longitude")
    lat: float = Field(ge=3.0, le=54.0, description="WGS84 latitude")
    reporter_name: Annotated[str, StringConstraints(max_length=64)] | None = None
    reporter_phone: Phone | None = None
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)


class ActionBase(BaseModel):
    """Every action names the version the actor saw; a stale screen gets 409."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=1)
    note: ShortText | None = None
    attachment_ids: list[int] = Field(default_factory=list, max_length=20)


class ReasonBody(ActionBase):
    reason: ShortText


class NoteRequiredBody(ActionBase):
    note: ShortText


class AssignBody(ActionBase):
    assignee_id: int


class VerifyBody(ActionBase):
    verdict: Annotated[str, StringConstraints(pattern=r"^(confirmed|not_found)$")]


class RegisterBody(ActionBase):
    minor_code: MinorCode | None = None
    kind: Kind | None = None
    urgency: Urgency | None = None


class DispatchBody(ActionBase):
    department_id: int


class ExtensionBody(ActionBase):
    reason: ShortText
    hours: float = Field(gt=0, le=24 * 90)


class ApproveExtensionBody(ActionBase):
    hours: float | None = Field(default=None, gt=0, le=24 * 90)


class HandleBody(ActionBase):
    result: Text


class CheckBody(ActionBase):
    verdict: Annotated[str, StringConstraints(pattern=r"^(pass|fail)$")]


class MergeBody(ActionBase):
    target_case_id: int


ACTION_BODIES: dict[Action, type[ActionBase]] = {
    Action.ASSIGN_VERIFY: AssignBody,
    Action.VERIFY: VerifyBody,
    Action.REGISTER: RegisterBody,
    Action.REJECT: ReasonBody,
    Action.DISPATCH: DispatchBody,
    Action.RETURN: ReasonBody,
    Action.REQUEST_EXTENSION: ExtensionBody,
    Action.APPROVE_EXTENSION: ApproveExtensionBody,
    Action.REFUSE_EXTENSION: ReasonBody,
    Action.SUSPEND: ReasonBody,
    Action.RESUME: ActionBase,
    Action.HANDLE: HandleBody,
    Action.ASSIGN_CHECK: AssignBody,
    Action.CHECK: CheckBody,
    Action.REWORK: ActionBase,
    Action.CLOSE: ActionBase,
    Action.VOID: ReasonBody,
    Action.URGE: NoteRequiredBody,
    Action.MERGE: MergeBody,
    Action.REOPEN: ReasonBody,
}


class SlaRead(BaseModel):
    state: SlaState
    deadline_kind: str | None
    deadline_hours: float | None
    due_at: datetime | None
    remaining_seconds: float | None


class ReporterRead(BaseModel):
    source: str
    name: str | None
    phone: str | None
    reported_at: datetime
    original_case_id: int | None


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    district_code: str
    source: str
    kind: str
    major_code: str
    minor_code: str
    class_name: str
    catalog_version: str
    urgency: str
    description: str
    address: str | None
    lon: float
    lat: float
    street_code: str | None
    community_code: str | None
    grid_code: str | None
    status: str
    department_id: int | None
    assignee_id: int | None
    verify_result: str | None
    reported_at: datetime
    registered_at: datetime | None
    dispatched_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    handled_on_time: bool | None
    rework_count: int
    return_count: int
    urge_count: int
    extension_count: int
    merged_into_id: int | None
    version: int
    sla: SlaRead
    allowed_actions: list[str] = Field(description="actions the current user may take now")


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    action: str
    from_status: str | None
    to_status: str
    actor_id: int | None
    actor_role: str | None
    payload: dict[str, Any]
    at: datetime
    due_at: datetime | None


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sha256: str
    content_type: str
    size: int
    original_name: str | None
    case_id: int | None
    event_id: int | None
    uploaded_at: datetime


class CaseDetail(CaseRead):
    events: list[EventRead]
    reporters: list[ReporterRead]
    attachments: list[AttachmentRead]


class CasePage(BaseModel):
    items: list[CaseRead]
    next_cursor: str | None = Field(description="pass as ?cursor= to get the next page")


class Conflicting(BaseModel):
    """The body of a 409: what the case looks like now."""

    detail: str
    field: str | None = None
    current_status: str | None = None
    current_version: int | None = None
