"""Rendering pages: the template context every page gets, flash messages, error pages."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cityops.auth.roles import Role
from cityops.web.i18n import N_, environment, locale_of, normalise, tr
from cityops.web.session import FLASH_COOKIE, LANG_COOKIE, PageError, PageUser

#: Main navigation: (path, msgid, roles that see it; empty = everyone).
NAV: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("/queues", N_("Queues"), frozenset({Role.OPERATOR, Role.SHIFT_LEAD, Role.DISPATCHER})),
    ("/intake", N_("Hotline intake"), frozenset({Role.OPERATOR, Role.SHIFT_LEAD})),
    ("/callbacks", N_("Callbacks"), frozenset({Role.OPERATOR, Role.SHIFT_LEAD})),
    ("/kb", N_("Knowledge base"), frozenset({Role.OPERATOR, Role.SHIFT_LEAD, Role.ADMIN})),
    ("/inbox", N_("Department inbox"), frozenset({Role.DEPARTMENT_HANDLER})),
    ("/m", N_("Inspector"), frozenset({Role.INSPECTOR})),
    ("/cases", N_("Search cases"), frozenset()),
    ("/dashboard", N_("Dashboard"), frozenset()),
    ("/admin", N_("Admin"), frozenset({Role.ADMIN})),
)


def home_for(user: PageUser) -> str:
    """The first page a role works in."""
    for role, path in (
        (Role.ADMIN, "/admin"),
        (Role.SHIFT_LEAD, "/queues"),
        (Role.DISPATCHER, "/queues"),
        (Role.OPERATOR, "/intake"),
        (Role.DEPARTMENT_HANDLER, "/inbox"),
        (Role.INSPECTOR, "/m"),
        (Role.LEADER, "/dashboard"),
        (Role.AUDITOR, "/cases"),
    ):
        if user.has(role):
            return path
    return "/cases"


def flash(response: Response, message: str, kind: str = "ok") -> Response:
    """Show ``message`` (already translated) on the next page rendered."""
    response.set_cookie(
        FLASH_COOKIE, quote(json.dumps([kind, message])), max_age=60, httponly=True, samesite="lax"
    )
    return response


def redirect(url: str, message: str | None = None, kind: str = "ok") -> RedirectResponse:
    """A 303 to ``url``, optionally with a flash message."""
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, message, kind)
    return response


def _read_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        kind, message = json.loads(unquote(raw))
    except (ValueError, TypeError):
        return None
    return (str(kind), str(message))


def render(
    request: Request,
    template: str,
    user: PageUser | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the request's language with the common context."""
    locale = locale_of(request)
    env = environment(locale)
    nav = [
        (path, label)
        for path, label, roles in NAV
        if user is not None and (not roles or user.actor.roles & roles)
    ]
    message = _read_flash(request)
    html = env.get_template(template).render(
        request=request,
        user=user,
        actor=user.actor if user else None,
        csrf=user.csrf if user else "",
        nav=nav,
        path=request.url.path,
        here=request.url.path + ("?" + request.url.query if request.url.query else ""),
        flash=message,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    if message:
        response.delete_cookie(FLASH_COOKIE)
    wanted = normalise(request.query_params.get("lang"))
    if wanted:
        response.set_cookie(LANG_COOKIE, wanted, max_age=365 * 86400, samesite="lax")
    return response


def t(request: Request, message: str, **values: Any) -> str:
    """Translate a Python-side message into the request's language."""
    return tr(locale_of(request), message, **values)


async def page_error(request: Request, exc: Exception) -> Response:
    """A refusal as an HTML page in the user's language."""
    assert isinstance(exc, PageError)
    return render(
        request, "error.html", None, status_code=exc.status, status=exc.status, message=exc.message
    )
