"""The web console: server-rendered pages (Jinja2, zh-CN by default, English on request).

Owns the page routes, templates, small JS/CSS files under ``static/`` and the gettext
catalogues under ``i18n/``. Pages call the same service functions as the API (``cases``,
``hotline``, ``geo``, ``catalog``, ``dispatch``, ``auth``); nothing here writes a table
directly. Must not be imported by any domain package.

Mount it with :func:`install` (adds the router, ``/assets`` and the login redirect).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from cityops.web.session import LoginRequired, PageError

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
#: URL prefix of the console's own JS/CSS (front-end packages stay under ``/vendor``).
ASSETS_PREFIX = "/assets"


def install(app: FastAPI) -> None:
    """Mount the pages on ``app`` (idempotent): call it at the end of ``create_app``."""
    if getattr(app.state, "web_installed", False):
        return
    from cityops.web.routes import router

    app.state.web_installed = True

    async def to_login(request: Request, exc: Exception) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET" or target.startswith("/login"):
            target = "/"
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)

    from cityops.web.render import page_error

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(PageError, page_error)
    app.include_router(router)
    app.mount(ASSETS_PREFIX, StaticFiles(directory=STATIC_DIR), name="web-assets")


__all__ = ["install"]
