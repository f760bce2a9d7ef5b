"""The FastAPI application factory: settings in, a fully wired app out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops import __version__, logsafety, web
from cityops.analytics import api as analytics_api
from cityops.auth import api as auth_api
from cityops.cases import api as cases_api
from cityops.cases.lifecycle import InvalidTransition, LifecycleError, MissingField, RoleNotAllowed
from cityops.catalog import api as catalog_api
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker
from cityops.deps import current_actor
from cityops.dispatch import api as dispatch_api
from cityops.dispatch import duplicates
from cityops.errors import CityopsError
from cityops.evaluation import api as evaluation_api
from cityops.geo import api as geo_api
from cityops.geo import service as geo_service
from cityops.hotline import api as hotline_api
from cityops.open311 import api as open311_api
from cityops.ops import api as ops_api

log = logging.getLogger("cityops")

API_PREFIX = "/api/v1"
#: Paths answered without a token; every other route requires one (a test walks the table).
PUBLIC_PATHS = frozenset(
    {"/health", f"{API_PREFIX}/auth/login", "/docs", "/openapi.json", "/static", "/vendor"}
)

#: Path prefixes of public reads (Open311's service list and requests for citizens' apps).
PUBLIC_PREFIXES = (open311_api.PUBLIC_PREFIX,)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]


class SecurityHeaders:
    """Adds the security headers to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, "field": field, **extra}, status_code=status)


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal becomes JSON with a message naming the field; never an HTML 500."""

    @app.exception_handler(CityopsError)
    async def domain_error(_request: Request, exc: CityopsError) -> JSONResponse:
        return _error(exc.status_code, exc.message, exc.field, **exc.extra)

    @app.exception_handler(LifecycleError)
    async def lifecycle_error(_request: Request, exc: LifecycleError) -> JSONResponse:
        status = {InvalidTransition: 409, RoleNotAllowed: 403, MissingField: 422}.get(
            type(exc), 400
        )
        return _error(status, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        cleaned = [
            {"field": _field_of(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
            for e in errors
        ]
        return _error(422, f"{field}: {first.get('msg', 'invalid')}", field, errors=cleaned)

    @app.exception_handler(StaleDataError)
    async def stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return _error(
            409, "the case was changed by someone else; reload and try again", "expected_version"
        )

    @app.exception_handler(IntegrityError)
    async def integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error: %s", exc.orig)
        return _error(409, "this conflicts with data that already exists")

    @app.exception_handler(DataError)
    async def bad_value(_request: Request, exc: DataError) -> JSONResponse:
        # A value the database cannot hold (an id beyond its integer range, say) is bad input.
        log.info("value refused by the database: %s", exc.orig)
        return _error(422, "a value is out of the range the database accepts")

    @app.exception_handler(OverflowError)
    async def overflow(_request: Request, _exc: OverflowError) -> JSONResponse:
        return _error(422, "a number is out of the range the database accepts")

    @app.exception_handler(OperationalError)
    async def busy(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc.orig)
        return _error(503, "the database is busy or unavailable; try again")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(500, "internal error; it has been logged")


def _docs_page() -> str:
    return """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>cityops API</title>
<link rel="stylesheet" href="/vendor/swagger-ui-dist/swagger-ui.css"></head>
<body><div id="swagger-ui"><p>API schema: <a href="/openapi.json">/openapi.json</a>.
If this page stays empty, run the set-up (make setup) to install the front-end packages.</p></div>
<script src="/vendor/swagger-ui-dist/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>"""


def _warm_up(app: FastAPI, settings: Settings) -> None:
    """Build the district's spatial index now, so the first report does not wait for it."""
    try:
        with app.state.session_factory() as session:
            geo_service.district_index(session, district_code=settings.district_code)
    except SQLAlchemyError as exc:
        log.warning("geography index not built at start-up (run `cityops db upgrade`?): %s", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (read from the environment when not given)."""
    settings = settings or Settings()
    logsafety.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.session_factory = make_sessionmaker(engine, settings)
        _warm_up(app, settings)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="cityops",
        version=__version__,
        description="City operations platform (城市运行管理服务平台) API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders)

    @app.get("/health", tags=["ops"])
    def health(request: Request) -> dict[str, str]:
        """Liveness and database reachability (no token needed)."""
        with request.app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> str:
        return _docs_page()

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(auth_api.public_router)
    protected = APIRouter(dependencies=[Depends(current_actor)])
    domains = (
        auth_api, cases_api, geo_api, catalog_api, dispatch_api, duplicates, hotline_api,
        evaluation_api, analytics_api,
    )  # fmt: skip
    for router in (domain.router for domain in domains):
        protected.include_router(router)
    protected.include_router(open311_api.admin_router)
    protected.include_router(ops_api.router)
    api.include_router(protected)
    app.include_router(api)
    app.include_router(open311_api.router)

    static_dir = Path(str(files("cityops") / "static"))
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    vendor = settings.vendor_dir
    if vendor.is_dir():
        app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")
    web.install(app)
    return app
