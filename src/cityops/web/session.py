"""Browser sessions on top of the API's tokens, CSRF tokens, and the page dependencies.

The session cookie holds an ordinary bearer token from ``auth.service.login`` (the database
keeps only its hash), so a page request is authenticated by ``auth.service.authenticate``
exactly like an API call: expiry, revocation, disabled users and lockout all apply. The cookie
is HttpOnly, SameSite=Lax and Secure when the request came over TLS.

CSRF: every POST carries a token derived from the session token by HMAC (``csrf`` form field
or ``X-CSRF-Token`` header); the login form, which has no session yet, uses a double-submit
cookie. A POST whose ``Origin`` names another site is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from cityops.auth.actor import Actor
from cityops.auth.roles import Role
from cityops.errors import CityopsError

SESSION_COOKIE = "cityops_session"
LOGIN_COOKIE = "cityops_login_csrf"
LANG_COOKIE = "cityops_lang"
FLASH_COOKIE = "cityops_flash"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to ``/login``."""


class PageError(Exception):
    """A refusal shown as an HTML page (not the API's JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CsrfError(PageError):
    """The form's CSRF token is missing or wrong, or the POST came from another site."""

    def __init__(self, message: str) -> None:
        super().__init__(403, message)


def csrf_for(token: str) -> str:
    """The CSRF token bound to one session token (unguessable without the cookie)."""
    return hmac.new(token.encode(), b"cityops-csrf", hashlib.sha256).hexdigest()[:40]


def is_secure(request: Request) -> bool:
    """Whether the browser talks TLS to us (directly or through a proxy uvicorn trusts)."""
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path="/",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def login_csrf(request: Request) -> tuple[str, bool]:
    """The login form's double-submit token, and whether it is new (then set the cookie)."""
    value = request.cookies.get(LOGIN_COOKIE, "")
    if len(value) >= 20:
        return value, False
    return secrets.token_urlsafe(24), True


def set_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
        path="/login",
    )


def check_origin(request: Request) -> None:
    """Refuse a cross-site POST outright (belt and braces beside the CSRF token)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != expected:
            raise CsrfError("cross-site request refused")


@dataclass(frozen=True)
class PageUser:
    """The signed-in user of a page request."""

    actor: Actor
    token_id: int
    csrf: str

    def has(self, *roles: Role) -> bool:
        return self.actor.has(*roles)


def _session(request: Request) -> Session:
    factory = request.app.state.session_factory
    session: Session = factory()
    return session


def page_user(request: Request) -> PageUser:
    """The user behind the session cookie, or a redirect to the login page."""
    from cityops.auth import service

    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise LoginRequired()
    with _session(request) as session:
        try:
            user, row = service.authenticate(session, token=token)
        except CityopsError as exc:
            raise LoginRequired() from exc
        actor = service.actor_of(user)
    request.state.token_id = row.id
    return PageUser(actor=actor, token_id=row.id, csrf=csrf_for(token))


async def form_user(request: Request, user: Annotated[PageUser, Depends(page_user)]) -> PageUser:
    """``page_user`` for a POST: also checks the Origin and the CSRF token."""
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, user.csrf):
        raise CsrfError("the form expired or came from elsewhere; reload the page")
    return user


def roles_page(*roles: Role) -> Callable[[PageUser], PageUser]:
    """A dependency: the signed-in user, who must hold one of ``roles``."""

    def check(user: Annotated[PageUser, Depends(page_user)]) -> PageUser:
        if not user.has(*roles):
            raise PageError(403, "this page needs one of the roles: " + ", ".join(roles))
        return user

    return check


def roles_form(*roles: Role) -> Callable[[PageUser], PageUser]:
    """``roles_page`` for POSTs (with the CSRF check)."""

    def check(user: Annotated[PageUser, Depends(form_user)]) -> PageUser:
        if not user.has(*roles):
            raise PageError(403, "this needs one of the roles: " + ", ".join(roles))
        return user

    return check


PageUserDep = Annotated[PageUser, Depends(page_user)]
FormUserDep = Annotated[PageUser, Depends(form_user)]
