"""Log in, log out and the start page (which sends each role to the page it works in)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cityops.auth import service
from cityops.auth.models import ApiToken
from cityops.db import settings_of
from cityops.deps import WriteSessionDep
from cityops.web.render import home_for, redirect, render, t
from cityops.web.session import (
    LOGIN_COOKIE,
    FormUserDep,
    PageUserDep,
    check_origin,
    clear_session,
    login_csrf,
    set_login_csrf,
    set_session,
)

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a local path is followed after login (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


@router.get("/")
def start(user: PageUserDep) -> RedirectResponse:
    """The start page: each role lands where it works."""
    return RedirectResponse(home_for(user), status_code=303)


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
    next_url: str | None = None,
) -> Response:
    settings = request.app.state.settings
    token, new = login_csrf(request)
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        error=error,
        username=username,
        next=safe_next(next_url or request.query_params.get("next"), ""),
        login_csrf=token,
        max_failed=settings.max_failed_logins,
        lockout=settings.lockout_minutes,
    )
    if new:
        set_login_csrf(response, request, token)
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    session: WriteSessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the password with the core's lockout rule and start a cookie session."""
    check_origin(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf, expected):
        return _login_page(
            request,
            error=t(request, "The login form expired; please try again."),
            status=403,
            next_url=next,
        )
    client = request.client.host if request.client else None
    outcome = service.login(session, username=username.strip(), password=password, client=client)
    session.commit()  # failed attempts count even though the answer is an error
    if outcome.token is None:
        if outcome.locked_until is not None:
            message = t(request, "Account locked after too many failed logins; try again later.")
            return _login_page(request, error=message, username=username, status=423, next_url=next)
        message = t(request, "Wrong username or password.")
        return _login_page(request, error=message, username=username, status=401, next_url=next)
    ttl = settings_of(session).token_ttl_minutes * 60
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    set_session(response, request, outcome.token, ttl)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, user: FormUserDep, session: WriteSessionDep) -> Response:
    """Revoke the session's token and forget the cookie."""
    row = session.get(ApiToken, user.token_id)
    if row is not None:
        service.revoke_token(session, actor=user.actor, token_row=row)
        session.commit()
    response = redirect("/login", t(request, "You have logged out."))
    clear_session(response)
    return response
