"""Routes of Open311 GeoReport v2 at ``/open311/v2`` (public reads; POST needs an api_key).

Every path ends in ``.json`` or ``.xml`` and every refusal, including validation errors, is an
error list in the spec's format, so this router converts errors itself instead of leaving them
to the app's JSON handlers. ``admin_router`` (api keys) belongs under the token-protected API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityops.db import unit_of_work
from cityops.deps import AdminUser, SessionDep, WriteSessionDep
from cityops.errors import CityopsError, Forbidden, InvalidInput, NotFound, Unauthorized
from cityops.open311 import formats, service
from cityops.open311.ratelimit import Limits, RateLimiter

log = logging.getLogger("cityops.open311")

PREFIX = "/open311/v2"
#: Every route under this prefix is a public read, except POST requests (api_key).
PUBLIC_PREFIX = PREFIX + "/"


class RateLimited(Exception):
    def __init__(self, retry_after: float, who: str) -> None:
        super().__init__(who)
        self.retry_after = retry_after
        self.who = who


def _status_of(exc: CityopsError) -> int:
    # The spec: 403 for a bad api_key, 404 for what does not exist, 400 otherwise; size and
    # type refusals of an upload keep their own codes because they tell the client more.
    if isinstance(exc, Forbidden | Unauthorized):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if exc.status_code in (413, 415):
        return exc.status_code
    return 400


class Open311Route(APIRoute):
    """A route whose every error leaves in the spec's format (JSON or XML by the path)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            fmt = formats.format_of(request.url.path)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                name = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
                return formats.error(fmt, 400, f"{name}: {first.get('msg', 'invalid')}")
            except CityopsError as exc:
                return formats.error(fmt, _status_of(exc), exc.message)
            except RateLimited as exc:
                wait = max(1, int(exc.retry_after + 0.999))
                return formats.error(
                    fmt,
                    429,
                    f"too many requests from this {exc.who}; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            except StarletteHTTPException as exc:
                return formats.error(fmt, exc.status_code, str(exc.detail))
            except OperationalError as exc:
                log.error("database unavailable: %s", exc.orig)
                return formats.error(fmt, 503, "the service is busy; try again")

        return guarded


_limiter_lock = threading.Lock()


def limiter(request: Request) -> RateLimiter:
    """The app's limiter, built on first use from ``app.state.open311_limits`` (or defaults)."""
    state = request.app.state
    with _limiter_lock:
        current: RateLimiter | None = getattr(state, "open311_limiter", None)
        if current is None:
            current = RateLimiter(getattr(state, "open311_limits", None) or Limits())
            state.open311_limiter = current
    return current


def limit_ip(request: Request) -> None:
    """Every Open311 route: one token from the caller's address bucket."""
    host = request.client.host if request.client else "unknown"
    wait = limiter(request).by_ip.take(host)
    if wait is not None:
        raise RateLimited(wait, "address")


router = APIRouter(
    prefix=PREFIX, tags=["open311"], route_class=Open311Route, dependencies=[Depends(limit_ip)]
)

Fmt = Annotated[str, "json or xml"]
Jurisdiction = Annotated[
    str | None, Query(description="district code; defaults to this installation's")
]


def _fmt(value: str) -> str:
    if value not in formats.FORMATS:
        raise NotFound(f"format {value!r} not supported; use .json or .xml")
    return value


def _district(request: Request, session: Any, requested: str | None) -> str:
    default: str = request.app.state.settings.district_code
    return service.jurisdiction(session, requested=requested, default=default)


@router.get("/services.{fmt}", summary="Service list (the catalogue's classes)")
def services(
    fmt: Fmt, request: Request, session: SessionDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    fmt = _fmt(fmt)
    code = _district(request, session, jurisdiction_id)
    return formats.render(fmt, "services", service.list_services(session, district_code=code))


@router.get("/services/{service_code}.{fmt}", summary="Service definition (attributes)")
def definition(
    service_code: str,
    fmt: Fmt,
    request: Request,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    fmt = _fmt(fmt)
    code = _district(request, session, jurisdiction_id)
    body = service.service_definition(session, district_code=code, code=service_code)
    return formats.render(fmt, "service_definition", body)


OptionalForm = Annotated[str | None, Form()]


@router.post("/requests.{fmt}", summary="Submit a service request (api_key required)")
async def submit(
    fmt: Fmt,
    request: Request,
    service_code: Annotated[str, Form(description="e.g. E0102")],
    api_key: OptionalForm = None,
    jurisdiction_id: OptionalForm = None,
    lat: OptionalForm = None,
    long: OptionalForm = None,
    address_string: OptionalForm = None,
    address_id: OptionalForm = None,
    description: Annotated[str | None, Form(max_length=4000)] = None,
    media_url: OptionalForm = None,
    email: OptionalForm = None,
    device_id: OptionalForm = None,
    account_id: OptionalForm = None,
    first_name: OptionalForm = None,
    last_name: OptionalForm = None,
    phone: OptionalForm = None,
    media: Annotated[UploadFile | None, File(description="a photo (JPEG, PNG, WebP)")] = None,
) -> Response:
    """File a citizen's report; it enters as a ``public`` case that is verified on site.

    Attribute values are sent as ``attribute[code]=value`` fields (repeat for multivaluelist).
    """
    fmt = _fmt(fmt)
    form = await request.form()
    attributes: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if name.startswith("attribute[") and name.endswith("]") and isinstance(value, str):
            attributes.setdefault(name[len("attribute[") : -1], []).append(value)
    sub = service.Submission(
        service_code=service_code,
        lat=lat,
        long=long,
        address_string=address_string,
        address_id=address_id,
        description=description,
        media_url=media_url,
        email=email,
        device_id=device_id,
        account_id=account_id,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        attributes=attributes,
    )
    key_text = api_key or request.query_params.get("api_key")
    upload = (
        service.Media(media.file, media.filename) if media is not None and media.filename else None
    )
    body = await run_in_threadpool(_submit, request, key_text, jurisdiction_id, sub, upload)
    return formats.render(fmt, "service_requests", [body])


def _submit(
    request: Request,
    key_text: str | None,
    jurisdiction_id: str | None,
    sub: service.Submission,
    media: service.Media | None,
) -> dict[str, Any]:
    with unit_of_work(request.app.state.session_factory) as session:
        key = service.authenticate_key(session, key=key_text)
        # The key's bucket is taken only once the key is known to be real, so nobody can drain
        # another app's allowance by sending its id with garbage.
        wait = limiter(request).by_key.take(f"key:{key.id}")
        if wait is not None:
            raise RateLimited(wait, "api_key")
        if jurisdiction_id and jurisdiction_id.strip() != key.district_code:
            raise InvalidInput(
                f"this api_key submits to jurisdiction {key.district_code}",
                field="jurisdiction_id",
            )
        done = service.submit_request(session, key=key, sub=sub, media=media)
        return {
            "service_request_id": done.case.number,
            "token": done.submission.token,
            "service_notice": service.SERVICE_NOTICE,
            "account_id": done.submission.account_id,
        }


@router.get("/requests.{fmt}", summary="Service requests (filters of the spec)")
def requests_list(
    fmt: Fmt,
    request: Request,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[str | None, Query(description="comma-separated ids")] = None,
    service_code: Annotated[str | None, Query(description="comma-separated codes")] = None,
    start_date: Annotated[str | None, Query(description="W3C datetime")] = None,
    end_date: Annotated[str | None, Query(description="W3C datetime")] = None,
    status: Annotated[str | None, Query(description="open, closed or both")] = None,
) -> Response:
    fmt = _fmt(fmt)
    code = _district(request, session, jurisdiction_id)
    query = service.RequestQuery(service_request_id, service_code, start_date, end_date, status)
    items = service.find_requests(session, district_code=code, query=query)
    return formats.render(fmt, "service_requests", items)


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request")
def request_detail(
    service_request_id: str,
    fmt: Fmt,
    request: Request,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    fmt = _fmt(fmt)
    code = _district(request, session, jurisdiction_id)
    item = service.get_request(session, district_code=code, request_id=service_request_id)
    return formats.render(fmt, "service_requests", [item])


@router.get("/tokens/{token}.{fmt}", summary="The service request id behind a token")
def token(
    token: str,
    fmt: Fmt,
    request: Request,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    fmt = _fmt(fmt)
    code = _district(request, session, jurisdiction_id)
    item = service.token_lookup(session, district_code=code, token=token)
    return formats.render(fmt, "service_requests", [item])


# --- administration of api keys (mounted under the token-protected /api/v1) -----------------


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="the client app, e.g. 随手拍")


class ApiKeyRead(BaseModel):
    id: int
    name: str
    key_prefix: str
    user_id: int
    active: bool
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="shown once; only its hash is stored")


def _read(row: Any) -> ApiKeyRead:
    return ApiKeyRead(
        id=row.id,
        name=row.name,
        key_prefix=row.key_prefix,
        user_id=row.user_id,
        active=row.active,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


admin_router = APIRouter(prefix="/open311/keys", tags=["open311"])
#: Bounded to the database's INTEGER, so an absurd id is a 422, not a driver error.
KeyId = Annotated[int, FastApiPath(ge=1, le=2**31 - 1)]


@admin_router.post("", response_model=ApiKeyCreated, status_code=201)
def create_key(body: ApiKeyCreate, admin: AdminUser, session: WriteSessionDep) -> ApiKeyCreated:
    """Issue an api key for a citizens' app (admin); the key is shown only in this answer."""
    key, row = service.create_api_key(
        session, actor=admin, district_code=admin.district_code, name=body.name
    )
    session.commit()
    return ApiKeyCreated(**_read(row).model_dump(), key=key)


@admin_router.get("", response_model=list[ApiKeyRead])
def list_keys(admin: AdminUser, session: SessionDep) -> list[ApiKeyRead]:
    return [_read(r) for r in service.list_api_keys(session, district_code=admin.district_code)]


@admin_router.post("/{key_id}/revoke", response_model=ApiKeyRead)
def revoke_key(key_id: KeyId, admin: AdminUser, session: WriteSessionDep) -> ApiKeyRead:
    """Stop accepting the key at once (admin)."""
    row = service.revoke_api_key(session, actor=admin, key_id=key_id)
    session.commit()
    return _read(row)


def is_installed(app: FastAPI) -> bool:
    """Whether ``app`` already serves Open311 (the factory mounts it)."""
    return any(path.startswith(PREFIX) for path in app.openapi()["paths"])


def install(app: FastAPI, api_prefix: str = "/api/v1") -> None:
    """Mount the public routes at the root and the key administration behind a token."""
    from cityops.deps import current_actor

    app.include_router(router)
    app.include_router(admin_router, prefix=api_prefix, dependencies=[Depends(current_actor)])
    app.openapi_schema = None  # the schema is cached; rebuild it with the new routes
