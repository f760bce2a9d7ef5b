"""Routes of ``ops`` under the token-protected ``/api/v1``: webhooks (admin) and CSV exports.

Exports follow the caller's data scope, like every case list.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from cityops.auth.roles import Role
from cityops.deps import AdminUser, CurrentUser, SessionDep, WriteSessionDep, require_roles
from cityops.errors import InvalidInput
from cityops.ops import webhooks
from cityops.ops.export import export_csv
from cityops.ops.models import WebhookDelivery, WebhookSubscription

router = APIRouter(tags=["ops"])
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class SubscriptionCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=8, max_length=1024)
    event_types: list[str] = Field(default_factory=list, description="case actions; [] = all")
    area_prefixes: list[str] = Field(default_factory=list, description="region code prefixes")


class SubscriptionRead(BaseModel):
    id: int
    name: str
    url: str
    event_types: list[str]
    area_prefixes: list[str]
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="the HMAC-SHA256 key; shown once")


class DeliveryRead(BaseModel):
    id: int
    subscription_id: int
    event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


def _sub(row: WebhookSubscription) -> SubscriptionRead:
    return SubscriptionRead(
        id=row.id,
        name=row.name,
        url=row.url,
        event_types=row.event_types,
        area_prefixes=row.area_prefixes,
        active=row.active,
        created_at=row.created_at,
    )


def _delivery(row: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
    )


@router.post("/webhooks/subscriptions", response_model=SubscriptionCreated, status_code=201)
def subscribe(
    body: SubscriptionCreate, admin: AdminUser, session: WriteSessionDep
) -> SubscriptionCreated:
    """Subscribe another bureau's endpoint to case events (admin); the secret is shown once."""
    row = webhooks.subscribe(
        session,
        actor=admin,
        name=body.name,
        url=body.url,
        event_types=body.event_types,
        area_prefixes=body.area_prefixes,
    )
    session.commit()
    return SubscriptionCreated(**_sub(row).model_dump(), secret=row.secret)


@router.get("/webhooks/subscriptions", response_model=list[SubscriptionRead])
def subscriptions(admin: AdminUser, session: SessionDep) -> list[SubscriptionRead]:
    rows = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.district_code == admin.district_code)
        .order_by(WebhookSubscription.id)
    )
    return [_sub(r) for r in rows]


@router.get("/webhooks/deliveries", response_model=list[DeliveryRead])
def deliveries(
    admin: AdminUser,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    """The delivery log, newest first (admin)."""
    stmt = (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookSubscription.district_code == admin.district_code)
    )
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    rows = session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))
    return [_delivery(r) for r in rows]


@router.post("/webhooks/deliveries/{delivery_id}/replay", response_model=DeliveryRead)
def replay(delivery_id: DbId, admin: AdminUser, session: WriteSessionDep) -> DeliveryRead:
    """Send a delivery again at the worker's next run (admin)."""
    row = webhooks.replay(session, actor=admin, delivery_id=delivery_id)
    session.commit()
    return _delivery(row)


ExportRoles = Depends(require_roles(Role.ADMIN, Role.LEADER, Role.AUDITOR, Role.SHIFT_LEAD))


@router.get(
    "/exports/{what}.csv",
    response_class=Response,
    dependencies=[ExportRoles],
    responses={200: {"content": {"text/csv": {}}}},
)
def export(
    what: Annotated[str, Path(pattern="^(cases|events)$")],
    actor: CurrentUser,
    session: SessionDep,
    start: Annotated[datetime, Query(alias="from", description="with a time zone")],
    end: Annotated[datetime, Query(alias="to", description="exclusive, with a time zone")],
) -> Response:
    """Cases (by report time) or events of a period as CSV, within your data scope."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("give from and to with a time zone", field="from")
    out = io.StringIO()
    export_csv(
        session,
        what=what,
        district_code=actor.district_code,
        start=start,
        end=end,
        out=out,
        actor=actor,
    )
    return Response(
        out.getvalue().encode("utf-8-sig"),  # the BOM lets Excel read the Chinese text
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{what}.csv"'},
    )


def is_installed(app: FastAPI, api_prefix: str = "/api/v1") -> bool:
    """Whether ``app`` already serves these routes (the factory mounts them)."""
    return f"{api_prefix}/webhooks/subscriptions" in app.openapi()["paths"]


def install(app: FastAPI, api_prefix: str = "/api/v1") -> None:
    """Mount the routes behind a token under ``api_prefix``."""
    from cityops.deps import current_actor

    app.include_router(router, prefix=api_prefix, dependencies=[Depends(current_actor)])
    app.openapi_schema = None  # the schema is cached; rebuild it with the new routes
